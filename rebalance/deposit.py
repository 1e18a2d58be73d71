"""The deposit that rebalances without selling: the least new money after which a buy-only plan leaves every
model stock inside its band (pure).

The planner is the oracle: a deposit D is enough when `build_plan` with buy-only options, on the account
with D more cash, trades the account to quantities that `drift` (the same band rule) calls inside for every
model stock. Costs, the cash buffer, whole shares and the smallest trade are the planner's own. The answer
is found from a lower bound (the most overweight stock must fall back into its band): whole shares, bands and
buys cut to fit the cash make "enough" come and go as D grows, so amounts past the bound are tried in order
(a grid of a thousandth of the account and every point where a whole-share target changes), and the first
enough one is bisected down to the won (one won less is not enough).

A stock with no band of its own and no plan band gets `DEFAULT_BAND` (percentage points), as Korean guides
advise (±5 %). Holdings outside the model (a buy-only plan never sells them) are left out of the verdict.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from fractions import Fraction
from typing import Mapping

from kis.models import Balance, Holding, Quote
from rebalance.amounts import MAX_AMOUNT
from rebalance.costs import exact
from rebalance.drift import drift
from rebalance.i18n import t
from rebalance.model import Plan, Portfolio
from rebalance.options import OptionsError, PlanOptions
from rebalance.plan import PlanSettings, account_values, build_plan

log = logging.getLogger(__name__)

DEFAULT_BAND = 5.0  # percentage points, for stocks without a band when the plan has none

_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Deposit:
    """`amount` won of new money makes a buy-only plan bring every model stock inside its band (0: the cash
    already does; None: no deposit up to the largest amount does, e.g. a smallest trade that skips the buys).
    `band` is the default band used, in percentage points."""

    amount: int | None
    band: float
    free_cash: int  # cash above the buffer now: what `/plan buy` invests without a deposit


def band_options(options: PlanOptions) -> PlanOptions:
    """The buy-only options the deposit is figured with: the plan's band, or DEFAULT_BAND when it has none."""
    return PlanOptions(buy_only=True, keep_others=options.keep_others, band=options.band or DEFAULT_BAND,
                       min_trade=options.min_trade)


def all_inside(portfolio: Portfolio, balance: Balance, prices: Mapping[str, int], settings: PlanSettings,
               options: PlanOptions) -> bool:
    """Every model stock inside its band (`options.band` the default) at `prices`, as `drift` counts it."""
    found = drift(portfolio, balance, prices, band=options.band, cash_buffer=settings.cash_buffer,
                  keep_others=options.keep_others)
    model = set(portfolio.codes)
    return not any(d.outside for d in found if d.code in model)


def after(plan: Plan, balance: Balance) -> Balance:
    """The account once `plan` has filled at its prices: new quantities, cash less the buys and their costs."""
    spent = sum(line.order_qty * line.price for line in plan.lines)
    holdings = tuple(Holding(line.code, line.name, line.target_qty, line.target_qty, line.price, line.price,
                             line.target_qty * line.price, line.target_qty * line.price, 0, 0.0)
                     for line in plan.lines if line.target_qty > 0)
    cash = balance.cash_d2 - spent - plan.est_costs
    stock = sum(h.value for h in holdings)
    return Balance(holdings, cash, cash, stock, cash + stock, 0, balance.at)


def free_cash(balance: Balance, prices: Mapping[str, int], cash_buffer: float) -> int:
    """Cash above the buffer the planner keeps: what `/plan buy` invests (and a `cash` schedule watches)."""
    _, base, investable = account_values(balance, prices, (), cash_buffer)
    return max(0, balance.cash_d2 - (base - investable))


def with_cash(balance: Balance, extra: int) -> Balance:
    """`balance` with `extra` won more cash (today and D+2)."""
    return dataclasses.replace(balance, cash=balance.cash + extra, cash_d2=balance.cash_d2 + extra,
                               total_value=balance.total_value + extra)


