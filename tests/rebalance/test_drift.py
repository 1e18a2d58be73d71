"""Drift from the saved model agrees with the planner's band rule."""
from __future__ import annotations

from hypothesis import given, settings as hypothesis_settings, strategies as st

from rebalance import Portfolio, Target
from rebalance.drift import drift
from rebalance.options import PlanOptions
from tests.rebalance.test_plan import accounts, balance, holding
from tests.rebalance.test_plan_options import plan_with


def test_drift_names_the_weight_now_the_target_and_whether_it_is_outside_the_band():
    model = Portfolio((Target("005930", 0.5, name="삼성전자"), Target("000660", 0.3, band=0.35)))
    account = balance(1_000_000, holding("005930", 10, 70_000, "삼성전자"), holding("035720", 5, 40_000, "카카오"))
    prices = {"005930": 70_000, "000660": 200_000, "035720": 40_000}
    by_code = {d.code: d for d in drift(model, account, prices, band=5)}
    samsung = by_code["005930"]
    assert round(samsung.now, 4) == round(700_000 / 1_862_000, 4) and samsung.target == 0.5
    assert samsung.outside and samsung.band == 0.05
    assert not by_code["000660"].outside and by_code["000660"].band == 0.35  # 0 % vs 30 %, within its ±35 %p
    assert by_code["035720"].target == 0 and by_code["035720"].outside
    assert "035720" not in {d.code for d in drift(model, account, prices, keep_others=True)}


@hypothesis_settings(max_examples=200, deadline=None)
@given(accounts(), st.sampled_from([0, 0.5, 2, 10]))
def test_a_stock_drift_calls_inside_its_band_is_one_the_plan_leaves_alone(case, band):
    model, account, prices, plan_settings = case
    plan = plan_with(model, account, prices, PlanOptions(band=band), plan_settings)
    trades = {line.code: line.order_qty for line in plan.lines}
    for d in drift(model, account, prices, band=band, cash_buffer=plan_settings.cash_buffer):
        if not d.outside:
            assert trades[d.code] == 0
