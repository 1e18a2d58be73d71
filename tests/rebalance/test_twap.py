"""TwapExecutor against an in-memory broker on a fake clock: whole windows run in milliseconds."""
from __future__ import annotations

import itertools
import math
import threading
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from kis.errors import KisError
from kis.models import OrderSide, OrderType
from rebalance.clock import SystemClock
from rebalance.testing import FakeClock
from rebalance.events import (
    Cancelled, Failed, Filled, Finished, OrderRejected, OrderSent, PriceBeyondGuard, RunStarted, WaitingForCash,
)
from rebalance.journal import Journal, OrderState, RunActive
from rebalance.twap import TwapExecutor
from rebalance.window import TwapSettings, Window
from tests.rebalance.twap_fakes import (  # noqa: F401 - quiet_crashes is a fixture the crash tests use
    T0, Crash, FakeBroker, Recorder, crashes, line, make_plan, quiet_crashes,
)

SETTINGS = TwapSettings(calendar="always", poll_seconds=5, catch_up_seconds=60, call_rate=10, settle_seconds=10)
# Market-type orders are never re-priced: resting orders stay put until the run cancels them.
UNPRICED = replace(SETTINGS, order_type=OrderType.BEST_LIMIT)
WINDOW = timedelta(minutes=10)


@pytest.fixture
def clock():
    return FakeClock(T0)


@pytest.fixture
def journal_path(tmp_path):
    return tmp_path / "journal.sqlite3"


def rebalance_broker(clock, **kw) -> FakeBroker:
    """Sell all of A to fund buys of B and C; no cash to start with (the seed's 17.7.3 trap)."""
    return FakeBroker(clock, prices={"000010": 10_000, "000020": 10_000, "000030": 5_000},
                      holdings={"000010": 100}, cash=0, **kw)


def rebalance_plan():
    return make_plan(line("000010", 10_000, 100, 0), line("000020", 10_000, 0, 50), line("000030", 5_000, 0, 60))


def start(broker, plan, journal_path, *, settings=SETTINGS, on=None, duration=WINDOW):
    rec = Recorder(on)
    executor = TwapExecutor(broker, Journal(journal_path), settings, rec, broker.clock)
    now = broker.clock.now()
    run_id = executor.start(plan, Window(now, now + duration))
    return executor, rec, run_id


def finish(executor) -> None:
    assert executor.wait(10), "the worker did not end"


def resume(broker, journal_path, settings=SETTINGS):
    rec = Recorder()
    executor = TwapExecutor(broker, Journal(journal_path), settings, rec, broker.clock)
    status = executor.resume()
    finish(executor)
    return executor, rec, status


def placed(broker, code) -> int:
    """Shares the broker accepted for a stock: more than the plan's quantity would be a doubled order."""
    return sum(o.qty - (o.qty - o.filled if o.cancelled else 0) for o in broker.sent(code))


def assert_targets(broker, plan):
    for ln in plan.lines:
        assert broker.holdings.get(ln.code, 0) == ln.target_qty, ln.code
        assert sum(o.qty for o in broker.sent(ln.code)) == abs(ln.order_qty), f"{ln.code} sent twice or short"


def crashed_run(clock, journal_path, after: int):
    """A rebalance whose orders rest, its process killed right after sending order `after` (no answer)."""
    broker, plan = rebalance_broker(clock, fill="rest"), rebalance_plan()
    broker.crash_after_send = lambda o: len(broker.orders) == after
    executor, _, run_id = start(broker, plan, journal_path)
    finish(executor)
    broker.crash_after_send = None
    return broker, run_id


def test_a_rebalance_reaches_every_target_with_sells_before_buys(clock, journal_path):
    broker, plan = rebalance_broker(clock), rebalance_plan()
    executor, rec, run_id = start(broker, plan, journal_path)
    finish(executor)

    assert_targets(broker, plan)
    last_sell = max(o.time for o in broker.sent(side=OrderSide.SELL))
    first_buy = min(o.time for o in broker.sent(side=OrderSide.BUY))
    assert last_sell < first_buy
    assert not rec.of(WaitingForCash) and not rec.of(OrderRejected)
    (done,) = rec.of(Finished)
    assert [(r.code, r.actual_qty, r.difference) for r in done.results] == [
        ("000010", 0, 0), ("000020", 50, 0), ("000030", 60, 0)]
    assert isinstance(rec.events[0], RunStarted) and not rec.events[0].resumed
    assert len(rec.of(OrderSent)) == len(broker.orders)
    status = executor.status()
    assert status.state == "finished" and status.progress == 1.0 and not status.active


