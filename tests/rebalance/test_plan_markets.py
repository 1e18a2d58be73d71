"""One plan across KRX and the US exchanges: weights of the whole account in won at KIS's rate, US buys paid from
dollars (shrunk by largest remainders where dollars are short, the missing dollars said), KRX legs in full."""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from kis.errors import UnknownStock
from kis.krx import KST
from kis.markets import AMEX, NASD, NYSE, market_named
from kis.models import Balance, CurrencyCash, Holding, Quote, UsBalance, UsHolding, UsQuote
from rebalance import PlanSettings, Portfolio, PortfolioError, Target, build_plan, make_plan
from rebalance.costs import UsCostRates
from rebalance.journal import plan_from_json, plan_to_json
from rebalance.options import PlanOptions
from rebalance.plan import UsSide, fit_us_buys
from rebalance.render import plan_text

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=KST)
RATE = Decimal("1400.00")
FREE = PlanSettings(cash_buffer=0.0, buy_fee=0.0, sell_fee=0.0, sell_tax=0.0, us_fee=0.0, us_sec_fee=0.0,
                    us_taf_per_share=0.0)


def krx_balance(cash: int, **held: tuple[int, int]) -> Balance:
    holdings = tuple(Holding(c, "", q, q, p, p, q * p, q * p, 0, 0.0) for c, (q, p) in held.items())
    return Balance(holdings, cash, cash, sum(h.value for h in holdings), cash + sum(h.value for h in holdings), 0)


def us_balance(cents: int, **held: tuple[int, str]) -> UsBalance:
    holdings = tuple(UsHolding(s, "NASD", s, q, q, Decimal(p), Decimal(p), int(Decimal(p) * 100) * q, 0, 0, Decimal(0), 0)
                     for s, (q, p) in held.items())
    return UsBalance(holdings, (CurrencyCash("USD", cents, cents),), RATE, NOW)


def us_side(balance: UsBalance, prices: dict[str, str], markets: dict[str, object] | None = None) -> UsSide:
    markets = markets or {s: NASD for s in prices}
    quotes = {s: UsQuote(s, markets[s].code, Decimal(p), Decimal(p), Decimal(0), Decimal(0), at=NOW)
              for s, p in prices.items()}
    return UsSide(balance, quotes, markets, {s: "lookup" for s in prices})


def krx_quotes(prices: dict[str, int]) -> dict[str, Quote]:
    return {c: Quote(c, p, 0, 0.0, at=NOW) for c, p in prices.items()}


def model(*rows: tuple[str, float]) -> Portfolio:
    return Portfolio(tuple(Target(c, w) for c, w in rows), "mixed.xlsx")


def lines(plan):
    return {line.code: line for line in plan.lines}


def test_weights_are_of_the_whole_account_in_won_with_us_legs_at_kis_rate():
    # 1,400,000 won cash + $1,000 cash (1,400,000 won) = 2,800,000 won: 50 % each way.
    plan = build_plan(model(("005930", 0.5), ("AAPL", 0.5)), krx_balance(1_400_000),
                      krx_quotes({"005930": 70_000}), FREE, NOW, "p1", us=us_side(us_balance(100_000), {"AAPL": "100.00"}))
    assert plan.total_value == 2_800_000 and plan.rate == RATE
    by = lines(plan)
    assert by["005930"].target_qty == 20  # 1,400,000 / 70,000
    assert by["AAPL"].target_qty == 10  # 1,400,000 / (100 x 1,400)
    assert (by["AAPL"].market, by["AAPL"].currency, by["AAPL"].price) == ("NASD", "USD", Decimal("100.00"))
    assert by["AAPL"].order_amount == 100_000 and by["AAPL"].order_value == 1_400_000  # cents; won
    assert plan.usd_missing == 0 and plan.usd_cash_after == 0 and plan.cash_after == 0


def test_dollars_short_shrink_the_us_buys_by_largest_remainders_and_say_the_missing_dollars_krx_in_full():
    # 2,000,000 won cash and $300 (420,000 won at 1,400): 2,420,000 won in all.
    us = us_side(us_balance(30_000), {"AAPL": "10.00", "KO": "10.00", "SPY": "10.00"},
                 {"AAPL": NASD, "KO": NYSE, "SPY": AMEX})
    plan = build_plan(model(("005930", 0.4), ("AAPL", 0.2), ("KO", 0.2), ("SPY", 0.2)), krx_balance(2_000_000),
                      krx_quotes({"005930": 10_000}), FREE, NOW, "p2", us=us)
    by = lines(plan)
    assert by["005930"].target_qty == 96  # 0.4 x 2,420,000 / 10,000 = 96.8: the KRX leg in full
    # each US buy wanted floor(484,000 / 14,000) = 34 shares ($340): $1,020 wanted, $300 there
    assert sum(by[c].order_amount for c in ("AAPL", "KO", "SPY")) <= 30_000
    assert sorted(by[c].order_qty for c in ("AAPL", "KO", "SPY")) == [10, 10, 10]
    assert plan.usd_missing == 102_000 - 30_000
    assert any("$720.00 are missing" in note for note in plan.notes)
    assert "Exchanges: AAPL NASD (KIS's lookup), KO NYSE (KIS's lookup), SPY AMEX (KIS's lookup)." in plan.notes


