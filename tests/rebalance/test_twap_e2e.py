"""TwapExecutor end to end: a real KisClient on the paper exchange, faults on, crashes at every step.

The executor's clock is the simulator's manual clock, so waiting moves the exchange's time (prices,
partial fills) and a whole window runs in a fraction of a second. The exchange's order log is the
judge: the shares it accepted per stock must equal the plan's, or an order was lost or doubled.
"""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from kis.models import OrderSide, OrderType
from rebalance.events import Cancelled, Filled, Finished, OrderRejected, OrderSent
from rebalance.journal import Journal, OrderState
from rebalance.twap import TwapExecutor
from rebalance.window import TwapSettings, Window
from tests.rebalance.twap_fakes import (  # noqa: F401 - quiet_crashes is a fixture the crash tests use
    Recorder, crashes, line, make_plan, quiet_crashes,
)

SETTINGS = TwapSettings(calendar="always", max_slices=6, poll_seconds=10, catch_up_seconds=60, call_rate=5,
                        settle_seconds=10)
WINDOW = timedelta(minutes=5)
SELL_A, SELL_B, BUY_C, BUY_D = "035720", "005930", "000660", "105560"


class SimTime:
    """The executor's clock is the sim's ManualClock: a wait moves the exchange's time instead of sleeping."""

    def __init__(self, manual):
        self.manual = manual

    def now(self):
        return self.manual.now()

    def wait(self, seconds: float, cancel: threading.Event) -> bool:
        if not cancel.is_set():
            self.manual.advance(max(0.0, seconds))
        return cancel.is_set()


class DyingClient:
    """The real client, but the process 'dies' (SystemExit ends the thread silently) around one order."""

    def __init__(self, client, *, before_send: int | None = None, after_send: int | None = None):
        self.client, self.before_send, self.after_send = client, before_send, after_send
        self.orders = 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def order(self, *args, **kwargs):
        self.orders += 1
        if self.orders == self.before_send:
            raise SystemExit("killed before the order left")
        ack = self.client.order(*args, **kwargs)
        if self.orders == self.after_send:
            raise SystemExit("killed after the exchange accepted it, before the answer was journaled")
        return ack


def sim_plan(sim, *, cash: int | None = None):
    """Sell all of A and most of B, buy C and D, priced at the simulator's current prices."""
    ex = sim.exchange
    if cash is not None:
        ex.set_cash(cash)
    price = sim.market.price
    return make_plan(
        line(SELL_A, price(SELL_A), ex.holding_qty(SELL_A), 0),
        line(SELL_B, price(SELL_B), ex.holding_qty(SELL_B), 20),
        line(BUY_C, price(BUY_C), 0, 12),
        line(BUY_D, price(BUY_D), 0, 40),
        cash=ex.cash,
    )


def accepted(sim) -> Counter:
    """Shares of new orders the exchange accepted and did not cancel (filled + open), per stock.

    A re-priced limit order is cancelled and its rest placed again: only the cancelled part leaves.
    """
    shares = Counter()
    for entry in sim.exchange.order_log:
        if entry.kind == "new":
            shares[entry.code] += entry.qty
        elif entry.kind == "cancel":
            shares[entry.code] -= entry.qty
    return shares


def assert_targets_without_doubles(sim, plan):
    assert {ln.code: sim.exchange.holding_qty(ln.code) for ln in plan.lines} == {
        ln.code: ln.target_qty for ln in plan.lines}
    assert accepted(sim) == Counter({ln.code: abs(ln.order_qty) for ln in plan.lines})


def start(client, sim, plan, journal_path, *, settings=SETTINGS, on=None):
    rec = Recorder(on)
    executor = TwapExecutor(client, Journal(journal_path), settings, rec, SimTime(sim.clock))
    now = sim.clock.now()
    run_id = executor.start(plan, Window(now, now + WINDOW))
    return executor, rec, run_id


@pytest.fixture
def journal_path(tmp_path):
    return tmp_path / "journal.sqlite3"


@pytest.fixture
def make_client(sim_client_factory):
    """Clients on the sim whose retry back-off does not sleep for real (the sim's time is manual)."""

    def build(**faults):
        return sim_client_factory(faults=faults, sleep=lambda seconds: None)

    return build


