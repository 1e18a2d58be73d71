"""Pure TWAP slicing: plan lines + window + call budget -> timed slices.

Each stock's quantity is spread evenly over its phase (sells first, buys after), in at most
`max_slices` slices and never more than the share of the KIS call budget orders may use: on a slow
account slices get bigger, not more numerous.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from kis import DAILY_ORDERS_PAGE_ROWS
from kis.models import OrderSide
from rebalance.model import PlanLine
from rebalance.window import TwapSettings, Window

# Calls one slice costs: the latest price (for the guard) and the order; a buy also checks the cash.
CALLS_PER_SLICE = {OrderSide.SELL: 2, OrderSide.BUY: 3}
POLL_PAGE_ROWS = min(DAILY_ORDERS_PAGE_ROWS.values())  # size polls for the smallest page (mock: 15)


def slice_cost(side: OrderSide, settings: TwapSettings) -> int:
    """Calls one slice may cost: CALLS_PER_SLICE, one more where the book is read at the send (asking price),
    and one more for a passive slice's revision to the guard price (rebalance/twap/pricing.py)."""
    passive = settings.execution == "passive"
    return CALLS_PER_SLICE[side] + int(passive or settings.record_book) + int(passive)


@dataclass(frozen=True)
class Slice:
    """One scheduled order of a run: `qty` shares of `code` at `at`."""

    seq: int
    code: str
    side: OrderSide
    qty: int
    at: datetime


@dataclass(frozen=True)
class SliceSchedule:
    """The slices of a run and the pace of everything else it does."""

    slices: tuple[Slice, ...]
    catch_up_at: datetime  # one pass places whatever is still missing
    poll_seconds: float  # between fill polls


def slice_plan(lines: Sequence[PlanLine], window: Window, settings: TwapSettings, rate: float) -> SliceSchedule:
    """Spread every line's order quantity over the window within `rate` calls per second."""
    if rate <= 0:
        raise ValueError("the call rate must be positive")
    trades = [line for line in lines if line.order_qty]
    margin = timedelta(seconds=min(settings.catch_up_seconds, 0.1 * window.seconds))
    catch_up_at = window.end - margin
    counts = slice_counts(trades, window.seconds, settings, rate)

    sells = [line for line in trades if line.side is OrderSide.SELL]
    buys = [line for line in trades if line.side is OrderSide.BUY]
    span = catch_up_at - window.start
    if sells and buys:
        sell_end = window.start + span * settings.sell_share
        phases = [(sells, window.start, sell_end), (buys, sell_end, catch_up_at)]
    else:
        phases = [(sells or buys, window.start, catch_up_at)]

    raw: list[tuple[datetime, str, OrderSide, int]] = []
    for phase_lines, start, end in phases:
        for k, line in enumerate(phase_lines):
            n = counts[line.code]
            times = _even_times(start, end, n, phase=k / len(phase_lines))
            for at, qty in zip(times, split_qty(abs(line.order_qty), n)):
                raw.append((at, line.code, line.side, qty))
    raw.sort(key=lambda r: (r[0], r[1]))
    slices = tuple(Slice(seq, code, side, qty, at) for seq, (at, code, side, qty) in enumerate(raw))

    orders_total = len(slices) + len(trades)  # slices plus at most one catch-up order per stock
    pages = max(1, math.ceil(orders_total / POLL_PAGE_ROWS))
    poll_seconds = max(settings.poll_seconds, pages / (rate * settings.poll_share))
    return SliceSchedule(slices, catch_up_at, poll_seconds)


def order_call_budget(seconds: float, settings: TwapSettings, rate: float) -> int:
    """Calls the orders (and their cash checks) may use over a window of `seconds`."""
    return math.floor(rate * seconds * settings.order_share)


def slice_counts(trades: Sequence[PlanLine], seconds: float, settings: TwapSettings, rate: float) -> dict[str, int]:
    """Slices per stock: as even as the budget allows, each at most min(qty, max_slices), at least one.

    The catch-up pass is paid for first (one order per stock); a stock always gets one slice even when
    the budget is smaller than the plan, since the rate limiter then only makes it late, not wrong.
    """
    cost = {line.code: slice_cost(line.side, settings) for line in trades}
    caps = {line.code: min(abs(line.order_qty), settings.max_slices) for line in trades}
    counts = {code: 1 for code in caps}
    budget = order_call_budget(seconds, settings, rate) - 2 * sum(cost.values())  # catch-up + first slices
    growing = True
    while growing:
        growing = False
        for code in counts:  # round robin keeps the counts even across stocks
            if counts[code] < caps[code] and budget >= cost[code]:
                counts[code] += 1
                budget -= cost[code]
                growing = True
    return counts


def split_qty(qty: int, n: int) -> list[int]:
    """`qty` shares in `n` slices that differ by at most one share (larger first)."""
    base, extra = divmod(qty, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def _even_times(start: datetime, end: datetime, n: int, phase: float) -> list[datetime]:
    """`n` times one step of (end - start) / n apart, from `phase` of a step after `start`.

    The phase lets stocks that share a window take turns instead of all firing on the same second.
    """
    step = (end - start) / n
    first = start + step * phase
    return [first + step * i for i in range(n)]
