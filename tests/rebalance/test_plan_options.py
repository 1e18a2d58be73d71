"""Plan options: buy-only, sell an amount, keep other holdings, bands, smallest trade, and their words."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from rebalance import PlanSettings, Portfolio, Target, build_plan
from rebalance.costs import CostRates
from rebalance.options import OptionsError, PlanOptions, parse_plan_words
from rebalance.plan import inside_band
from tests.rebalance.test_plan import NOW, accounts, balance, holding, portfolio, quotes


def plan_with(model, account, prices, options=PlanOptions(), settings=PlanSettings(), tax_free=frozenset()):
    return build_plan(model, account, quotes(prices), settings, NOW, "abcd1234", options, tax_free=tax_free)


def orders(plan):
    return {line.code: line.order_qty for line in plan.lines if line.order_qty}


PRICES = {"005930": 70_000, "000660": 200_000, "035720": 40_000}
MODEL = portfolio(("005930", 0.5), ("000660", 0.3))
ACCOUNT = balance(1_000_000, holding("005930", 10, 70_000), holding("035720", 5, 40_000))


# -- hand-computed -----------------------------------------------------------------------------------

def test_without_keep_the_plan_names_the_stocks_it_sells_because_the_model_does_not_list_them():
    plan = plan_with(MODEL, ACCOUNT, PRICES)
    assert plan.dropped == ("035720",)
    assert orders(plan)["035720"] == -5
    assert plan.options == ()


def test_keep_leaves_other_holdings_alone_and_plans_the_rest_without_them():
    plan = plan_with(MODEL, ACCOUNT, PRICES, PlanOptions(keep_others=True))
    assert "035720" not in orders(plan) and plan.dropped == ()
    # investable = (1,900,000 - 200,000 kept) x 0.98 = 1,666,000; 005930: floor(833,000 / 70,000) = 11
    assert plan.investable == 1_666_000
    assert orders(plan) == {"005930": 1, "000660": 2}
    assert plan.options == ("keep holdings outside the model",)


def test_buy_only_never_sells_and_buys_toward_the_full_targets():
    plan = plan_with(MODEL, ACCOUNT, PRICES, PlanOptions(buy_only=True))
    assert all(q > 0 for q in orders(plan).values())
    assert orders(plan) == {"005930": 3, "000660": 2}


def test_buy_with_an_amount_spends_no_more_than_the_amount():
    plan = plan_with(MODEL, ACCOUNT, PRICES, PlanOptions(buy_only=True, amount=300_000))
    assert plan.buy_value + plan.est_costs <= 300_000
    assert plan.options == ("buy only, up to 300,000 won",)
    # 70,000 more would not fit in what is left of the 300,000
    assert 300_000 - plan.buy_value - plan.est_costs < 70_000 * 1.00015


def test_buy_with_more_than_the_cash_is_refused_with_what_to_type():
    with pytest.raises(OptionsError, match=r"more than the 1,000,000 won cash .*type /plan buy \d+ or less"):
        plan_with(MODEL, ACCOUNT, PRICES, PlanOptions(buy_only=True, amount=5_000_000))


def test_sell_amount_sells_the_most_overweight_first_and_buys_nothing():
    model = portfolio(("005930", 0.2), ("000660", 0.7))
    account = balance(0, holding("005930", 20, 70_000), holding("000660", 3, 200_000), holding("035720", 5, 40_000))
    plan = plan_with(model, account, {**PRICES}, PlanOptions(sell_amount=300_000))
    # 005930 is 1,400,000 over a 2,195,200 x 0.2 target (~6 shares): most overweight, sold first
    assert orders(plan) == {"005930": -5}
    assert plan.sell_value - plan.est_costs >= 300_000


def test_sell_more_than_the_account_can_raise_is_refused():
    with pytest.raises(OptionsError, match=r"more than the account can raise.*type /plan sell \d+ or less"):
        plan_with(MODEL, ACCOUNT, PRICES, PlanOptions(sell_amount=10_000_000))


def test_a_stock_inside_its_band_is_not_traded_and_one_outside_goes_to_target():
    # 005930 is 700,000 of 1,862,000 investable = 37.6 %, target 50 %: outside ±5, inside ±15
    narrow = plan_with(MODEL, ACCOUNT, PRICES, PlanOptions(band=5))
    assert orders(narrow)["005930"] == 3
    wide = plan_with(MODEL, ACCOUNT, PRICES, PlanOptions(band=15))
    assert "005930" not in orders(wide)
    assert any(n.startswith("Inside their band") and "005930" in n for n in wide.notes)
    assert wide.options == ("band ±15 %p",)


def test_a_band_written_in_the_file_wins_over_the_plans_band():
    model = Portfolio((Target("005930", 0.5, band=0.15), Target("000660", 0.3)), "m.xlsx")
    plan = plan_with(model, ACCOUNT, PRICES, PlanOptions(band=1))
    assert "005930" not in orders(plan) and orders(plan)["000660"] == 2


def test_trades_under_the_minimum_are_skipped():
    plan = plan_with(MODEL, ACCOUNT, PRICES, PlanOptions(min_trade=250_000))
    assert "005930" not in orders(plan)  # +3 x 70,000 = 210,000 < 250,000
    assert orders(plan)["000660"] == 2
    assert any("Trades under 250,000 won skipped: 005930" in n for n in plan.notes)


def test_an_etf_sell_carries_no_transaction_tax():
    model = portfolio(("005930", 1.0))
    account = balance(0, holding("069500", 10, 40_000))
    taxed = plan_with(model, account, {"005930": 70_000, "069500": 40_000})
    free = plan_with(model, account, {"005930": 70_000, "069500": 40_000}, tax_free=frozenset({"069500"}))
    assert taxed.est_costs - free.est_costs == 800  # 0.20 % of 400,000
    assert [line.tax_free for line in free.lines if line.code == "069500"] == [True]


# -- the words ---------------------------------------------------------------------------------------

def test_chat_words_become_options_and_the_rest_is_left():
    options, rest = parse_plan_words(["buy", "500,000", "keep", "band", "2", "model.xlsx"])
    assert options == PlanOptions(buy_only=True, amount=500_000, keep_others=True, band=2.0)
    assert rest == ["model.xlsx"]
    assert parse_plan_words(["buy"])[0] == PlanOptions(buy_only=True)
    assert parse_plan_words(["sell", "1000000원"])[0] == PlanOptions(sell_amount=1_000_000)


@pytest.mark.parametrize("words, says", [
    (["buy", "sell", "100"], "buy and sell contradict each other"),
    (["sell"], "sell needs an amount in won: type e.g. /plan sell 1000000."),
    (["sell", "lots"], "'lots' after sell is not an amount of won"),
    (["sell", "keep"], "sell needs an amount"),
    (["band", "-2"], "not a band between 0 and 50"),
    (["band", "abc"], "'abc' after band is not a number"),
    (["band", "5000"], "not a band between 0 and 50"),
    (["buy", "-5"], "'-5' after buy is not an amount of won"),
    (["buy", "0"], "the buy amount must be a positive number of won"),
    (["sell", "1e99"], "not an amount of won"),
    (["buy", "9" * 30], "more than any account holds"),
    (["band", "2", "band", "3"], "is given twice"),
])
def test_bad_words_get_one_sentence_that_says_what_to_type(words, says):
    with pytest.raises(OptionsError) as caught:
        parse_plan_words(words)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value) and str(caught.value).endswith(".")


# -- properties ---------------------------------------------------------------------------------------

@hypothesis_settings(max_examples=300, deadline=None)
@given(accounts(), st.one_of(st.none(), st.integers(1, 10**9)))
def test_buy_only_never_sells_never_passes_the_full_target_and_leaves_no_share_affordable(case, amount):
    model, account, prices, plan_settings = case
    if amount is not None and amount > account.cash_d2:
        amount = None
    full = plan_with(model, account, prices, PlanOptions(), plan_settings)
    full_target = {line.code: line.target_qty for line in full.lines}
    plan = plan_with(model, account, prices, PlanOptions(buy_only=True, amount=amount), plan_settings)
    assert not plan.sells
    unscaled = {t.code: math.floor(plan_settings_fraction(t.weight) * plan.investable / prices[t.code])
                for t in model.targets}
    for line in plan.buys:
        assert line.target_qty <= unscaled[line.code]
        assert line.target_qty <= max(full_target[line.code], unscaled[line.code])
    reserve = plan.total_value - plan.investable
    budget = plan.cash - reserve if amount is None else min(plan.cash - reserve, amount)
    left = budget - plan.buy_value - plan.est_costs
    assert left >= 0 or not plan.buys
    rates = CostRates()
    for line in plan.lines:
        if line.code in unscaled and line.target_qty < unscaled[line.code]:
            one_more = line.price + rates.buy_cost((line.target_qty - line.current_qty + 1) * line.price) \
                - rates.buy_cost(max(line.target_qty - line.current_qty, 0) * line.price)
            assert one_more > left


def plan_settings_fraction(weight: float):
    from rebalance.costs import exact
    return exact(weight)


@hypothesis_settings(max_examples=300, deadline=None)
@given(accounts(), st.integers(1, 10**10), st.booleans())
def test_sell_only_never_buys_and_raises_at_least_the_amount_after_costs(case, amount, keep):
    model, account, prices, plan_settings = case
    options = PlanOptions(sell_amount=amount, keep_others=keep)
    try:
        plan = plan_with(model, account, prices, options, plan_settings)
    except OptionsError as exc:
        assert "more than the account can raise" in str(exc)
        return
    assert not plan.buys
    assert plan.sell_value - plan.est_costs >= amount
    assert all(line.target_qty >= 0 for line in plan.lines)


@hypothesis_settings(max_examples=300, deadline=None)
@given(accounts(), st.sampled_from([0.5, 1, 2, 5, 10, 30]), st.booleans())
def test_bands_never_trade_a_stock_inside_its_band(case, band, buy_only):
    model, account, prices, plan_settings = case
    plan = plan_with(model, account, prices, PlanOptions(band=band, buy_only=buy_only), plan_settings)
    weights = {t.code: t.weight for t in model.targets}
    for line in plan.lines:
        if line.code in weights and inside_band(line.current_qty * line.price, plan.investable,
                                                weights[line.code], band / 100):
            assert line.order_qty == 0


@hypothesis_settings(max_examples=300, deadline=None)
@given(accounts(), st.sampled_from([PlanOptions(keep_others=True), PlanOptions(keep_others=True, buy_only=True),
                                    PlanOptions(keep_others=True, band=2), PlanOptions(keep_others=True, min_trade=50_000),
                                    PlanOptions(keep_others=True, sell_amount=1_000_000)]))
def test_keep_never_touches_a_kept_stock(case, options):
    model, account, prices, plan_settings = case
    try:
        plan = plan_with(model, account, prices, options, plan_settings)
    except OptionsError:
        return
    for line in plan.lines:
        if line.code not in model.codes:
            assert line.order_qty == 0
    assert plan.dropped == ()

