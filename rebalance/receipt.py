"""The receipt of a run: per stock and in total, plan price vs average fill price, slippage in won
and basis points, estimated vs charged fees and tax, and cash after vs the plan.

Against the book (issue 25): the implementation shortfall of the fills against the arrival mid (the mid of
the best bid and ask when the stock's first order was sent), the spread paid (each fill against the mid at its
own order's send), and the share of the shares filled by passive orders (those that joined the own side's
best). Mids are kept doubled (bid + ask) so every figure stays in whole won until it is shown.

`build_receipt` is pure (plan + journal orders + cash after -> Receipt). "Charged" costs are the
fee and tax rates applied to each order's filled amount, as KIS charges them per order (rounded up).
`ReceiptStore` keeps the last receipt per account in the journal's database, for `/status`, and every receipt
with the time it was kept (table `receipt_log`), for the costs `/perf` counts.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from decimal import Decimal

from kis.markets import market_named, to_krw
from kis.models import OrderSide
from rebalance.costs import CostRates, UsCostRates
from rebalance.model import Plan
from rebalance.shortfall import Shortfall, ShortReason


@dataclass(frozen=True)
class ReceiptLine:
    """One stock of a finished run."""

    code: str
    name: str
    side: str  # "buy" or "sell"
    planned_qty: int
    filled_qty: int
    plan_price: int
    filled_amount: int  # won, sum of fill values
    est_costs: int  # the plan's estimate for the planned quantity
    charged_costs: int  # fee + tax on the fills
    # Money of the line is in its currency's minor unit: won, or cents for a US stock (plan price, fills,
    # slippage, costs), with `rate` (won a dollar, KIS's, as text) for its won values.
    currency: str = "KRW"
    rate: str | None = None

    @property
    def is_us(self) -> bool:
        return self.currency != "KRW"

    def krw(self, amount: int) -> int:
        """`amount` of the line's minor unit in won (at the plan's rate for a US line)."""
        return to_krw(amount, Decimal(self.rate or 0)) if self.is_us else amount

    @property
    def filled_krw(self) -> int:
        return self.krw(self.filled_amount)
    arrival_mid2: int = 0  # bid + ask when the stock's first order was sent (0: the book was not read)
    booked_qty: int = 0  # shares filled by orders sent with the book read
    booked_amount: int = 0  # their fill value, won
    spread_paid2: int = 0  # twice the won those fills paid past the mid at their send (negative: earned)
    passive_qty: int = 0  # shares filled by passive orders (joined the own side's best)

    @property
    def avg_price(self) -> int:
        """Average fill price, rounded to the won or cent (0 when nothing filled)."""
        return round(self.filled_amount / self.filled_qty) if self.filled_qty else 0

    @property
    def slippage(self) -> int:
        """Won lost against the plan price on the filled shares (negative: better than planned)."""
        at_plan = self.filled_qty * self.plan_price
        return self.filled_amount - at_plan if self.side == "buy" else at_plan - self.filled_amount

    @property
    def slippage_bp(self) -> float:
        at_plan = self.filled_qty * self.plan_price
        return 10_000 * self.slippage / at_plan if at_plan else 0.0

    @property
    def shortfall2(self) -> int:
        """Twice the won the fills cost against the arrival mid (positive: worse than the mid)."""
        if not self.arrival_mid2:
            return 0
        at_mid2 = self.filled_qty * self.arrival_mid2
        return 2 * self.filled_amount - at_mid2 if self.side == "buy" else at_mid2 - 2 * self.filled_amount

    @property
    def shortfall(self) -> int:
        """Won lost against the arrival mid on the filled shares, rounded half away from zero."""
        return _half(self.shortfall2)

    @property
    def shortfall_bp(self) -> float:
        at_mid2 = self.filled_qty * self.arrival_mid2
        return 10_000 * self.shortfall2 / at_mid2 if at_mid2 else 0.0

    @property
    def spread_paid(self) -> int:
        """Won the fills paid past the mid at their order's send (negative: a passive fill earned it)."""
        return _half(self.spread_paid2)

    @property
    def spread_bp(self) -> float:
        at_mid2 = 2 * self.booked_amount - self.spread_paid2 if self.side == "buy" else 2 * self.booked_amount \
            + self.spread_paid2
        return 10_000 * self.spread_paid2 / at_mid2 if at_mid2 > 0 else 0.0

    @property
    def passive_share(self) -> float:
        """Of the filled shares, the share filled passively (0..1)."""
        return self.passive_qty / self.filled_qty if self.filled_qty else 0.0


def _half(doubled: int) -> int:
    """Half of a doubled won amount, half away from zero."""
    return (doubled + 1) // 2 if doubled >= 0 else -((-doubled + 1) // 2)


