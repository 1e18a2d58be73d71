"""Planning a rebalance: hand-computed plans, scaling buys to cash, order of lines, and properties."""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from kis.errors import UnknownStock
from kis.krx import KST
from kis.models import Balance, Holding, Quote
from rebalance import PlanSettings, Portfolio, PortfolioError, Target, build_plan, make_plan
from rebalance.costs import CostRates

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=KST)


def holding(code: str, qty: int, price: int = 0, name: str = "", orderable: int | None = None) -> Holding:
    return Holding(code=code, name=name, qty=qty, orderable_qty=qty if orderable is None else orderable,
                   avg_price=price, price=price, value=qty * price, purchase_amount=qty * price, pnl=0, pnl_rate=0.0)


def balance(cash: int, *holdings: Holding) -> Balance:
    stock = sum(h.value for h in holdings)
    return Balance(holdings=tuple(holdings), cash=cash, cash_d2=cash, stock_value=stock,
                   total_value=stock + cash, pnl=0)


def quotes(prices: dict[str, int], at: datetime | None = NOW, names: dict[str, str] | None = None) -> dict[str, Quote]:
    return {c: Quote(code=c, price=p, change=0, change_rate=0.0, name=(names or {}).get(c, ""), at=at)
            for c, p in prices.items()}


def portfolio(*targets: tuple[str, float]) -> Portfolio:
    return Portfolio(tuple(Target(code, weight) for code, weight in targets), "test.xlsx")


def plan_for(model: Portfolio, account: Balance, prices: dict[str, int], settings: PlanSettings = PlanSettings()):
    return build_plan(model, account, quotes(prices), settings, NOW, "abcd1234")


# -- hand-computed plans ------------------------------------------------------------------------

def test_hand_computed_plan_with_a_sell_of_a_stock_outside_the_model():
    model = portfolio(("005930", 0.5), ("000660", 0.3))
    account = balance(1_000_000, holding("005930", 10, 70_000), holding("035720", 5, 40_000))
    plan = plan_for(model, account, {"005930": 70_000, "000660": 200_000, "035720": 40_000})

    assert plan.total_value == 1_900_000  # 1,000,000 cash + 10 x 70,000 + 5 x 40,000
    assert plan.investable == 1_862_000  # x 0.98
    by_code = {line.code: line for line in plan.lines}
    assert by_code["005930"].target_qty == 13  # floor(931,000 / 70,000)
    assert by_code["000660"].target_qty == 2  # floor(558,600 / 200,000)
    assert by_code["035720"].target_qty == 0  # not in the model: sold to zero
    assert [(line.code, line.order_qty) for line in plan.lines] == [("035720", -5), ("000660", 2), ("005930", 3)]
    # sell 200,000 x (0.015 % fee + 0.20 % tax) = 430; buys 210,000 x 0.015 % = 31.5 -> 32 and 400,000 -> 60
    assert plan.est_costs == 430 + 32 + 60
    assert plan.sell_value == 200_000 and plan.buy_value == 610_000
    assert plan.cash_after == 1_000_000 + 200_000 - 610_000 - 522
    assert by_code["005930"].current_weight == pytest.approx(700_000 / 1_900_000)
    assert by_code["005930"].target_weight == pytest.approx(910_000 / 1_900_000)
    assert plan.notes == ("Weights add up to 80 %: the other 20 % of the investable value stays in cash.",)


def test_plan_id_prices_time_and_expiry():
    model = portfolio(("005930", 1.0))
    priced = NOW - timedelta(seconds=20)
    plan = build_plan(model, balance(1_000_000), quotes({"005930": 70_000}, at=priced),
                      PlanSettings(max_price_age=timedelta(minutes=3)), NOW, "abcd1234")
    assert plan.id == "abcd1234"
    assert plan.priced_at == priced
    assert plan.expires_at == priced + timedelta(minutes=3)


def test_the_oldest_quote_sets_the_price_time_and_missing_times_fall_back_to_now():
    model = portfolio(("005930", 0.5), ("000660", 0.5))
    old = NOW - timedelta(minutes=1)
    prices = {**quotes({"005930": 70_000}, at=old), **quotes({"000660": 100_000}, at=NOW)}
    assert build_plan(model, balance(10**6), prices, PlanSettings(), NOW, "x").priced_at == old
    untimed = quotes({"005930": 70_000, "000660": 100_000}, at=None)
    assert build_plan(model, balance(10**6), untimed, PlanSettings(), NOW, "x").priced_at == NOW


