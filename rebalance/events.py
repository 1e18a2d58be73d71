"""Typed events the TWAP executor emits; the bot turns them into messages.

The executor knows nothing of Telegram: it calls `on_event(event)` from its worker thread.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kis.models import OrderSide


@dataclass(frozen=True)
class StockResult:
    """Target vs actual for one stock at the end of a run (the seed's 차이 table)."""

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
    needed: int  # won
    available: int  # won


@dataclass(frozen=True)
class Finished:
    run_id: str
    results: tuple[StockResult, ...]
    receipt: Any = None  # rebalance.receipt.Receipt


@dataclass(frozen=True)
class Cancelled:
    run_id: str
    cancelled_orders: int
    results: tuple[StockResult, ...]
    receipt: Any = None  # rebalance.receipt.Receipt


@dataclass(frozen=True)
class Failed:
    run_id: str
    reason: str


Event = RunStarted | OrderSent | Filled | OrderRejected | WaitingForCash | Finished | Cancelled | Failed