def test_largest_remainders_get_the_spare_shares_first():
    spend = {"A": 100, "B": 100, "C": 100}.__getitem__
    got, missing = fit_us_buys({"A": 7, "B": 5, "C": 3}, lambda c, q: q * spend(c), 1_000)
    # ideal at 10/15: A 4.67, B 3.33, C 2.0 -> floors 4, 3, 2 (900 cents), the spare 100 to A (remainder .67)
    assert got == {"A": 5, "B": 3, "C": 2} and missing == 500


def test_sells_in_dollars_fund_us_buys_and_no_tax_is_charged_on_us_sells():
    settings = PlanSettings(cash_buffer=0.0, buy_fee=0.0, sell_fee=0.0, sell_tax=0.0)
    us = us_side(us_balance(0, TLT=(10, "100.00")), {"TLT": "100.00", "SPY": "100.00"})
    plan = build_plan(model(("TLT", 0.0), ("SPY", 0.5)), krx_balance(0), {}, settings, NOW, "p3", us=us)
    by = lines(plan)
    assert by["TLT"].order_qty == -10
    # 50 % of the 1,400,000 won the TLT is worth: 5 SPY at 140,000 won, paid from the TLT sale's $997.46 net
    assert by["SPY"].order_qty == 5
    assert plan.usd_costs == UsCostRates().sell_cost(100_000, 10) + UsCostRates().buy_cost(50_000)
    assert plan.est_costs == 0  # no KRX leg: no won costs, no transaction tax


def test_us_commission_and_sec_finra_fees_round_up_to_the_cent():
    rates = UsCostRates()
    assert rates.buy_cost(100_000) == 250  # 0.25 % of $1,000
    assert rates.sell_cost(100_000, 10) == 250 + 3 + 1  # + SEC 2.06 cents up to 3, + TAF 0.195 cents up to 1
    assert rates.sell_cost(10**10, 10**8) == 25_000_000 + 206_000 + 979  # TAF capped at $9.79


@pytest.mark.parametrize("options", [PlanOptions(buy_only=True), PlanOptions(keep_others=True),
                                     PlanOptions(band=0.05), PlanOptions(min_trade=500_000),
                                     PlanOptions(buy_only=True, amount=1_000_000), PlanOptions(sell_amount=300_000)])
def test_every_plan_option_plans_across_markets(options):
    us = us_side(us_balance(50_000, KO=(5, "60.00"), MSFT=(1, "400.00")), {"KO": "60.00", "SPY": "500.00",
                                                                           "MSFT": "400.00"})
    plan = build_plan(model(("005930", 0.4), ("069500", 0.2), ("KO", 0.2), ("SPY", 0.2)),
                      krx_balance(3_000_000, **{"005930": (10, 70_000)}), krx_quotes({"005930": 70_000, "069500": 35_000}),
                      PlanSettings(), NOW, "p4", options, us=us)
    by = lines(plan)
    assert plan.usd_cash_after >= 0 and plan.cash_after >= 0
    if options.buy_only:
        assert all(line.order_qty >= 0 for line in plan.lines)
        if options.amount:
            assert plan.buy_value + plan.est_costs <= options.amount + 30_000  # US costs in won counted in the cap
    if options.keep_others:
        assert by["MSFT"].order_qty == 0
    if options.min_trade:
        assert all(line.order_value >= options.min_trade for line in plan.lines if line.order_qty)
    if options.sell_amount:
        assert all(line.order_qty <= 0 for line in plan.lines) and plan.sell_value >= options.sell_amount


def test_a_mixed_plan_survives_the_journal_exactly_and_the_table_writes_dollars():
    plan = build_plan(model(("005930", 0.5), ("AAPL", 0.5)), krx_balance(1_400_000), krx_quotes({"005930": 70_000}),
                      FREE, NOW, "p5", us=us_side(us_balance(100_000), {"AAPL": "0.8735"}))
    again = plan_from_json(plan_to_json(plan))
    assert again == plan and lines(again)["AAPL"].price == Decimal("0.8735")
    text = plan_text(plan)
    assert "$0.8735" in text and "Dollars: $1,000.00 cash" in text and "US legs (AAPL)" in text


