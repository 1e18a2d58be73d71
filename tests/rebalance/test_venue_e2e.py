"""A run through SOR end to end on the paper exchange: stocks on NXT's list go through SOR, an ETF to KRX, lost
answers are found across venues, and the run ends at target with nothing doubled."""
from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from kis.venues import NxtList
from rebalance.journal import Journal
from rebalance.twap import TwapExecutor
from rebalance.venues import SOR_CHECK, VenueChecks, VenuePolicy, VenueRouter, VenueSettings, doctor_check
from rebalance.window import Window
from tests.rebalance.test_twap_e2e import SETTINGS, WINDOW, SimTime, accepted
from tests.rebalance.twap_fakes import Recorder, line, make_plan

ETF = "069500"


@pytest.fixture
def make_client(sim_client_factory):
    def build(**faults):
        return sim_client_factory(faults=faults, sleep=lambda seconds: None)
    return build


def routed(client, sim, tmp_path, *, checked=True):
    checks = VenueChecks(tmp_path / "venues.json")
    if checked:
        checks.record(doctor_check(SOR_CHECK, True, now=lambda: sim.clock.now()))
    nxt = NxtList(tmp_path / "nxt.json", client.stock_info_output, now=lambda: sim.clock.now())
    policy = VenuePolicy(VenueSettings(sor=True), checks, nxt)
    return VenueRouter(client, policy), policy


def plan_for(sim):
    ex, price = sim.exchange, sim.market.price
    ex.set_cash(5_000_000)
    return make_plan(line("005930", price("005930"), ex.holding_qty("005930"), ex.holding_qty("005930") - 10),
                     line("000660", price("000660"), 0, 5), line(ETF, price(ETF), 0, 20), cash=ex.cash)


def run(broker, sim, plan, tmp_path):
    executor = TwapExecutor(broker, Journal(tmp_path / "journal.sqlite3"), SETTINGS, Recorder(), SimTime(sim.clock))
    now: datetime = sim.clock.now()
    executor.start(plan, Window(now, now + WINDOW))
    assert executor.wait(30)


def test_a_sor_run_sends_nxt_stocks_through_sor_and_the_etf_to_krx_and_ends_at_target(sim, make_client, tmp_path):
    client = make_client(drop_after_order=2)  # the second order's answer is lost: found across venues
    broker, policy = routed(client, sim, tmp_path)
    plan = plan_for(sim)
    assert [str(n) for n in policy.notes([ln.code for ln in plan.lines])] == [
        f"SOR refused for {ETF}: it is an ETF or ETN, which NXT does not trade, so it goes to KRX."]
    run(broker, sim, plan, tmp_path)
    assert {ln.code: sim.exchange.holding_qty(ln.code) for ln in plan.lines} == {
        ln.code: ln.target_qty for ln in plan.lines}
    assert accepted(sim) == Counter({ln.code: abs(ln.order_qty) for ln in plan.lines})
    venues = {(o.code, o.venue) for o in sim.exchange.orders if o.kind == "new"}
    assert venues == {("005930", "SOR"), ("000660", "SOR"), (ETF, "KRX")}


def test_a_sor_run_the_doctor_has_not_checked_sends_every_order_to_krx(sim, make_client, tmp_path):
    broker, policy = routed(make_client(), sim, tmp_path, checked=False)
    plan = plan_for(sim)
    policy.notes([ln.code for ln in plan.lines])
    run(broker, sim, plan, tmp_path)
    assert {o.venue for o in sim.exchange.orders} == {"KRX"}
    assert accepted(sim) == Counter({ln.code: abs(ln.order_qty) for ln in plan.lines})