def test_each_stock_is_sliced_evenly_and_sent_on_schedule(clock, journal_path):
    broker, plan = rebalance_broker(clock), rebalance_plan()
    executor, rec, run_id = start(broker, plan, journal_path)
    finish(executor)

    journal = Journal(journal_path)
    slices = journal.slices(run_id)
    for code in ("000010", "000020", "000030"):
        sizes = [s.qty for s in slices if s.code == code]
        assert len(sizes) == SETTINGS.max_slices
        assert max(sizes) - min(sizes) <= 1
        sent_times = [o.time for o in broker.sent(code)]
        due_times = [s.at.strftime("%H%M%S") for s in slices if s.code == code]
        assert sent_times == due_times  # each slice is sent in the second it is due


def test_a_buy_without_cash_waits_once_and_is_retried_until_cash_arrives(clock, journal_path):
    broker = FakeBroker(clock, prices={"000020": 10_000}, cash=0, deposits=[(T0 + timedelta(minutes=4), 600_000)])
    plan = make_plan(line("000020", 10_000, 0, 50))
    executor, rec, _ = start(broker, plan, journal_path)
    finish(executor)

    assert_targets(broker, plan)
    waits = rec.of(WaitingForCash)
    assert len(waits) == 1 and waits[0].code == "000020" and waits[0].available == 0
    assert min(o.time for o in broker.orders) >= (T0 + timedelta(minutes=4)).strftime("%H%M%S")
    assert not rec.of(OrderRejected)
    assert rec.of(Finished)[0].results[0].difference == 0


def test_a_buy_never_spends_cash_it_does_not_have_and_never_exceeds_the_target(clock, journal_path):
    broker = FakeBroker(clock, prices={"000020": 10_000}, cash=205_000)  # pays for 20 of 50 shares
    plan = make_plan(line("000020", 10_000, 0, 50))
    executor, rec, _ = start(broker, plan, journal_path)
    finish(executor)

    assert broker.holdings["000020"] == 20 and broker.cash >= 0
    assert len(rec.of(WaitingForCash)) == 1
    assert rec.of(Finished)[0].results[0].difference == 30


def test_a_buy_is_paid_from_cash_never_from_margin_credit(clock, journal_path):
    broker = FakeBroker(clock, prices={"000020": 10_000}, cash=0, margin_credit=50_000_000)
    plan = make_plan(line("000020", 10_000, 0, 10))
    executor, rec, _ = start(broker, plan, journal_path)
    finish(executor)
    assert broker.sent("000020") == [] and rec.of(WaitingForCash)


def test_an_order_refused_for_cash_waits_for_cash_instead_of_being_reported_as_rejected(clock, journal_path):
    broker = FakeBroker(clock, prices={"000020": 10_000}, cash=300_000, overstate_power=1_000_000)
    plan = make_plan(line("000020", 10_000, 0, 50))
    executor, rec, run_id = start(broker, plan, journal_path)
    finish(executor)

    bought = broker.holdings["000020"]  # limit buys reserve at 10,100 (1 % guard) and fill at 10,000
    assert 27 <= bought <= 30 and broker.cash == 300_000 - bought * 10_000
    assert not rec.of(OrderRejected) and len(rec.of(WaitingForCash)) == 1
    refused = [o for o in Journal(journal_path).orders(run_id) if o.state is OrderState.REJECTED]
    assert refused and {o.msg_cd for o in refused} == {"APBK0952"}
    assert rec.of(Finished)[0].results[0].difference == 50 - bought


def test_a_rejected_slice_is_reported_and_the_catch_up_pass_places_it(clock, journal_path):
    broker, plan = rebalance_broker(clock), rebalance_plan()
    broker.reject["000030"] = [KisError("APBK1234", "일시적인 거래 제한입니다")]
    executor, rec, run_id = start(broker, plan, journal_path)
    finish(executor)

    (rejected,) = rec.of(OrderRejected)
    assert (rejected.code, rejected.msg_cd, rejected.message) == ("000030", "APBK1234", "일시적인 거래 제한입니다")
    assert_targets(broker, plan)
    run = Journal(journal_path).run(run_id)
    catch_up = [o for o in Journal(journal_path).orders(run_id) if o.kind == "catch_up"]
    assert [(o.code, o.qty) for o in catch_up] == [("000030", rejected.qty)]
    assert all(o.sent_at >= run.catch_up_at for o in catch_up)


