"""TwapExecutor end to end on the simulator's order book (liquid and thin): orders pay the spread, walk the
depth, rest, fill late and in parts, and the run still ends on target with nothing past it at any moment."""
from __future__ import annotations

from collections import Counter

import pytest

from kis.sim import SimServer
from kis.sim.clients import client_for
from kis.sim.clock import ManualClock
from rebalance.events import Filled, Finished
from tests.conftest import SIM_START, SIM_TEST_PAGE_ROWS, SIM_TEST_RATE
from tests.rebalance.test_twap_e2e import accepted, assert_targets_without_doubles, sim_plan, start


@pytest.fixture(params=["liquid", "thin"])
def book_sim(request):
    server = SimServer(0, rate_limit=SIM_TEST_RATE, page_rows=SIM_TEST_PAGE_ROWS, daily_page_rows=SIM_TEST_PAGE_ROWS,
                       seed=7, clock=ManualClock(SIM_START), always_open=True, book=request.param).start()
    try:
        yield server
    finally:
        server.stop()


def watch_goals(sim, plan):
    """Record every moment a stock's accepted shares (filled + open) or holding passed its goal."""
    goals = {ln.code: (abs(ln.order_qty), ln.target_qty, ln.order_qty > 0) for ln in plan.lines}
    breaches = []

    def check(kind, order, qty, price):
        shares = accepted(sim)
        for code, (limit, target, buy) in goals.items():
            held = sim.exchange.holding_qty(code)
            if shares[code] > limit or (held > target if buy else held < target):
                breaches.append((kind, code, shares[code], held))

    sim.exchange.listeners.append(check)
    return breaches


def test_a_rebalance_on_the_book_ends_on_target_through_faults_and_never_passes_a_goal(book_sim, tmp_path):
    client = client_for(book_sim, tmp_path / "kisbot", sleep=lambda seconds: None)
    book_sim.faults.error_rate = 0.1
    book_sim.faults.drop_after_order(1)
    plan = sim_plan(book_sim, cash=2_000_000)  # the buys need the sells' proceeds
    breaches = watch_goals(book_sim, plan)
    executor, rec, _ = start(client, book_sim, plan, tmp_path / "journal.sqlite3")
    assert executor.wait(30)

    assert breaches == []
    assert_targets_without_doubles(book_sim, plan)
    (done,) = rec.of(Finished)
    assert all(r.difference == 0 for r in done.results)
    filled = Counter()
    for event in rec.of(Filled):
        filled[event.code] += event.qty
        assert event.done_qty == filled[event.code]  # increments add up to what the journal counts
    assert filled == Counter({ln.code: abs(ln.order_qty) for ln in plan.lines})


def test_a_run_on_the_book_fills_some_stock_at_several_prices_and_still_ends_on_target(book_sim, tmp_path):
    client = client_for(book_sim, tmp_path / "kisbot", sleep=lambda seconds: None)
    plan = sim_plan(book_sim)
    prices: dict[str, set] = {}
    book_sim.exchange.listeners.append(
        lambda kind, order, qty, price: kind == "filled" and prices.setdefault(order.code, set()).add(price))
    executor, rec, _ = start(client, book_sim, plan, tmp_path / "journal.sqlite3")
    assert executor.wait(30)
    assert_targets_without_doubles(book_sim, plan)
    assert any(len(p) > 1 for p in prices.values())