def test_sells_come_first_then_buys_then_unchanged_bigger_trades_first():
    model = portfolio(("000001", 0.15), ("000002", 0.2), ("000003", 0.45), ("000004", 0.2))
    account = balance(0, holding("000001", 100, 1_000), holding("000002", 10, 1_000), holding("000003", 10, 10_000),
                      holding("000005", 20, 1_000), holding("000006", 3, 1_000))
    prices = {"000001": 1_000, "000002": 1_000, "000003": 10_000, "000004": 1_000, "000005": 1_000, "000006": 1_000}
    plan = plan_for(model, account, prices, PlanSettings(cash_buffer=0))
    sides = [("sell" if line.order_qty < 0 else "buy" if line.order_qty > 0 else "none") for line in plan.lines]
    assert sides == sorted(sides, key=["sell", "buy", "none"].index)
    sells = [line for line in plan.lines if line.order_qty < 0]
    assert [line.order_value for line in sells] == sorted((line.order_value for line in sells), reverse=True)
    assert [(line.code, line.order_qty) for line in plan.lines] == [
        ("000001", -66), ("000005", -20), ("000006", -3), ("000004", 46), ("000002", 36), ("000003", 0)]


def test_held_stock_outside_the_model_is_sold_to_zero_even_with_an_empty_model_weight():
    model = portfolio(("005930", 0.0))
    plan = plan_for(model, balance(0, holding("005930", 3, 70_000)), {"005930": 70_000})
    assert plan.lines[0].target_qty == 0 and plan.lines[0].order_qty == -3


def test_names_come_from_the_quote_then_the_balance_then_the_file():
    model = Portfolio((Target("005930", 0.3, "file-samsung"), Target("000660", 0.3, "file-hynix"),
                       Target("035720", 0.3, "file-kakao")))
    account = balance(10**7, holding("000660", 1, 200_000, name="SK하이닉스"), holding("035720", 1, 40_000))
    prices = quotes({"005930": 70_000, "000660": 200_000, "035720": 40_000}, names={"005930": "삼성전자"})
    plan = build_plan(model, account, prices, PlanSettings(), NOW, "x")
    names = {line.code: line.name for line in plan.lines}
    assert names == {"005930": "삼성전자", "000660": "SK하이닉스", "035720": "file-kakao"}


def test_a_weight_below_one_share_is_explained():
    plan = plan_for(portfolio(("005930", 0.5)), balance(100_000), {"005930": 70_000})
    assert plan.lines[0].target_qty == 0
    assert "005930: its 50 % (49,000 won) is less than one share at 70,000 won, so none is held." in plan.notes


def test_shares_locked_in_open_orders_are_flagged():
    model = portfolio(("005930", 0.0))
    plan = plan_for(model, balance(0, holding("005930", 10, 70_000, orderable=4)), {"005930": 70_000})
    assert ("005930: only 4 of the 10 shares to sell can be sold now (the rest are in open orders or unsettled)."
            in plan.notes)


def test_a_needed_code_without_a_price_is_an_unknown_stock():
    model = portfolio(("005930", 0.5), ("999999", 0.5))
    with pytest.raises(UnknownStock) as caught:
        build_plan(model, balance(0, holding("000660", 1)), quotes({"005930": 70_000, "999999": 0}),
                   PlanSettings(), NOW, "x")
    assert caught.value.codes == ("999999", "000660")


def test_cash_is_the_d2_deposit_which_already_counts_unsettled_trades():
    # Bought yesterday for 300,000: today's deposit still shows it, the D+2 deposit does not.
    account = Balance(holdings=(holding("005930", 3, 100_000),), cash=1_000_000, cash_d2=700_000,
                      stock_value=300_000, total_value=1_000_000, pnl=0)
    plan = plan_for(portfolio(("005930", 1.0)), account, {"005930": 100_000}, PlanSettings(cash_buffer=0))
    assert plan.cash == 700_000 and plan.total_value == 1_000_000
    assert plan.lines[0].target_qty == 9  # 10 would leave nothing for the fee


# -- scaling buys to the cash there is ------------------------------------------------------------

def test_buys_are_scaled_down_when_fees_do_not_fit_and_the_note_says_by_how_much():
    plan = plan_for(portfolio(("005930", 1.0)), balance(1_000_000), {"005930": 100_000}, PlanSettings(cash_buffer=0))
    # 10 shares cost 1,000,000 + 150 fee > 1,000,000 cash: one share fewer.
    assert plan.lines[0].target_qty == 9
    assert plan.notes == ("Buys scaled down by 10.0 % to fit cash: 1,000,000 won wanted, "
                          "1,000,000 won available after sells and costs.",)
    assert plan.cash_after == 1_000_000 - 900_000 - 135


