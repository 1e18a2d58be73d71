"""Shares freed late in a run (a rest cancelled by the catch-up, an order closed by the exchange, a cancel
whose answer died with the process) are placed again before the window ends, never past the target."""
from __future__ import annotations

from datetime import timedelta

import pytest

from rebalance.events import Finished
from rebalance.journal import Journal
from rebalance.twap import TwapExecutor
from rebalance.window import TwapSettings, Window
from tests.rebalance.twap_fakes import (  # noqa: F401 - quiet_crashes is a fixture the crash tests use
    T0, Crash, FakeBroker, Recorder, crashes, line, make_plan, quiet_crashes,
)
from rebalance.testing import FakeClock

SETTINGS = TwapSettings(calendar="always", poll_seconds=5, catch_up_seconds=60, call_rate=10, settle_seconds=10)
WINDOW = timedelta(minutes=10)
CATCH_UP = T0 + WINDOW - timedelta(seconds=60)
CODE = "000020"


@pytest.fixture
def clock():
    return FakeClock(T0)


def buy_40(clock, **kw) -> tuple[FakeBroker, object]:
    broker = FakeBroker(clock, prices={CODE: 10_000}, cash=10_000_000, fill="rest", **kw)
    return broker, make_plan(line(CODE, 10_000, 0, 40), cash=10_000_000)


def run(broker, plan, path, *, on=None):
    rec = Recorder(on)
    executor = TwapExecutor(broker, Journal(path), SETTINGS, rec, broker.clock)
    run_id = executor.start(plan, Window(T0, T0 + WINDOW))
    assert executor.wait(10), "the worker did not end"
    return executor, rec, run_id


def fills_from(broker, when):
    """Orders rest (nothing fills) until `when`; from then on every order fills as it arrives."""
    quote = broker.price

    def price(code):
        if broker.clock.now() >= when:
            broker.fill = "now"
        return quote(code)

    broker.price = price


def test_rests_the_catch_up_cancels_are_placed_again_before_the_window_ends(clock, tmp_path):
    broker, plan = buy_40(clock)
    fills_from(broker, CATCH_UP)
    executor, rec, run_id = run(broker, plan, tmp_path / "j.sqlite3")

    assert broker.holdings.get(CODE) == 40  # the cancelled rests went out again after the catch-up
    assert sum(o.filled + o.remaining for o in broker.orders) == 40  # and never past the target
    (finished,) = rec.of(Finished)
    assert [r.difference for r in finished.results] == [0]


def test_a_rest_the_exchange_cancels_after_the_catch_up_is_placed_again(clock, tmp_path):
    broker, plan = buy_40(clock)
    listed = broker.orders_today
    when = CATCH_UP + timedelta(seconds=12)

    def poll(code=None, **kw):  # KIS (or the user in the HTS) cancels every rest, then orders fill
        if broker.clock.now() >= when and broker.fill == "rest":
            for order in broker.orders:
                order.cancelled = True
            broker.fill = "now"
        return listed(code, **kw)

    broker.orders_today = poll
    executor, rec, run_id = run(broker, plan, tmp_path / "j.sqlite3")

    assert broker.holdings.get(CODE) == 40
    assert sum(o.filled + o.remaining for o in broker.orders) == 40


def test_an_order_of_the_catch_up_ruled_out_is_placed_again_before_the_window_ends(clock, tmp_path):
    broker, plan = buy_40(clock)
    fills_from(broker, CATCH_UP)
    lost = []
    broker.drop_before_arrival = lambda code, side, qty: broker.clock.now() >= CATCH_UP and not lost \
        and not lost.append(qty)  # the catch-up's first order never reaches KIS and gets no answer
    executor, rec, run_id = run(broker, plan, tmp_path / "j.sqlite3")

    assert lost and broker.holdings.get(CODE) == 40
    assert sum(o.filled + o.remaining for o in broker.orders) == 40
