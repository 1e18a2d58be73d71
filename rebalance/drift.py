"""How far each stock has drifted from the model, with the plan's own band rule (pure).

Weights are fractions of the investable value, as in `build_plan`, so a stock `drift` calls inside
its band is one a plan with that band leaves alone. With the US side (`UsHeld`) the value spans markets as the
mixed plan's does: won cash, dollar cash at KIS's rate, KRX holdings at their price and each US holding's cents
at the rate, rounded half up to the won.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Iterable, Mapping

from kis.markets import USD, to_krw
from kis.models import Balance, UsBalance
from rebalance.costs import exact
from rebalance.model import Portfolio
from rebalance.plan import inside_band, is_us_code, weight_gap


@dataclass(frozen=True)
class Drift:
    """One stock: target weight, weight now (both of the investable value), its band, and the verdict."""

    code: str
    name: str
    target: float
    now: float
    band: float  # fraction: 0.02 = ±2 percentage points; 0 = no band
    outside: bool  # a plan with this band would trade it

    @property
    def gap(self) -> float:
        """now − target, in fractions of the investable value."""
        return self.now - self.target


@dataclass(frozen=True)
class UsHeld:
    """The US side for drift: shares held per ticker, dollars a share (held and model tickers), KIS's rate
    (won a dollar) and the dollar cash in cents."""

    qty: Mapping[str, int]
    usd_price: Mapping[str, Decimal]
    rate: Decimal
    usd_cash: int = 0
    names: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, balance: UsBalance, prices: Mapping[str, Decimal] = {}) -> "UsHeld":  # noqa: B006 - read only
        """From KIS's US balance (its holdings' prices) and the prices of model tickers not held."""
        held = [h for h in balance.holdings if h.qty > 0]
        return cls(qty={h.symbol: h.qty for h in held}, usd_price={**{h.symbol: h.price for h in held}, **prices},
                    rate=balance.rate, usd_cash=balance.usd().deposit, names={h.symbol: h.name for h in held})

    def won(self, code: str, qty: int | None = None) -> int:
        """`qty` shares (default: those held) in won: cents half up, then won at the rate half up (the plan's rule)."""
        shares = self.qty.get(code, 0) if qty is None else qty
        return to_krw(USD.minor(shares * self.usd_price[code]), self.rate) if shares else 0

    def share_won(self, code: str) -> Fraction:
        """One share in won, exactly (dollars × rate), as the plan prices a US target."""
        return Fraction(self.usd_price[code]) * Fraction(self.rate)

    @property
    def value(self) -> int:
        """Every US holding and the dollar cash, in won at the rate."""
        return to_krw(self.usd_cash, self.rate) + sum(self.won(c) for c in self.qty)


def us_held_of(client: Any, targets: Iterable[Any], balance: UsBalance | None = None) -> UsHeld:
    """The US side drift needs, from KIS: its US balance (or `balance`, already read) and the dollar prices of the
    model's US tickers not held, each asked on its exchange from the file where the file names one."""
    us = balance if balance is not None else client.us_balance()
    held = {h.symbol for h in us.holdings if h.qty > 0}
    wanted = [f"{x.market}:{x.code}" if x.market else x.code for x in targets
              if is_us_code(x.code) and x.code not in held]
    quotes = client.overseas_prices(wanted) if wanted else {}
    return UsHeld.of(us, {s: q.price for s, q in quotes.items()})


def drift(model: Portfolio, balance: Balance, prices: Mapping[str, int], *, band: float = 0.0,
          cash_buffer: float = 0.02, keep_others: bool = False, us: UsHeld | None = None) -> tuple[Drift, ...]:
    """Drift of every model stock and every holding outside it (target 0, unless kept: then left out).

    `band` is the default in percentage points (KISBOT_BAND); a stock's own band from the file wins.
    `prices` must hold every model and held KRX code; `us` (when the account has a US side or the model names a
    US ticker) every US one's dollar price.
    """
    weights = {t.code: t for t in model.targets}
    held = {h.code: h for h in balance.holdings if h.qty > 0}
    us_held = {c: q for c, q in (us.qty.items() if us is not None else ()) if q > 0}
    if us is None and any(is_us_code(c) for c in weights):
        raise ValueError("a model with US tickers needs the US side (UsHeld) to measure drift")

    def value(code: str) -> int:
        return us.won(code) if us is not None and is_us_code(code) else balance.qty(code) * prices[code]

    def qty(code: str) -> int:
        return us_held.get(code, 0) if is_us_code(code) else balance.qty(code)

    outside_model = [c for c in [*held, *us_held] if c not in weights]
    kept = outside_model if keep_others else []
    total = balance.cash_d2 + sum(value(c) for c in [*held, *us_held]) + (to_krw(us.usd_cash, us.rate) if us else 0)
    investable = max(0, math.floor((total - sum(value(c) for c in kept)) * (1 - exact(cash_buffer))))
    out = []
    for code in [*weights, *(c for c in outside_model if c not in kept)]:
        target = weights.get(code)
        weight = target.weight if target else 0.0
        # Stocks outside the model have no band: a plan sells them whatever their size (unless kept).
        own = (target.band if target.band is not None else band / 100) if target else 0.0
        worth = value(code)
        now = float(weight_gap(worth, investable, 0.0)) if investable else 0.0
        name = (held[code].name if code in held else (us.names.get(code, "") if us is not None else "")) \
            or (target.name if target else "")
        share = us.share_won(code) if us is not None and is_us_code(code) else prices[code]
        if own > 0:  # the plan's test: shares held at the exact won price of one share
            outside = not inside_band(qty(code) * share, investable, weight, own)
        else:  # no band: outside when the plan would trade at least one share
            outside = math.floor(exact(weight) * investable / share) != qty(code)
        out.append(Drift(code, name, weight, now, own, outside))
    return tuple(out)
