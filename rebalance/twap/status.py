"""Where a run stands, read from the journal: per stock shares done, open and unresolved of those to trade."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kis.models import OrderSide
from rebalance.journal import Journal
from rebalance.lifecycle import RunState


@dataclass(frozen=True)
class StockProgress:
    """One stock of a run: shares done of the shares to trade."""

    code: str
    name: str
    side: OrderSide
    done_qty: int
    order_qty: int  # shares this run trades for the stock
    open_qty: int  # placed and still resting at the exchange
    waiting_for_cash: bool
    unresolved_qty: int = 0  # sent without an answer and not listed by KIS yet: counted as live
    halted: bool = False  # the price ran past the guard: no more orders for this stock


@dataclass(frozen=True)
class RunStatus:
    """Where a run stands, for `/status` and the resume message."""

    run_id: str
    plan_id: str
    state: RunState
    start: datetime
    end: datetime
    stocks: tuple[StockProgress, ...]
    progress: float  # 0..1 of all shares to trade
    time_left: timedelta
    reason: str = ""

    @property
    def active(self) -> bool:
        return self.state.active


def run_status(journal: Journal, run_id: str, now: datetime) -> RunStatus:
    """Progress of a run from the journal: filled shares per stock against the shares to trade."""
    run = journal.run(run_id)
    orders = journal.orders(run_id)
    stocks = []
    for stock in journal.stocks(run_id):
        mine = [o for o in orders if o.code == stock.code]
        stocks.append(StockProgress(stock.code, stock.name, stock.side, sum(o.filled_qty for o in mine),
                                    stock.goal, sum(o.open_qty for o in mine), stock.waiting,
                                    sum(o.qty for o in mine if o.state.unsettled), stock.halted))
    goal = sum(s.order_qty for s in stocks)
    progress = min(1.0, sum(s.done_qty for s in stocks) / goal) if goal else 1.0
    left = max(timedelta(0), run.window.end - max(now, run.window.start)) if run.state.active else timedelta(0)
    return RunStatus(run.id, run.plan.id, run.state, run.window.start, run.window.end, tuple(stocks), progress,
                     left, run.reason)