@dataclass(frozen=True)
class Receipt:
    run_id: str
    plan_id: str
    state: str  # finished, cancelled
    lines: tuple[ReceiptLine, ...]
    cash_after_plan: int  # what the plan expected
    cash_after: int | None  # D+2 cash read from the balance at the end; None when it could not be read
    shortfalls: tuple[Shortfall, ...] = ()  # the stocks that ended short, with how many shares and why

    # Totals are in won: a US line's at the plan's rate.
    @property
    def slippage(self) -> int:
        return sum(line.krw(line.slippage) for line in self.lines)

    @property
    def slippage_bp(self) -> float:
        at_plan = sum(line.krw(line.filled_qty * line.plan_price) for line in self.lines)
        return 10_000 * self.slippage / at_plan if at_plan else 0.0

    @property
    def booked(self) -> bool:
        """Some stock's arrival mid is known: the shortfall and spread figures mean something."""
        return any(line.arrival_mid2 and line.filled_qty for line in self.lines)

    @property
    def shortfall(self) -> int:
        return _half(sum(line.shortfall2 for line in self.lines))

    @property
    def shortfall_bp(self) -> float:
        at_mid2 = sum(line.filled_qty * line.arrival_mid2 for line in self.lines if line.arrival_mid2)
        return 10_000 * sum(line.shortfall2 for line in self.lines) / at_mid2 if at_mid2 else 0.0

    @property
    def spread_paid(self) -> int:
        return _half(sum(line.spread_paid2 for line in self.lines))

    @property
    def spread_bp(self) -> float:
        at_mid2 = sum(2 * line.booked_amount - line.spread_paid2 if line.side == "buy"
                      else 2 * line.booked_amount + line.spread_paid2 for line in self.lines)
        return 10_000 * sum(line.spread_paid2 for line in self.lines) / at_mid2 if at_mid2 > 0 else 0.0

    @property
    def passive_share(self) -> float:
        filled = sum(line.filled_qty for line in self.lines)
        return sum(line.passive_qty for line in self.lines) / filled if filled else 0.0

    @property
    def est_costs(self) -> int:
        return sum(line.krw(line.est_costs) for line in self.lines)

    @property
    def charged_costs(self) -> int:
        return sum(line.krw(line.charged_costs) for line in self.lines)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Receipt":
        data = json.loads(text)
        data["lines"] = tuple(ReceiptLine(**line) for line in data["lines"])
        data["shortfalls"] = tuple(
            Shortfall(**{**short, "side": OrderSide(short["side"]),
                         "parts": tuple((ShortReason(reason), qty) for reason, qty in short["parts"])})
            for short in data.get("shortfalls", ()))  # a receipt saved before issue 19 has none
        return cls(**data)


def build_receipt(run_id: str, plan: Plan, orders: Iterable, cash_after: int | None, state: str = "finished",
                  rates: CostRates = CostRates(), us_rates: UsCostRates = UsCostRates()) -> Receipt:
    """The receipt of `plan` from its orders (anything with code, side, filled_qty, filled_amount)."""
    orders = list(orders)
    lines = []
    for line in plan.lines:
        if not line.order_qty:
            continue
        side = line.side
        mine = [o for o in orders if o.code == line.code and o.side is side and o.filled_qty > 0]
        if line.is_us:  # cents: KIS's US commission (and the SEC fee and TAF on sells), no tax
            currency = market_named(line.market).currency
            if side is OrderSide.BUY:
                est = us_rates.buy_cost(line.order_amount)
                charged = sum(us_rates.buy_cost(o.filled_amount) for o in mine)
            else:
                est = us_rates.sell_cost(line.order_amount, abs(line.order_qty))
                charged = sum(us_rates.sell_cost(o.filled_amount, o.filled_qty) for o in mine)
            lines.append(ReceiptLine(
                code=line.code, name=line.name, side=side.label, planned_qty=abs(line.order_qty),
                filled_qty=sum(o.filled_qty for o in mine), plan_price=currency.minor(line.price),
                filled_amount=sum(o.filled_amount for o in mine), est_costs=est, charged_costs=charged,
                currency=currency.code, rate=None if line.rate is None else str(line.rate)))
            continue
        if side is OrderSide.BUY:
            est = rates.buy_cost(line.order_value)
            charged = sum(rates.buy_cost(o.filled_amount) for o in mine)
        else:
            est = rates.sell_cost(line.order_value, taxed=not line.tax_free)
            charged = sum(rates.sell_cost(o.filled_amount, taxed=not line.tax_free) for o in mine)
        lines.append(ReceiptLine(
            code=line.code, name=line.name, side=side.label, planned_qty=abs(line.order_qty),
            filled_qty=sum(o.filled_qty for o in mine), plan_price=line.price,
            filled_amount=sum(o.filled_amount for o in mine), est_costs=est, charged_costs=charged,
            **_against_the_book(side, [o for o in orders if o.code == line.code and o.side is side])))
    return Receipt(run_id, plan.id, state, tuple(lines), plan.cash_after, cash_after)


