"""Drift across markets: US holdings weigh in won at KIS's rate, dollar cash counts, and a US stock drift calls
inside its band is one the mixed plan leaves alone."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from rebalance import Portfolio, Target, build_plan
from rebalance.drift import UsHeld, drift
from rebalance.options import PlanOptions
from tests.rebalance.test_plan_markets import FREE, NOW, RATE, krx_balance, krx_quotes, us_balance, us_side


def test_a_us_holding_weighs_its_won_value_at_kis_rate_of_the_whole_account():
    # 1,400,000 won cash, $1,000 cash, 10 AAPL at $100: 1,400,000 + 1,400,000 + 1,400,000 = 4,200,000 won.
    us = UsHeld.of(us_balance(100_000, AAPL=(10, "100.00")))
    model = Portfolio((Target("005930", 0.5), Target("AAPL", 0.5, band=0.05)))
    by = {d.code: d for d in drift(model, krx_balance(1_400_000), {"005930": 70_000}, cash_buffer=0.0, us=us)}
    assert by["AAPL"].now == pytest.approx(1 / 3) and by["AAPL"].outside  # 33 % against 50 % ± 5
    assert by["005930"].now == 0 and by["005930"].outside


def test_a_us_holding_outside_the_model_is_a_target_of_nothing_unless_kept():
    us = UsHeld.of(us_balance(0, KO=(5, "60.00")))
    model = Portfolio((Target("005930", 1.0),))
    drifts = drift(model, krx_balance(1_000_000), {"005930": 70_000}, us=us)
    ko = next(d for d in drifts if d.code == "KO")
    assert ko.target == 0 and ko.outside and ko.name == "KO"
    assert "KO" not in {d.code for d in drift(model, krx_balance(1_000_000), {"005930": 70_000}, us=us,
                                              keep_others=True)}


def test_a_model_ticker_not_held_is_priced_from_the_prices_given():
    us = UsHeld.of(us_balance(100_000), {"SPY": Decimal("500.00")})
    d, = drift(Portfolio((Target("SPY", 0.5, band=0.1),)), krx_balance(0), {}, cash_buffer=0.0, us=us)
    assert d.now == 0 and d.outside  # 0 % against 50 % ± 10


def test_a_mixed_model_without_the_us_side_is_refused_rather_than_misweighed():
    with pytest.raises(ValueError):
        drift(Portfolio((Target("AAPL", 1.0),)), krx_balance(0), {})


def test_without_a_us_side_drift_is_what_it_was():
    model = Portfolio((Target("005930", 1.0, band=0.05),))
    assert drift(model, krx_balance(100_000, **{"005930": (1, 70_000)}), {"005930": 70_000}) == \
        drift(model, krx_balance(100_000, **{"005930": (1, 70_000)}), {"005930": 70_000}, us=None)


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.integers(0, 3_000_000), st.integers(0, 200_000), st.integers(0, 40), st.integers(0, 40),
       st.sampled_from(["12.34", "100.00", "487.25"]), st.sampled_from([0.5, 2, 10]),
       st.floats(0.05, 0.9).map(lambda w: round(w, 2)))
def test_a_stock_drift_calls_inside_its_band_is_one_the_mixed_plan_leaves_alone(won, cents, krx_qty, us_qty, usd,
                                                                                 band, weight):
    model = Portfolio((Target("005930", round(0.95 - weight, 2)), Target("AAPL", weight)), "mixed.xlsx")
    account = krx_balance(won, **({"005930": (krx_qty, 50_000)} if krx_qty else {}))
    us_bal = us_balance(cents, **({"AAPL": (us_qty, usd)} if us_qty else {}))
    plan = build_plan(model, account, krx_quotes({"005930": 50_000}), FREE, NOW, "p", PlanOptions(band=band),
                      us=us_side(us_bal, {"AAPL": usd}))
    trades = {line.code: line.order_qty for line in plan.lines}
    held = UsHeld.of(us_bal, {"AAPL": Decimal(usd)})
    assert held.rate == RATE
    for d in drift(model, account, {"005930": 50_000}, band=band, cash_buffer=FREE.cash_buffer, us=held):
        if not d.outside:
            assert trades[d.code] == 0, d