def test_a_stock_the_exchange_keeps_refusing_ends_short_and_says_why(clock, journal_path):
    broker = FakeBroker(clock, prices={"000010": 10_000}, holdings={"000010": 10}, cash=0)
    broker.reject["000010"] = [KisError("APBK0400", "매매정지 종목입니다")] * 100
    plan = make_plan(line("000010", 10_000, 10, 0))
    executor, rec, _ = start(broker, plan, journal_path)
    finish(executor)

    assert not broker.orders
    assert {e.message for e in rec.of(OrderRejected)} == {"매매정지 종목입니다"}
    assert rec.of(Finished)[0].results[0].difference == -10


def test_partial_fills_are_pushed_as_increments_up_to_the_whole_quantity(clock, journal_path):
    broker, plan = rebalance_broker(clock, fill="half"), rebalance_plan()
    executor, rec, _ = start(broker, plan, journal_path)
    finish(executor)

    assert_targets(broker, plan)
    fills = rec.of(Filled)
    by_code = Counter()
    for f in fills:
        by_code[f.code] += f.qty
        assert f.done_qty == by_code[f.code] and f.price == broker.prices[f.code]
    assert dict(by_code) == {"000010": 100, "000020": 50, "000030": 60}
    assert fills[-1].progress == 1.0
    assert [f.progress for f in fills] == sorted(f.progress for f in fills)


def run_cancelled_after(orders: int, broker, plan, journal_path):
    """Run `plan` on `broker` and cancel it once `orders` orders were sent; returns (recorder, run_id)."""
    executors = []

    def cancel_after(event):
        if isinstance(event, OrderSent) and len(broker.orders) == orders:
            executors[0].cancel()

    executor, rec, run_id = start(broker, plan, journal_path, on=cancel_after, settings=UNPRICED)
    executors.append(executor)
    finish(executor)
    return rec, run_id


def test_cancel_stops_new_slices_and_cancels_resting_orders(clock, journal_path):
    broker, plan = rebalance_broker(clock, fill="rest"), rebalance_plan()
    rec, run_id = run_cancelled_after(3, broker, plan, journal_path)

    assert len(broker.orders) == 3 and all(o.cancelled for o in broker.orders)
    (cancelled,) = rec.of(Cancelled)
    assert cancelled.cancelled_orders == 3
    assert [r.actual_qty for r in cancelled.results] == [100, 0, 0]
    assert not rec.of(Finished)
    assert Journal(journal_path).run(run_id).state == "cancelled"


def test_a_cancel_that_gets_no_answer_is_tried_again_so_nothing_is_left_working(clock, journal_path):
    broker, plan = rebalance_broker(clock, fill="rest", fail_cancels=2), rebalance_plan()
    rec, _ = run_cancelled_after(3, broker, plan, journal_path)

    assert len(broker.orders) == 3 and all(o.cancelled for o in broker.orders)
    assert rec.of(Cancelled)[0].cancelled_orders == 3


def test_an_order_still_open_after_every_cancel_failed_is_named_in_the_summary_not_left_silently(clock, journal_path):
    broker, plan = rebalance_broker(clock, fill="rest", fail_cancels=99), rebalance_plan()
    rec, run_id = run_cancelled_after(1, broker, plan, journal_path)

    (working,) = broker.orders
    assert working.remaining == working.qty  # KIS never took a cancel: the order still rests there
    (cancelled,) = rec.of(Cancelled)
    assert cancelled.cancelled_orders == 0
    (check,) = cancelled.unresolved
    assert (check.code, check.side, check.qty) == ("000010", OrderSide.SELL, working.qty)
    assert "still open" in check.what_to_check and working.order_no.lstrip("0") in check.what_to_check
    assert "unresolved" in Journal(journal_path).run(run_id).reason