def test_a_rebalance_funded_by_its_sells_reaches_the_targets_through_faults(sim, make_client, journal_path):
    client = make_client(error_rate=0.1, drop_after_order=2, drop_before_order=1, force_rate_limit=2)
    plan = sim_plan(sim, cash=2_000_000)  # the buys need the sells' proceeds
    executor, rec, run_id = start(client, sim, plan, journal_path)
    assert executor.wait(30)

    assert_targets_without_doubles(sim, plan)
    (done,) = rec.of(Finished)
    assert all(r.difference == 0 for r in done.results)
    # Buys start only when the sell phase is over (a sell refused for pace may be retried later).
    last_sell_slice = max(s.at for s in Journal(journal_path).slices(run_id) if s.side is OrderSide.SELL)
    first_buy = min(e.time for e in sim.exchange.order_log if e.side == OrderSide.BUY.value)
    assert first_buy >= last_sell_slice.strftime("%H%M%S")


def test_an_order_whose_answer_was_lost_and_that_is_listed_late_is_counted_never_sent_again(
        sim, make_client, journal_path):
    # KIS can list a same-day order late. The first order's answer is lost and the exchange lists new
    # orders only 30 s after accepting them: the order counts as live (its stock places nothing for
    # it) until it shows up, and the stock ends on target, not beyond.
    client = make_client(drop_after_order=1, listing_lag=30.0)
    plan = sim_plan(sim)
    executor, rec, run_id = start(client, sim, plan, journal_path, settings=replace(SETTINGS, settle_seconds=60))
    assert executor.wait(30)

    assert_targets_without_doubles(sim, plan)
    assert rec.of(Finished) and all(r.difference == 0 for r in rec.of(Finished)[0].results)
    assert not rec.of(Finished)[0].unresolved
    first = Journal(journal_path).orders(run_id)[0]
    assert first.state is OrderState.CLOSED and first.order_no == sim.exchange.order_log[0].order_no


@crashes
@pytest.mark.parametrize("death", ["before send", "after send, before ack", "after ack"])
def test_a_restart_at_every_step_of_an_order_loses_and_doubles_nothing(sim, make_client, journal_path, death):
    client = make_client(error_rate=0.1)
    plan = sim_plan(sim)
    dying = DyingClient(client, before_send=4 if death == "before send" else None,
                        after_send=4 if death == "after send, before ack" else None)
    sent = []

    def die_after_fourth_ack(event):
        if death == "after ack" and isinstance(event, OrderSent):
            sent.append(event)
            if len(sent) == 4:
                raise SystemExit("killed after the ack was journaled")

    executor, _, run_id = start(dying, sim, plan, journal_path, on=die_after_fourth_ack)
    assert executor.wait(30)
    assert Journal(journal_path).run(run_id).state == "active"  # the 'process' died mid-run
    sim.clock.advance(20)  # the restart takes a while; the exchange's time moves on

    restarted = make_client()
    rec = Recorder()
    executor = TwapExecutor(restarted, Journal(journal_path), SETTINGS, rec, SimTime(sim.clock))
    assert executor.resume().run_id == run_id
    assert executor.wait(30)

    assert_targets_without_doubles(sim, plan)
    assert rec.events[0].resumed and rec.of(Finished)
    states = Counter(o.state for o in Journal(journal_path).orders(run_id))
    assert states[OrderState.INTENT] == states[OrderState.UNRESOLVED] == 0


def test_partial_fills_arrive_as_increments(sim, make_client, journal_path):
    sim.exchange.partial_fill_shares = 3
    sim.exchange.partial_fill_seconds = 2.0
    plan = sim_plan(sim)
    executor, rec, _ = start(make_client(), sim, plan, journal_path)
    assert executor.wait(30)

    assert_targets_without_doubles(sim, plan)
    filled = Counter()
    for event in rec.of(Filled):
        filled[event.code] += event.qty
        assert event.done_qty == filled[event.code]
    assert filled == Counter({ln.code: abs(ln.order_qty) for ln in plan.lines})
    assert any(e.qty < o.qty for e in rec.of(Filled) for o in rec.of(OrderSent) if o.code == e.code)


def test_cancel_withdraws_resting_limit_orders(sim, make_client, journal_path):
    sim.exchange.partial_fill_shares = 1  # one share at acceptance, the rest rests
    sim.exchange.partial_fill_seconds = 3600.0
    plan = make_plan(line(BUY_C, sim.market.price(BUY_C), 0, 40))
    executors = []

    def cancel_after_one(event):
        if isinstance(event, OrderSent):
            executors[0].cancel()

    executor, rec, run_id = start(make_client(), sim, plan, journal_path, on=cancel_after_one)
    executors.append(executor)
    assert executor.wait(30)

    (cancelled,) = rec.of(Cancelled)
    assert cancelled.cancelled_orders == 1
    assert [(e.kind, e.order_type) for e in sim.exchange.order_log] == [("new", "00"), ("cancel", "00")]
    assert not sim.exchange.open_orders() and sim.exchange.holding_qty(BUY_C) == 1
    assert Journal(journal_path).run(run_id).state == "cancelled"


