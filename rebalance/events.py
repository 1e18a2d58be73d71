"""Typed events the TWAP executor emits; the bot turns them into messages.

The executor knows nothing of Telegram: it calls `on_event(event)` from its worker thread.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kis.models import OrderSide
from rebalance.i18n import Msg, t


@dataclass(frozen=True)
class StockResult:
    """Target vs actual holding of one stock at the end of a run; `difference` (차이) is what is still to trade."""

    code: str
    name: str
    start_qty: int
    target_qty: int
    actual_qty: int

    @property
    def difference(self) -> int:
        return self.target_qty - self.actual_qty


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    plan_id: str
    start: datetime
    end: datetime
    slices: int
    resumed: bool = False


@dataclass(frozen=True)
class OrderSent:
    run_id: str
    code: str
    side: OrderSide
    qty: int
    order_no: str


@dataclass(frozen=True)
class Filled:
    run_id: str
    code: str
    name: str
    side: OrderSide
    qty: int  # this fill increment
    price: int  # average price of the increment
    done_qty: int  # filled so far for this stock in this run
    order_qty: int  # what the run must trade for this stock
    progress: float  # 0..1 over the whole run
    currency: str = "KRW"  # of `price`: won, or cents of a dollar for a US stock


@dataclass(frozen=True)
class OrderRejected:
    run_id: str
    code: str
    side: OrderSide
    qty: int
    msg_cd: str
    message: str


@dataclass(frozen=True)
class WaitingForCash:
    run_id: str
    code: str
    needed: int  # won (cents for a US stock)
    available: int  # won (cents for a US stock)
    currency: str = "KRW"


@dataclass(frozen=True)
class UnresolvedOrder:
    """An order that may have reached KIS but that KIS has not (unambiguously) listed."""

    code: str
    name: str
    side: OrderSide
    qty: int
    sent_at: datetime
    candidates: int = 0  # today's orders that could be it: 0 none yet, 2+ ambiguous
    open_qty: int = 0  # > 0: KIS lists it (as `order_no`) still open after the run's cancels failed
    order_no: str = ""

    @property
    def what_to_check(self) -> str:
        """One sentence for the user: what to look for before trading the stock again."""
        where, side, at = t("misc_replies.where_to_look"), t(f"side.{self.side.label}"), f"{self.sent_at:%H:%M:%S}"
        if self.open_qty:
            return t("misc_replies.check_open", side=side, order=self.order_no.lstrip("0"), code=self.code, qty=self.qty,
                     open=self.open_qty, where=where)
        if self.candidates > 1:
            return t("misc_replies.check_candidates", n=self.candidates, side=side, code=self.code, qty=self.qty, at=at,
                     where=where)
        return t("misc_replies.check_unanswered", side=side, code=self.code, qty=self.qty, at=at, where=where)


@dataclass(frozen=True)
class ToCheck:
    """Orders the user must check, as one clause in the language current where it is shown (a `Msg` field)."""

    orders: tuple[UnresolvedOrder, ...]

    def __format__(self, spec: str) -> str:
        return format("; ".join(o.what_to_check for o in self.orders), spec)


@dataclass(frozen=True)
class NeedsCheck:
    """During a run: an unanswered order matches several of today's orders; it keeps counting."""

    run_id: str
    order: UnresolvedOrder


@dataclass(frozen=True)
class PriceBeyondGuard:
    """The price ran past the guard of a resting order: that stock gets no more orders in this run."""

    run_id: str
    code: str
    name: str
    side: OrderSide
    limit: int  # the resting order's limit price
    price: int  # the latest price
    guard: float  # fraction, 0.01 = 1 %
    currency: str = "KRW"  # of the prices: won, or cents for a US stock


@dataclass(frozen=True)
class Finished:
    run_id: str
    results: tuple[StockResult, ...]
    unresolved: tuple[UnresolvedOrder, ...] = ()  # non-empty: the run ended without knowing these
    receipt: Any = None  # rebalance.receipt.Receipt
    shortfalls: tuple = ()  # rebalance.shortfall.Shortfall per stock that ended short, and why


@dataclass(frozen=True)
class Cancelled:
    run_id: str
    cancelled_orders: int
    results: tuple[StockResult, ...]
    unresolved: tuple[UnresolvedOrder, ...] = ()
    receipt: Any = None  # rebalance.receipt.Receipt
    shortfalls: tuple = ()  # rebalance.shortfall.Shortfall per stock that ended short, and why


@dataclass(frozen=True)
class Failed:
    run_id: str
    reason: "str | Msg"  # a Msg is put into words where the chat reads it


@dataclass(frozen=True)
class NoticeStatus:
    """Something the user must know about KIS's order/fill notices (e.g. the subscription was refused)."""

    text: str


Event = (RunStarted | OrderSent | Filled | OrderRejected | WaitingForCash | NeedsCheck | PriceBeyondGuard | Finished
         | Cancelled | Failed | NoticeStatus)