def test_cancel_wakes_a_worker_sleeping_until_a_far_slice(journal_path):
    broker = FakeBroker(SystemClock(), prices={"000010": 10_000}, holdings={"000010": 10})
    plan = make_plan(line("000010", 10_000, 10, 0))
    executor, rec, _ = start(broker, plan, journal_path, duration=timedelta(hours=5))
    assert not executor.wait(0.05)  # asleep until its next slice, not spinning
    executor.cancel()
    finish(executor)
    assert rec.of(Cancelled), rec.events


def test_every_order_is_journaled_as_an_intent_before_it_is_sent(clock, journal_path):
    broker, plan = rebalance_broker(clock), rebalance_plan()
    seen_by_another_process = []
    real_order = broker.order

    def order(code, side, qty, *args, **kwargs):
        other = Journal(journal_path)  # a second connection: only committed rows are visible
        run = other.latest_run("50000000-01")
        intents = [o for o in other.orders(run.id) if o.state is OrderState.INTENT]
        seen_by_another_process.append([(o.code, o.side, o.qty) for o in intents])
        other.close()
        return real_order(code, side, qty, *args, **kwargs)

    broker.order = order
    executor, _, _ = start(broker, plan, journal_path)
    finish(executor)

    assert len(seen_by_another_process) == len(broker.orders)
    assert all(len(intents) == 1 for intents in seen_by_another_process)
    assert [i[0] for i in seen_by_another_process] == [(o.code, o.side, o.qty) for o in broker.orders]


@crashes
def test_one_run_at_a_time_per_account(clock, journal_path):
    broker, plan = rebalance_broker(clock), rebalance_plan()
    broker.crash_before_send = lambda code, side, qty: True
    executor, _, run_id = start(broker, plan, journal_path)
    finish(executor)  # the worker 'died' with the run still active in the journal

    with pytest.raises(RunActive) as err:
        start(broker, plan, journal_path)
    assert err.value.run_id == run_id


CRASHES = {
    "before the order left": dict(crash_before_send=lambda code, side, qty: side is OrderSide.BUY),
    "after it left, before its answer": dict(crash_after_send=lambda o: o.side is OrderSide.BUY),
}


@crashes
@pytest.mark.parametrize("where", list(CRASHES) + ["after its answer was journaled"])
def test_a_restart_at_any_step_of_an_order_resumes_without_losing_or_doubling_it(clock, journal_path, where):
    broker, plan = rebalance_broker(clock, **CRASHES.get(where, {})), rebalance_plan()
    crashed = []

    def crash_on_first_buy(event):
        if where == "after its answer was journaled" and isinstance(event, OrderSent) and event.side is OrderSide.BUY:
            if not crashed:
                crashed.append(event)
                raise Crash("killed after the ack")

    executor, rec, run_id = start(broker, plan, journal_path, on=crash_on_first_buy)
    finish(executor)
    assert not rec.of(Finished) and Journal(journal_path).run(run_id).state == "active"
    broker.crash_before_send = broker.crash_after_send = None
    clock.advance(3)  # the restart takes a moment

    _, rec2, status = resume(broker, journal_path)
    assert status.run_id == run_id
    assert rec2.events[0].resumed
    assert_targets(broker, plan)
    assert rec2.of(Finished)[0].results and all(r.difference == 0 for r in rec2.of(Finished)[0].results)
    states = Counter(o.state for o in Journal(journal_path).orders(run_id))
    assert states[OrderState.INTENT] == states[OrderState.UNRESOLVED] == 0
    if where == "before the order left":
        assert states[OrderState.ABSENT] == 1  # the intent was ruled out, then its shares were placed again


def test_an_order_whose_answer_was_lost_is_found_not_sent_again(clock, journal_path):
    broker, plan = rebalance_broker(clock), rebalance_plan()
    lost = []
    broker.lose_answer = lambda o: not lost and not lost.append(o)
    executor, rec, run_id = start(broker, plan, journal_path)
    finish(executor)

    assert_targets(broker, plan)
    number = lost[0].order_no.lstrip("0")
    order = next(o for o in Journal(journal_path).orders(run_id) if o.order_no.lstrip("0") == number)
    assert order.state is OrderState.CLOSED


