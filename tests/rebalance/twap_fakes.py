"""An in-memory broker with the `KisClient` methods the TWAP executor uses, and plan helpers.

It keeps an order log (to prove no order was sent twice), fills on the executor's fake clock, and
has switches for every way an order can go wrong: rejection, lost answer, resting, partial fills,
late cash, and a crash (SystemExit, which ends a thread silently, like a killed process).
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Callable

import pytest

from kis.errors import KisError, KisTransportError, OrderUncertain
from kis.krx import KST
from kis.models import Balance, BuyingPower, Holding, OrderAck, OrderSide, OrderStatus, OrderType, Quote
from kis.orders import matching_orders
from rebalance.model import Plan, PlanLine
from rebalance.testing import FakeClock

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=KST)


@pytest.fixture
def quiet_crashes(monkeypatch):
    """A simulated crash ends its thread on purpose: keep it out of pytest's unhandled-thread report."""
    report = threading.excepthook

    def hook(args):
        if not issubclass(args.exc_type, SystemExit):
            report(args)

    monkeypatch.setattr(threading, "excepthook", hook)


crashes = pytest.mark.usefixtures("quiet_crashes")


def Crash(why: str) -> SystemExit:
    """The process 'dies' here: a thread ends silently on SystemExit, the journal stays as it was."""
    return SystemExit(why)


@dataclass
class BrokerOrder:
    order_no: str
    code: str
    side: OrderSide
    qty: int
    order_type: OrderType
    price: int
    time: str
    filled: int = 0
    amount: int = 0
    cancelled: bool = False
    visible_at: datetime | None = None  # before this, today's-orders inquiries do not show it yet
    cancel_pending: bool = False  # a cancel of its rest was accepted; the exchange has not confirmed it yet

    @property
    def remaining(self) -> int:
        return 0 if self.cancelled else self.qty - self.filled


@dataclass
class CancelRow:
    """A cancel as today's orders list it: its own number, pointing at the original (orgn_odno).

    `confirmed` is cnc_cfrm_qty: 0 until the exchange confirms it, then the shares it really cancelled
    (fewer than asked when fills won the race); `refused` is rjct_qty (nothing was left to cancel).
    """

    order_no: str
    original: BrokerOrder
    qty: int
    time: str
    confirmed: int = 0
    refused: int = 0


