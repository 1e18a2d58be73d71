"""KRX price grid (호가가격단위, the table in force since 2023-01-25, KOSPI and KOSDAQ alike).

KIS rejects a limit price off this grid with APBK0506, so every limit price is put on it before sending.
"""
from __future__ import annotations

from bisect import bisect_right

from kis.models import OrderSide

# (lower bound of the band, tick within the band); every band bound is a multiple of both ticks
# around it, so rounding inside one band never lands off the grid of the next.
_BANDS: tuple[tuple[int, int], ...] = (
    (0, 1),
    (2_000, 5),
    (5_000, 10),
    (20_000, 50),
    (50_000, 100),
    (200_000, 500),
    (500_000, 1_000),
)
_BOUNDS = tuple(lower for lower, _ in _BANDS)


def tick_size(price: int) -> int:
    """The tick of the band `price` falls in (won)."""
    if price < 0:
        raise ValueError(f"price {price} is negative")
    return _BANDS[bisect_right(_BOUNDS, price) - 1][1]


def is_on_tick(price: int) -> bool:
    """True when KRX would accept `price` as a limit price."""
    return price > 0 and price % tick_size(price) == 0


def round_to_tick(price: int, direction: str | OrderSide = "nearest") -> int:
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
    tick = tick_size(price)
    below = price - price % tick
    if below == price:
        return price
    above = below + tick  # a multiple of the next band's tick too when it crosses a bound
    if direction == "down":
        return below
    if direction == "up":
        return above
    return below if price - below <= above - price else above


def add_ticks(price: int, n: int) -> int:
    """The price `n` ticks above (n > 0) or below (n < 0) an on-grid `price`, walking across bands."""
    price = round_to_tick(price, "nearest")
    step = 1 if n > 0 else -1
    for _ in range(abs(n)):
        if step > 0:
            price += tick_size(price)
        else:
            if price == 1:
                return 1  # the lowest price on the grid
            # the tick below a band bound is the lower band's tick
            price -= tick_size(price - 1)
    return price
