"""Shares freed late in a run (a rest cancelled by the catch-up, an order closed by the exchange, a cancel
whose answer died with the process) are placed again before the window ends, never past the target."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from kis.errors import KisError
from kis.models import OrderSide
from rebalance.events import Cancelled, Finished, OrderSent
from rebalance.lifecycle import OrderState
from rebalance.shortfall import ShortReason, shortfalls
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


# -- at target, or told exactly where the run stopped ---------------------------------------------------
def test_a_run_at_its_target_names_no_shortfall(clock, tmp_path):
    broker, plan = buy_40(clock)
    broker.fill = "now"
    executor, rec, run_id = run(broker, plan, tmp_path / "j.sqlite3")

    (finished,) = rec.of(Finished)
    assert broker.holdings.get(CODE) == 40 and finished.shortfalls == ()


def test_limit_orders_that_rest_unfilled_to_the_end_are_named_as_the_shortfall(clock, tmp_path):
    broker, plan = buy_40(clock)  # every order rests below the market until the window ends
    executor, rec, run_id = run(broker, plan, tmp_path / "j.sqlite3")

    (finished,) = rec.of(Finished)
    (short,) = finished.shortfalls
    assert (short.code, short.goal, short.filled, short.short) == (CODE, 40, 0, 40)
    assert short.parts == ((ShortReason.UNFILLED, 40),)


def test_a_buy_still_waiting_for_cash_at_the_end_says_so_with_its_shares(clock, tmp_path):
    broker, plan = buy_40(clock)
    broker.fill, broker.cash = "now", 10_100 * 15  # cash for 15 shares at the guard price, not for 40
    executor, rec, run_id = run(broker, plan, tmp_path / "j.sqlite3")

    (short,) = rec.of(Finished)[0].shortfalls
    assert short.filled == broker.holdings[CODE] and short.short == 40 - short.filled
    assert short.parts == ((ShortReason.CASH, 40 - short.filled),)


def test_a_stock_kis_refuses_ends_short_with_kiss_own_words(clock, tmp_path):
    broker, plan = buy_40(clock)
    broker.fill = "now"
    broker.reject[CODE] = [KisError("APBK1234", "매매정지 종목입니다")] * 100
    executor, rec, run_id = run(broker, plan, tmp_path / "j.sqlite3")

    (short,) = rec.of(Finished)[0].shortfalls
    assert short.parts == ((ShortReason.REFUSED, 40),) and short.refusal == "APBK1234 매매정지 종목입니다"


def test_a_cancelled_run_says_how_many_shares_it_left_and_why(clock, tmp_path):
    broker, plan = buy_40(clock)
    broker.fill = "now"
    rec = Recorder(lambda event: executor.cancel() if isinstance(event, OrderSent) else None)  # after one slice
    executor = TwapExecutor(broker, Journal(tmp_path / "j.sqlite3"), SETTINGS, rec, broker.clock)
    executor.start(plan, Window(T0, T0 + WINDOW))
    assert executor.wait(10)

    (cancelled,) = rec.of(Cancelled)
    (short,) = cancelled.shortfalls
    assert 0 < short.filled == broker.holdings[CODE] < 40
    assert short.parts == ((ShortReason.CANCELLED, 40 - short.filled),)


def test_the_shortfall_splits_the_missing_shares_by_reason_and_they_add_up():
    stock = SimpleNamespace(code=CODE, name="n", side=OrderSide.BUY, goal=100, halted=False, waiting=False)
    orders = [order(30, 30, OrderState.CLOSED), order(20, 0, OrderState.UNRESOLVED),
              order(25, 5, OrderState.CLOSED), order(10, 2, OrderState.OPEN, remaining=8)]
    (short,) = shortfalls([stock], orders, {CODE: 28}, cancelled=False)
    assert short.filled == 37 and short.short == 63
    assert short.parts == ((ShortReason.UNRESOLVED, 20), (ShortReason.STILL_OPEN, 8), (ShortReason.UNFILLED, 20),
                           (ShortReason.WINDOW, 15))


def test_a_halted_stock_owes_its_unplaced_shares_to_the_guard():
    stock = SimpleNamespace(code=CODE, name="n", side=OrderSide.SELL, goal=10, halted=True, waiting=True)
    (short,) = shortfalls([stock], [order(4, 4, OrderState.CLOSED)], {}, cancelled=False)
    assert short.parts == ((ShortReason.HALTED, 6),)


def order(qty, filled, state, remaining=None, msg_cd="", message="", sent=0, unseen=None):
    open_qty = (qty - filled if remaining is None else remaining) if state is OrderState.OPEN else 0
    return SimpleNamespace(code=CODE, qty=qty, filled_qty=filled, state=state, open_qty=open_qty,
                           msg_cd=msg_cd, message=message, sent_at=T0 + timedelta(seconds=sent),
                           unseen_since=None if unseen is None else T0 + timedelta(seconds=unseen))



@crashes
def test_a_run_resumed_after_its_window_settles_an_order_that_never_left_and_says_its_shares_were_not_placed(
        clock, tmp_path):
    # Killed after journaling an intent, before the order left (a SIGKILL): KIS never lists it. A restart
    # after the window must keep looking for the settle horizon, then say the shares were not placed,
    # not end with the order "unresolved".
    broker, plan = buy_40(clock)
    broker.fill = "now"
    broker.crash_before_send = lambda code, side, qty: len(broker.orders) == 2
    path = tmp_path / "j.sqlite3"
    rec = Recorder()
    executor = TwapExecutor(broker, Journal(path), SETTINGS, rec, broker.clock)
    executor.start(plan, Window(T0, T0 + WINDOW))
    assert executor.wait(10)
    broker.crash_before_send = None
    clock.advance(WINDOW.total_seconds() + 1)  # restarted just after the window ended

    rec = Recorder()
    executor = TwapExecutor(broker, Journal(path), SETTINGS, rec, broker.clock)
    executor.resume()
    assert executor.wait(10)
    (finished,) = rec.of(Finished)
    assert finished.unresolved == ()
    (short,) = finished.shortfalls
    assert short.filled == broker.holdings[CODE]  # the killed order's 2 shares, then the slices never fired
    assert short.parts == ((ShortReason.RULED_OUT, 2), (ShortReason.WINDOW, 40 - short.filled - 2))


def test_shares_whose_order_was_ruled_out_too_late_are_named_as_such():
    stock = SimpleNamespace(code=CODE, name="n", side=OrderSide.BUY, goal=10, halted=False, waiting=False)
    orders = [order(2, 0, OrderState.ABSENT, sent=0, unseen=5), order(4, 4, OrderState.CLOSED, sent=10),
              order(2, 0, OrderState.ABSENT, sent=20, unseen=25), order(2, 2, OrderState.CLOSED, sent=30),
              order(2, 0, OrderState.ABSENT, sent=40, unseen=41)]
    # ruled out at 15 s and 35 s, each before a later order went out; the last one at 51 s, after every order
    (short,) = shortfalls([stock], orders, {}, cancelled=False, settle_seconds=10)
    assert short.parts == ((ShortReason.RULED_OUT, 2), (ShortReason.WINDOW, 2))


def test_an_order_whose_settle_horizon_ends_between_polls_is_ruled_out_then_and_placed_before_the_end(clock, tmp_path):
    # The catch-up (12 s before the end) cancels the rests; the next poll places them again, and that
    # order never reaches KIS. Lookups start at the following poll (595 s); its 3 s horizon ends at 598 s,
    # before the end but between two regular polls: a poll at the horizon rules it out and places it again.
    settings = TwapSettings(calendar="always", poll_seconds=5, catch_up_seconds=12, call_rate=10, settle_seconds=3)
    broker, plan = buy_40(clock)
    late = T0 + WINDOW - timedelta(seconds=12)
    fills_from(broker, late)
    lost = []
    broker.drop_before_arrival = lambda code, side, qty: broker.clock.now() > late and not lost \
        and not lost.append(broker.clock.now())
    rec = Recorder()
    executor = TwapExecutor(broker, Journal(tmp_path / "j.sqlite3"), settings, rec, broker.clock)
    executor.start(plan, Window(T0, T0 + WINDOW))
    assert executor.wait(10)

    assert lost and broker.holdings.get(CODE) == 40, rec.of(Finished)[0].shortfalls
    assert sum(o.filled + o.remaining for o in broker.orders) == 40
