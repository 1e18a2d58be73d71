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


# US stocks, in cents; every estimate is rounded up to the cent, and no transaction tax on US sells.
# - Commission 0.25 % per side: the usual Korean online rate for US stocks (KIS's own schedule page was not
#   reachable here, so unverified for KIS; accounts on a promotion pay less; the settings change it).
# - SEC fee (Section 31), sells only: $20.60 per million sold since 2026-04-04 (SEC Order Making Fiscal Year
#   2026 Annual Adjustments to Transaction Fee Rates, Release 34-104909 of 2026-02-27, Federal Register 2026-04233;
#   the rate as quoted by two independent fee tables, the order's own figure not read here). It was $27.80 until
#   2026-04-03; the SEC resets it each fiscal year.
# - FINRA trading activity fee, sells only: $0.000195 a share, at most $9.79 an order in 2026 (FINRA By-Laws
#   Schedule A as amended by SR-FINRA-2024-019, as quoted by the same two tables); $0.000232 / $11.61 from
#   2027-01-01 per that filing.
DEFAULT_US_FEE_RATE = 0.0025
DEFAULT_US_SEC_FEE_RATE = 0.0000206
DEFAULT_US_TAF_PER_SHARE = 0.000195  # dollars a share sold
DEFAULT_US_TAF_MAX = 9.79  # dollars an order


@dataclass(frozen=True)
class UsCostRates:
    """US costs: the commission both ways, the SEC fee and FINRA's TAF on sells; amounts in int cents."""

    fee: float = DEFAULT_US_FEE_RATE
    sec_fee: float = DEFAULT_US_SEC_FEE_RATE
    taf_per_share: float = DEFAULT_US_TAF_PER_SHARE
    taf_max: float = DEFAULT_US_TAF_MAX

    def __post_init__(self) -> None:
        for label, rate in (("us_fee", self.fee), ("us_sec_fee", self.sec_fee)):
            if not (0 <= rate < 1):
                raise ValueError(f"{label} {rate} is not a rate between 0 and 1 (0.0025 = 0.25 %)")
        if self.taf_per_share < 0 or self.taf_max < 0:
            raise ValueError("the FINRA fee per share and its cap are dollars, not below 0")

    def buy_cost(self, cents: int) -> int:
        """The commission on buying `cents` of stock, rounded up to the cent."""
        return math.ceil(cents * exact(self.fee)) if cents > 0 else 0

    def sell_cost(self, cents: int, qty: int) -> int:
        """Commission, SEC fee and FINRA TAF on selling `qty` shares worth `cents`, each rounded up to the cent."""
        if cents <= 0 or qty <= 0:
            return 0
        taf = min(math.ceil(qty * exact(self.taf_per_share) * 100), math.ceil(exact(self.taf_max) * 100))
        return math.ceil(cents * exact(self.fee)) + math.ceil(cents * exact(self.sec_fee)) + taf