@dataclass
class FakeBroker:
    """A one-account exchange in memory. `fill` is "now", "rest" (never fills) or "half" (half now, rest next poll).

    It keeps KIS's cash rule: a buy without a price reserves qty x the upper limit (+30 %), a limit buy
    qty x its limit; a limit order fills only while the price is at or better than its limit.
    """

    clock: FakeClock
    prices: dict[str, int]
    holdings: dict[str, int] = field(default_factory=dict)
    cash: int = 0
    fill: str = "now"
    rate_limit: float = 10.0
    reject: dict[str, list[KisError]] = field(default_factory=dict)  # code -> errors for the next orders
    lose_answer: Callable[[BrokerOrder], bool] | None = None  # True: the order arrives, its ack is lost
    drop_before_arrival: Callable[[str, OrderSide, int], bool] | None = None  # True: lost before the exchange
    crash_before_send: Callable[[str, OrderSide, int], bool] | None = None
    crash_after_send: Callable[[BrokerOrder], bool] | None = None
    deposits: list[tuple[datetime, int]] = field(default_factory=list)  # cash that arrives at a time
    fail_balance: Exception | None = None
    overstate_power: int = 0  # buying power reports this much more cash than the order check allows
    fail_cancels: int = 0  # the next cancels get no answer and change nothing
    cancels_confirm: str = "now"  # "later": a cancel is accepted at once, confirmed by confirm_cancels()
    lose_cancel_answer: Callable[[BrokerOrder], bool] | None = None  # True: the cancel is taken, its answer lost
    cancel_rows: list[CancelRow] = field(default_factory=list)
    margin_credit: int = 0  # ord_psbl_cash includes this credit (미수); the no-margin amount does not
    poll_takes: float = 0.0  # seconds of clock time one orders_today call takes (many pages)
    show_late: Callable[[BrokerOrder], float] | None = None  # seconds an order stays out of inquiries
    fail_quotes: int = 0  # the next price calls fail
    fail_polls: bool = False  # today's-orders inquiries fail (KIS down for reads)
    orders: list[BrokerOrder] = field(default_factory=list)
    calls: list[tuple[str, datetime]] = field(default_factory=list)
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def config(self):
        return SimpleNamespace(account="50000000-01", rate_limit=self.rate_limit)

    # the KisClient surface ---------------------------------------------------------------------------
    def order(self, code, side, qty, order_type=OrderType.LIMIT, price=0):
        self._call("order")
        if self.crash_before_send and self.crash_before_send(code, side, qty):
            raise Crash("killed before the order left")
        errors = self.reject.get(code)
        if errors:
            raise errors.pop(0)
        if self.drop_before_arrival and self.drop_before_arrival(code, side, qty):
            raise OrderUncertain(f"no answer for {code}")
        if side is OrderSide.SELL and qty > self.holdings.get(code, 0) - self._open_sells(code):
            raise KisError("APBK0400", "주문가능수량을 초과하였습니다")
        if side is OrderSide.BUY and qty * self._reserve_unit(code, order_type, price) > self._free_cash():
            raise KisError("APBK0952", "주문가능금액을 초과 했습니다")
        with self._lock:
            placed = BrokerOrder(f"{next(self._numbers):010d}", code, side, qty, order_type, price,
                                 self.clock.now().strftime("%H%M%S"))
            self.orders.append(placed)
            if self.show_late:
                placed.visible_at = self.clock.now() + timedelta(seconds=self.show_late(placed))
        if self.fill == "now":
            self._fill(placed, qty)
        elif self.fill == "half":
            self._fill(placed, qty // 2)
        if self.crash_after_send and self.crash_after_send(placed):
            raise Crash("killed after the order left, before its answer")
        if self.lose_answer and self.lose_answer(placed):
            raise OrderUncertain(f"no answer for {code}")
        return OrderAck(placed.order_no.lstrip("0"), "06010", code, side, qty, order_type, price, placed.time)

    def price(self, code):
        self._call("price")
        if self.fail_quotes > 0:
            self.fail_quotes -= 1
            raise KisTransportError("no answer from KIS (GET inquire-price: ReadTimeout)")
        p = self.prices[code]
        return Quote(code, p, 0, 0.0, upper_limit=self.upper(code), lower_limit=max(1, p * 7 // 10), at=self.clock.now())

    def upper(self, code: str) -> int:
        return self.prices[code] * 13 // 10

    def orders_today(self, code=None, *, wanted=None):
        self._call("orders_today")
        if self.fail_polls:
            raise KisTransportError("no answer from KIS (GET inquire-daily-ccld: ReadTimeout)")
        if self.poll_takes:
            self.clock.advance(self.poll_takes)
        if self.fill in ("half", "now"):  # a limit order fills once the price comes back to it
            for o in self.orders:
                if o.remaining:
                    self._fill(o, o.remaining)
        now = self.clock.now()
        return [self._status(o) for o in self.orders
                if (code is None or o.code == code) and (o.visible_at is None or o.visible_at <= now)] + [
            self._cancel_status(c) for c in self.cancel_rows if code is None or c.original.code == code]

    def cancel(self, order_no, org_no, qty=0):
        self._call("cancel")
        if self.fail_cancels > 0:
            self.fail_cancels -= 1
            raise KisTransportError("no answer from KIS (POST order-rvsecncl: ReadTimeout)")
        order = next(o for o in self.orders if o.order_no.lstrip("0") == order_no.lstrip("0"))
        if not order.remaining or order.cancel_pending:
            raise KisError("APBK0999", "정정취소가능수량이 없습니다")
        row = CancelRow(f"{next(self._numbers):010d}", order, order.remaining, self.clock.now().strftime("%H%M%S"))
        self.cancel_rows.append(row)
        if self.cancels_confirm == "later":
            order.cancel_pending = True
        else:
            row.confirmed = order.remaining
            order.cancelled = True
        if self.lose_cancel_answer and self.lose_cancel_answer(order):
            raise OrderUncertain(f"the cancel of order {order_no} got no answer")
        return OrderAck(row.order_no, org_no, order.code, order.side, order.qty, order.order_type)

    def confirm_cancels(self) -> None:
        """The exchange confirms every pending cancel: what fills left of each order is cancelled."""
        for row in self.cancel_rows:
            if row.original.cancel_pending:
                row.original.cancel_pending = False
                rest = row.original.remaining
                if rest:
                    row.confirmed = rest
                    row.original.cancelled = True
                else:
                    row.refused = row.qty

    def buying_power(self, code, price=0, order_type=OrderType.MARKET):
        self._call("buying_power")
        free = self._free_cash() + self.overstate_power
        unit = self._reserve_unit(code, order_type, price)
        return BuyingPower(code, free + self.margin_credit, free, max(0, free) // unit, unit)

    def balance(self):
        self._call("balance")
        if self.fail_balance:
            raise self.fail_balance
        rows = tuple(Holding(c, c, q, q, self.prices[c], self.prices[c], q * self.prices[c], 0, 0, 0.0)
                     for c, q in self.holdings.items() if q)
        value = sum(h.value for h in rows)
        return Balance(rows, self.cash, self.cash, value, value + self.cash, 0)

    # helpers -----------------------------------------------------------------------------------------
    def sent(self, code: str | None = None, side: OrderSide | None = None) -> list[BrokerOrder]:
        return [o for o in self.orders if (code is None or o.code == code) and (side is None or o.side is side)]

    def _call(self, what: str) -> None:
        self.calls.append((what, self.clock.now()))
        for at, amount in list(self.deposits):
            if self.clock.now() >= at:
                self.cash += amount
                self.deposits.remove((at, amount))

    def _fill(self, order: BrokerOrder, qty: int) -> None:
        price = self.prices[order.code]
        if qty <= 0 or not self._marketable(order, price):
            return
        order.filled += qty
        order.amount += qty * price
        sign = 1 if order.side is OrderSide.BUY else -1
        self.holdings[order.code] = self.holdings.get(order.code, 0) + sign * qty
        self.cash -= sign * qty * price

    def _open_sells(self, code: str) -> int:
        return sum(o.remaining for o in self.orders if o.code == code and o.side is OrderSide.SELL)

    def _free_cash(self) -> int:
        reserved = sum(o.remaining * self._reserve_unit(o.code, o.order_type, o.price) for o in self.orders
                       if o.side is OrderSide.BUY)
        return self.cash - reserved

    def _reserve_unit(self, code: str, order_type: OrderType, price: int) -> int:
        """KIS costs a buy at its limit, and a buy without a price at the day's upper limit."""
        return price if order_type is OrderType.LIMIT and price else self.upper(code)

    @staticmethod
    def _marketable(order: BrokerOrder, price: int) -> bool:
        if order.order_type is not OrderType.LIMIT:
            return True
        return price <= order.price if order.side is OrderSide.BUY else price >= order.price

    def _status(self, o: BrokerOrder) -> OrderStatus:
        return OrderStatus(o.order_no, "06010", "", o.code, o.code, o.side, o.order_type, o.qty, o.price,
                           o.filled, o.remaining, o.amount // o.filled if o.filled else 0, o.amount,
                           o.cancelled, cancelled_qty=o.qty - o.filled if o.cancelled else 0, time=o.time)

    @staticmethod
    def _cancel_status(c: CancelRow) -> OrderStatus:
        o = c.original
        return OrderStatus(c.order_no, "06010", o.order_no, o.code, o.code, o.side, o.order_type, c.qty, 0, 0, 0, 0, 0,
                           True, rejected_qty=c.refused, cancelled_qty=c.confirmed, time=c.time)


def line(code: str, price: int, current: int, target: int) -> PlanLine:
    return PlanLine(code, f"stock {code}", price, current, target, 0.0, 0.0)


def make_plan(*lines: PlanLine, cash: int = 0, plan_id: str = "p1") -> Plan:
    total = cash + sum(ln.price * ln.current_qty for ln in lines)
    return Plan(plan_id, tuple(lines), cash, total, total, 0, T0, T0 + timedelta(minutes=10))


class Recorder:
    """Collects events; can act on one (cancel, crash) from the worker thread."""

    def __init__(self, on: Callable[[object], None] | None = None):
        self.events: list[object] = []
        self.on = on
        self._lock = threading.Lock()

    def __call__(self, event: object) -> None:
        with self._lock:
            self.events.append(event)
        if self.on:
            self.on(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]
