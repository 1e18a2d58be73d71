"""TWAP execution of a confirmed plan in a worker thread, journaled so nothing is lost or sent twice.

`TwapExecutor` is the facade the bot uses (start, cancel, status, resume, wait); `_Worker` is one
run's thread: a `schedule` scheduler on the injected clock fires slices, fill polls, the catch-up pass
and the end, and sleeps in between on the cancel event. What the exchange shows is turned into
journal updates by the pure functions of `rebalance.reconcile`; the worker only reads and applies.
KIS's order/fill notices, when on, reach the same journal through `rebalance.notices` and `observe`.
"""
from __future__ import annotations

import logging
import math
import os
import threading
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable

from kis.errors import KisError, KisTransportError, NotSent, OrderUncertain, RateLimited
from kis.krx import KST
from kis.models import BuyingPower, OrderSide, OrderStatus, OrderType, Quote
from kis import NoticeKind, same_order_no
from kis.ticks import STOCK, grid_for, round_to_tick
from rebalance.broker import Broker
from rebalance.clock import Clock, ClockScheduler, SystemClock
from rebalance.events import (
    Cancelled, Event, Failed, Filled, Finished, NeedsCheck, OrderRejected, OrderSent, PriceBeyondGuard, RunStarted,
    StockResult, UnresolvedOrder, WaitingForCash,
)
from rebalance.journal import Journal, OrderRecord, RunActive, RunRecord, StockRecord
from rebalance.lifecycle import OrderKind, OrderState, RunState
from rebalance.i18n import t
from rebalance.model import Plan
from rebalance.notices import (
    PRICE_FRESH_SECONDS, NoticeConsumer, NoticeFeed, PriceFeed, fill_status, streamed_quote, unsettled_match,
)
from rebalance.reconcile import Ambiguous, Found, NewFill, RuledOut, observe, reconcile
from rebalance.receipt import Receipt, build_receipt
from rebalance.runlock import RunLock
# KIS refuses an order that needs more cash than the account has with APBK0952 "주문가능금액을 초과";
# the wording is matched too, since mock and real do not always share codes.
from rebalance.shortfall import CASH_SHORT_CODE, CASH_SHORT_WORDING, shortfalls
from rebalance.slicing import slice_plan
from rebalance.window import TwapSettings, Window

log = logging.getLogger(__name__)

READ_ERRORS = (KisError, KisTransportError)  # kis raises nothing else for a failed call
END_BALANCE_TRIES = 3
CANCEL_PASSES = 3  # rounds of cancelling what still rests when a run ends
CONFIRM_GAP = 1.0  # seconds between two looks at today's orders while a cancel KIS took is unconfirmed
POLL_GAP_MARGIN = 0.05  # seconds of slack a poll leaves before the next slice

__all__ = ["RunActive", "RunStatus", "StockProgress", "TwapExecutor"]


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

class TwapExecutor:
    """Runs one plan at a time per account as TWAP orders; every order goes through the journal."""

    def __init__(self, client: Broker, journal: Journal, settings: TwapSettings, on_event: Callable[[Event], None],
                 clock: Clock | None = None, *, account: str | None = None, notices: NoticeFeed | None = None):
        self.client = client
        self.journal = journal
        self.settings = settings
        self.on_event = on_event
        self.clock = clock or SystemClock()
        self.account = account or str(client.config.account)
        self.rate = settings.call_rate or float(client.config.rate_limit)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._alarm = threading.Event()  # wakes the worker: a cancel or a notice
        self.notices = notices  # KIS's order/fill notices (kis.notices.NoticeStream); None: polling only
        self.notice_stats = None  # the current run's rebalance.notices.NoticeStats
        self.quote_sources = None  # the current run's prices: {"streamed": n, "asked": n}
        self._run_id: str | None = None
        slug = "".join(ch if ch.isalnum() else "_" for ch in self.account)
        self._process_lock = RunLock(journal.path.with_name(f"run-{slug}.lock"))

    def start(self, plan: Plan, window: Window) -> str:
        """Journal the run and its slices, then trade them in a worker thread; RunActive if one runs."""
        if plan.manual:
            raise ValueError(t("accounts.read_only"))
        if plan.us_legs:  # US orders come with the orders slice (issue 22): refused before anything is journaled
            raise ValueError(t("usplan.executor_refuses", tickers=", ".join(line.code for line in plan.us_legs)))
        if not plan.has_orders:
            raise ValueError("the plan has nothing to trade")
        now = self.clock.now()
        if window.end <= now:
            raise ValueError(f"the window ended at {window.end:%H:%M}; pick a later window")
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise RunActive(self._run_id or "")
            self._lock_account()
            try:
                schedule = slice_plan(plan.lines, window, self.settings, self.rate)
                run_id = f"{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
                self.journal.create_run(run_id, self.account, plan, window, schedule, self.settings.order_type, now,
                                        self.settings.price_guard)
            except BaseException:
                self._process_lock.release()
                raise
            self._launch(run_id, resumed=False)
            return run_id

    def resume(self) -> RunStatus | None:
        """Resume the run a crash left active for this account (call on start); None if there is none."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                run = self.journal.active_run(self.account)
                if run is None:
                    return None
                self._lock_account(run.id)
                self._launch(run.id, resumed=True)
        return self.status()

    def _lock_account(self, run_id: str = "") -> None:
        """Only one process drives this account's runs; the lock goes when the worker ends or the process dies."""
        if not self._process_lock.acquire():
            raise RunActive(run_id, "another kisbot process is executing a plan for this account "
                                    "(same data directory): stop it or wait for it to finish")

    def run_owner(self) -> int | None:
        """The pid of the process executing this account's run (this one's, or another kisbot's), else None."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return os.getpid()
            return self._process_lock.holder()

    def cancel(self) -> None:
        """Stop: no new slices, resting orders cancelled; a Cancelled event follows. Returns at once."""
        self._cancel.set()
        self._alarm.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the worker to end; True when it has."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def status(self) -> RunStatus | None:
        """The current (or last) run of this executor, else the account's active run; None if neither."""
        run_id = self._run_id
        if run_id is None:
            active = self.journal.active_run(self.account)
            if active is None:
                return None
            run_id = active.id
        return run_status(self.journal, run_id, self.clock.now())

    def _launch(self, run_id: str, *, resumed: bool) -> None:
        self._cancel = threading.Event()
        self._alarm = threading.Event()
        self._run_id = run_id
        worker = _Worker(self, run_id, resumed, self._cancel, self._alarm)

        def work() -> None:
            try:
                worker.run()
            finally:
                self._process_lock.release()

        self._thread = threading.Thread(target=work, name=f"twap-{run_id}", daemon=True)
        self._thread.start()


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


