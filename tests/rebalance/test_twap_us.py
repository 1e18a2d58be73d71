"""US legs of a TWAP run on the paper exchange: a mixed plan ends at target in both markets, a US order whose
answer was lost is never sent twice, and a run killed mid-way resumes its US legs without a duplicate.

The exchange's own order logs are the judge (KRX's `order_log`, the US book's `orders`): the shares each
accepted per stock must equal the plan's.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from decimal import Decimal

import pytest

from kis.sim.overseas import UNIT
from rebalance.events import Finished, OrderSent
from rebalance.journal import Journal, OrderState
from rebalance.model import PlanLine
from rebalance.receipt import build_receipt
from rebalance.twap import TwapExecutor
from tests.rebalance.test_twap_e2e import BUY_C, SELL_A, SETTINGS, SimTime, accepted, start
from tests.rebalance.twap_fakes import Recorder, crashes, line, make_plan, quiet_crashes  # noqa: F401

RATE = Decimal("1380.50")


def us_line(sim, symbol: str, current: int, target: int) -> PlanLine:
    spec = sim.us_market.spec(symbol)
    price = (Decimal(sim.us_market.price(symbol)) / UNIT).quantize(Decimal("0.01"))
    return PlanLine(symbol, spec.symbol, price, current, target, 0.0, 0.0, market=spec.exchange, currency="USD",
                    rate=RATE)


def us_accepted(sim) -> Counter:
    """Shares of US orders the exchange accepted and did not cancel, per ticker."""
    shares = Counter()
    for order in sim.us_exchange.orders:
        shares[order.symbol] += order.qty if order.kind == "new" else -order.qty if order.kind == "cancel" else 0
    return shares


def us_held(sim, symbol: str) -> int:
    position = sim.us_book.positions.get(symbol)
    return position.qty if position else 0


def mixed_plan(sim):
    """Sell KRX's A, buy KRX's C; sell 20 KO of 30, buy AAPL and SPY (AMEX) with the dollars there are."""
    ex = sim.exchange
    sim.us_book.set_holding("KO", 30, "60.00")
    price = sim.market.price
    return make_plan(
        line(SELL_A, price(SELL_A), ex.holding_qty(SELL_A), 0),
        line(BUY_C, price(BUY_C), 0, 5),
        us_line(sim, "KO", 30, 10),
        us_line(sim, "AAPL", 0, 6),
        us_line(sim, "SPY", 0, 3),
        cash=ex.cash,
    )


def us_plan(sim):
    return make_plan(us_line(sim, "AAPL", 0, 9), us_line(sim, "TLT", 0, 14))


def assert_us_on_target(sim, plan):
    us = [ln for ln in plan.lines if ln.is_us]
    assert {ln.code: us_held(sim, ln.code) for ln in us} == {ln.code: ln.target_qty for ln in us}
    assert us_accepted(sim) == Counter({ln.code: abs(ln.order_qty) for ln in us})


@pytest.fixture
def journal_path(tmp_path):
    return tmp_path / "journal.sqlite3"


@pytest.fixture
def make_client(sim_client_factory):
    def build(**faults):
        return sim_client_factory(faults=faults, sleep=lambda seconds: None)

    return build


def test_a_mixed_plan_ends_at_target_in_both_markets_with_each_order_journaled_with_its_market(
        sim, make_client, journal_path):
    plan = mixed_plan(sim)
    executor, rec, run_id = start(make_client(), sim, plan, journal_path)
    assert executor.wait(30)

    (done,) = rec.of(Finished)
    assert all(r.difference == 0 for r in done.results), done.results
    krx = [ln for ln in plan.lines if not ln.is_us]
    assert {ln.code: sim.exchange.holding_qty(ln.code) for ln in krx} == {ln.code: ln.target_qty for ln in krx}
    assert accepted(sim) == Counter({ln.code: abs(ln.order_qty) for ln in krx})
    assert_us_on_target(sim, plan)
    orders = Journal(journal_path).orders(run_id)
    assert {o.code: o.market for o in orders} == {SELL_A: "KRX", BUY_C: "KRX", "KO": "NYSE", "AAPL": "NASD",
                                                   "SPY": "AMEX"}
    # US prices and fills are cents: the journal's limit of a US order is the exchange's, to the cent.
    by_no = {o.order_no.lstrip("0"): o for o in sim.us_exchange.orders}
    for o in orders:
        if o.market != "KRX":
            assert o.price * (UNIT // 100) == by_no[o.order_no.lstrip("0")].price
    receipt = build_receipt(run_id, plan, orders, 0)
    aapl = next(r for r in receipt.lines if r.code == "AAPL")
    assert aapl.filled_qty == 6 and aapl.filled_amount == sum(o.filled_amount for o in orders if o.code == "AAPL")


def test_sells_of_us_stocks_go_before_the_us_buys_they_fund(sim, make_client, journal_path):
    plan = mixed_plan(sim)
    executor, rec, run_id = start(make_client(), sim, plan, journal_path)
    assert executor.wait(30)
    journal = Journal(journal_path)
    slices = journal.slices(run_id)
    last_us_sell = max(s.at for s in slices if s.code == "KO")
    first_us_buy = min(s.at for s in slices if s.code in ("AAPL", "SPY"))
    assert last_us_sell < first_us_buy


def test_a_us_order_whose_answer_was_lost_and_that_is_listed_late_is_counted_never_sent_again(
        sim, make_client, journal_path):
    client = make_client(drop_after_order=1, listing_lag=30.0)
    plan = us_plan(sim)
    executor, rec, run_id = start(client, sim, plan, journal_path, settings=replace(SETTINGS, settle_seconds=60))
    assert executor.wait(30)

    assert_us_on_target(sim, plan)
    (done,) = rec.of(Finished)
    assert not done.unresolved and all(r.difference == 0 for r in done.results)
    first = Journal(journal_path).orders(run_id)[0]
    assert first.state is OrderState.CLOSED and first.order_no == sim.us_exchange.orders[0].order_no


def test_us_answers_lost_before_and_after_the_exchange_took_them_never_double_an_order(
        sim, make_client, journal_path):
    client = make_client(drop_after_order=2, drop_before_order=1, error_rate=0.1)
    plan = us_plan(sim)
    executor, rec, _ = start(client, sim, plan, journal_path)
    assert executor.wait(30)
    assert_us_on_target(sim, plan)


class DyingUsClient:
    """The real client, but the process 'dies' around one US order (SystemExit ends the thread silently)."""

    def __init__(self, client, *, before_send: int | None = None, after_send: int | None = None):
        self.client, self.before_send, self.after_send = client, before_send, after_send
        self.orders = 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def us_order(self, *args, **kwargs):
        self.orders += 1
        if self.orders == self.before_send:
            raise SystemExit("killed before the US order left")
        ack = self.client.us_order(*args, **kwargs)
        if self.orders == self.after_send:
            raise SystemExit("killed after the exchange took the US order, before its answer was journaled")
        return ack


@crashes
@pytest.mark.parametrize("death", ["before send", "after send, before ack", "after ack"])
def test_a_run_killed_mid_way_resumes_its_us_legs_without_a_duplicate(sim, make_client, journal_path, death):
    plan = mixed_plan(sim)
    dying = DyingUsClient(make_client(), before_send=2 if death == "before send" else None,
                          after_send=2 if death == "after send, before ack" else None)
    sent = []

    def die_after_second_us_ack(event):
        if death == "after ack" and isinstance(event, OrderSent) and event.code in ("KO", "AAPL", "SPY"):
            sent.append(event)
            if len(sent) == 2:
                raise SystemExit("killed after the US ack was journaled")

    executor, _, run_id = start(dying, sim, plan, journal_path, on=die_after_second_us_ack)
    assert executor.wait(30)
    assert Journal(journal_path).run(run_id).state == "active"  # the 'process' died mid-run
    sim.clock.advance(20)

    rec = Recorder()
    executor = TwapExecutor(make_client(), Journal(journal_path), SETTINGS, rec, SimTime(sim.clock))
    assert executor.resume().run_id == run_id
    assert executor.wait(30)

    assert_us_on_target(sim, plan)
    assert rec.events[0].resumed and rec.of(Finished)
    states = Counter(o.state for o in Journal(journal_path).orders(run_id))
    assert states[OrderState.INTENT] == states[OrderState.UNRESOLVED] == 0


def test_us_legs_trade_only_in_their_own_window_and_krx_legs_in_theirs(sim, make_client, journal_path, monkeypatch):
    from datetime import timedelta

    from rebalance.twap.legs import UsLeg
    from rebalance.window import Window

    now = sim.clock.now()
    us_window = Window(now + timedelta(minutes=10), now + timedelta(minutes=15))
    monkeypatch.setattr(UsLeg, "window", lambda self, at, settings, duration: us_window)
    plan = mixed_plan(sim)
    settings = replace(SETTINGS, calendar="krx")  # the US window is the leg's own, not the given one
    executor, rec, run_id = start(make_client(), sim, plan, journal_path, settings=settings)
    assert executor.wait(30)

    (done,) = rec.of(Finished)
    assert all(r.difference == 0 for r in done.results)
    assert_us_on_target(sim, plan)
    journal = Journal(journal_path)
    orders = journal.orders(run_id)
    assert all(us_window.start <= o.sent_at < us_window.end for o in orders if o.market != "KRX")
    assert all(now <= o.sent_at < now + timedelta(minutes=5) for o in orders if o.market == "KRX")
    assert {w.leg: w.window for w in journal.windows(run_id)} == {"KRX": Window(now, now + timedelta(minutes=5)),
                                                                   "US": us_window}
    assert all(w.caught_up for w in journal.windows(run_id))
    assert journal.run(run_id).window == Window(now, us_window.end)


def test_what_rests_when_the_krx_window_closes_is_cancelled_while_the_us_window_goes_on(tmp_path, monkeypatch):
    from datetime import timedelta

    from rebalance.testing import FakeClock
    from rebalance.twap.legs import UsLeg
    from rebalance.window import Window
    from tests.rebalance.test_twap_invariant_us import MixedBroker, us
    from tests.rebalance.twap_fakes import T0, FakeBroker

    krx_window = Window(T0, T0 + timedelta(minutes=5))
    us_window = Window(T0 + timedelta(minutes=6), T0 + timedelta(minutes=10))
    monkeypatch.setattr(UsLeg, "window", lambda self, at, settings, duration: us_window)
    clock = FakeClock(T0)
    broker = MixedBroker(FakeBroker(clock, prices={"000020": 5_000, "AAPL": 23_300}, cash=10_000_000, fill="rest"))
    plan = make_plan(line("000020", 5_000, 0, 30), us("AAPL", 23_300, 0, 12), cash=10_000_000)
    rec = Recorder()
    executor = TwapExecutor(broker, Journal(tmp_path / "j.sqlite3"), replace(SETTINGS, calendar="krx"), rec, clock)
    run_id = executor.start(plan, krx_window)
    assert executor.wait(30)

    journal = Journal(tmp_path / "j.sqlite3")
    krx = [o for o in journal.orders(run_id) if o.market == "KRX"]
    krx_nos = {o.order_no.lstrip("0") for o in krx}
    cancels = [row for row in broker.cancel_rows if row.original.order_no.lstrip("0") in krx_nos]
    # Every KRX order rested unfilled: each was cancelled once (re-priced, or withdrawn when the KRX window
    # closed), none after that window, and none rests while the US window trades.
    end = krx_window.end.strftime("%H%M%S")
    assert krx and len(cancels) == len(krx) and max(row.time for row in cancels) == end
    assert all(o.state is OrderState.CLOSED and o.cancel_sent for o in krx)
    us_orders = [o for o in journal.orders(run_id) if o.market == "NASD"]
    assert us_orders and all(us_window.start <= o.sent_at < us_window.end for o in us_orders)
    assert rec.of(Finished)


def test_a_us_run_in_the_real_us_session_goes_on_across_kst_midnight_without_a_duplicate(tmp_path):
    # The paper exchange keeps the XNYS session (not always open); it is 23:55 KST, 09:55 in New York.
    from datetime import datetime, timedelta

    from kis.krx import KST
    from kis.sim import ManualClock, SimServer
    from kis.sim.clients import client_for
    from rebalance.window import Window, execution_window

    clock = ManualClock(datetime(2026, 11, 24, 23, 55, tzinfo=KST))
    server = SimServer(0, rate_limit=500.0, page_rows=5, daily_page_rows=5, seed=7, clock=clock,
                       always_open=False).start()
    try:
        server.faults.drop_after_order(1)
        server.faults.listing_lag = 20.0
        client = client_for(server, tmp_path / "kisbot", sleep=lambda seconds: None)
        plan = us_plan(server)
        settings = replace(SETTINGS, calendar="krx", settle_seconds=40)
        rec = Recorder()
        executor = TwapExecutor(client, Journal(tmp_path / "j.sqlite3"), settings, rec, SimTime(clock))
        now = clock.now()
        run_id = executor.start(plan, execution_window(now, settings, timedelta(minutes=10)))
        assert executor.wait(60)

        journal = Journal(tmp_path / "j.sqlite3")
        # One market, one window: the US session's, from now for the asked ten minutes (KRX's is tomorrow).
        assert journal.windows(run_id) == []
        assert journal.run(run_id).window == Window(now, now + timedelta(minutes=10))
        assert_us_on_target(server, plan)
        sent = [o.sent_at for o in journal.orders(run_id)]
        assert min(sent).date() < max(sent).date()  # orders went out on both sides of KST midnight
        assert rec.of(Finished) and not rec.of(Finished)[0].unresolved
    finally:
        server.stop()