def _mid2(order) -> int:
    bid, ask = getattr(order, "bid", 0), getattr(order, "ask", 0)
    return bid + ask if 0 < bid < ask else 0


def _against_the_book(side: OrderSide, orders: list) -> dict:
    """A stock's figures against the book from its orders in the order they were sent (journal ids)."""
    booked = [o for o in orders if _mid2(o)]
    if not booked:
        return {}
    first = min(booked, key=lambda o: (o.sent_at, o.id) if hasattr(o, "sent_at") else (0, getattr(o, "id", 0)))
    sign = 1 if side is OrderSide.BUY else -1
    filled = [o for o in booked if o.filled_qty > 0]
    return {
        "arrival_mid2": _mid2(first),
        "booked_qty": sum(o.filled_qty for o in filled),
        "booked_amount": sum(o.filled_amount for o in filled),
        "spread_paid2": sum(sign * (2 * o.filled_amount - o.filled_qty * _mid2(o)) for o in filled),
        "passive_qty": sum(o.filled_qty for o in orders if getattr(o, "passive", False) and o.filled_qty > 0),
    }


class ReceiptStore:
    """The last receipt of one account, in its own table of the journal's SQLite file."""

    def __init__(self, path: str | Path, account: object):
        self.account = str(account)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(Path(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("CREATE TABLE IF NOT EXISTS receipts (account TEXT PRIMARY KEY, run_id TEXT NOT NULL, "
                         "receipt_json TEXT NOT NULL)")
        with self._lock:
            fresh = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'receipt_log'").fetchone() is None
            # `at` NULL: a receipt kept before the log existed (the last one per account), counted in `all` only.
            self._db.execute("CREATE TABLE IF NOT EXISTS receipt_log (account TEXT NOT NULL, run_id TEXT NOT NULL, "
                             "at TEXT, receipt_json TEXT NOT NULL, PRIMARY KEY (account, run_id))")
            if fresh:
                self._db.execute("INSERT OR IGNORE INTO receipt_log SELECT account, run_id, NULL, receipt_json "
                                 "FROM receipts")

    def save(self, receipt: Receipt, at: datetime | None = None) -> None:
        """Keep `receipt` as the last one and in the log, kept at `at` (now when not given)."""
        at = at or datetime.now(timezone.utc)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO receipts VALUES (?, ?, ?)",
                             (self.account, receipt.run_id, receipt.to_json()))
            self._db.execute("INSERT OR REPLACE INTO receipt_log VALUES (?, ?, ?, ?)",
                             (self.account, receipt.run_id, at.isoformat(), receipt.to_json()))

    def costs(self, since: datetime | None = None) -> int:
        """Fees and tax charged by the runs kept at or after `since` (every run when None)."""
        with self._lock:
            rows = self._db.execute("SELECT at, receipt_json FROM receipt_log WHERE account = ?",
                                    (self.account,)).fetchall()
        total = 0
        for at, text in rows:
            if since is not None and (at is None or datetime.fromisoformat(at) < since):
                continue
            try:
                total += Receipt.from_json(text).charged_costs
            except (ValueError, KeyError, TypeError):
                continue
        return total

    def kept_at(self, run_id: str) -> datetime | None:
        """When the receipt of `run_id` was kept (None: unknown, or kept before the log had times)."""
        with self._lock:
            row = self._db.execute("SELECT at FROM receipt_log WHERE account = ? AND run_id = ?",
                                   (self.account, run_id)).fetchone()
        try:
            return datetime.fromisoformat(row[0]) if row and row[0] else None
        except ValueError:
            return None

    def find(self, run_id: str) -> Receipt | None:
        """The receipt of `run_id` from the log, or None when it was never kept (or is unreadable)."""
        with self._lock:
            row = self._db.execute("SELECT receipt_json FROM receipt_log WHERE account = ? AND run_id = ?",
                                   (self.account, run_id)).fetchone()
        try:
            return Receipt.from_json(row[0]) if row else None
        except (ValueError, KeyError, TypeError):
            return None

    def last(self) -> Receipt | None:
        with self._lock:
            row = self._db.execute("SELECT receipt_json FROM receipts WHERE account = ?", (self.account,)).fetchone()
        if row is None:
            return None
        try:
            return Receipt.from_json(row[0])
        except (ValueError, KeyError, TypeError):
            return None
