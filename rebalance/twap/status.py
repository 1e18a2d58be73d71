"""Where a run stands, read from the journal: per stock shares done, open and unresolved of those to trade."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kis.models import OrderSide
from rebalance.journal import Journal
from rebalance.lifecycle import RunState
from rebalance.twap.legs import Legs


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
    market: str = "KRX"  # KRX, NASD, NYSE, AMEX


@dataclass(frozen=True)
class MarketProgress:
    """One market's part of a run (issue 22): its window and how far its stocks are."""

    leg: str  # KRX, US
    start: datetime
    end: datetime
    progress: float  # 0..1 of this market's shares to trade

    def opens_in(self, now: datetime) -> timedelta:
        """How long until its window opens (zero once open)."""
        return max(timedelta(0), self.start - now)


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
    markets: tuple[MarketProgress, ...] = ()  # one per market when a run trades more than one
    now: datetime | None = None  # when the status was read (a market's window opens in start - now)

    @property
    def active(self) -> bool:
        return self.state.active


def run_status(journal: Journal, run_id: str, now: datetime) -> RunStatus:
    """Progress of a run from the journal: filled shares per stock against the shares to trade."""
    run = journal.run(run_id)
    orders = journal.orders(run_id)
    stocks = []
    market_of = {line.code: line.market for line in run.plan.lines}
    for stock in journal.stocks(run_id):
        mine = [o for o in orders if o.code == stock.code]
        stocks.append(StockProgress(stock.code, stock.name, stock.side, sum(o.filled_qty for o in mine),
                                    stock.goal, sum(o.open_qty for o in mine), stock.waiting,
                                    sum(o.qty for o in mine if o.state.unsettled), stock.halted,
                                    market_of.get(stock.code, "KRX")))
    progress = _progress(stocks)
    left = max(timedelta(0), run.window.end - max(now, run.window.start)) if run.state.active else timedelta(0)
    markets = []
    legs = Legs(None)
    for window in journal.windows(run_id):
        own = [s for s in stocks if legs.of(s.market).key == window.leg]
        markets.append(MarketProgress(window.leg, window.window.start, window.window.end, _progress(own)))
    return RunStatus(run.id, run.plan.id, run.state, run.window.start, run.window.end, tuple(stocks), progress,
                     left, run.reason, tuple(markets), now)


def _progress(stocks: list[StockProgress]) -> float:
    goal = sum(s.order_qty for s in stocks)
    return min(1.0, sum(s.done_qty for s in stocks) / goal) if goal else 1.0
