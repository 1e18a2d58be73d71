"""Estimated trading costs in whole won: brokerage fees both ways and the transaction tax on sells.

Rates are decimal strings turned into exact fractions so that won amounts never pick up float error;
each estimate is rounded up, so a plan never counts on costs being lower than they will be.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

# KIS online brokerage fee, per side (commonly 0.015 %; check the account's own schedule).
DEFAULT_FEE_RATE = 0.00015
# Securities transaction tax on sells in 2026: KOSPI 0.05 % + 농어촌특별세 0.15 % = 0.20 %
# (KOSDAQ is 0.20 % as well). Buys carry no tax.
DEFAULT_SELL_TAX_RATE = 0.0020


def exact(rate: float) -> Fraction:
    """A float rate as the decimal the user wrote (0.00015 -> 3/20000), not its binary neighbour."""
    return Fraction(repr(float(rate)))


@dataclass(frozen=True)
class CostRates:
    """Fractions of the traded value: fee on buys, fee on sells, tax on sells."""

    buy_fee: float = DEFAULT_FEE_RATE
    sell_fee: float = DEFAULT_FEE_RATE
    sell_tax: float = DEFAULT_SELL_TAX_RATE

    def __post_init__(self) -> None:
        for label, rate in (("buy_fee", self.buy_fee), ("sell_fee", self.sell_fee), ("sell_tax", self.sell_tax)):
            if not (0 <= rate < 1):
                raise ValueError(f"{label} {rate} is not a rate between 0 and 1 (0.00015 = 0.015 %)")

    def buy_cost(self, value: int) -> int:
        """Fee on buying `value` won, rounded up to the won."""
        return math.ceil(value * exact(self.buy_fee)) if value > 0 else 0

    def sell_cost(self, value: int, *, taxed: bool = True) -> int:
        """Fee plus tax on selling `value` won, rounded up to the won; ETFs and ETNs carry no tax."""
        rate = exact(self.sell_fee) + (exact(self.sell_tax) if taxed else 0)
        return math.ceil(value * rate) if value > 0 else 0
