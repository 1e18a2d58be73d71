"""The paper exchange's US side: US stocks walking on the US grid (no daily band), the won-dollar rate drifting
slowly, the account's dollar cash and US holdings, and KIS's overseas endpoints over them.

Prices are ints of $0.0001 inside (exact; the grid keeps whole cents at $1 and above) and KIS-shaped strings
outside. Fields follow the official samples' chk_*.py lists (examples_llm/overseas_stock/price, price_detail,
search_info, inquire_balance, inquire_present_balance).
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Callable

from kis.sim.market import _gauss, _mix

UNIT = 10_000  # ints of $0.0001 a dollar
CENT = 100  # $0.01 in those units
RATE_STEP_SECONDS = 60.0  # the rate moves once a sim minute
RATE_DAILY_VOL = 0.004  # about 0.4 % a day: slow, as the won-dollar rate moves
# Quote exchange codes: the regular-session ones and the daytime (주간) ones, which quote the same listing.
QUOTE_CODES = {"NAS": "NASD", "NYS": "NYSE", "AMS": "AMEX", "BAQ": "NASD", "BAY": "NYSE", "BAA": "AMEX"}
PRODUCT_TYPES = {"512": "NASD", "513": "NYSE", "529": "AMEX"}
# Other markets' product types in search-info: valid requests, listing nothing the paper exchange has.
OTHER_PRODUCT_TYPES = {"515", "501", "543", "558", "507", "508", "551", "552"}
EXCHANGE_NAMES = {"NASD": "나스닥", "NYSE": "뉴욕", "AMEX": "아멕스"}
PRESENT_MARKETS = {"00": None, "01": "NASD", "02": "NYSE", "05": "AMEX"}  # TR_MKET_CD under NATN_CD 840


def load_us_seed(path: str | None = None) -> dict:
    """The US seed (stocks, dollar cash, rate): the bundled `us_stocks.json` unless a path is given."""
    if path:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    return json.loads(resources.files("kis.sim").joinpath("us_stocks.json").read_text(encoding="utf-8"))


def units(text: str | Decimal) -> int:
    """Dollars as ints of $0.0001 (rounded half up)."""
    return int((Decimal(str(text)) * UNIT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def on_grid(value: int) -> int:
    """Ints of $0.0001 on the US grid: whole cents at $1 and above."""
    if value >= UNIT:
        return max(UNIT, (value + CENT // 2) // CENT * CENT)
    return max(1, value)


def dollars_text(value: int, places: int = 4) -> str:
    """Ints of $0.0001 as KIS writes dollars ("233.1200")."""
    return f"{Decimal(value) / UNIT:.{places}f}"


@dataclass(frozen=True)
class UsSpec:
    symbol: str
    exchange: str  # NASD, NYSE, AMEX
    name: str  # English, as search-info's prdt_eng_name
    kor_name: str
    price: int  # previous close, ints of $0.0001
    kind: str = "stock"


class _Walk:
    def __init__(self, spec: UsSpec, day):
        self.spec, self.day = spec, day
        self.prev_close = self.price = self.open = self.high = self.low = spec.price
        self.fair = float(spec.price)
        self.step, self.volume = 0, 0


class UsMarket:
    """US quotes moving one random step every `step_seconds` of the sim clock, on the US grid, with no band."""

    def __init__(self, specs, *, seed: int, clock: Callable[[], datetime], step_seconds: float, start: datetime,
                 daily_vol: float = 0.015):
        self.clock, self.seed, self.step_seconds, self.start = clock, seed, step_seconds, start
        steps = max(1.0, 6.5 * 3600 / step_seconds) if step_seconds > 0 else 1.0
        self.step_sd = daily_vol / math.sqrt(steps)
        self._lock = threading.RLock()
        self._walks = {s.symbol: _Walk(s, start.date()) for s in specs}

    def symbols(self) -> list[str]:
        return list(self._walks)

    def spec(self, symbol: str) -> UsSpec | None:
        walk = self._walks.get(symbol)
        return walk.spec if walk else None

    def quote(self, symbol: str) -> _Walk | None:
        """The walk of `symbol` advanced to now (read its price, prev_close, open, high, low, volume), or None."""
        with self._lock:
            walk = self._walks.get(symbol)
            if walk is None:
                return None
            self._advance(walk, self.clock())
            return walk

    def price(self, symbol: str) -> int:
        return self.quote(symbol).price

    def set_price(self, symbol: str, dollars: str | Decimal) -> None:
        """Pin a US price (tests, demos); the walk carries on from there, on the grid."""
        with self._lock:
            walk = self._walks[symbol]
            self._advance(walk, self.clock())
            walk.price = on_grid(units(dollars))
            walk.fair = float(walk.price)
            walk.high, walk.low = max(walk.high, walk.price), min(walk.low, walk.price)

    def _advance(self, walk: _Walk, now: datetime) -> None:
        if now.date() > walk.day:
            walk.day, walk.prev_close = now.date(), walk.price
            walk.open = walk.high = walk.low = walk.price
            walk.volume = 0
        if self.step_seconds <= 0:
            return
        target = int((now - self.start).total_seconds() // self.step_seconds)
        if target <= walk.step:
            return
        key = "us:" + walk.spec.symbol
        fair = walk.fair
        for step in range(max(walk.step + 1, target - 20_000), target + 1):
            fair = max(1.0, fair * math.exp(self.step_sd * _gauss(self.seed, key, step)))
            walk.volume += _mix(self.seed, key, -step) % 500
        walk.fair, walk.step = fair, target
        walk.price = on_grid(int(round(fair)))
        walk.high, walk.low = max(walk.high, walk.price), min(walk.low, walk.price)

    def to_state(self) -> dict:
        with self._lock:
            return {s: {"prev_close": w.prev_close, "fair": w.fair, "price": w.price, "step": w.step,
                        "day": w.day.isoformat(), "open": w.open, "high": w.high, "low": w.low, "volume": w.volume}
                    for s, w in self._walks.items()}

    def load_state(self, state: dict) -> None:
        from datetime import date

        with self._lock:
            for symbol, s in state.items():
                walk = self._walks.get(symbol)
                if walk is None:
                    continue
                walk.prev_close, walk.fair, walk.price = int(s["prev_close"]), float(s["fair"]), int(s["price"])
                walk.step, walk.day, walk.volume = int(s["step"]), date.fromisoformat(s["day"]), int(s["volume"])
                walk.open, walk.high, walk.low = int(s["open"]), int(s["high"]), int(s["low"])


class FxRate:
    """The won-dollar rate (bass_exrt): a slow seeded walk, one step a sim minute, a pure function of the clock."""

    def __init__(self, start_rate: str | Decimal, *, seed: int, clock: Callable[[], datetime], start: datetime):
        self.base = float(Decimal(str(start_rate)))
        self.seed, self.clock, self.start = seed, clock, start
        self.step_sd = RATE_DAILY_VOL / math.sqrt(24 * 3600 / RATE_STEP_SECONDS)
        self._lock = threading.Lock()
        self._step, self._value = 0, self.base

    def now(self) -> Decimal:
        """The rate now in won a dollar, two places."""
        with self._lock:
            target = max(0, int((self.clock() - self.start).total_seconds() // RATE_STEP_SECONDS))
            for step in range(max(self._step + 1, target - 20_000), target + 1):
                self._value *= math.exp(self.step_sd * _gauss(self.seed, "fx:USDKRW", step))
            self._step = max(self._step, target)
            return Decimal(f"{self._value:.2f}")


@dataclass
class UsPosition:
    qty: int
    cost: int  # ints of $0.0001: what the shares cost


class UsBook:
    """The account's US side: dollar cash (cents) and holdings."""

    def __init__(self, usd_cash_cents: int):
        self.lock = threading.RLock()
        self.usd_cash = int(usd_cash_cents)
        self.positions: dict[str, UsPosition] = {}

    def set_holding(self, symbol: str, qty: int, avg_price: str | Decimal) -> None:
        """Hold `qty` shares of `symbol` bought at `avg_price` dollars (tests, demos); 0 removes it."""
        with self.lock:
            if qty <= 0:
                self.positions.pop(symbol, None)
            else:
                self.positions[symbol] = UsPosition(int(qty), int(qty) * units(avg_price))

    def to_state(self) -> dict:
        with self.lock:
            return {"usd_cash": self.usd_cash,
                    "positions": {s: {"qty": p.qty, "cost": p.cost} for s, p in self.positions.items()}}

    def load_state(self, state: dict) -> None:
        with self.lock:
            self.usd_cash = int(state["usd_cash"])
            self.positions = {s: UsPosition(int(p["qty"]), int(p["cost"])) for s, p in state["positions"].items()}


def us_specs(seed_data: dict) -> list[UsSpec]:
    return [UsSpec(s["symbol"], s["exchange"], s["name"], s.get("kor_name", s["name"]), units(s["price"]),
                   s.get("kind", "stock")) for s in seed_data["stocks"]]


def isin(symbol: str) -> str:
    """A made-up but stable ISIN-shaped standard code for a paper listing (search-info's std_pdno)."""
    digest = hashlib.blake2b(symbol.encode(), digest_size=5).hexdigest().upper()
    return f"US{int(digest, 16) % 10**10:010d}"
