"""Buying power on a 40 %-margin account: a cash buy beyond cash is accepted as 미수 there (order_cash.py),
so nothing but kisbot's own sizing stands between a run and a receivable. The sim records the largest
미수 the account ever had; every run must leave it at 0, and reach target when the cash pays for it."""
from __future__ import annotations

import pytest

from rebalance.events import Finished
from tests.rebalance.test_twap_e2e import BUY_C, BUY_D, assert_targets_without_doubles, start
from tests.rebalance.twap_fakes import line, make_plan
from tests.rebalance.test_twap_e2e import journal_path, make_client  # noqa: F401 - fixtures

BUYS = {BUY_C: 12, BUY_D: 40}


def margin_account(sim, *, cash_over_cost: float, fill_every: float):
    """A 증거금40%계좌 with cash for the buys at today's prices times `cash_over_cost`; resting: fills
    come a share every `fill_every` seconds, so buys rest and hold only their 40 % margin of the orderable cash."""
    ex, price = sim.exchange, sim.market.price
    ex.margin_percent = 40
    ex.partial_fill_shares, ex.partial_fill_seconds = 1, fill_every
    ex.set_cash(int(sum(q * price(c) * 1.0002 for c, q in BUYS.items()) * cash_over_cost))
    return make_plan(*(line(c, price(c), 0, q) for c, q in BUYS.items()), cash=ex.cash)


@pytest.mark.parametrize("cash_share,fill_every", [(0.5, 5.0), (0.7, 10.0), (0.3, 3.0)])
def test_a_run_with_less_cash_than_its_plan_on_a_40_percent_margin_account_never_buys_on_credit(
        sim, make_client, journal_path, cash_share, fill_every):
    # The plan was made when the account had more cash. While buys rest they hold only their 40 %
    # margin of ord_psbl_cash, so a buying power asked with ORD_DVSN 00 counts cash they will take at
    # settlement (on main: 미수 of 67,630 to 115,437 won in these runs).
    plan = margin_account(sim, cash_over_cost=1.0, fill_every=fill_every)
    sim.exchange.set_cash(int(sim.exchange.cash * cash_share))
    executor, rec, _ = start(make_client(), sim, plan, journal_path)
    assert executor.wait(60)
    assert sim.exchange.receivable_peak == 0  # KIS would have accepted every share beyond cash as 미수
    bought = {c: sim.exchange.holding_qty(c) for c in BUYS}
    assert all(bought[c] <= q for c, q in BUYS.items()) and sum(bought.values()) > 0
    assert rec.of(Finished)


def test_a_run_on_a_40_percent_margin_account_reaches_target_without_credit_when_cash_allows(
        sim, make_client, journal_path):
    plan = margin_account(sim, cash_over_cost=1.03, fill_every=1.0)
    executor, rec, _ = start(make_client(), sim, plan, journal_path)
    assert executor.wait(60)
    assert_targets_without_doubles(sim, plan)
    assert sim.exchange.receivable_peak == 0
