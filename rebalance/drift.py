"""How far each stock has drifted from the model, with the plan's own band rule (pure).

Weights are fractions of the investable value, as in `build_plan`, so a stock `drift` calls inside
its band is one a plan with that band leaves alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from kis.models import Balance
from rebalance.costs import exact
from rebalance.model import Portfolio
from rebalance.plan import account_values, inside_band, weight_gap


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


def drift(model: Portfolio, balance: Balance, prices: Mapping[str, int], *, band: float = 0.0,
          cash_buffer: float = 0.02, keep_others: bool = False) -> tuple[Drift, ...]:
    """Drift of every model stock and every holding outside it (target 0, unless kept: then left out).

    `band` is the default in percentage points (KISBOT_BAND); a stock's own band from the file wins.
    `prices` must hold every model and held code.
    """
    weights = {t.code: t for t in model.targets}
    held = {h.code: h for h in balance.holdings if h.qty > 0}
    kept = [c for c in held if c not in weights] if keep_others else []
    _, _, investable = account_values(balance, prices, kept, cash_buffer)
    out = []
    for code in [*weights, *(c for c in held if c not in weights and c not in kept)]:
        target = weights.get(code)
        weight = target.weight if target else 0.0
        # Stocks outside the model have no band: a plan sells them whatever their size (unless kept).
        own = (target.band if target.band is not None else band / 100) if target else 0.0
        value = balance.qty(code) * prices[code]
        now = float(weight_gap(value, investable, 0.0)) if investable else 0.0
        name = (held[code].name if code in held else "") or (target.name if target else "")
        if own > 0:
            outside = not inside_band(value, investable, weight, own)
        else:  # no band: outside when the plan would trade at least one share
            outside = math.floor(exact(weight) * investable / prices[code]) != balance.qty(code)
        out.append(Drift(code, name, weight, now, own, outside))
    return tuple(out)