def test_kisbot_plan_json_rows_say_market_and_currency_and_usd_prices_as_decimal_strings():
    from bot.cli_plan import plan_json
    plan = build_plan(model(("005930", 0.4), ("AAPL", 0.3), ("PENNY", 0.3)), krx_balance(1_400_000),
                      krx_quotes({"005930": 70_000}), FREE, NOW, "p6",
                      us=us_side(us_balance(100_000), {"AAPL": "233.1", "PENNY": "0.5"}))
    rows = {r["code"]: r for r in json.loads(json.dumps(plan_json(plan, PlanOptions())))["lines"]}
    assert (rows["005930"]["market"], rows["005930"]["currency"], rows["005930"]["price"]) == ("KRX", "KRW", 70_000)
    assert (rows["AAPL"]["market"], rows["AAPL"]["currency"], rows["AAPL"]["price"]) == ("NASD", "USD", "233.10")
    assert rows["PENNY"]["price"] == "0.5000"
    assert all(isinstance(r["value"], int) and isinstance(r["amount"], int) for r in rows.values())


class Broker:
    """A KRX and US price source in memory."""

    def __init__(self, markets=None, cents=100_000):
        self.markets = markets or {"AAPL": NASD, "KO": NYSE}
        self.cents = cents

    def balance(self):
        return krx_balance(1_000_000)

    def prices(self, codes):
        return krx_quotes({c: 50_000 for c in codes})

    def us_market(self, symbol):
        if symbol not in self.markets:
            raise UnknownStock([symbol])
        return self.markets[symbol]

    def us_balance(self):
        return us_balance(self.cents)

    def overseas_prices(self, symbols):
        out = {}
        for s in symbols:
            market, _, ticker = s.partition(":")
            out[ticker] = UsQuote(ticker, market, Decimal("50.00"), Decimal("50"), Decimal(0), Decimal(0), at=NOW)
        return out


def test_make_plan_refuses_an_unknown_ticker_by_name_before_any_balance():
    portfolio = Portfolio((Target("005930", 0.5, row=2), Target("ZZZZ", 0.5, row=3)), "m.xlsx")
    with pytest.raises(PortfolioError) as caught:
        make_plan(Broker(), portfolio)
    assert "'ZZZZ'" in str(caught.value) and "row 3" in str(caught.value)


def test_a_krx_only_source_plans_a_krx_model_and_refuses_us_tickers_in_one_sentence():
    class KrxOnly:
        balance, prices = Broker.balance, Broker.prices

    assert make_plan(KrxOnly(), model(("005930", 1.0))).lines[0].market == "KRX"
    with pytest.raises(PortfolioError) as caught:
        make_plan(KrxOnly(), model(("005930", 0.5), ("AAPL", 0.5)))
    assert "cannot price US stocks (AAPL)" in str(caught.value)


def test_the_exchange_the_file_gave_is_used_without_asking_kis():
    portfolio = Portfolio((Target("KO", 1.0, market="NYSE", market_from="column"),), "m.xlsx")
    plan = make_plan(Broker(markets={}), portfolio)
    assert plan.lines[0].market == "NYSE" and "KO NYSE (the file's exchange column)" in plan.notes[0]


@hypothesis_settings(max_examples=150, deadline=None)
@given(cents=st.integers(0, 2_000_000), won=st.integers(0, 50_000_000),
       prices=st.lists(st.integers(50, 300_000), min_size=1, max_size=4),
       weights=st.lists(st.integers(0, 30), min_size=5, max_size=5), buy_only=st.booleans())
def test_no_plan_spends_more_dollars_than_there_are_and_every_quantity_is_whole(cents, won, prices, weights, buy_only):
    tickers = ["AAPL", "KO", "SPY", "TLT"][:len(prices)]
    held = {"TLT": (3, "90.00")} if "TLT" in tickers else {}
    us = us_side(us_balance(cents, **held), {s: str(Decimal(p) / 100) for s, p in zip(tickers, prices)})
    total = sum(weights) or 1
    rows = [("005930", weights[0] / total / 1.01), *((s, w / total / 1.01) for s, w in zip(tickers, weights[1:]))]
    plan = build_plan(model(*rows), krx_balance(won), krx_quotes({"005930": 70_000}), PlanSettings(), NOW, "px",
                      PlanOptions(buy_only=buy_only), us=us)
    us_lines = [line for line in plan.lines if line.is_us]
    spent = sum(line.order_amount for line in us_lines if line.order_qty > 0)
    raised = sum(line.order_amount for line in us_lines if line.order_qty < 0)
    assert spent + plan.usd_costs <= cents + raised
    assert plan.usd_cash_after >= 0
    assert all(isinstance(line.target_qty, int) and line.target_qty >= 0 for line in plan.lines)


def test_the_us_fee_defaults_are_the_2026_sec_and_finra_rates_and_the_usual_commission():
    rates = UsCostRates()
    assert (rates.fee, rates.sec_fee, rates.taf_per_share, rates.taf_max) == (0.0025, 0.0000206, 0.000195, 9.79)
    assert rates.sell_cost(1_000_000_00, 1) == 250_000 + 2_060 + 1  # $1M sold: $2,500 + $20.60 + TAF 0.0195 cents up