def guard_price(quote: Quote, side: OrderSide, guard: float) -> int:
    """The limit of a marketable order: `guard` past the latest price, on the tick grid, inside the day's band.

    A buy rounds down and a sell up, so the limit never passes the guard; the grid is the one the
    quote's aspr_unit shows (an ETF's is finer than a stock's), else the stock grid.
    """
    grid = (grid_for(quote.price, quote.tick) if quote.tick else None) or STOCK
    if side is OrderSide.BUY:
        price = round_to_tick(math.floor(quote.price * (1 + guard)), OrderSide.BUY, grid)
        return min(price, quote.upper_limit) if quote.upper_limit > 0 else price
    price = round_to_tick(max(1, math.ceil(quote.price * (1 - guard))), OrderSide.SELL, grid)
    return max(price, quote.lower_limit) if quote.lower_limit > 0 else price


def beyond_guard(limit: int, price: int, side: OrderSide, guard: float) -> bool:
    """The price has run more than the guard past a resting order's limit: re-pricing would chase it."""
    if side is OrderSide.BUY:
        return price > limit * (1 + guard)
    return price < limit * (1 - guard)


class _Worker:
    """One run in its thread. Every exchange-visible step is journaled first; errors end in Failed."""

    def __init__(self, executor: TwapExecutor, run_id: str, resumed: bool, cancel: threading.Event,
                 alarm: threading.Event | None = None):
        self.x = executor
        self.client = executor.client
        self.journal = executor.journal
        self.settings = executor.settings
        self.clock = executor.clock
        self.run_id = run_id
        self.resumed = resumed
        self.cancel = cancel
        self.done = False
        self.run_rec: RunRecord = self.journal.run(run_id)
        self.lines = {line.code: line for line in self.run_rec.plan.lines}
        self.order_type = self.run_rec.order_type
        self.guard = self.run_rec.price_guard
        self.scheduler = ClockScheduler(self.clock)
        self.poll_cost = 1 / executor.rate  # seconds the last fill poll took (first guess: one page)
        self.deferred = 0.0  # seconds the current poll has given way to slices (at most one interval)
        self.alarm = alarm or threading.Event()
        self.notes = NoticeConsumer(executor.notices, self.alarm) if executor.notices is not None else None
        executor.notice_stats = self.notes.stats if self.notes is not None else None  # for benches and tests
        feed = executor.notices
        self.prices: PriceFeed | None = feed if isinstance(feed, PriceFeed) and self.order_type is OrderType.LIMIT \
            else None
        self.quotes = {"streamed": 0, "asked": 0}  # where the run's prices came from (benches, tests)
        executor.quote_sources = self.quotes

    # the thread ------------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._main()
        except Exception as exc:  # never a silent thread death: journal it, tell the user
            log.exception("TWAP run %s failed", self.run_id)
            self._fail(f"the run stopped on an unexpected error ({type(exc).__name__}: {exc}); kisbot cancelled "
                       "the orders KIS listed as resting: check /balance and make a new plan")
        finally:
            if self.notes is not None:
                self.notes.close()
            if self.prices is not None:
                self.prices.watch([])

    def _main(self) -> None:
        run = self.run_rec
        self._emit(RunStarted(self.run_id, run.plan.id, run.window.start, run.window.end,
                              len(self.journal.slices(self.run_id)), resumed=self.resumed))
        if self.resumed:
            # What the crash left unknown counts as live until settled: other stocks trade meanwhile.
            self._poll()
        if self.clock.now() >= run.window.end:  # resumed after the window: only settle and report
            self._stop(cancelled=False)
            return
        if self.prices is not None:
            self.prices.watch([s.code for s in self.journal.stocks(self.run_id) if not s.halted])
        for s in self.journal.slices(self.run_id):
            if not s.fired:
                self.scheduler.at(s.at, self._fire_slice, s.seq, s.code, tag="slice")
        if not run.caught_up:
            self.scheduler.at(run.catch_up_at, self._catch_up, tag="catch_up")
        first_poll = max(self.clock.now(), run.window.start) + timedelta(seconds=run.poll_seconds)
        if first_poll < run.window.end:
            self.scheduler.at(first_poll, self._poll_tick, tag="poll")
        self.scheduler.at(run.window.end, self._end, tag="end")

        while not self.done:
            self.alarm.clear()  # before looking: a notice or cancel from now on wakes the wait below
            if self.cancel.is_set():
                self._stop(cancelled=True)
                return
            self._take_notices()
            self.scheduler.run_pending()
            if self.done:
                return
            idle = self.scheduler.idle_seconds
            if idle is None:  # pragma: no cover - the end job is always there until done
                self._end()
                return
            self.clock.wait(max(0.0, idle), self.alarm)

    # scheduled jobs -----------------------------------------------------------------------------------
    def _fire_slice(self, seq: int, code: str) -> None:
        if self.cancel.is_set():
            return
        if not self.journal.fire_slice(self.run_id, seq):
            return  # already fired (e.g. before a restart): its shares are owed or placed already
        self._reprice(code)
        self._place(code, kind=OrderKind.SLICE)

    def _poll_tick(self) -> None:
        if self.cancel.is_set():
            return
        now = self.clock.now()
        next_slice = min((job.next_run for job in self.scheduler.get_jobs("slice")), default=None)
        if next_slice is not None and self.deferred < self.run_rec.poll_seconds:
            gap = (next_slice - self.scheduler.naive_now()).total_seconds()
            if gap < self.poll_cost + POLL_GAP_MARGIN:  # a poll now would make that slice late
                later = max(0.0, gap) + 0.001
                self.deferred += later
                self.scheduler.at(now + timedelta(seconds=later), self._poll_tick, tag="poll")
                return
        self.deferred = 0.0
        if self._unsettled() and (self.notes is None or self._poll_could_forbid() or self._cancels_unconfirmed()
                                  or self.notes.poll_due(now)):
            self._poll()
        for stock in self.journal.stocks(self.run_id):  # owed: waiting for cash, refused for pace, re-priced
            if stock.owed > 0 and not stock.halted and not self.cancel.is_set():
                self._place(stock.code, kind=OrderKind.RETRY)
        nxt = self.clock.now() + timedelta(seconds=self.run_rec.poll_seconds)
        horizon = self._next_horizon()
        if horizon is not None and horizon < nxt:
            nxt = horizon
        if nxt < self.run_rec.window.end:
            self.scheduler.at(nxt, self._poll_tick, tag="poll")

    def _next_horizon(self) -> datetime | None:
        """When the first unanswered order's settle horizon ends: a poll then may rule it out, so its
        shares are placed again before the window ends, not only at the next regular poll."""
        now = self.clock.now()
        ends = [o.unseen_since + timedelta(seconds=self.settings.settle_seconds)
                for o in self.journal.orders(self.run_id) if o.state.unsettled and o.unseen_since is not None]
        return min((end for end in ends if end > now), default=None)

    def _catch_up(self) -> None:
        """One pass that re-prices what rests and owes every stock whatever is still missing, then places it."""
        if self.cancel.is_set():
            return
        self._poll()
        for stock in self.journal.stocks(self.run_id):
            self._reprice(stock.code)
        owed = {s.code: 0 if s.halted else self._owable(s) for s in self.journal.stocks(self.run_id)}
        self.journal.mark_caught_up(self.run_id, owed)
        for code, qty in owed.items():
            if qty > 0 and not self.cancel.is_set():
                self._place(code, kind=OrderKind.CATCH_UP)

    def _end(self) -> None:
        self._stop(cancelled=False)

    # placing orders -----------------------------------------------------------------------------------
    def _orders_of(self, code: str) -> list[OrderRecord]:
        return [o for o in self.journal.orders(self.run_id) if o.code == code]

    def _missing(self, stock: StockRecord) -> int:
        """Shares still to place: the goal less what is filled, open, or maybe working (exchange truth)."""
        return max(0, stock.goal - sum(o.committed for o in self._orders_of(stock.code)))

    def _owable(self, stock: StockRecord) -> int:
        """The most a stock may owe: what is missing now, plus the rests whose cancel KIS took (re-pricing),
        which are owed already and placed once today's orders show them closed."""
        today = self.clock.now().astimezone(KST).date()
        cancelling = sum(o.open_qty for o in self._orders_of(stock.code)
                         if o.cancel_sent and o.sent_at.astimezone(KST).date() == today)
        return self._missing(stock) + cancelling

    def _stock(self, code: str) -> StockRecord:
        return next(s for s in self.journal.stocks(self.run_id) if s.code == code)

    def _quote(self, code: str) -> Quote | None:
        """The latest known price: the stream's when fresh (a fill notice's price counts), else inquire-price."""
        if self.prices is not None:
            trade = self.prices.price(code, PRICE_FRESH_SECONDS)
            quote = streamed_quote(trade, self.guard) if trade is not None else None
            if quote is not None:
                self.quotes["streamed"] += 1
                return quote
        try:
            self.quotes["asked"] += 1
            return self.client.price(code)
        except READ_ERRORS as exc:
            log.warning("price of %s unavailable (%s); its order waits for the next tick", code, type(exc).__name__)
            return None
        finally:
            self._take_notices()  # a fill that came during the call is told now, not after the slice

    def _reprice(self, code: str) -> None:
        """Resting limit orders of the stock: cancelled so the rest goes out at a fresh guard price.

        If the price ran past the guard of a resting order, the stock stops instead: no chasing.
        """
        if self.order_type is not OrderType.LIMIT or self.cancel.is_set():
            return
        today = self.clock.now().astimezone(KST).date()

        def resting_now() -> list[OrderRecord]:
            return [o for o in self._orders_of(code) if o.resting and o.remaining is not None and not o.cancel_sent
                    and o.sent_at.astimezone(KST).date() == today]

        if not resting_now() or self._stock(code).halted:
            return
        quote = self._quote(code)
        resting = resting_now()  # fills told during the quote may have closed some
        if quote is None or not resting:
            return
        side = resting[0].side
        runaway = next((o for o in resting if beyond_guard(o.price, quote.price, side, self.guard)), None)
        if runaway is not None:
            self.journal.halt(self.run_id, code)
            log.warning("%s: price %d ran past the guard of limit %d; no more orders for it", code, quote.price,
                        runaway.price)
            self._emit(PriceBeyondGuard(self.run_id, code, self.lines[code].name, side, runaway.price, quote.price,
                                        self.guard))
        for order in resting:
            try:
                self.client.cancel(order.order_no, order.org_no)
            except READ_ERRORS as exc:  # e.g. filled meanwhile; a lost answer leaves it counted as open
                log.info("re-pricing: cancel of %s not done (%s)", order.order_no, exc)
                continue
            self.journal.cancel_accepted(order.id, owe_rest=runaway is None)

    def _place(self, code: str, *, kind: OrderKind) -> None:
        """Place what the stock owes, never beyond its goal; a buy only with the cash to pay for it."""
        stock = self._stock(code)
        if stock.halted:
            return
        missing = self._missing(stock)
        owable = self._owable(stock)
        if stock.owed > owable:  # the goal is nearer than the schedule thinks: never overshoot
            self.journal.set_owed(self.run_id, code, owable)
        qty = min(stock.owed, missing)
        if qty <= 0:
            if stock.waiting:
                self.journal.set_waiting(self.run_id, code, False)
            return
        price = 0
        if self.order_type is OrderType.LIMIT:
            quote = self._quote(code)
            if quote is None:
                return
            price = guard_price(quote, stock.side, self.guard)
        if stock.side is OrderSide.BUY:
            qty = self._affordable(stock, qty, price)
        # Notices applied during the quote or buying-power call never raise what may be placed, but an
        # acceptance can revive a ruled-out order: the goal is checked again right before sending.
        qty = min(qty, self._missing(self._stock(code)))
        if qty <= 0:
            return
        self._send(stock, qty, price, kind)

    def _affordable(self, stock: StockRecord, qty: int, price: int) -> int:
        """Shares of `qty` that cash pays for without 미수, asked for this stock as KIS's docs say.

        The client asks a limit buy with ORD_DVSN 01 (00 does not reflect the stock's margin rate); the
        answer's no-미수 amount (nrcvb_buy_amt), never more than the orderable cash, is costed at this
        order's limit. A market-type buy takes nrcvb_buy_qty, which KIS computed at the upper limit it
        costs such a buy at. Never max_buy_* (미수). 0 when the check fails.
        """
        cached = self._affordable_from_cache(stock.code, qty, price)
        if cached is not None:
            return cached
        try:
            power = self.client.buying_power(stock.code, price, self.order_type)
        except READ_ERRORS as exc:
            log.warning("buying power of %s unavailable (%s); the buy waits", stock.code, type(exc).__name__)
            return 0
        finally:
            self._take_notices()
        limit = self.order_type is OrderType.LIMIT and price > 0
        cash = cash_without_credit(power)
        can = shares_without_credit(power, price if limit else 0)
        if self.notes is not None and limit:
            self.notes.cash_seen(stock.code, cash, self.clock.now())
            self.notes.spend(min(qty, can) * _with_margin(price))
        if can < qty and not stock.waiting:  # one event per wait, not per retry
            self.journal.set_waiting(self.run_id, stock.code, True)
            unit = price or power.unit_price or self.lines[stock.code].price
            self._emit(WaitingForCash(self.run_id, stock.code, qty * unit, cash))
        return max(0, min(qty, can))

    def _affordable_from_cache(self, code: str, qty: int, price: int) -> int | None:
        """While notices are trusted, a limit buy is costed against this stock's last buying-power answer
        less what buys of every stock spent since (it only shrinks; KIS still checks the order). None: ask KIS."""
        if self.notes is None or self.order_type is not OrderType.LIMIT or price <= 0:
            return None
        left = self.notes.cash_left(code, self.clock.now())
        if left is None:
            return None
        shares = min(qty, left // _with_margin(price))
        if shares < qty:
            return None  # not enough by the estimate: KIS's own answer decides (and may say wait)
        self.notes.spend(shares * _with_margin(price))
        return shares

    def _send(self, stock: StockRecord, qty: int, price: int, kind: OrderKind) -> None:
        self._journal_order(stock, qty, price, kind)
        # Only once the order's own outcome is journaled: an acceptance notice applied between the
        # intent and its answer would settle the order twice.
        self._take_notices()

    def _journal_order(self, stock: StockRecord, qty: int, price: int, kind: OrderKind) -> None:
        """Journal the intent, send the order once, journal what its answer says."""
        order_id = self.journal.add_intent(self.run_id, stock.code, stock.side, qty, self.order_type, price, kind,
                                           self.clock.now())
        try:
            ack = self.client.order(stock.code, stock.side, qty, self.order_type, price)
        except OrderUncertain as exc:
            # It may be at KIS: it counts as live until today's orders list it or working lookups
            # over the settle horizon rule it out. Never sent again on a timer.
            self.journal.transition(order_id, OrderState.UNRESOLVED, message=str(exc))
            log.warning("order %s for %s got no answer; unresolved until today's orders settle it", order_id,
                        stock.code)
        except (RateLimited, NotSent) as exc:
            # refused at the gateway or never connected: surely not at the exchange, owed again
            self.journal.transition(order_id, OrderState.NOT_SENT, message=f"{type(exc).__name__}: {exc}")
        except KisError as exc:
            short_of_cash = exc.msg_cd == CASH_SHORT_CODE or CASH_SHORT_WORDING in exc.msg1
            if short_of_cash and self.notes is not None:
                self.notes.forget_cash()
            # Short of cash is a wait, not a refusal: owed again, retried when cash is there.
            self.journal.transition(order_id, OrderState.REJECTED, msg_cd=exc.msg_cd, message=exc.msg1,
                                    owe_again=short_of_cash)
            if not short_of_cash:
                self._emit(OrderRejected(self.run_id, stock.code, stock.side, qty, exc.msg_cd, exc.msg1))
            elif not self._stock(stock.code).waiting:
                self.journal.set_waiting(self.run_id, stock.code, True)
                self._emit(WaitingForCash(self.run_id, stock.code, qty * (price or self.lines[stock.code].price), 0))
        except KisTransportError as exc:
            self.journal.transition(order_id, OrderState.UNRESOLVED, message=f"{type(exc).__name__}: {exc}")
        else:
            self.journal.transition(order_id, OrderState.OPEN, order_no=ack.order_no, org_no=ack.org_no)
            if self.notes is not None:
                self.notes.expect(ack.order_no, self.clock.now())
            self._emit(OrderSent(self.run_id, stock.code, stock.side, qty, ack.order_no))
            after = self._stock(stock.code)
            if after.waiting and after.owed == 0:  # the wait is over only once everything owed is placed
                self.journal.set_waiting(self.run_id, stock.code, False)

    def _known_today(self) -> set[str]:
        return self.journal.known_order_nos(self.clock.now().astimezone(KST).date())

    # reading the exchange -----------------------------------------------------------------------------
    def _unsettled(self) -> bool:
        """Some order of the run may still fill or show up: a poll has something to learn."""
        today = self.clock.now().astimezone(KST).date()
        return any(not o.state.done and o.sent_at.astimezone(KST).date() == today
                   for o in self.journal.orders(self.run_id)) \
            or (self.notes is not None and bool(self.notes.unconfirmed))  # notice fills a poll must confirm

    def _poll_could_forbid(self) -> bool:
        """Some order may be working unseen (unanswered, ambiguous or ruled out): a poll could show more
        shares committed than the journal does, so notices alone must not decide what to place."""
        today = self.clock.now().astimezone(KST).date()
        return any(o.state.may_show_up and o.sent_at.astimezone(KST).date() == today
                   for o in self.journal.orders(self.run_id))

    def _cancels_unconfirmed(self) -> bool:
        """A re-pricing cancel KIS took, whose order today's orders do not show closed yet: its rest is
        placed again only after a poll shows that, so polls keep their full pace meanwhile."""
        return any(o.state is OrderState.OPEN and o.cancel_sent for o in self.journal.orders(self.run_id))

    def _confirming(self) -> list[str] | None:
        """While notices are trusted and no order can be working unseen, a poll only confirms the run's
        open and notice-filled orders: their numbers, so reading stops once all were seen (newest first)."""
        if self.notes is None or not self.notes.trusted(self.clock.now()) or self._poll_could_forbid():
            return None
        today = self.clock.now().astimezone(KST).date()
        return [o.order_no for o in self.journal.orders(self.run_id)
                if o.order_no and o.sent_at.astimezone(KST).date() == today
                and (o.state is OrderState.OPEN or same_order_no(o.order_no) in self.notes.unconfirmed)] or None

    def _poll(self) -> list[OrderStatus] | None:
        """Today's orders -> reconciliation -> journal and events. None when the read failed."""
        began = self.clock.now()
        try:
            wanted = self._confirming()
            statuses = self.client.orders_today() if wanted is None else self.client.orders_today(wanted=wanted)
        except READ_ERRORS as exc:
            log.warning("fill poll failed (%s); next poll will retry", type(exc).__name__)
            statuses = None
        finally:
            self.poll_cost = (self.clock.now() - began).total_seconds()
        if self.notes is not None:
            self._take_notices()  # notices that came during the read are no mismatch
            if statuses is not None:
                self.notes.polled(self.clock.now())
                today = self.clock.now().astimezone(KST).date()
                ours = {same_order_no(o.order_no) for o in self.journal.orders(self.run_id)
                        if o.order_no and o.sent_at.astimezone(KST).date() == today}
                for seen in statuses:
                    if same_order_no(seen.order_no) in ours and not seen.orig_order_no.strip("0"):
                        self.notes.poll_saw(seen.order_no, seen.filled_qty)
        self.apply_observations(statuses)
        return statuses

    def apply_observations(self, statuses: list[OrderStatus] | None) -> None:
        """Reconcile the run against today's orders (None: the inquiry failed) and tell the user what changed."""
        orders = self.journal.orders(self.run_id)
        now = self.clock.now()
        result = reconcile(orders, statuses, now=now, settle_seconds=self.settings.settle_seconds,
                           known_order_nos=self._known_today())
        by_id = {o.id: o for o in orders}
        findings: dict[int, list] = {}
        for finding in result.findings:
            findings.setdefault(finding.order_id, []).append(finding)
        for update in result.updates:  # each order's news right after its update: progress adds up in order
            self.journal.apply(update, now)
            for finding in findings.pop(update.order_id, ()):
                self._tell(by_id[finding.order_id], finding)

    def _tell(self, order: OrderRecord, finding) -> None:
        if isinstance(finding, Found):
            log.warning("order %s for %s (%s) is listed by KIS as %s; counted", order.id, order.code,
                        finding.was.value, finding.order_no)
            self._emit(OrderSent(self.run_id, order.code, order.side, order.qty, finding.order_no))
        elif isinstance(finding, NewFill):
            self._emit_fill(order, finding.qty, finding.amount)
        elif isinstance(finding, RuledOut):
            log.info("order %s for %s never reached KIS; its shares are owed again", order.id, order.code)
        elif isinstance(finding, Ambiguous):
            self._emit(NeedsCheck(self.run_id, self._unresolved(order, finding.candidates)))

    def _unresolved(self, order: OrderRecord, candidates: int = 0) -> UnresolvedOrder:
        return UnresolvedOrder(order.code, self.lines[order.code].name, order.side, order.qty,
                               order.sent_at.astimezone(KST), candidates)

    # notices ------------------------------------------------------------------------------------------
    def _take_notices(self) -> None:
        """Apply the notices that arrived, each as one observation of one order (reconcile.observe)."""
        if self.notes is None:
            return
        for notice in self.notes.take():
            if notice.kind is NoticeKind.FILLED:
                self._notice_fill(notice)
            elif notice.kind is NoticeKind.ACCEPTED:
                self._notice_acceptance(notice)
            else:  # a refusal frees nothing: the next poll (at full pace now) says what happened
                self.notes.distrust(f"KIS refused order {notice.order_no}")
        if not self.notes.parked:
            return
        known = [o.order_no for o in self.journal.orders(self.run_id) if o.order_no and o.state is OrderState.OPEN]
        for notice in self.notes.unparked(known):
            self._notice_fill(notice)

    def _today_order(self, order_no: str) -> OrderRecord | None:
        """The run's order of today with this number, if any."""
        today = self.clock.now().astimezone(KST).date()
        number = same_order_no(order_no)
        return next((o for o in self.journal.orders(self.run_id)
                     if o.order_no and same_order_no(o.order_no) == number
                     and o.sent_at.astimezone(KST).date() == today), None)

    def _observed(self, order: OrderRecord, seen: OrderStatus) -> None:
        update, findings = observe(order, seen)
        self.journal.apply(update, self.clock.now())
        for finding in findings:
            self._tell(order, finding)

    def _notice_acceptance(self, notice) -> None:
        if self._today_order(notice.order_no) is not None:
            self.notes.accepted(notice.order_no)
            return
        today = self.clock.now().astimezone(KST).date()
        found = unsettled_match(self.journal.orders(self.run_id), notice, self._known_today(), today)
        if found is None:
            return  # another program's order, or one several of ours could be: polls settle those
        order, seen = found
        self.notes.stats.resolved += 1
        log.info("order %s for %s settled by its acceptance notice as %s", order.id, order.code, notice.order_no)
        self._observed(order, seen)

    def _notice_fill(self, notice) -> None:
        order = self._today_order(notice.order_no)
        if order is None:
            self.notes.park(notice)
            return
        if order.state is not OrderState.OPEN:
            return  # closed already (a poll or notice counted it) or not ours to move
        if notice.side is OrderSide.SELL:
            self.notes.forget_cash()  # proceeds came in: the next buy asks KIS what it may spend
        seen = fill_status(order, *self.notes.add_fill(notice))
        if seen is not None:
            self.notes.stats.fills += 1
            self._observed(order, seen)

    def _emit_fill(self, order: OrderRecord, qty: int, amount: int) -> None:
        status = run_status(self.journal, self.run_id, self.clock.now())
        stock = next(s for s in status.stocks if s.code == order.code)
        self._emit(Filled(self.run_id, order.code, stock.name, order.side, qty, round(amount / qty),
                          stock.done_qty, stock.order_qty, status.progress))

    # ending -------------------------------------------------------------------------------------------
    def _stop(self, *, cancelled: bool) -> None:
        """End the run: settle unknowns, cancel what still rests, read the balance, report."""
        self.done = True
        if self._unsettled():  # when every order is final and confirmed by a poll, one more tells nothing
            self._poll()
        if not cancelled:
            self._settle_after_window()
        today = self.clock.now().astimezone(KST).date()
        rested: dict[str, int] = {}  # what rests when the end's cancels go out: unfilled at its limit
        for o in self.journal.orders(self.run_id):
            if o.resting and o.sent_at.astimezone(KST).date() == today:
                rested[o.code] = rested.get(o.code, 0) + o.open_qty
        withdrawn = self._cancel_resting()
        for _ in range(CANCEL_PASSES - 1):
            if not withdrawn and not any(o.resting for o in self.journal.orders(self.run_id)):
                break  # nothing was cancelled and nothing rests: no cancel to confirm
            self._confirm_cancels()
            # A cancel that got no answer or failed leaves its order working: try again. A cancel KIS
            # took is never sent again, confirmed or not (`_cancel_resting` skips it).
            if not any(o.resting for o in self.journal.orders(self.run_id)):
                break
            withdrawn += self._cancel_resting()
        if any(o.resting and o.sent_at.astimezone(KST).date() == today for o in self.journal.orders(self.run_id)):
            self._confirm_cancels()  # did the last cancels take? What still rests is the user's to cancel
        results, cash_after = self._results()
        orders = [o for o in self.journal.orders(self.run_id) if o.sent_at.astimezone(KST).date() == today]
        unresolved = tuple(self._unresolved(o, 2 if o.state is OrderState.AMBIGUOUS else 0)
                           for o in orders if o.state.unsettled)
        unresolved += tuple(replace(self._unresolved(o), open_qty=o.open_qty, order_no=o.order_no)
                            for o in orders if o.resting and o.remaining is not None)
        self.journal.end_run(self.run_id, RunState.CANCELLED if cancelled else RunState.FINISHED, self.clock.now(),
                             f"{len(unresolved)} order(s) unresolved" if unresolved else "")
        short = shortfalls(self.journal.stocks(self.run_id), self.journal.orders(self.run_id), rested,
                           cancelled=cancelled, settle_seconds=self.settings.settle_seconds)
        receipt = self._receipt(RunState.CANCELLED if cancelled else RunState.FINISHED, cash_after)
        if receipt is not None:
            receipt = replace(receipt, shortfalls=short)  # /status names them after the run too
        for s in short:
            log.info("run %s: %s ended %d share(s) short: %s", self.run_id, s.code, s.short,
                     ", ".join(f"{qty} {reason.value}" for reason, qty in s.parts))
        if cancelled:
            self._emit(Cancelled(self.run_id, withdrawn, results, unresolved, receipt, short))
        else:
            self._emit(Finished(self.run_id, results, unresolved, receipt, short))

    def _settle_after_window(self) -> None:
        """Unanswered or not yet listed orders at the end: keep polling (no new orders) until KIS shows
        them or the horizon passes, so the results and the cancels rest on what KIS lists. The horizon
        runs from the later of the window's end and now: a run restarted after its window still looks."""
        deadline = max(self.run_rec.window.end, self.clock.now()) + timedelta(seconds=self.settings.settle_seconds)
        today = self.clock.now().astimezone(KST).date()
        while any((o.state.unsettled or (o.state is OrderState.OPEN and o.remaining is None))
                  and o.sent_at.astimezone(KST).date() == today for o in self.journal.orders(self.run_id)):
            now = self.clock.now()
            if now >= deadline:
                return
            if self.clock.wait(min(self.run_rec.poll_seconds, (deadline - now).total_seconds()), self.cancel):
                return
            self._poll()

    def _receipt(self, state: RunState, cash_after: int) -> Receipt | None:
        """Plan vs fills for the completion summary; a receipt that cannot be built is left out."""
        try:
            return build_receipt(self.run_id, self.run_rec.plan, self.journal.orders(self.run_id), cash_after, state)
        except Exception:
            log.exception("building the receipt of %s", self.run_id)
            return None

    def _cancel_resting(self) -> int:
        """Cancel each of today's resting orders whose cancel KIS has not taken yet; how many it took now."""
        withdrawn = 0
        today = self.clock.now().astimezone(KST).date()
        for order in self.journal.orders(self.run_id):
            # Another day's order expired at that close, and its number may be someone else's today.
            if not order.resting or order.sent_at.astimezone(KST).date() != today:
                continue
            if order.cancel_sent:  # KIS took its cancel and confirms it later: wait for that, never re-send
                continue
            try:
                self.client.cancel(order.order_no, order.org_no)
            except READ_ERRORS as exc:  # e.g. filled meanwhile: nothing left to cancel
                log.warning("cancel of order %s failed: %s", order.order_no, exc)
                continue
            self.journal.cancel_accepted(order.id, owe_rest=False)
            withdrawn += 1
        return withdrawn

    def _confirm_cancels(self) -> None:
        """Poll today's orders until every cancel KIS took shows confirmed there (KIS confirms a cancel
        after it takes it), at most the settle horizon; what is still open then is named in the summary."""
        gap = max(0.1, min(CONFIRM_GAP, self.run_rec.poll_seconds))
        deadline = self.clock.now() + timedelta(seconds=self.settings.settle_seconds)
        self._poll()
        for _ in range(math.ceil(self.settings.settle_seconds / gap)):  # bounded even if the clock stands still
            if not self._cancels_unconfirmed() or self.clock.now() >= deadline:
                break
            self.clock.wait(gap, threading.Event())  # not the run's cancel event: it may be set
            self._poll()

    def _results(self) -> tuple[tuple[StockResult, ...], int]:
        """Target vs actual holding per stock, and cash (D+2), from the balance read at the end of the run."""
        last: Exception | None = None
        for attempt in range(END_BALANCE_TRIES):
            try:
                balance = self.client.balance()
                break
            except READ_ERRORS as exc:
                last = exc
                self.clock.wait(min(5.0, self.run_rec.poll_seconds), threading.Event())
        else:
            raise RuntimeError(f"the balance could not be read at the end ({last}); check /balance") from last
        return (tuple(StockResult(line.code, line.name, line.current_qty, line.target_qty, balance.qty(line.code))
                      for line in self.run_rec.plan.lines), balance.cash_d2)

    def _fail(self, reason: str) -> None:
        self.done = True
        try:
            # An order the error cut off mid-send may be working at KIS: find it, so it is cancelled too.
            self._poll()
            self._cancel_resting()
        except Exception:  # best effort: the reason below matters more
            log.exception("cancelling resting orders after a failure")
        try:
            today = self.clock.now().astimezone(KST).date()
            unknown = [self._unresolved(o) for o in self.journal.orders(self.run_id)
                       if o.state.unsettled and o.sent_at.astimezone(KST).date() == today]
            if unknown:  # a failed run is never resumed: these are the user's to check
                reason += ". Also: " + "; ".join(u.what_to_check for u in unknown)
        except Exception:
            log.exception("listing the unresolved orders of %s", self.run_id)
        try:
            self.journal.end_run(self.run_id, RunState.FAILED, self.clock.now(), reason)
        except Exception:
            log.exception("journaling the failure of %s", self.run_id)
        self._emit(Failed(self.run_id, reason))

    def _emit(self, event: Event) -> None:
        try:
            self.x.on_event(event)
        except Exception:  # the listener's bug must not stop trading
            log.exception("on_event failed for %s", type(event).__name__)


def cash_without_credit(power: BuyingPower) -> int:
    """What a buy may spend: KIS's no-미수 amount (nrcvb_buy_amt), never more than the orderable cash."""
    return max(0, min(power.max_amount, power.cash))


def shares_without_credit(power: BuyingPower, limit: int = 0) -> int:
    """Shares a buy may take without 미수 by a buying-power answer asked as KIS's docs say (ORD_DVSN 01 for
    a limit buy): at `limit`, its no-미수 cash costed at that limit; without one, nrcvb_buy_qty (KIS
    computed it at the upper limit it costs such a buy at). Never max_buy_* (미수)."""
    if limit > 0:
        return cash_without_credit(power) // _with_margin(limit)
    return max(0, power.max_qty)


def _with_margin(price: int) -> int:
    """A limit buy's cost per share with room for the commission (0.015 %) and rounding."""
    return price + price // 1000 + 1
