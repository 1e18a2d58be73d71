"""Prices of the paper exchange: a seeded random walk per stock, on the KRX tick grid, within ±30 %.

Each step's move is a pure function of (seed, code, step number), so a given clock always yields the
same prices whatever order stocks are asked in, and a restart only needs the step reached.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Callable, Iterable

from kis.sim.clock import kst_now
from kis.ticks import ETF, STOCK, TickGrid, price_limits, round_to_tick  # noqa: F401 (price_limits: tests import it here)

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class StockSpec:
    """A listed stock or ETF: code, Korean name and its previous close (the walk starts there)."""

    code: str
    name: str
    price: int
    synthetic: bool = False
    kind: str = "stock"  # "stock" or "etf": which price grid it trades on

    @property
    def grid(self) -> TickGrid:
        return ETF if self.kind == "etf" else STOCK


@dataclass(frozen=True)
class MarketQuote:
    """The market's view of one stock right now."""

    code: str
    name: str
    price: int
    prev_close: int
    upper: int  # 상한가
    lower: int  # 하한가
    open: int
    high: int
    low: int
    volume: int
    at: datetime
    grid: TickGrid = STOCK

    @property
    def tick(self) -> int:
        """호가단위 (aspr_unit) at the current price."""
        return self.grid.tick(self.price)

    @property
    def change(self) -> int:
        return self.price - self.prev_close

    @property
    def change_rate(self) -> float:
        return round(self.change * 100.0 / self.prev_close, 2) if self.prev_close else 0.0


def load_seed(path: str | None = None) -> dict:
    """The seed file (stocks, cash, holdings): the bundled `stocks.json` unless a path is given."""
    if path:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    return json.loads(resources.files("kis.sim").joinpath("stocks.json").read_text(encoding="utf-8"))


def seed_specs(seed_data: dict) -> list[StockSpec]:
    return [StockSpec(s["code"], s["name"], int(s["price"]), kind=s.get("kind", "stock")) for s in seed_data["stocks"]]


def synthetic_specs(n: int, seed: int = 7) -> list[StockSpec]:
    """N made-up stocks (codes 900001.., names marked SYNTHETIC) for benchmarks with hundreds of codes."""
    specs = []
    for i in range(1, n + 1):
        h = _mix(seed, f"synthetic:{i}", 0)
        raw = 1_000 + h % 499_000
        specs.append(StockSpec(f"{900000 + i:06d}", f"SYNTHETIC-{i:04d}", round_to_tick(raw, "nearest"), True))
    return specs


def _mix(seed: int, code: str, step: int) -> int:
    """splitmix64 of (seed, code, step): a cheap, stateless, reproducible 64-bit draw."""
    code_key = int.from_bytes(hashlib.blake2b(code.encode(), digest_size=8).digest(), "big")
    z = (seed * 0x9E3779B97F4A7C15 + code_key + step * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _gauss(seed: int, code: str, step: int) -> float:
    """A standard normal draw for one step (Box-Muller over two splitmix draws)."""
    u1 = ((_mix(seed, code, 2 * step) >> 11) + 1) / float(1 << 53)
    u2 = (_mix(seed, code, 2 * step + 1) >> 11) / float(1 << 53)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2)


class _Walk:
    """Mutable per-stock state; only the Market touches it, under its lock."""

    def __init__(self, spec: StockSpec, session: date):
        self.spec = spec
        self.prev_close = spec.price
        self.fair = float(spec.price)
        self.price = spec.price
        self.step = 0
        self.session = session
        self.open = self.high = self.low = spec.price
        self.volume = 0

    def roll_day(self, session: date) -> None:
        self.prev_close = self.price
        self.session = session
        self.open = self.high = self.low = self.price
        self.volume = 0

    def set_price(self, price: int) -> None:
        upper, lower = price_limits(self.prev_close, self.spec.grid)
        self.price = max(lower, min(upper, round_to_tick(price, "nearest", self.spec.grid)))
        self.fair = float(self.price)
        self.high = max(self.high, self.price)
        self.low = min(self.low, self.price)