def test_an_order_that_never_arrived_is_placed_again_once_it_is_ruled_out(clock, journal_path):
    broker, plan = rebalance_broker(clock), rebalance_plan()
    dropped = []
    broker.drop_before_arrival = lambda code, side, qty: not dropped and not dropped.append(code)
    executor, rec, run_id = start(broker, plan, journal_path)
    finish(executor)

    assert_targets(broker, plan)
    states = Counter(o.state for o in Journal(journal_path).orders(run_id))
    assert states[OrderState.ABSENT] == 1 and states[OrderState.UNRESOLVED] == 0


def test_an_order_listed_after_it_was_ruled_out_is_counted_and_the_target_is_not_exceeded(clock, journal_path):
    # The first buy's answer is lost and the order stays out of today's orders for 3x the settle time:
    # the run rules it out and owes its shares again; when it then appears, the run counts it so
    # later slices shrink.
    broker = FakeBroker(clock, prices={"000020": 10_000}, cash=10_000_000)
    plan = make_plan(line("000020", 10_000, 0, 100), cash=10_000_000)
    first = []
    broker.lose_answer = lambda o: not first and not first.append(o)
    broker.show_late = lambda o: 0 if first else 3 * SETTINGS.settle_seconds  # the first order only
    executor, rec, run_id = start(broker, plan, journal_path)
    finish(executor)

    assert broker.holdings["000020"] == 100
    assert sum(o.qty for o in broker.sent("000020")) == 100, "the late order was doubled"
    orders = Journal(journal_path).orders(run_id)
    assert sum(o.filled_qty for o in orders) == 100  # every share the exchange filled is the run's
    assert rec.of(Finished)[0].results[0].difference == 0


@crashes
def test_a_run_resumed_after_its_window_only_settles_and_reports(clock, journal_path):
    broker, run_id = crashed_run(clock, journal_path, after=2)
    clock.advance(WINDOW.total_seconds() + 60)

    _, rec, _ = resume(broker, journal_path)
    assert len(broker.orders) == 2 and all(o.cancelled for o in broker.orders)
    assert rec.of(Finished) and Journal(journal_path).run(run_id).state == "finished"


@crashes
def test_a_run_resumed_on_a_later_day_touches_none_of_that_days_orders(clock, journal_path):
    # Day 1: orders rest, then the process dies right after sending one (no answer journaled).
    broker, run_id = crashed_run(clock, journal_path, after=2)
    # Day 2: the exchange numbers orders from 1 again, and the user has placed an order by hand that
    # looks like the lost slice (same stock, side, quantity) and carries day 1's first order number.
    day1 = list(broker.orders)
    clock.advance(24 * 3600)
    broker.orders.clear()
    broker._numbers = itertools.count(1)
    manual = broker.order(day1[1].code, day1[1].side, day1[1].qty, day1[1].order_type)
    calls_before = len(broker.calls)

    _, rec, _ = resume(broker, journal_path)
    assert [what for what, _ in broker.calls[calls_before:]].count("cancel") == 0
    assert not broker.orders[0].cancelled and broker.orders == [broker.orders[0]]
    first, unanswered = Journal(journal_path).orders(run_id)
    assert first.state is OrderState.OPEN and first.sent_at.date() == T0.date()
    assert unanswered.state is OrderState.EXPIRED and not unanswered.order_no  # not taken for the manual one
    assert manual.order_no == first.order_no.lstrip("0")  # the number clash the resume had to ignore
    assert rec.of(Finished) and Journal(journal_path).run(run_id).state == "finished"


@crashes
def test_two_processes_never_drive_the_same_run(clock, journal_path):
    broker, run_id = crashed_run(clock, journal_path, after=1)
    # Process A resumes the run and is busy in it; process B starts on the same data directory.
    hold = threading.Event()
    a = TwapExecutor(broker, Journal(journal_path), SETTINGS, Recorder(lambda e: hold.wait(10)), clock)
    assert a.resume().run_id == run_id
    b = TwapExecutor(broker, Journal(journal_path), SETTINGS, Recorder(), clock)
    with pytest.raises(RunActive, match="another kisbot process"):
        b.resume()
    hold.set()
    finish(a)
    assert b.resume() is None  # A finished it; nothing left to resume


def test_an_unexpected_error_ends_the_run_as_failed_with_a_reason(clock, journal_path):
    broker, plan = rebalance_broker(clock, fail_balance=ValueError("ledger offline")), rebalance_plan()
    executor, rec, run_id = start(broker, plan, journal_path)
    finish(executor)

    (failed,) = rec.of(Failed)
    assert "ledger offline" in str(failed.reason) and "/balance" in str(failed.reason)
    assert Journal(journal_path).run(run_id).state == "failed"
    assert executor.status().state == "failed"


