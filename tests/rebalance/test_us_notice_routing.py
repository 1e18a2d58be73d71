"""US fill notices reach a run only when it takes the US market, tied to its US order by number (never a KRX
order sharing the number), their amounts in cents."""
from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal

from kis import Correction, Notice, NoticeKind
from kis.krx import KST
from kis.models import OrderSide, OrderType
from rebalance.journal import OrderRecord
from rebalance.lifecycle import OrderState
from rebalance.notices import NoticeConsumer, notice_order

T0 = datetime(2030, 3, 4, 23, 40, tzinfo=KST)


class FakeFeed:
    def __init__(self):
        self.healthy, self.generation, self.listeners = True, 1, []

    def add_listener(self, fn):
        self.listeners.append(fn)

    def remove_listener(self, fn):
        self.listeners.remove(fn)

    def emit(self, notice):
        for fn in list(self.listeners):
            fn(notice)


def us_fill(**kw) -> Notice:
    base = dict(kind=NoticeKind.FILLED, account="5000000001", order_no="0030145286", orig_order_no="", code="AAPL",
                side=OrderSide.BUY, correction=Correction.NEW, order_type="2", qty=3, price=Decimal("233.12"),
                order_qty=10, time="094001", market="US")
    base.update(kw)
    return Notice(**base)


def krx_fill(**kw) -> Notice:
    base = dict(kind=NoticeKind.FILLED, account="5000000001", order_no="0030145286", orig_order_no="", code="005930",
                side=OrderSide.BUY, correction=Correction.NEW, order_type="00", qty=3, price=71_000, order_qty=10,
                time="094001")
    base.update(kw)
    return Notice(**base)


def order(code: str, order_no: str = "30145286", **kw) -> OrderRecord:
    base = dict(id=1, run_id="r", code=code, side=OrderSide.BUY, qty=10, order_type=OrderType.LIMIT, price=0,
                kind="slice", state=OrderState.OPEN, order_no=order_no, org_no="01790", sent_at=T0, filled_qty=0,
                filled_amount=0, remaining=None, msg_cd="", message="")
    base.update(kw)
    return OrderRecord(**base)


def test_a_krx_run_never_queues_a_us_notice_so_it_is_not_parked_as_unknown():
    feed, alarm = FakeFeed(), threading.Event()
    consumer = NoticeConsumer(feed, alarm)
    feed.emit(us_fill())
    assert consumer.take() == [] and not alarm.is_set()
    feed.emit(krx_fill())
    assert [n.market for n in consumer.take()] == ["KRX"]


def test_a_run_that_takes_the_us_market_gets_its_us_notices_in_order_with_krx_ones():
    feed = FakeFeed()
    consumer = NoticeConsumer(feed, threading.Event(), markets=("KRX", "US"))
    feed.emit(us_fill())
    feed.emit(krx_fill())
    feed.emit(us_fill())  # a repeat: dropped
    assert [n.market for n in consumer.take()] == ["US", "KRX"]


def test_a_us_notice_is_tied_to_the_us_order_of_its_number_never_a_krx_order_sharing_it():
    krx, us = order("005930", id=1), order("AAPL", id=2)
    assert notice_order(us_fill(), [krx, us]) is us
    assert notice_order(krx_fill(), [krx, us]) is krx
    assert notice_order(us_fill(), [krx]) is None
    assert notice_order(us_fill(order_no="0030145287"), [us]) is None


def test_us_fill_notices_add_up_in_cents_and_krx_ones_in_won():
    consumer = NoticeConsumer(FakeFeed(), threading.Event(), markets=("KRX", "US"))
    assert consumer.add_fill(us_fill()) == (3, 69_936)
    assert consumer.add_fill(us_fill(qty=2, price=Decimal("233.125"))) == (5, 69_936 + 46_625)
    assert consumer.add_fill(krx_fill(order_no="0000000117")) == (3, 213_000)


def test_a_krx_and_a_us_order_of_the_same_number_are_counted_apart():
    consumer = NoticeConsumer(FakeFeed(), threading.Event(), markets=("KRX", "US"))
    consumer.add_fill(krx_fill())
    assert consumer.add_fill(us_fill()) == (3, 69_936)  # not 6 shares: the KRX order's 3 are its own
    assert consumer.noticed["30145286"] == (3, 213_000) and consumer.noticed["US:30145286"] == (3, 69_936)


def test_a_poll_checks_a_us_orders_notices_under_its_market():
    consumer = NoticeConsumer(FakeFeed(), threading.Event(), markets=("KRX", "US"))
    consumer.expect("0030145286", T0, market="US")
    consumer.accepted("0030145286", market="US")
    consumer.add_fill(us_fill())
    consumer.poll_saw("30145286", 3, market="US")
    assert consumer.unconfirmed == set() and consumer.trusted(T0)
    consumer.poll_saw("30145286", 5)  # the KRX order of that number: no notice told of it
    assert not consumer.trusted(T0)


def test_a_parked_us_fill_comes_back_only_for_its_market():
    consumer = NoticeConsumer(FakeFeed(), threading.Event(), markets=("KRX", "US"))
    consumer.park(us_fill())
    assert consumer.unparked(["30145286"]) == []  # a KRX order of the same number
    assert [n.market for n in consumer.unparked(["30145286"], market="US")] == ["US"]