class Market:
    """Quotes for the listed stocks, moving one random step every `step_seconds` of the sim clock."""

    def __init__(self, specs: Iterable[StockSpec], *, seed: int = 7, clock: Callable[[], datetime] = kst_now,
                 step_seconds: float = 5.0, daily_vol: float = 0.02, start: datetime | None = None):
        self.clock = clock
        self.seed = seed
        self.step_seconds = step_seconds
        self.start = start or clock()
        # sd of one step so that a whole 6.5 h session has roughly `daily_vol` spread
        steps_per_session = max(1.0, 6.5 * 3600 / step_seconds) if step_seconds > 0 else 1.0
        self.step_sd = daily_vol / math.sqrt(steps_per_session)
        self._lock = threading.RLock()
        self._walks = {s.code: _Walk(s, self.start.date()) for s in specs}

    def codes(self) -> list[str]:
        return list(self._walks)

    def knows(self, code: str) -> bool:
        return code in self._walks

    def name(self, code: str) -> str:
        walk = self._walks.get(code)
        return walk.spec.name if walk else ""

    def group(self, code: str) -> str:
        """KIS's product group (scty_grp_id_cd) of a listed code: EF for an ETF, ST for a stock, '' unknown."""
        walk = self._walks.get(code)
        if walk is None:
            return ""
        return "EF" if walk.spec.kind == "etf" else "ST"

    def add(self, spec: StockSpec) -> None:
        with self._lock:
            self._walks.setdefault(spec.code, _Walk(spec, self.clock().date()))

    def quote(self, code: str) -> MarketQuote | None:
        """The current quote, or None for a code the market does not list."""
        with self._lock:
            walk = self._walks.get(code)
            if walk is None:
                return None
            now = self.clock()
            self._advance(walk, now)
            upper, lower = price_limits(walk.prev_close, walk.spec.grid)
            return MarketQuote(code, walk.spec.name, walk.price, walk.prev_close, upper, lower,
                               walk.open, walk.high, walk.low, walk.volume, now, walk.spec.grid)

    def price(self, code: str) -> int:
        q = self.quote(code)
        if q is None:
            raise KeyError(code)
        return q.price

    def fair_price(self, code: str) -> float:
        """The walk's unrounded value now (the price is it on the grid): where the book centres its spread."""
        with self._lock:
            walk = self._walks[code]
            self._advance(walk, self.clock())
            return walk.fair

    def set_price(self, code: str, price: int) -> None:
        """Pin a stock's price (tests, demos); the walk carries on from there."""
        with self._lock:
            walk = self._walks[code]
            self._advance(walk, self.clock())
            walk.set_price(price)

    def add_volume(self, code: str, qty: int) -> None:
        with self._lock:
            if code in self._walks:
                self._walks[code].volume += qty

    def _advance(self, walk: _Walk, now: datetime) -> None:
        if now.date() > walk.session:
            walk.roll_day(now.date())
        if self.step_seconds <= 0:
            return
        target = int((now - self.start).total_seconds() // self.step_seconds)
        if target <= walk.step:
            return
        upper, lower = price_limits(walk.prev_close, walk.spec.grid)
        code, seed = walk.spec.code, self.seed
        # A long gap (a restart days later) would replay millions of steps: keep the last ones only.
        first = max(walk.step + 1, target - 20_000)
        fair = walk.fair
        for step in range(first, target + 1):
            fair *= math.exp(self.step_sd * _gauss(seed, code, step))
            fair = min(max(fair, lower), upper)
            walk.volume += _mix(seed, code, -step) % 300
        walk.fair = fair
        walk.step = target
        price = round_to_tick(max(1, int(round(fair))), "nearest", walk.spec.grid)
        walk.price = max(lower, min(upper, price))  # both limits sit on the grid
        walk.high = max(walk.high, walk.price)
        walk.low = min(walk.low, walk.price)

    # persistence -------------------------------------------------------------------------------
    def to_state(self) -> dict:
        with self._lock:
            return {
                "seed": self.seed,
                "start": self.start.isoformat(),
                "stocks": {
                    c: {"name": w.spec.name, "base": w.spec.price, "synthetic": w.spec.synthetic, "kind": w.spec.kind,
                        "prev_close": w.prev_close, "fair": w.fair, "price": w.price, "step": w.step,
                        "session": w.session.isoformat(), "open": w.open, "high": w.high, "low": w.low,
                        "volume": w.volume}
                    for c, w in self._walks.items()
                },
            }

    def load_state(self, state: dict) -> None:
        with self._lock:
            self.seed = int(state.get("seed", self.seed))
            self.start = datetime.fromisoformat(state["start"])
            for code, s in state["stocks"].items():
                walk = _Walk(StockSpec(code, s["name"], int(s["base"]), bool(s.get("synthetic")),
                                       s.get("kind", "stock")),
                             date.fromisoformat(s["session"]))
                walk.prev_close, walk.fair, walk.price = int(s["prev_close"]), float(s["fair"]), int(s["price"])
                walk.step, walk.volume = int(s["step"]), int(s["volume"])
                walk.open, walk.high, walk.low = int(s["open"]), int(s["high"]), int(s["low"])
                self._walks[code] = walk