def deposit_to_rebalance(portfolio: Portfolio, balance: Balance, prices: Mapping[str, int],
                         settings: PlanSettings | None = None, options: PlanOptions = PlanOptions(),
                         tax_free: frozenset[str] = frozenset()) -> Deposit:
    """The least whole won of new money after which a buy-only plan leaves every model stock inside its band.

    `prices` holds every model and held code (positive). Pure: the planner and `drift` are its only judges.
    """
    settings = settings or PlanSettings()
    opts = band_options(options)
    quotes = {c: Quote(c, p, 0, 0.0, at=_EPOCH) for c, p in prices.items()}
    free = free_cash(balance, prices, settings.cash_buffer)

    def enough(extra: int) -> bool:
        account = with_cash(balance, extra)
        try:
            plan = build_plan(portfolio, account, quotes, settings, _EPOCH, "deposit", opts, tax_free=tax_free)
        except OptionsError:
            return False
        return all_inside(portfolio, after(plan, account), prices, settings, opts)

    if enough(0):
        return Deposit(0, opts.band, free)
    low = _lower_bound(portfolio, balance, prices, settings, opts)
    if enough(low):  # below the bound the most overweight stock stays above its band
        return Deposit(_least(enough, 0, low), opts.band, free)
    # Whole shares, bands and cuts to fit the cash make "enough" come and go as the deposit grows, so amounts
    # past the bound are tried in order: a fine grid (a thousandth of the account) and every breakpoint where a
    # whole-share target changes; the first enough one is then refined down to the won.
    _, base, _ = account_values(balance, prices, (), settings.cash_buffer)
    step = max(100, (base + low) // _GRID)
    marks = _breakpoints(portfolio, balance, prices, settings, opts, low)
    tried = low
    for amount in sorted({*range(low + step, low + step * _GRID, step), *marks, *(m - 1 for m in marks)}):
        if amount <= tried:
            continue
        if enough(amount):
            return Deposit(_least(enough, tried, amount), opts.band, free)
        tried = amount
    high = max(tried + 1, 1_000)  # past the amounts tried: double, then bisect
    while not enough(high):
        tried, high = high, high * 2
        if high > MAX_AMOUNT:
            return Deposit(None, opts.band, free)
    return Deposit(_least(enough, tried, high), opts.band, free)


_GRID = 1000


def _least(enough, low: int, high: int) -> int:
    """The least amount in (low, high] that is enough, by bisection (`enough(high)` holds)."""
    while high - low > 1:
        mid = (low + high) // 2
        if enough(mid):
            high = mid
        else:
            low = mid
    return high


_MAX_BREAKPOINTS = 400


def _breakpoints(portfolio: Portfolio, balance: Balance, prices: Mapping[str, int], settings: PlanSettings,
                 options: PlanOptions, low: int) -> list[int]:
    """Deposits above `low`, ascending, where a model stock's whole-share target changes (k shares at weight
    w start at investable k × price / w) or a held stock leaves its band from above; only stocks one share
    of which is a sizeable part of their band can miss it, so only theirs are listed (at most 400)."""
    _, base, _ = account_values(balance, prices, (), settings.cash_buffer)
    keep = 1 - exact(settings.cash_buffer)
    start_x = (base + low) * keep
    found: set[int] = set()

    def deposit_at(x: Fraction) -> int:
        return math.ceil(x / keep) - base

    for t in portfolio.targets:
        w, b, p = exact(t.weight), exact(options.band_for(t.band)), prices[t.code]
        if w <= 0 or b <= 0:
            continue
        held = balance.qty(t.code) * p
        if w - b > 0 and held:
            found.add(deposit_at(Fraction(held) / (w - b)))
        if p < b * start_x / 4:
            continue  # a share is under a quarter of the band: whole shares cannot push it out
        k = math.floor(w * start_x / p) + 1
        for _ in range(_MAX_BREAKPOINTS):
            x = Fraction(k * p) / w
            if p < b * x / 4:
                break
            found.add(deposit_at(x))
            k += 1
    return sorted(d for d in found if d > low)[:_MAX_BREAKPOINTS]


def _lower_bound(portfolio: Portfolio, balance: Balance, prices: Mapping[str, int], settings: PlanSettings,
                 options: PlanOptions) -> int:
    """A deposit below which some overweight model stock (never sold) stays above its band."""
    total, base, _ = account_values(balance, prices, (), settings.cash_buffer)
    need = 0
    for t in portfolio.targets:
        ceiling = exact(t.weight) + exact(options.band_for(t.band))
        value = balance.qty(t.code) * prices[t.code]
        if value <= 0 or ceiling <= 0:
            continue
        # value / (base' × (1 − buffer)) ≤ ceiling  ⇒  base' ≥ value / (ceiling × (1 − buffer))
        wanted = Fraction(value) / (ceiling * (1 - exact(settings.cash_buffer)))
        need = max(need, math.floor(wanted) - base)
    return max(0, need)


def deposit_for_plan(plan: Plan, portfolio: Portfolio, settings: PlanSettings | None = None,
                     options: PlanOptions = PlanOptions()) -> Deposit:
    """`deposit_to_rebalance` of the account a plan was made from (its lines carry quantities and prices)."""
    holdings = tuple(Holding(line.code, line.name, line.current_qty, line.current_qty, line.price, line.price,
                             line.current_qty * line.price, line.current_qty * line.price, 0, 0.0)
                     for line in plan.lines if line.current_qty > 0)
    stock = sum(h.value for h in holdings)
    balance = Balance(holdings, plan.cash, plan.cash, stock, plan.cash + stock, 0)
    prices = {line.code: line.price for line in plan.lines}
    tax_free = frozenset(line.code for line in plan.lines if line.tax_free)
    return deposit_to_rebalance(portfolio, balance, prices, settings, options, tax_free)


def deposit_sentence(deposit: Deposit, *, buy_plan: bool = False) -> str:
    """The figure in one sentence of the current language; `buy_plan`: said under a `/plan buy` with no amount."""
    if deposit.amount is None:
        return t("deposit.impossible")
    if buy_plan:
        key = "deposit.buy_short" if deposit.amount > 0 else "deposit.buy_enough"
        return t(key, amount=deposit.amount, band=deposit.band, free=deposit.free_cash)
    if deposit.amount == 0:
        return t("deposit.none_needed", band=deposit.band)
    return t("deposit.needed", amount=deposit.amount, band=deposit.band)


def deposit_note(plan: Plan, portfolio: Portfolio, settings: PlanSettings | None, options: PlanOptions) -> str:
    """The figure's sentence under a plan (the `/plan buy` wording when it buys with no amount); '' when it
    cannot be figured (a chart-like nicety: the plan stands without it), and for a plan with US lines: a deposit
    of won cannot buy dollars (kisbot converts no currency), so no one figure says it."""
    if plan.us_lines:
        return ""
    try:
        figure = deposit_for_plan(plan, portfolio, settings, options)
    except Exception:  # noqa: BLE001 - never let the figure stop a plan
        log.exception("deposit to rebalance failed for plan %s", plan.id)
        return ""
    return deposit_sentence(figure, buy_plan=options.buy_only and options.amount is None)


def report_deposit(portfolio: Portfolio, balance: Balance, prices: Mapping[str, int], *, band: float,
                   cash_buffer: float) -> Deposit | None:
    """The figure for the daily report (the planner's default costs, `band` the default band in percentage
    points); None when it cannot be figured, so the report stands without it."""
    try:
        return deposit_to_rebalance(portfolio, balance, prices, PlanSettings(cash_buffer=cash_buffer),
                                    PlanOptions(band=band))
    except Exception:  # noqa: BLE001 - a nicety of the report
        log.exception("deposit to rebalance failed in the report")
        return None