def test_an_order_the_exchange_refuses_is_reported_with_its_message(sim, make_client, journal_path):
    plan = make_plan(line(SELL_B, sim.market.price(SELL_B), 500, 0))  # the account holds only 120
    executor, rec, _ = start(make_client(), sim, plan, journal_path)
    assert executor.wait(30)

    rejected = rec.of(OrderRejected)
    assert rejected and {(r.msg_cd, r.message) for r in rejected} == {("APBK0400", "주문가능수량을 초과 했습니다")}
    # Slices of 84 sold the first 84 shares; the 36 left are less than a slice and the exchange says so.
    assert accepted(sim) == Counter({SELL_B: 84}) and sim.exchange.holding_qty(SELL_B) == 36
    assert rec.of(Finished)[0].results[0].difference == -36


def test_codes_with_letters_trade_to_target_a_stock_and_an_etf(sim, make_client, journal_path):
    client = make_client()
    price = sim.market.price
    ex = sim.exchange
    plan = make_plan(
        line(SELL_B, price(SELL_B), ex.holding_qty(SELL_B), 60),
        line("0013V0", price("0013V0"), 0, 40),
        line("0126Z0", price("0126Z0"), 0, 25),  # an ETF
        cash=ex.cash,
    )
    executor, rec, run_id = start(client, sim, plan, journal_path)
    assert executor.wait(30)

    assert_targets_without_doubles(sim, plan)
    (done,) = rec.of(Finished)
    assert all(r.difference == 0 for r in done.results)
    held = {h.code: h.qty for h in client.balance().holdings}
    assert (held["0013V0"], held["0126Z0"]) == (40, 25)



def test_a_run_with_enough_cash_ends_on_target_without_a_single_apbk0952(sim, make_client, journal_path):
    # KIS costs a buy without a price at the upper limit (+30 %): with cash for the buys plus 2 %,
    # market-type buys sized at the price would be refused. Guarded limit buys sized by nrcvb_buy_qty
    # at their own limit are not, and the run ends on target.
    price = sim.market.price
    buys = {BUY_C: 12, BUY_D: 40}
    sim.exchange.set_cash(int(sum(qty * price(code) for code, qty in buys.items()) * 1.02))
    plan = make_plan(*(line(code, price(code), 0, qty) for code, qty in buys.items()), cash=sim.exchange.cash)
    executor, rec, _ = start(make_client(), sim, plan, journal_path)
    assert executor.wait(30)

    assert_targets_without_doubles(sim, plan)
    assert sim.exchange.cash_refusals == 0 and not rec.of(OrderRejected)
    assert {e.order_type for e in sim.exchange.order_log if e.kind == "new"} == {OrderType.LIMIT.value}


def test_a_cancel_kis_confirms_late_is_sent_once_and_no_stock_goes_beyond_its_goal_meanwhile(
        sim, make_client, journal_path):
    # KIS takes a cancel at once and confirms it later (here 45 s of sim time). Orders fill 2 shares per 20 s,
    # so slices rest and are re-priced, and the run ends with orders resting: each cancel still leaves once
    # (re-pricing or at the end), and no stock gets more than its goal while its cancels are unconfirmed.
    client = make_client(cancel_confirm_delay=45.0)
    sim.exchange.partial_fill_shares, sim.exchange.partial_fill_seconds = 2, 20.0
    plan = sim_plan(sim)
    executor, rec, run_id = start(client, sim, plan, journal_path)
    assert executor.wait(30)
    cancels = [e for e in sim.exchange.order_log if e.kind == "cancel"]
    assert cancels and sim.count("/uapi/domestic-stock/v1/trading/order-rvsecncl") == len(cancels)
    shares = accepted(sim)
    for ln in plan.lines:
        assert shares[ln.code] <= abs(ln.order_qty)
        held = sim.exchange.holding_qty(ln.code)
        assert held <= ln.target_qty if ln.order_qty > 0 else held >= ln.target_qty
    assert [o for o in sim.exchange.open_orders() if o.kind == "new"] == []  # the end's cancels took