def test_an_order_an_unexpected_error_cut_off_is_cancelled_and_named_when_the_run_fails(clock, journal_path):
    broker, plan = rebalance_broker(clock, fill="rest"), rebalance_plan()
    send = broker.order

    def garbled(*args, **kwargs):  # the order is placed, then reading KIS's answer trips over a bug
        send(*args, **kwargs)
        raise AttributeError("'list' object has no attribute 'get'")

    broker.order = garbled
    executor, rec, run_id = start(broker, plan, journal_path)
    finish(executor)

    (failed,) = rec.of(Failed)
    (placed_order,) = broker.orders
    assert placed_order.cancelled  # it was working at KIS: the failing run cancels it, never leaves it resting
    assert Journal(journal_path).run(run_id).state == "failed"


def test_an_unanswered_order_is_named_when_the_run_fails(clock, journal_path):
    broker, plan = rebalance_broker(clock, fill="rest"), rebalance_plan()
    broker.show_late = lambda order: 3600.0  # KIS does not list it before the run fails
    send = broker.order

    def garbled(*args, **kwargs):
        send(*args, **kwargs)
        raise AttributeError("'list' object has no attribute 'get'")

    broker.order = garbled
    executor, rec, run_id = start(broker, plan, journal_path)
    finish(executor)

    (failed,) = rec.of(Failed)
    assert "000010" in str(failed.reason) and "look for it in today's orders" in str(failed.reason)
    assert "were cancelled" not in str(failed.reason)
    assert "look for it in today's orders" in Journal(journal_path).run(run_id).reason  # journaled in English


def test_a_failing_listener_does_not_stop_trading(clock, journal_path):
    broker, plan = rebalance_broker(clock), rebalance_plan()

    def broken(event):
        raise RuntimeError("chat is down")

    executor, _, _ = start(broker, plan, journal_path, on=broken)
    finish(executor)
    assert_targets(broker, plan)


def test_a_slow_fill_poll_waits_for_a_gap_instead_of_making_slices_late(clock, journal_path):
    broker = FakeBroker(clock, prices={"000010": 10_000}, holdings={"000010": 100}, fill="rest", poll_takes=2.0)
    plan = make_plan(line("000010", 10_000, 100, 0))
    executor, _, run_id = start(broker, plan, journal_path, duration=timedelta(seconds=75),
                                 settings=UNPRICED)
    finish(executor)

    journal = Journal(journal_path)
    due = [s.at for s in journal.slices(run_id)]
    sent = [o.sent_at for o in journal.orders(run_id) if o.kind == "slice"]
    assert len(due) == 20 and len(sent) == 20
    polls = [at for what, at in broker.calls if what == "orders_today"]
    assert len(polls) >= 10  # polls still happen, about every interval
    # The first poll cannot know it takes 2 s; once it has been timed, every slice leaves on time.
    timed = polls[0] + timedelta(seconds=broker.poll_takes)
    late = [(s - d).total_seconds() for s, d in zip(sent, due) if d > timed]
    assert len(late) >= 17 and max(late) < 0.01


def test_the_worker_sleeps_until_the_next_job_instead_of_spinning(clock, journal_path):
    broker, plan = rebalance_broker(clock), rebalance_plan()
    executor, _, run_id = start(broker, plan, journal_path)
    finish(executor)

    run = Journal(journal_path).run(run_id)
    jobs = len(Journal(journal_path).slices(run_id)) + math.ceil(WINDOW.total_seconds() / run.poll_seconds) + 2
    assert len(clock.waits) <= jobs


