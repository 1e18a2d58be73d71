"""Performance over a period from the value history (pure): time-weighted return net of deposits and
withdrawals (daily Modified Dietz, chained), money-weighted return (XIRR), each holding's contribution, and
the series of value against net deposits.

Deposits and withdrawals are inferred: KIS's domestic samples serve no deposit/withdrawal history (their
period endpoints are trade profit and account rights), so a day's flow is the change of D+2 cash that the
day's trades do not explain: Δcash + bought − sold + their estimated fees and tax. A day's trades are the
fills recorded with its row, or, for rows written before those were kept, the change of each holding's
quantity at the day's price. A dividend or interest paid in cash counts as a deposit.

Daily Modified Dietz counts a day's flow at mid-day: r = (V₁ − V₀ − F) / (V₀ + F/2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Iterable, Sequence

from rebalance.costs import CostRates
from rebalance.history import Snapshot

FLOW_WEIGHT = 0.5  # a day's flow counts half the day
NOISE = 100  # won: a cash change this small that trades do not explain is fee rounding, not a deposit


class Period(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    ALL = "all"

    @property
    def days(self) -> int | None:
        return {"month": 31, "quarter": 92, "year": 366}.get(self.value)


PERIOD_WORDS = {"month": Period.MONTH, "m": Period.MONTH, "월": Period.MONTH, "한달": Period.MONTH,
                "quarter": Period.QUARTER, "q": Period.QUARTER, "분기": Period.QUARTER,
                "year": Period.YEAR, "y": Period.YEAR, "연": Period.YEAR, "년": Period.YEAR, "1년": Period.YEAR,
                "all": Period.ALL, "전체": Period.ALL}


@dataclass(frozen=True)
class Contribution:
    """One holding over the period: its gain in won (value change less what was paid for shares bought, plus
    what sales brought) and its share of the time-weighted return in percentage points (daily sum)."""

    code: str
    name: str
    gain: int
    points: float


@dataclass(frozen=True)
class Point:
    day: date
    value: int
    invested: int  # the first value plus every net deposit since


@dataclass(frozen=True)
class Performance:
    period: Period
    start: date
    end: date
    sessions: int
    start_value: int
    end_value: int
    deposits: int  # won in (positive flows)
    withdrawals: int  # won out, as a positive number
    flows: tuple[tuple[date, int], ...]  # the days with a deposit (+) or withdrawal (−)
    twr: float  # fraction over the period
    mwr: float | None  # fraction over the period (XIRR de-annualised); None when it has no solution
    mwr_annual: float | None
    contributions: tuple[Contribution, ...]
    costs: int  # fees and tax the runs of the period paid (their receipts)
    series: tuple[Point, ...]

    @property
    def net_deposits(self) -> int:
        return self.deposits - self.withdrawals

    @property
    def gain(self) -> int:
        """What the market made: the value change less the net deposits."""
        return self.end_value - self.start_value - self.net_deposits


def parse_period(words: Sequence[str]) -> Period | None:
    """`month|quarter|year|all` (or 월/분기/년/전체); no word is `all`; None when the words are anything else."""
    if not words:
        return Period.ALL
    if len(words) > 1:
        return None
    return PERIOD_WORDS.get(words[0].strip().lower())


def in_period(history: Sequence[Snapshot], period: Period, today: date) -> list[Snapshot]:
    """The rows the period spans: from the last row on or before its first day (the value it starts from)."""
    rows = sorted(history, key=lambda s: s.day)
    if period.days is None:
        return rows
    first = today - timedelta(days=period.days)
    start = max((i for i, s in enumerate(rows) if s.day <= first), default=0)
    return rows[start:]


def _prices(snap: Snapshot) -> dict[str, int]:
    return {h.code: h.value // h.qty for h in snap.holdings if h.qty > 0}


def _qty(snap: Snapshot) -> dict[str, int]:
    return {h.code: h.qty for h in snap.holdings}


def _values(snap: Snapshot) -> dict[str, int]:
    return {h.code: h.value for h in snap.holdings}


def traded(before: Snapshot, after: Snapshot) -> dict[str, int]:
    """Won bought (+) or sold (−) per code between two rows, at the later row's price (the earlier one's for a
    stock sold out)."""
    q0, q1 = _qty(before), _qty(after)
    p0, p1 = _prices(before), _prices(after)
    out = {}
    for code in {*q0, *q1}:
        change = q1.get(code, 0) - q0.get(code, 0)
        if change:
            out[code] = change * p1.get(code, p0.get(code, 0))
    return out


def flow(before: Snapshot, after: Snapshot, rates: CostRates = CostRates()) -> int:
    """The deposit (+) or withdrawal (−) between two rows: the cash change the trades between do not explain."""
    if after.bought is not None and after.sold is not None:
        bought, sold = after.bought, after.sold
    else:
        trades = traded(before, after).values()
        bought, sold = sum(v for v in trades if v > 0), -sum(v for v in trades if v < 0)
    explained = -bought + sold - rates.buy_cost(bought) - rates.sell_cost(sold)
    amount = after.cash - before.cash - explained
    return 0 if abs(amount) < NOISE else amount


def modified_dietz(v0: int, v1: int, f: int) -> float:
    """One day's return with its flow at mid-day; 0 when nothing was invested."""
    base = v0 + FLOW_WEIGHT * f
    return (v1 - v0 - f) / base if base > 0 else 0.0