def test_scaling_cuts_buys_proportionally_then_hands_back_single_shares():
    model = portfolio(("000001", 0.6), ("000002", 0.4))
    account = balance(0, holding("000003", 100, 10_000))
    plan = plan_for(model, account, {"000001": 1_000, "000002": 50_000, "000003": 10_000}, PlanSettings(cash_buffer=0))
    # Wanted 600 + 8 shares (1,000,150 won with fees); after selling 1,000,000 less 2,150 costs, 997,850 is left.
    # Proportional floor gives 598 and 7; single shares then go back to 000001 up to its 600; 000002's 8th
    # share (50,007 won) no longer fits.
    by_code = {line.code: line for line in plan.lines}
    assert by_code["000001"].target_qty == 600
    assert by_code["000002"].target_qty == 7
    assert plan.est_costs == 2_150 + 90 + 53
    assert plan.cash_after == 1_000_000 - 600_000 - 350_000 - 2_293
    assert plan.notes[0].startswith("Buys scaled down by 5.0 % to fit cash: 1,000,000 won wanted, 997,850 won")


def test_no_cash_at_all_means_no_buys():
    account = Balance(holdings=(), cash=-50_000, cash_d2=-50_000, stock_value=0, total_value=0, pnl=0)
    plan = plan_for(portfolio(("005930", 1.0)), account, {"005930": 100})
    assert not plan.has_orders and plan.investable == 0


def test_settings_refuse_nonsense():
    with pytest.raises(ValueError, match="cash_buffer"):
        PlanSettings(cash_buffer=1.2)
    with pytest.raises(ValueError, match="sell_tax"):
        PlanSettings(sell_tax=-0.1)
    with pytest.raises(ValueError, match="max_price_age"):
        PlanSettings(max_price_age=timedelta(0))


def test_costs_round_up_to_the_won_and_tax_only_sells():
    rates = CostRates()
    assert rates.buy_cost(1_000_000) == 150
    assert rates.buy_cost(10_001) == 2  # 1.50015 won -> 2
    assert rates.sell_cost(1_000_000) == 2_150  # 0.015 % fee + 0.20 % tax
    assert rates.buy_cost(0) == 0 and rates.sell_cost(0) == 0


# -- make_plan: the edge ------------------------------------------------------------------------------

class FakeClient:
    """Records calls; answers like KisClient (prices raises UnknownStock for codes it lacks)."""

    def __init__(self, account: Balance, prices: dict[str, int]):
        self.account = account
        self.known = prices
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def balance(self) -> Balance:
        self.calls.append(("balance", ()))
        return self.account

    def prices(self, codes):
        codes = tuple(codes)
        self.calls.append(("prices", codes))
        unknown = [c for c in codes if c not in self.known]
        if unknown:
            raise UnknownStock(unknown)
        return quotes({c: self.known[c] for c in codes})


def test_make_plan_asks_once_for_the_balance_and_once_for_all_prices():
    client = FakeClient(balance(1_000_000, holding("035720", 5, 40_000), holding("005930", 1, 70_000)),
                        {"005930": 70_000, "000660": 200_000, "035720": 40_000})
    plan = make_plan(client, portfolio(("005930", 0.5), ("000660", 0.5)), now=NOW)
    assert client.calls == [("balance", ()), ("prices", ("005930", "000660", "035720"))]
    assert re.fullmatch(r"[0-9a-f]{8}", plan.id)
    assert plan.priced_at == NOW and plan.expires_at == NOW + timedelta(minutes=5)


def test_make_plan_ids_differ():
    client = FakeClient(balance(1_000_000), {"005930": 70_000})
    ids = {make_plan(client, portfolio(("005930", 1.0)), now=NOW).id for _ in range(20)}
    assert len(ids) == 20


def test_make_plan_turns_unknown_codes_into_a_portfolio_error_with_rows():
    model = Portfolio((Target("005930", 0.5, row=2), Target("999999", 0.5, row=3)), "m.xlsx")
    client = FakeClient(balance(1_000_000), {"005930": 70_000})
    with pytest.raises(PortfolioError) as caught:
        make_plan(client, model, now=NOW)
    assert str(caught.value) == ("m.xlsx: 종목코드 '999999' is not a stock the broker knows (row 3): "
                                 "check the code or remove the row")


