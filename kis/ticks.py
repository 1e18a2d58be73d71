"""KRX price grids (호가가격단위): stocks on the table in force since 2023-01-25 (KOSPI and KOSDAQ alike),
ETFs and ETNs on their own finer one (1 won below 2,000, 5 won above, since 2023-12).

KIS rejects a limit price off the grid with APBK0506, so every limit price is put on it before sending.
`aspr_unit` in inquire-price is the tick of a code at its price: `grid_for` tells the grid from it.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_DOWN, Decimal

from kis.models import OrderSide


@dataclass(frozen=True)
class TickGrid:
    """A price grid: (lower bound of the band, tick within the band), bounds ascending from 0.

    Every band bound is a multiple of both ticks around it, so rounding inside one band never lands
    off the grid of the next.
    """

    name: str
    bands: tuple[tuple[int, int], ...]

    def tick(self, price: int) -> int:
        return self.bands[bisect_right(self.bands, (price, float("inf"))) - 1][1]


STOCK = TickGrid("stock", ((0, 1), (2_000, 5), (5_000, 10), (20_000, 50), (50_000, 100), (200_000, 500),
                           (500_000, 1_000)))
ETF = TickGrid("etf", ((0, 1), (2_000, 5)))  # ETFs and ETNs; every stock-grid price is on it too
GRIDS = (STOCK, ETF)


def grid_for(price: int, tick: int) -> TickGrid | None:
    """The grid whose tick at `price` is `tick` (KIS's aspr_unit); the stock grid where both fit; else None."""
    for grid in GRIDS:
        if price > 0 and grid.tick(price) == tick:
            return grid
    return None


def tick_size(price: int, grid: TickGrid = STOCK) -> int:
    """The tick of the band `price` falls in (won)."""
    if price < 0:
        raise ValueError(f"price {price} is negative")
    return grid.tick(price)


def is_on_tick(price: int, grid: TickGrid = STOCK) -> bool:
    """True when KRX would accept `price` as a limit price."""
    return price > 0 and price % tick_size(price, grid) == 0


def round_to_tick(price: int, direction: str | OrderSide = "nearest", grid: TickGrid = STOCK) -> int:
    """Put `price` on the grid: "down", "up" or "nearest" (ties down).

    An `OrderSide` picks the side that never trades worse than asked: a buy rounds down, a sell up.
    """
    if isinstance(direction, OrderSide):
        direction = "down" if direction is OrderSide.BUY else "up"
    if direction not in ("down", "up", "nearest"):
        raise ValueError(f"direction {direction!r} is not 'down', 'up', 'nearest' or an OrderSide")
    price = int(price)
    if price <= 0:
        raise ValueError(f"price {price} is not a positive number of won")
    tick = tick_size(price, grid)
    below = price - price % tick
    if below == price:
        return price
    above = below + tick  # a multiple of the next band's tick too when it crosses a bound
    if direction == "down":
        return below
    if direction == "up":
        return above
    return below if price - below <= above - price else above


DAILY_LIMIT = 0.30  # KRX 가격제한폭: ±30 % of the previous close (기준가)


def price_limits(prev_close: int, grid: TickGrid = STOCK) -> tuple[int, int]:
    """KRX upper/lower limit prices for a previous close, on the tick grid and inside the band."""
    upper = round_to_tick(int(prev_close * (1 + DAILY_LIMIT)), "down", grid)
    lower = round_to_tick(max(1, math.ceil(prev_close * (1 - DAILY_LIMIT))), "up", grid)
    return upper, lower


def add_ticks(price: int, n: int, grid: TickGrid = STOCK) -> int:
    """The price `n` ticks above (n > 0) or below (n < 0) an on-grid `price`, walking across bands."""
    price = round_to_tick(price, "nearest", grid)
    step = 1 if n > 0 else -1
    for _ in range(abs(n)):
        if step > 0:
            price += tick_size(price, grid)
        else:
            if price == 1:
                return 1  # the lowest price on the grid
            # the tick below a band bound is the lower band's tick
            price -= tick_size(price - 1, grid)
    return price


# --- US stocks ------------------------------------------------------------------------------------
# Regulation NMS Rule 612: quotes of $1.00 and above in whole cents, below $1.00 in $0.0001. KIS refuses a
# price with more decimals (APTR0057 "주문 가격 소수점 초과", reported from live accounts). No daily band.

US_CENT = Decimal("0.01")
US_SUB_PENNY = Decimal("0.0001")
US_PENNY_FROM = Decimal("1")


def us_tick(price: Decimal) -> Decimal:
    """The US tick at `price` (dollars): $0.01 at $1 and above, $0.0001 below."""
    return US_CENT if Decimal(price) >= US_PENNY_FROM else US_SUB_PENNY


def is_on_us_tick(price: Decimal) -> bool:
    """True when a US exchange would take `price` (dollars) as a limit price."""
    price = Decimal(price)
    return price > 0 and price == price.quantize(us_tick(price))


def round_us_price(price: Decimal, direction: str | OrderSide = "nearest") -> Decimal:
    """`price` (dollars) on the US grid: "down", "up" or "nearest" (ties down); a buy rounds down, a sell up.

    The result has exactly the grid's places (two at $1 and above, four below), so it prints as KIS wants it.
    """
    if isinstance(direction, OrderSide):
        direction = "down" if direction is OrderSide.BUY else "up"
    rounding = {"down": ROUND_FLOOR, "up": ROUND_CEILING, "nearest": ROUND_HALF_DOWN}.get(direction)
    if rounding is None:
        raise ValueError(f"direction {direction!r} is not 'down', 'up', 'nearest' or an OrderSide")
    price = Decimal(price)
    if price <= 0:
        raise ValueError(f"price {price} is not a positive number of dollars")
    on = price.quantize(us_tick(price), rounding=rounding)
    if on < US_PENNY_FROM <= price or on >= US_PENNY_FROM > price:  # rounding crossed $1: the other grid's step
        on = on.quantize(us_tick(on), rounding=rounding)
    if on <= 0:
        on = US_SUB_PENNY
    return on