def xirr(flows: Iterable[tuple[date, int]]) -> float | None:
    """The annual rate r with Σ amount / (1 + r)^(days/365) = 0 (amounts from the investor: deposits −);
    None when there is no sign change or no root. Bisection on log(1 + r): slow but never diverges."""
    flows = [(d, a) for d, a in flows if a]
    if not flows or all(a > 0 for _, a in flows) or all(a < 0 for _, a in flows):
        return None
    t0 = min(d for d, _ in flows)
    years = [((d - t0).days / 365.0, a) for d, a in flows]

    def npv(x: float) -> float:  # x = log(1 + r)
        return math.fsum(a * math.exp(-x * t) for t, a in years)

    grid = [i / 10 for i in range(-100, 101)]  # r from e^-10 − 1 to e^10 − 1
    values = [npv(x) for x in grid]
    roots = [(grid[i], grid[i + 1]) for i in range(len(grid) - 1)
             if values[i] == 0 or (values[i] < 0) != (values[i + 1] < 0)]
    if not roots:
        return None
    low, high = min(roots, key=lambda pair: abs(pair[0]))  # the root nearest r = 0
    f_low = npv(low)
    for _ in range(200):
        mid = (low + high) / 2
        f_mid = npv(mid)
        if (f_mid < 0) == (f_low < 0):
            low, f_low = mid, f_mid
        else:
            high = mid
    return math.expm1((low + high) / 2)


def measure(history: Sequence[Snapshot], period: Period, today: date, costs: int = 0,
            rates: CostRates = CostRates()) -> Performance | None:
    """Performance over `period` ending `today`; None with fewer than two rows in it."""
    rows = in_period(history, period, today)
    if len(rows) < 2:
        return None
    growth = 1.0
    flows: list[tuple[date, int]] = []
    gains: dict[str, int] = {}
    points: dict[str, float] = {}
    names = {h.code: h.name for s in rows for h in s.holdings}
    invested = rows[0].total_value
    series = [Point(rows[0].day, rows[0].total_value, invested)]
    for before, after in zip(rows, rows[1:]):
        f = flow(before, after, rates)
        if f:
            flows.append((after.day, f))
        invested += f
        series.append(Point(after.day, after.total_value, invested))
        base = before.total_value + FLOW_WEIGHT * f
        growth *= 1 + modified_dietz(before.total_value, after.total_value, f)
        v0, v1, bought = _values(before), _values(after), traded(before, after)
        for code in {*v0, *v1}:
            gain = v1.get(code, 0) - v0.get(code, 0) - bought.get(code, 0)
            gains[code] = gains.get(code, 0) + gain
            if base > 0:
                points[code] = points.get(code, 0.0) + 100 * gain / base
    end = rows[-1]
    money = [(rows[0].day, -rows[0].total_value), *((d, -a) for d, a in flows), (end.day, end.total_value)]
    annual = xirr(money)
    span = (end.day - rows[0].day).days
    mwr = None if annual is None else math.expm1(math.log1p(annual) * span / 365.0)
    contributions = tuple(sorted((Contribution(c, names.get(c, ""), gains[c], points.get(c, 0.0)) for c in gains),
                                 key=lambda c: (-abs(c.gain), c.code)))
    return Performance(
        period=period, start=rows[0].day, end=end.day, sessions=len(rows), start_value=rows[0].total_value,
        end_value=end.total_value, deposits=sum(a for _, a in flows if a > 0),
        withdrawals=-sum(a for _, a in flows if a < 0), flows=tuple(flows), twr=growth - 1, mwr=mwr,
        mwr_annual=annual, contributions=contributions, costs=costs, series=tuple(series))