def test_order_calls_stay_within_the_share_of_the_call_budget(clock, journal_path):
    settings = TwapSettings(calendar="always", call_rate=1.0, poll_seconds=5, settle_seconds=10)
    broker = FakeBroker(clock, prices={f"{i:06d}": 10_000 for i in range(1, 11)},
                        holdings={f"{i:06d}": 100 for i in range(1, 6)}, cash=0)
    lines = [line(f"{i:06d}", 10_000, 100, 0) for i in range(1, 6)]
    lines += [line(f"{i:06d}", 10_000, 0, 90) for i in range(6, 11)]
    plan = make_plan(*lines)
    executor, rec, _ = start(broker, plan, journal_path, settings=settings, duration=timedelta(seconds=90))
    finish(executor)

    assert_targets(broker, plan)  # a 10-stock rebalance over 90 s at 1 call/s still finishes
    order_calls = sum(1 for what, _ in broker.calls if what in ("order", "buying_power"))
    assert order_calls <= 90 * settings.order_share
    polls = sum(1 for what, _ in broker.calls if what == "orders_today")
    assert polls <= 90 * settings.poll_share + 2  # the end settles with one more look


def test_status_reports_per_stock_progress_and_time_left(clock, journal_path):
    broker, plan = rebalance_broker(clock, fill="rest"), rebalance_plan()
    seen = []
    executors = []

    def snapshot(event):
        if isinstance(event, OrderSent) and len(broker.orders) == 2:
            seen.append(executors[0].status())

    executor, _, run_id = start(broker, plan, journal_path, on=snapshot)
    executors.append(executor)
    finish(executor)

    (status,) = seen
    assert status.run_id == run_id and status.active and status.progress == 0.0
    assert [(s.code, s.side, s.order_qty) for s in status.stocks] == [
        ("000010", OrderSide.SELL, 100), ("000020", OrderSide.BUY, 50), ("000030", OrderSide.BUY, 60)]
    assert timedelta(0) < status.time_left <= WINDOW


# unanswered orders, guard prices ------------------------------------------------------------------

def test_a_lost_answer_is_never_resent_and_its_stock_waits_while_others_keep_trading(clock, journal_path):
    # The first buy of B reaches the exchange but its answer is lost, and KIS lists it only 60 s later
    # (the settle horizon is 120 s): B places nothing for those shares meanwhile; C trades on.
    broker = FakeBroker(clock, prices={"000020": 10_000, "000030": 5_000}, cash=10_000_000)
    plan = make_plan(line("000020", 10_000, 0, 50), line("000030", 5_000, 0, 60), cash=10_000_000)
    lost = []
    broker.lose_answer = lambda o: o.code == "000020" and not lost and not lost.append(o)
    broker.show_late = lambda o: 60 if o is (lost[0] if lost else o) else 0
    settings = replace(SETTINGS, settle_seconds=120)
    executor, rec, run_id = start(broker, plan, journal_path, settings=settings)
    finish(executor)

    first_b = lost[0]
    next_b = [o for o in broker.sent("000020") if o is not first_b]
    assert all(o.time > first_b.time for o in next_b)
    c_during = [o for o in broker.sent("000030") if first_b.time < o.time]
    assert c_during, "the other stock stopped trading"
    assert broker.holdings == {"000020": 50, "000030": 60}
    assert sum(o.qty for o in broker.sent("000020")) == 50  # never sent twice
    assert not rec.of(Finished)[0].unresolved


def test_a_window_that_ends_with_an_unresolved_order_says_what_to_check_instead_of_finished(clock, journal_path):
    broker = FakeBroker(clock, prices={"000020": 10_000}, cash=10_000_000)
    plan = make_plan(line("000020", 10_000, 0, 10), cash=10_000_000)

    def lose_and_go_dark(order):  # the first answer is lost, and then today's orders cannot be read any more
        if broker.fail_polls:
            return False
        broker.fail_polls = True
        return True

    broker.lose_answer = lose_and_go_dark
    executor, rec, _ = start(broker, plan, journal_path, duration=timedelta(minutes=2))
    finish(executor)

    (done,) = rec.of(Finished)
    (check,) = done.unresolved
    assert (check.code, check.side, check.qty) == ("000020", OrderSide.BUY, broker.orders[0].qty)
    assert "look for it in today's orders" in check.what_to_check
    assert sum(o.qty for o in broker.orders) == 10  # the unanswered order counted as placed throughout


