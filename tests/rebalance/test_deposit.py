"""The deposit that rebalances without selling (rebalance/deposit.py)."""
from __future__ import annotations

import random

from kis.models import Balance, Holding
from rebalance.deposit import DEFAULT_BAND, after, all_inside, band_options, deposit_to_rebalance, with_cash
from rebalance.model import Portfolio, Target
from rebalance.options import PlanOptions
from rebalance.plan import PlanSettings, build_plan
from rebalance.deposit import _EPOCH  # noqa: PLC2701 - the same quote time as the figure's own plans
from kis.models import Quote


def _balance(qty: dict[str, int], prices: dict[str, int], cash: int) -> Balance:
    holdings = tuple(Holding(c, c, q, q, prices[c], prices[c], q * prices[c], q * prices[c], 0, 0.0)
                     for c, q in qty.items() if q > 0)
    stock = sum(h.value for h in holdings)
    return Balance(holdings, cash, cash, stock, stock + cash, 0)


def _random_account(rng: random.Random) -> tuple[Portfolio, Balance, dict[str, int]]:
    n = rng.randint(2, 8)
    codes = [f"{100000 + i * 7:06d}" for i in range(n)]
    raw = [rng.random() + 0.05 for _ in codes]
    invested = rng.choice([1.0, 1.0, 0.9])
    weights = [invested * r / sum(raw) for r in raw]
    prices = {c: rng.choice([1_000, 5_000, 12_300, 48_000, 75_500, 150_000, 420_000]) for c in codes}
    scale = rng.choice([5_000_000, 20_000_000, 100_000_000])
    qty = {c: max(0, round(scale * rng.random() / n / prices[c])) for c in codes}
    cash = rng.randint(0, scale // 10)
    targets = tuple(Target(c, w, band=rng.choice([None, None, 0.03])) for c, w in zip(codes, weights))
    return Portfolio(targets), _balance(qty, prices, cash), prices


def _outside_after_depositing(portfolio: Portfolio, balance: Balance, prices: dict[str, int], amount: int,
                              options: PlanOptions, settings: PlanSettings) -> int:
    """How many model stocks a buy-only plan leaves outside their band once `amount` is deposited; planned here
    through build_plan and counted by drift, as a user would see it the next morning."""
    from rebalance.drift import drift

    account = with_cash(balance, amount)
    quotes = {c: Quote(c, p, 0, 0.0, at=_EPOCH) for c, p in prices.items()}
    plan = build_plan(portfolio, account, quotes, settings, _EPOCH, "t", PlanOptions(
        buy_only=True, band=options.band or DEFAULT_BAND))
    found = drift(portfolio, after(plan, account), prices, band=options.band or DEFAULT_BAND,
                  cash_buffer=settings.cash_buffer)
    return sum(d.outside for d in found)


def test_depositing_the_figure_leaves_no_stock_outside_its_band_in_at_least_95_of_200_random_portfolios():
    rng = random.Random(20261207)
    settings = PlanSettings()
    options = PlanOptions()
    clean, misses, none = 0, [], 0
    for i in range(200):
        portfolio, balance, prices = _random_account(rng)
        figure = deposit_to_rebalance(portfolio, balance, prices, settings, options)
        if figure.amount is None:
            none += 1
            continue
        outside = _outside_after_depositing(portfolio, balance, prices, figure.amount, options, settings)
        if outside == 0:
            clean += 1
        else:
            misses.append((i, outside))
    print(f"deposit to rebalance: {clean}/200 portfolios with 0 stocks outside their band; "
          f"{len(misses)} with some (whole shares), {none} with no figure")
    # The rest: a band narrower than one share of an expensive stock, where no whole number of shares fits.
    assert clean >= 190, (clean, misses, none)


def _needing_a_deposit(seed: int, accounts: int, settings: PlanSettings):
    """(portfolio, balance, prices, figure) of each of `accounts` random accounts whose figure is a deposit (> 0)."""
    rng = random.Random(seed)
    for _ in range(accounts):
        portfolio, balance, prices = _random_account(rng)
        figure = deposit_to_rebalance(portfolio, balance, prices, settings)
        if figure.amount:
            yield portfolio, balance, prices, figure


def test_the_figure_is_the_least_won_that_is_enough():
    settings = PlanSettings()
    checked = 0
    for portfolio, balance, prices, figure in _needing_a_deposit(7, 40, settings):
        checked += 1
        assert _outside_after_depositing(portfolio, balance, prices, figure.amount, PlanOptions(), settings) == 0
        assert _outside_after_depositing(portfolio, balance, prices, figure.amount - 1, PlanOptions(), settings) > 0
    assert checked >= 20


def test_an_account_already_inside_every_band_needs_no_deposit():
    prices = {"005930": 10_000, "000660": 10_000}
    portfolio = Portfolio((Target("005930", 0.5), Target("000660", 0.5)))
    balance = _balance({"005930": 49, "000660": 49}, prices, 20_000)
    figure = deposit_to_rebalance(portfolio, balance, prices)
    assert figure.amount == 0
    assert all_inside(portfolio, balance, prices, PlanSettings(), band_options(PlanOptions()))


def test_an_overweight_stock_needs_new_money_until_it_is_back_inside_its_band():
    # 80 % in one stock of a 50/50 model, ±5 %p: the other half must grow until the big one is ≤ 55 %.
    prices = {"005930": 10_000, "000660": 10_000}
    portfolio = Portfolio((Target("005930", 0.5), Target("000660", 0.5)))
    balance = _balance({"005930": 80, "000660": 20}, prices, 0)
    figure = deposit_to_rebalance(portfolio, balance, prices)
    assert figure.band == DEFAULT_BAND
    # 800,000 / 0.55 / 0.98 ≈ 1,484,230 of base: about 484,000 won more, plus the fees and a share's rounding.
    assert 480_000 < figure.amount < 520_000
    assert _outside_after_depositing(portfolio, balance, prices, figure.amount, PlanOptions(), PlanSettings()) == 0


def test_the_plans_own_band_is_the_one_the_figure_uses():
    prices = {"005930": 10_000, "000660": 10_000}
    portfolio = Portfolio((Target("005930", 0.5), Target("000660", 0.5)))
    balance = _balance({"005930": 80, "000660": 20}, prices, 0)
    wide = deposit_to_rebalance(portfolio, balance, prices, options=PlanOptions(band=20))
    narrow = deposit_to_rebalance(portfolio, balance, prices, options=PlanOptions(band=2))
    assert wide.band == 20 and narrow.band == 2
    assert wide.amount < narrow.amount


def test_no_smaller_deposit_on_a_fine_grid_is_enough_even_where_whole_shares_make_enough_come_and_go():
    settings = PlanSettings()
    checked = 0
    for portfolio, balance, prices, figure in _needing_a_deposit(11, 12, settings):
        checked += 1
        step = max(1, figure.amount // 300)
        for amount in range(0, figure.amount, step):
            assert _outside_after_depositing(portfolio, balance, prices, amount, PlanOptions(), settings) > 0, \
                (amount, figure.amount)
    assert checked >= 6
