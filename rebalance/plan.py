"""Rebalance planning: where the account is, where the model wants it, and what to trade to get there.

`build_plan` is pure (data in, `Plan` out); `make_plan` is the edge that asks the broker for the
balance and the prices, with one balance inquiry and one batched price request.
"""
from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Mapping, Protocol

from kis.errors import UnknownStock
from kis.krx import KST
from kis.models import Balance, Quote
from rebalance.costs import DEFAULT_FEE_RATE, DEFAULT_SELL_TAX_RATE, CostRates, exact
from rebalance.model import Plan, PlanLine, Portfolio
from rebalance.portfolio import unknown_codes_error

# Weights of a column of fractions rarely add up to exactly 1 in floats (3 x 0.3333...).
_WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class PlanSettings:
    """How to plan: cash kept aside (the seed's 2 %), cost rates, how long prices stay good."""

    cash_buffer: float = 0.02
    buy_fee: float = DEFAULT_FEE_RATE
    sell_fee: float = DEFAULT_FEE_RATE
    sell_tax: float = DEFAULT_SELL_TAX_RATE
    max_price_age: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if not (0 <= self.cash_buffer < 1):
            raise ValueError(f"cash_buffer {self.cash_buffer} is not a fraction between 0 and 1 (0.02 = 2 %)")
        if self.max_price_age <= timedelta(0):
            raise ValueError("max_price_age must be positive")
        self.rates  # validates the rates

    @property
    def rates(self) -> CostRates:
        return CostRates(buy_fee=self.buy_fee, sell_fee=self.sell_fee, sell_tax=self.sell_tax)


class PriceSource(Protocol):
    """The two calls of `kis.KisClient` that planning needs."""

    def balance(self) -> Balance: ...

    def prices(self, codes: list[str]) -> dict[str, Quote]: ...


def new_plan_id() -> str:
    """Short and unique enough to name a plan in a chat button (8 hex characters)."""
    return secrets.token_hex(4)


def make_plan(client: PriceSource, portfolio: Portfolio, settings: PlanSettings | None = None,
              now: datetime | None = None) -> Plan:
    """Fetch the balance and every needed price (model and holdings in one batched call), then plan.

    Codes the broker does not know raise PortfolioError naming them and their rows.
    """
    settings = settings or PlanSettings()
    balance = client.balance()
    codes = _plan_codes(portfolio, balance)
    try:
        quotes = client.prices(codes) if codes else {}
        now = now or datetime.now(KST)
        return build_plan(portfolio, balance, quotes, settings, now, new_plan_id())
    except UnknownStock as exc:
        raise unknown_codes_error(portfolio, exc.codes) from None


def _plan_codes(portfolio: Portfolio, balance: Balance) -> list[str]:
    """Model codes in file order, then held codes the model does not name."""
    held = [h.code for h in balance.holdings if h.qty > 0]
    return list(dict.fromkeys([*portfolio.codes, *held]))


def build_plan(portfolio: Portfolio, balance: Balance, quotes: Mapping[str, Quote], settings: PlanSettings,
               now: datetime, plan_id: str) -> Plan:
    """The plan at these prices. Raises UnknownStock when a needed code has no positive price.

    Cash is the D+2 deposit (`cash_d2`): it already counts unsettled trades, as KIS's total value does.
    Target quantities are floored, stocks held outside the model go to zero, and buys are scaled
    down when cash after sells cannot pay for them and their costs.
    """
    codes = _plan_codes(portfolio, balance)
    missing = [c for c in codes if c not in quotes or quotes[c].price <= 0]
    if missing:
        raise UnknownStock(missing)
    rates = settings.rates
    price = {c: quotes[c].price for c in codes}
    current = {c: balance.qty(c) for c in codes}
    weight = {t.code: t.weight for t in portfolio.targets}
    cash = balance.cash_d2
    total = cash + sum(current[c] * price[c] for c in codes)
    investable = max(0, math.floor(total * (1 - exact(settings.cash_buffer))))
    notes: list[str] = []

    target = {c: math.floor(exact(weight[c]) * investable / price[c]) if c in weight else 0 for c in codes}
    notes.extend(_notes(portfolio, balance, price, target, investable))

    sell_value = sum((current[c] - target[c]) * price[c] for c in codes if target[c] < current[c])
    sell_costs = sum(rates.sell_cost((current[c] - target[c]) * price[c]) for c in codes if target[c] < current[c])
    wanted = {c: target[c] - current[c] for c in codes if target[c] > current[c]}
    budget = cash + sell_value - sell_costs
    bought = _fit_buys(wanted, price, rates, budget)
    if bought != wanted:
        wanted_value = sum(q * price[c] for c, q in wanted.items())
        bought_value = sum(q * price[c] for c, q in bought.items())
        cut = 100 * (1 - bought_value / wanted_value)
        notes.append(f"Buys scaled down by {cut:.1f} % to fit cash: {wanted_value:,} won wanted, "
                     f"{max(budget, 0):,} won available after sells and costs.")
        for c, q in bought.items():
            target[c] = current[c] + q
    buy_costs = sum(rates.buy_cost(q * price[c]) for c, q in bought.items())

    lines = [
        PlanLine(
            code=c,
            name=_name(c, quotes, balance, portfolio),
            price=price[c],
            current_qty=current[c],
            target_qty=target[c],
            current_weight=current[c] * price[c] / total if total > 0 else 0.0,
            target_weight=target[c] * price[c] / total if total > 0 else 0.0,
        )
        for c in codes
    ]
    lines.sort(key=_line_order)
    if not any(line.order_qty for line in lines):
        notes.append("Already on target: nothing to trade.")
    priced_at = min((quotes[c].at for c in codes if quotes[c].at is not None), default=now)
    return Plan(
        id=plan_id,
        lines=tuple(lines),
        cash=cash,
        total_value=total,
        investable=investable,
        est_costs=sell_costs + buy_costs,
        priced_at=priced_at,
        expires_at=priced_at + settings.max_price_age,
        notes=tuple(notes),
    )