def test_buys_are_marketable_limit_orders_at_the_guard_price_on_the_tick_grid(clock, journal_path):
    broker = FakeBroker(clock, prices={"000010": 10_000, "000020": 72_300}, holdings={"000010": 10},
                        cash=10_000_000)
    plan = make_plan(line("000010", 10_000, 10, 0), line("000020", 72_300, 0, 10), cash=10_000_000)
    executor, rec, _ = start(broker, plan, journal_path)
    finish(executor)

    buy, sell = broker.sent("000020")[0], broker.sent("000010")[0]
    assert (buy.order_type, buy.price) == (OrderType.LIMIT, 73_000)  # 72,300 x 1.01 = 73,023, tick 100, down
    assert (sell.order_type, sell.price) == (OrderType.LIMIT, 9_900)  # 10,000 x 0.99, tick 10, up
    assert broker.holdings["000020"] == 10 and "000010" not in {c for c, q in broker.holdings.items() if q}


def test_a_resting_limit_order_is_repriced_by_the_next_slice(clock, journal_path):
    broker = FakeBroker(clock, prices={"000020": 10_000}, cash=10_000_000)
    plan = make_plan(line("000020", 10_000, 0, 40), cash=10_000_000)

    def nudge(event):  # the price moves up half a percent past the first order's limit, once
        if isinstance(event, OrderSent) and len(broker.orders) == 1:
            broker.prices["000020"] = 10_150

    broker.fill = "now"
    first_fill = broker._fill
    broker._fill = lambda order, qty: None if len(broker.orders) == 1 else first_fill(order, qty)
    executor, rec, run_id = start(broker, plan, journal_path, on=nudge)
    finish(executor)

    first = broker.orders[0]
    assert first.cancelled and first.filled == 0  # re-priced: cancelled, its shares placed again
    assert any(o.price == 10_250 for o in broker.orders[1:])  # 10,150 x 1.01 on the grid
    assert broker.holdings["000020"] == 40 and not rec.of(PriceBeyondGuard)


def test_a_repriced_order_that_fills_before_kis_confirms_its_cancel_is_counted_not_bought_again(clock, journal_path):
    # KIS lists a cancel at once but the exchange confirms it later (cnc_cfrm_qty): until then the order
    # can still fill, and here it does, so the cancel is refused and its shares must not be placed again.
    broker = FakeBroker(clock, prices={"000020": 10_000}, cash=10_000_000, cancels_confirm="later")
    plan = make_plan(line("000020", 10_000, 0, 40), cash=10_000_000)

    def nudge(event):  # the price moves up past the first order's limit, once: it rests
        if isinstance(event, OrderSent) and len(broker.orders) == 1:
            broker.prices["000020"] = 10_150

    first_fill = broker._fill
    broker._fill = lambda order, qty: None if len(broker.orders) == 1 else first_fill(order, qty)
    listed = broker.orders_today

    def poll(code=None):
        rows = listed(code)  # the cancel is listed, not yet confirmed
        first = broker.orders[0]
        if first.cancel_pending:  # the fill wins the race; the exchange then refuses the cancel
            broker.prices["000020"] = 10_100
            broker._fill(first, first.remaining)
            broker.confirm_cancels()
        return rows

    broker.orders_today = poll
    executor, rec, run_id = start(broker, plan, journal_path, on=nudge)
    finish(executor)

    assert broker.orders[0].filled == broker.orders[0].qty and not broker.orders[0].cancelled
    assert broker.holdings["000020"] == 40  # the raced order was counted, its shares never placed again


def test_a_price_that_runs_past_the_guard_stops_that_stock_and_tells_the_user(clock, journal_path):
    # The first quote of B is 10,000 (limit 10,100); by the time the order arrives the price is 10,500,
    # 5 % up, so the order rests; at the next slice the price is far past the 1 % guard of that limit.
    broker = FakeBroker(clock, prices={"000020": 10_500, "000030": 5_000}, cash=10_000_000)
    plan = make_plan(line("000020", 10_000, 0, 40), line("000030", 5_000, 0, 40), cash=10_000_000)
    quote = broker.price
    stale = []
    broker.price = lambda code: (replace(quote(code), price=10_000) if code == "000020" and not stale
                                 and not stale.append(code) else quote(code))
    executor, rec, run_id = start(broker, plan, journal_path)
    finish(executor)

    (stopped,) = rec.of(PriceBeyondGuard)
    assert (stopped.code, stopped.limit, stopped.price) == ("000020", 10_100, 10_500)
    assert len(broker.sent("000020")) == 1 and broker.sent("000020")[0].cancelled  # no chasing
    assert broker.holdings.get("000030") == 40  # the other stock is unaffected
    assert Journal(journal_path).stocks(run_id)[0].halted