# -- properties -------------------------------------------------------------------------------------

@st.composite
def accounts(draw, min_buffer: float = 0.0):
    """A model of 1-8 stocks, holdings in some of them and in stocks outside it, prices and cash."""
    n_model = draw(st.integers(1, 8))
    n_other = draw(st.integers(0, 3))
    codes = [f"{i:06d}" for i in range(1, n_model + n_other + 1)]
    prices = {c: draw(st.integers(50, 3_000_000)) for c in codes}
    raw = [draw(st.integers(0, 100)) for _ in range(n_model)]
    invested = draw(st.sampled_from([Fraction(1), Fraction(1, 2), Fraction(99, 100)]))
    weights = [float(Fraction(r, sum(raw)) * invested) if sum(raw) else 0.0 for r in raw]
    model = Portfolio(tuple(Target(c, w) for c, w in zip(codes, weights)))
    held = [holding(c, draw(st.integers(0, 2_000)), prices[c]) for c in codes if draw(st.booleans())]
    cash = draw(st.integers(0, 5_000_000_000))
    buffer = draw(st.sampled_from([min_buffer, 0.0, 0.001, 0.02, 0.1]) .filter(lambda b: b >= min_buffer))
    return model, balance(cash, *[h for h in held if h.qty > 0]), prices, PlanSettings(cash_buffer=buffer)


@hypothesis_settings(max_examples=300, deadline=None)
@given(accounts())
def test_no_plan_spends_more_than_the_cash_it_has(case):
    model, account, prices, plan_settings = case
    plan = plan_for(model, account, prices, plan_settings)
    assert plan.buy_value + plan.est_costs <= plan.cash + plan.sell_value
    assert plan.cash_after >= 0
    assert sum(line.target_qty * line.price for line in plan.lines) <= plan.investable


@hypothesis_settings(max_examples=300, deadline=None)
@given(accounts())
def test_target_quantities_are_never_negative_and_outsiders_go_to_zero(case):
    model, account, prices, plan_settings = case
    plan = plan_for(model, account, prices, plan_settings)
    assert all(line.target_qty >= 0 for line in plan.lines)
    for line in plan.lines:
        if line.code not in model.codes:
            assert line.target_qty == 0
    assert {line.code for line in plan.lines} == set(model.codes) | {h.code for h in account.holdings}


@hypothesis_settings(max_examples=300, deadline=None)
@given(accounts(min_buffer=0.02))
def test_weights_are_honoured_within_one_share_when_buys_are_not_scaled(case):
    model, account, prices, plan_settings = case
    plan = plan_for(model, account, prices, plan_settings)
    assert not any(note.startswith("Buys scaled down") for note in plan.notes)  # the 2 % buffer pays the costs
    weights = {t.code: t.weight for t in model.targets}
    for line in plan.lines:
        if line.code in weights:
            wanted = weights[line.code] * plan.investable
            assert line.target_qty * line.price <= wanted + 1e-6 * line.price
            assert wanted - line.target_qty * line.price < line.price * (1 + 1e-9)


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3_000), st.integers(100, 1_000_000)), min_size=1, max_size=10),
       st.integers(0, 10**9), st.sampled_from([0.0, 0.02, 0.05]))
def test_a_portfolio_already_on_target_produces_no_orders(positions, spare_cash, buffer):
    codes = [f"{i:06d}" for i in range(1, len(positions) + 1)]
    prices = {c: p for c, (_, p) in zip(codes, positions)}
    held_value = sum(q * p for q, p in positions)
    # Enough cash that each weight can sit half a share above the holding and still add up to at most 1.
    room = sum((q + 1) * p for q, p in positions)
    total_needed = math.ceil(room / (1 - buffer)) + 2
    cash = max(spare_cash, total_needed - held_value)
    account = balance(cash, *[holding(c, q, p) for c, (q, p) in zip(codes, positions) if q > 0])
    investable = math.floor((held_value + cash) * (1 - Fraction(repr(buffer))))
    model = Portfolio(tuple(Target(c, (q + 0.5) * p / investable) for c, (q, p) in zip(codes, positions)))
    plan = plan_for(model, account, prices, PlanSettings(cash_buffer=buffer))
    assert not plan.has_orders
    assert plan.est_costs == 0 and plan.cash_after == cash
    assert "Already on target: nothing to trade." in plan.notes