def _fit_buys(wanted: dict[str, int], price: Mapping[str, int], rates: CostRates, budget: int) -> dict[str, int]:
    """Buy quantities whose value and fees fit `budget`: all of `wanted` when they fit, else scaled.

    Scaling cuts every buy by the same share (floored), then hands single shares back, least-served
    stock first, while the budget allows.
    """
    def spend(code: str, qty: int) -> int:
        value = qty * price[code]
        return value + rates.buy_cost(value)

    need = sum(spend(c, q) for c, q in wanted.items())
    if need <= budget:
        return dict(wanted)
    if budget <= 0:
        return {c: 0 for c in wanted}
    share = Fraction(budget, need)
    got = {c: math.floor(q * share) for c, q in wanted.items()}
    spent = sum(spend(c, q) for c, q in got.items())
    # Fees are rounded up per stock, so the floor can still be a few won over: take back shares.
    while spent > budget:
        c = max((c for c in got if got[c] > 0), key=lambda c: price[c])
        spent -= spend(c, got[c]) - spend(c, got[c] - 1)
        got[c] -= 1
    while True:
        for c in sorted(got, key=lambda c: (Fraction(got[c], wanted[c]), c)):
            if got[c] < wanted[c]:
                extra = spend(c, got[c] + 1) - spend(c, got[c])
                if spent + extra <= budget:
                    got[c] += 1
                    spent += extra
                    break
        else:
            return got


def _notes(portfolio: Portfolio, balance: Balance, price: Mapping[str, int], target: Mapping[str, int],
           investable: int) -> list[str]:
    notes = []
    weight_sum = math.fsum(t.weight for t in portfolio.targets)
    if weight_sum < 1 - _WEIGHT_TOLERANCE:
        notes.append(f"Weights add up to {weight_sum * 100:.4g} %: the other {(1 - weight_sum) * 100:.4g} % "
                     "of the investable value stays in cash.")
    for t in portfolio.targets:
        if t.weight > 0 and target[t.code] == 0:
            value = math.floor(exact(t.weight) * investable)
            notes.append(f"{t.code}: its {t.weight * 100:.4g} % ({value:,} won) is less than one share at "
                         f"{price[t.code]:,} won, so none is held.")
    for h in balance.holdings:
        to_sell = h.qty - target.get(h.code, 0)
        if to_sell > 0 and h.orderable_qty < to_sell:
            notes.append(f"{h.code}: only {h.orderable_qty} of the {to_sell} shares to sell can be sold now "
                         "(the rest are in open orders or unsettled).")
    return notes


def _name(code: str, quotes: Mapping[str, Quote], balance: Balance, portfolio: Portfolio) -> str:
    """The broker's name first (quote, then balance), else the file's name column, else ''."""
    if quotes[code].name:
        return quotes[code].name
    for h in balance.holdings:
        if h.code == code and h.name:
            return h.name
    for t in portfolio.targets:
        if t.code == code:
            return t.name
    return ""


def _line_order(line: PlanLine) -> tuple[int, int, str]:
    """Sells first (they free the cash buys need), then buys, then unchanged; bigger trades first."""
    group = 0 if line.order_qty < 0 else 1 if line.order_qty > 0 else 2
    return group, -line.order_value, line.code
