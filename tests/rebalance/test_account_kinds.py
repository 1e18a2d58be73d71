"""Account kinds in the planner: 연금저축 and IRP refuse rows they may not hold; IRP keeps risky ≤ 70 %, sends nothing."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from kis.accounts import AccountKind
from rebalance import PlanSettings, Portfolio, PortfolioError, Target
from rebalance.accounts import PRODUCTS, Product, is_safe, model_problems, product_of, risky_share
from rebalance.i18n import using as use
from rebalance.journal import Journal, plan_from_json, plan_to_json
from rebalance.twap import TwapExecutor
from rebalance.window import TwapSettings, Window
from tests.rebalance.test_plan import balance, holding, plan_for
from tests.rebalance.twap_fakes import T0, FakeBroker, Recorder
from rebalance.testing import FakeClock

PENSION = PlanSettings(kind=AccountKind.PENSION)
IRP = PlanSettings(kind=AccountKind.IRP)
KODEX200, SP500, BOND10, GOLD, LEVERAGED, INVERSE = "069500", "360750", "148070", "132030", "122630", "252670"
PRICES = {KODEX200: 35_000, SP500: 20_000, BOND10: 60_000, GOLD: 15_000, LEVERAGED: 18_000, INVERSE: 2_500}


def model(*rows: tuple[str, float, str]) -> Portfolio:
    return Portfolio(tuple(Target(code, weight, name, row=i + 2) for i, (code, weight, name) in enumerate(rows)),
                     "pension.xlsx")


def test_a_pension_model_with_a_leveraged_etf_is_refused_naming_the_row_and_the_rule():
    rows = model((KODEX200, 0.5, "KODEX 200"), (LEVERAGED, 0.3, "KODEX 레버리지"))
    with use("en"), pytest.raises(PortfolioError) as caught:
        plan_for(rows, balance(10_000_000), PRICES, PENSION)
    assert str(caught.value) == ("pension.xlsx: row 3: 122630 KODEX 레버리지 is a leveraged (파생형) ETF, which a "
                                 "pension savings (연금저축) account may not hold: remove the row")


def test_the_refusal_reads_in_korean_too():
    rows = model((INVERSE, 0.3, "KODEX 200선물인버스2X"),)
    with use("ko"), pytest.raises(PortfolioError, match="2행: 252670 KODEX 200선물인버스2X은\\(는\\) 인버스"):
        plan_for(rows, balance(10_000_000), PRICES, PENSION)


def test_a_pension_account_refuses_a_foreign_listed_stock_and_an_unknown_code_failing_closed():
    rows = model((KODEX200, 0.4, "KODEX 200"), ("AAPL", 0.3, "Apple"), ("005930", 0.3, "삼성전자"))
    with use("en"):
        problems = model_problems(AccountKind.PENSION, rows)
    assert len(problems) == 2
    assert problems[0].startswith("row 3: AAPL Apple is listed abroad")
    assert problems[1].startswith("row 4: kisbot does not know what kind of product 005930")


def test_a_general_account_plans_the_same_rows_that_a_pension_account_refuses():
    rows = model((KODEX200, 0.5, "KODEX 200"), (LEVERAGED, 0.3, "KODEX 레버리지"))
    plan = plan_for(rows, balance(10_000_000), PRICES)
    assert plan.has_orders and not plan.manual
    assert model_problems(AccountKind.GENERAL, rows) == []


def test_the_simulators_etfs_have_their_kinds():
    assert (product_of(BOND10), product_of(LEVERAGED), product_of(INVERSE)) == \
        (Product.BOND_ETF, Product.LEVERAGED_ETF, Product.INVERSE_ETF)
    assert is_safe(BOND10) and not is_safe(KODEX200) and not is_safe(GOLD) and not is_safe("005930")
    assert {KODEX200, SP500, BOND10, GOLD, LEVERAGED, INVERSE} <= set(PRODUCTS)


def test_an_irp_model_with_an_inverse_etf_is_refused():
    with use("en"), pytest.raises(PortfolioError, match="row 2: 252670 .* inverse"):
        plan_for(model((INVERSE, 0.2, "KODEX 200선물인버스2X"),), balance(10_000_000), PRICES, IRP)


def test_an_irp_plan_that_would_pass_70_percent_risky_is_limited_and_says_which_buys_were_cut():
    rows = model((KODEX200, 0.5, "KODEX 200"), (SP500, 0.4, "TIGER 미국S&P500"), (BOND10, 0.1, "KOSEF 국고채10년"))
    with use("en"):
        plan = plan_for(rows, balance(10_000_000), PRICES, IRP)
    after = {line.code: line.target_qty for line in plan.lines}
    share = risky_share(after, PRICES, plan.total_value - plan.est_costs)
    assert Fraction(65, 100) < share <= Fraction(7, 10)  # cut to the cap, not far below it
    assert any("buys of 069500" in note and "at most 70 %" in note for note in plan.notes)


def test_an_irp_account_already_over_70_percent_gets_only_safe_asset_buys():
    account = balance(1_000_000, holding(KODEX200, 250, 35_000))  # 8.75m of 9.75m risky: 90 %
    rows = model((KODEX200, 0.6, "KODEX 200"), (SP500, 0.2, "S&P500"), (BOND10, 0.2, "국고채10년"))
    with use("en"):
        plan = plan_for(rows, account, PRICES, IRP)
    buys = {line.code for line in plan.buys}
    assert buys <= {BOND10} and BOND10 in buys
    assert any("already holds more than 70 %" in note for note in plan.notes)


@hypothesis_settings(max_examples=80, deadline=None)
@given(cash=st.integers(0, 50_000_000), held=st.dictionaries(st.sampled_from([KODEX200, SP500, GOLD, BOND10]),
                                                              st.integers(0, 400), max_size=4),
       weights=st.lists(st.integers(0, 100), min_size=4, max_size=4),
       moves=st.lists(st.integers(-50, 50), min_size=4, max_size=4))
def test_over_random_irp_plans_risky_assets_end_at_most_70_percent_or_grow_no_further(cash, held, weights, moves):
    codes = [KODEX200, SP500, GOLD, BOND10]
    prices = {c: max(1_000, PRICES[c] * (100 + m) // 100) for c, m in zip(codes, moves)}
    account = balance(cash, *(holding(c, q, prices[c]) for c, q in held.items() if q))
    if account.total_value <= 0 or sum(weights) == 0:
        return
    rows = model(*((c, w / sum(weights), c) for c, w in zip(codes, weights)))
    plan = plan_for(rows, account, prices, IRP)
    before = {line.code: line.current_qty for line in plan.lines}
    after = {line.code: line.target_qty for line in plan.lines}
    was = risky_share(before, prices, plan.total_value)
    now = risky_share(after, prices, plan.total_value - plan.est_costs)
    if was <= Fraction(7, 10):
        assert now <= Fraction(7, 10)
    else:  # already over: no risky buy
        assert all(is_safe(line.code) for line in plan.buys)
    assert plan.manual


def test_an_irp_plan_sends_zero_orders(tmp_path):
    rows = model((KODEX200, 0.3, "KODEX 200"), (BOND10, 0.6, "국고채10년"))
    with use("en"):
        plan = plan_for(rows, balance(10_000_000), PRICES, IRP)
    assert plan.manual and plan.has_orders
    assert any("read-only over the KIS API" in note for note in plan.notes)
    assert plan_from_json(plan_to_json(plan)).manual  # the offer kept in the journal stays manual
    clock = FakeClock(T0)
    broker = FakeBroker(clock, prices=dict(PRICES), holdings={}, cash=10_000_000)
    settings = TwapSettings(calendar="always", poll_seconds=5, catch_up_seconds=60, call_rate=10, settle_seconds=10)
    executor = TwapExecutor(broker, Journal(tmp_path / "j.sqlite3"), settings, Recorder(), clock)
    with use("en"), pytest.raises(ValueError, match="read-only account"):
        executor.start(plan, Window(T0, T0 + timedelta(minutes=10)))
    assert broker.sent() == []
    assert executor.status() is None
