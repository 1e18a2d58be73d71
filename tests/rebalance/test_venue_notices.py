"""A fill on NXT (ORD_EXG_GB 2, or 4 through SOR) moves the same order state as one on KRX (1)."""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace

from kis.notices import NoticeKind
from rebalance.events import Filled
from rebalance.journal import Journal
from rebalance.notices import NoticeConsumer
from rebalance.testing import FakeClock
from tests.rebalance.test_twap_notices import (FakeFeed, T0, acceptance, assert_at_target_nothing_doubled,
                                               broker_for, run)


class VenueFeed(FakeFeed):
    """A notice stream whose every notice says it came from `venue` (ORD_EXG_GB)."""

    def __init__(self, venue: str):
        super().__init__()
        self.venue = venue

    def emit(self, notice) -> None:
        super().emit(replace(notice, venue=self.venue))


def venue_run(tmp_path, venue):
    feed = VenueFeed(venue)
    broker = broker_for(FakeClock(T0), feed)
    (tmp_path / venue).mkdir()
    broker.clock_path = tmp_path / venue / "journal.sqlite3"
    _, rec, run_id = run(broker, feed)
    orders = Journal(broker.clock_path).orders(run_id)
    return broker, rec, [(o.code, o.side, o.qty, o.state, o.filled_qty, o.filled_amount) for o in orders]


def test_a_run_told_by_nxt_notices_ends_in_the_same_state_as_one_told_by_krx_notices(tmp_path):
    _, krx_rec, krx_orders = venue_run(tmp_path, "1")
    assert krx_orders
    for venue in ("2", "4"):
        broker, rec, orders = venue_run(tmp_path, venue)
        assert_at_target_nothing_doubled(broker, rec)
        assert orders == krx_orders
        assert Counter((e.code, e.qty) for e in rec.of(Filled)) == Counter((e.code, e.qty) for e in krx_rec.of(Filled))


def test_two_fills_alike_but_for_their_venue_are_two_fills_not_a_repeat():
    feed = FakeFeed()
    consumer = NoticeConsumer(feed, threading.Event())
    fill = acceptance(kind=NoticeKind.FILLED, qty=5, order_qty=10)
    feed.emit(replace(fill, venue="3"))
    feed.emit(replace(fill, venue="4"))
    feed.emit(replace(fill, venue="4"))  # a repeated delivery of the NXT fill
    assert [n.venue for n in consumer.take()] == ["3", "4"]
