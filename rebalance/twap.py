"""TWAP execution of a confirmed plan in a worker thread, journaled so nothing is lost or sent twice.

`TwapExecutor` is the facade the bot uses (start, cancel, status, resume, wait); `_Worker` is one
run's thread: a `schedule` scheduler on the injected clock fires slices, fill polls, the catch-up pass
and the end, and sleeps in between on the cancel event.
"""
from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import requests

from kis.errors import KisError, KisTransportError, NotSent, OrderUncertain, RateLimited
from kis.models import BuyingPower, OrderSide, OrderStatus
from kis.orders import CLOCK_SKEW, matching_orders, same_order_no, since_stamp
from kis.ticks import round_to_tick
from rebalance.clock import KST, Clock, ClockScheduler, SystemClock
from rebalance.events import (
    Cancelled, Event, Failed, Filled, Finished, OrderRejected, OrderSent, RunStarted, StockResult,
    WaitingForCash,
)
from rebalance.journal import Journal, OrderRecord, OrderState, RunActive, RunRecord, StockRecord
from rebalance.model import Plan
from rebalance.runlock import RunLock
from rebalance.slicing import slice_plan
from rebalance.window import TwapSettings, Window

log = logging.getLogger(__name__)

# KIS refuses an order that needs more cash than the account has with APBK0952 "주문가능금액을 초과";
# the wording is matched too, since mock and real do not always share codes.
CASH_SHORT_CODE = "APBK0952"
CASH_SHORT_WORDING = "주문가능금액"
READ_ERRORS = (KisError, KisTransportError, requests.RequestException)
END_BALANCE_TRIES = 3
CANCEL_PASSES = 3  # rounds of cancelling what still rests when a run ends
MAX_PRICE_BUMP = 0.3  # KRX's daily price band
POLL_GAP_MARGIN = 0.05  # seconds of slack a poll leaves before the next slice
NOT_SENT = "not sent"  # a lost order's reason when it surely never left: it cannot show up later
RESENT = "re-sent after a lost answer"  # an acked order whose first send may still show up
TWIN_FOUND = "re-sent after a lost answer; first send found"

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

    @property
    def target_qty(self) -> int:
        """What `done_qty` is heading for (the shares to trade, not the holding)."""
        return self.order_qty


@dataclass(frozen=True)
class RunStatus:
    """Where a run stands, for `/status` and the resume message."""

    run_id: str
    plan_id: str
    state: str  # active, finished, cancelled, failed
    start: datetime
    end: datetime
    stocks: tuple[StockProgress, ...]
    progress: float  # 0..1 of all shares to trade
    time_left: timedelta
    reason: str = ""

    @property
    def active(self) -> bool:
        return self.state == "active"

    @property
    def percent(self) -> float:
        return self.progress * 100


class TwapExecutor:
    """Runs one plan at a time per account as TWAP orders; every order goes through the journal."""

    def __init__(self, client, journal: Journal, settings: TwapSettings, on_event: Callable[[Event], None],
                 clock: Clock | None = None, *, account: str | None = None):
        self.client = client
        self.journal = journal
        self.settings = settings
        self.on_event = on_event
        self.clock = clock or SystemClock()
        config = getattr(client, "config", None)
        self.account = account or str(getattr(config, "account", "default"))
        self.rate = settings.call_rate or float(getattr(config, "rate_limit", 1.0))
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._run_id: str | None = None
        slug = "".join(ch if ch.isalnum() else "_" for ch in self.account)
        self._process_lock = RunLock(journal.path.with_name(f"run-{slug}.lock"))

    def start(self, plan: Plan, window: Window) -> str:
        """Journal the run and its slices, then trade them in a worker thread; RunActive if one runs."""
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
                self.journal.create_run(run_id, self.account, plan, window, schedule, self.settings.order_type, now)
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
        self._run_id = run_id
        worker = _Worker(self, run_id, resumed, self._cancel)

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
        resting = sum(o.remaining or 0 for o in mine if o.resting and o.remaining is not None)
        stocks.append(StockProgress(stock.code, stock.name, stock.side, sum(o.filled_qty for o in mine),
                                    stock.goal, resting, stock.waiting))
    goal = sum(s.order_qty for s in stocks)
    progress = min(1.0, sum(s.done_qty for s in stocks) / goal) if goal else 1.0
    left = max(timedelta(0), run.window.end - max(now, run.window.start)) if run.state == "active" else timedelta(0)
    return RunStatus(run.id, run.plan.id, run.state, run.window.start, run.window.end, tuple(stocks), progress,
                     left, run.reason)


class _Worker:
    """One run in its thread. Every exchange-visible step is journaled first; errors end in Failed."""

    def __init__(self, executor: TwapExecutor, run_id: str, resumed: bool, cancel: threading.Event):
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
        self.scheduler = ClockScheduler(self.clock)
        self.price_bump: dict[str, float] = {}  # extra cash headroom per stock after refusals for cash
        self.poll_cost = 1 / executor.rate  # seconds the last fill poll took (first guess: one page)
        self.deferred = 0.0  # seconds the current poll has given way to slices (at most one interval)

    # the thread ------------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._main()
        except Exception as exc:  # never a silent thread death: journal it, tell the user
            log.exception("TWAP run %s failed", self.run_id)
            self._fail(f"the run stopped on an unexpected error ({type(exc).__name__}: {exc}); resting orders "
                       "were cancelled: check /balance and make a new plan")

    def _main(self) -> None:
        run = self.run_rec
        self._emit(RunStarted(self.run_id, run.plan.id, run.window.start, run.window.end,
                              len(self.journal.slices(self.run_id)), resumed=self.resumed))
        if self.resumed:  # settle what the crash left unknown before anything new is sent
            self._poll()
            self._reconcile_unacked(wait_to_settle=True)
        if self.clock.now() >= run.window.end:  # resumed after the window: only settle and report
            self._stop(cancelled=False)
            return
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
            if self.cancel.is_set():
                self._stop(cancelled=True)
                return
            self.scheduler.run_pending()
            if self.done:
                return
            idle = self.scheduler.idle_seconds
            if idle is None:  # pragma: no cover - the end job is always there until done
                self._end()
                return
            self.clock.wait(max(0.0, idle), self.cancel)

    # scheduled jobs -----------------------------------------------------------------------------------
    def _fire_slice(self, seq: int, code: str) -> None:
        if self.cancel.is_set():
            return
        if not self.journal.fire_slice(self.run_id, seq):
            return  # already fired (e.g. before a restart): its shares are owed or placed already
        self._place(code, kind="slice")

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
        if self._unsettled():
            self._poll()
        self._reconcile_unacked(wait_to_settle=False)
        for stock in self.journal.stocks(self.run_id):  # owed: waiting for cash or refused for pace
            if stock.owed > 0 and not self.cancel.is_set():
                self._place(stock.code, kind="retry")
        nxt = self.clock.now() + timedelta(seconds=self.run_rec.poll_seconds)
        if nxt < self.run_rec.window.end:
            self.scheduler.at(nxt, self._poll_tick, tag="poll")

    def _catch_up(self) -> None:
        """One pass that owes every stock whatever is still missing, then places it."""
        if self.cancel.is_set():
            return
        self._poll()
        self._reconcile_unacked(wait_to_settle=False)
        owed = {s.code: self._missing(s) for s in self.journal.stocks(self.run_id)}
        self.journal.mark_caught_up(self.run_id, owed)
        for code, qty in owed.items():
            if qty > 0 and not self.cancel.is_set():
                self._place(code, kind="catch_up")

    def _end(self) -> None:
        self._stop(cancelled=False)

    # placing orders -----------------------------------------------------------------------------------
    def _missing(self, stock: StockRecord) -> int:
        """Shares still to place: the goal less what is filled, open, or maybe working (exchange truth)."""
        committed = sum(o.committed for o in self.journal.orders(self.run_id) if o.code == stock.code)
        return max(0, stock.goal - committed)

    def _stock(self, code: str) -> StockRecord:
        return next(s for s in self.journal.stocks(self.run_id) if s.code == code)

    def _place(self, code: str, *, kind: str) -> None:
        """Place what the stock owes, never beyond its goal; a buy only with the cash to pay for it."""
        stock = self._stock(code)
        missing = self._missing(stock)
        if stock.owed > missing:  # the goal is nearer than the schedule thinks: never overshoot
            self.journal.set_owed(self.run_id, code, missing)
        qty = min(stock.owed, missing)
        if qty <= 0:
            if stock.waiting:
                self.journal.set_waiting(self.run_id, code, False)
            return
        if stock.side is OrderSide.BUY:
            affordable, needed, available = self._affordable(code, qty)
            if affordable < qty:
                if not stock.waiting:  # one event per wait, not per retry
                    self.journal.set_waiting(self.run_id, code, True)
                    self._emit(WaitingForCash(self.run_id, code, needed, available))
                if affordable <= 0:
                    return
                qty = affordable
        self._send(stock, qty, kind)

    def _affordable(self, code: str, qty: int) -> tuple[int, int, int]:
        """(shares the cash pays for, won needed, won available); 0 shares when the check fails."""
        price = self._price_estimate(code)
        needed = qty * price
        try:
            power: BuyingPower = self.client.buying_power(code)
        except READ_ERRORS as exc:
            log.warning("buying power of %s unavailable (%s); the buy waits", code, type(exc).__name__)
            return 0, needed, 0
        # nrcvb_buy_amt: what cash pays for without margin (미수). ord_psbl_cash may include credit.
        available = power.max_amount
        return min(qty, available // price), needed, available

    def _price_estimate(self, code: str) -> int:
        # The plan's price with headroom for the move since and the fees; each refusal for cash adds
        # headroom so that retries converge instead of being refused the same way again.
        base = max(1, self.lines[code].price)
        return int(base * (1 + self.settings.cash_buffer + self.price_bump.get(code, 0.0))) + 1

    def _send(self, stock: StockRecord, qty: int, kind: str) -> None:
        order_type = self.run_rec.order_type
        price = round_to_tick(self.lines[stock.code].price, stock.side) if order_type.needs_price else 0
        order_id = self.journal.add_intent(self.run_id, stock.code, stock.side, qty, order_type, price, kind,
                                           self.clock.now())
        try:
            ack = self.client.order(stock.code, stock.side, qty, order_type, price,
                                    exclude_order_nos=self._known_today())
        except OrderUncertain as exc:
            self.journal.mark_uncertain(order_id, str(exc))
            log.warning("order %s for %s uncertain; reconciling against today's orders", order_id, stock.code)
        except (RateLimited, NotSent) as exc:
            # surely never reached the exchange: owed again, next tick
            self.journal.mark_lost(order_id, f"{NOT_SENT}: {type(exc).__name__}")
        except KisError as exc:
            short_of_cash = exc.msg_cd == CASH_SHORT_CODE or CASH_SHORT_WORDING in exc.msg1
            # Short of cash is a wait, not a refusal: owed again, retried when cash is there.
            self.journal.mark_rejected(order_id, exc.msg_cd, exc.msg1, owe_again=short_of_cash)
            if not short_of_cash:
                self._emit(OrderRejected(self.run_id, stock.code, stock.side, qty, exc.msg_cd, exc.msg1))
            else:
                self.price_bump[stock.code] = min(MAX_PRICE_BUMP, self.price_bump.get(stock.code, 0.0) + 0.02)
                if not self._stock(stock.code).waiting:
                    self.journal.set_waiting(self.run_id, stock.code, True)
                    self._emit(WaitingForCash(self.run_id, stock.code, qty * self._price_estimate(stock.code), 0))
        except (KisTransportError, requests.RequestException) as exc:
            # The client re-sends only when certain; anything else may have reached the exchange.
            self.journal.mark_uncertain(order_id, f"{type(exc).__name__}: {exc}")
        else:
            self.journal.mark_acked(order_id, ack.order_no, ack.org_no, RESENT if ack.resent else "")
            self._emit(OrderSent(self.run_id, stock.code, stock.side, qty, ack.order_no))
            after = self._stock(stock.code)
            if after.waiting and after.owed == 0:  # the wait is over only once everything owed is placed
                self.journal.set_waiting(self.run_id, stock.code, False)

    def _known_today(self) -> set[str]:
        return self.journal.known_order_nos(self.clock.now().astimezone(KST).date())

    # reading the exchange -----------------------------------------------------------------------------
    def _unsettled(self) -> bool:
        """Some order of the run may still fill or is not yet known: a poll has something to learn."""
        return any(o.state in (OrderState.INTENT, OrderState.UNCERTAIN) or o.resting
                   or (o.state is OrderState.LOST and not o.message.startswith(NOT_SENT))  # may yet show up
                   or o.message == RESENT  # its first send may yet show up
                   for o in self.journal.orders(self.run_id))

    def _poll(self) -> list[OrderStatus] | None:
        """Today's orders -> journal; emits Filled for every new fill. None when the read failed."""
        began = self.clock.now()
        try:
            statuses = self.client.orders_today()
        except READ_ERRORS as exc:
            log.warning("fill poll failed (%s); next poll will retry", type(exc).__name__)
            return None
        finally:
            self.poll_cost = (self.clock.now() - began).total_seconds()
        self._apply(statuses)
        return statuses

    def _apply(self, statuses: list[OrderStatus]) -> None:
        by_no = {same_order_no(s.order_no): s for s in statuses if not s.orig_order_no.strip("0")}
        cancelled_originals = {same_order_no(s.orig_order_no) for s in statuses
                               if s.orig_order_no.strip("0") and s.cancelled}
        now = self.clock.now()
        today = now.astimezone(KST).date()
        for order in self.journal.orders(self.run_id):
            number = same_order_no(order.order_no)
            # Order numbers restart each day: only today's orders can be today's rows.
            if (order.state is not OrderState.ACKED or number not in by_no
                    or order.sent_at.astimezone(KST).date() != today):
                continue
            seen = by_no[number]
            amount = seen.filled_amount or seen.avg_fill_price * seen.filled_qty
            closed = not seen.is_open or number in cancelled_originals
            inc_qty, inc_amount = self.journal.record_exchange_view(order.id, seen.filled_qty, amount,
                                                                    seen.remaining_qty, closed, now)
            if inc_qty:
                self._emit_fill(order, inc_qty, inc_amount)
        self._adopt_late_arrivals(statuses, today)

    def _adopt_late_arrivals(self, statuses: list[OrderStatus], today) -> None:
        """Orders the run gave up on or re-sent whose first send shows up after all are counted.

        A lost order (ruled out, its shares owed again) is acked again; the first send of a re-sent
        order is journaled as its twin. Either way later slices shrink instead of the stock ending past
        its target, and remaining quantities keep following the exchange (filled + open).
        """
        for order in self.journal.orders(self.run_id):
            lost = order.state is OrderState.LOST and not order.message.startswith(NOT_SENT)
            if not (lost or order.message == RESENT) or order.sent_at.astimezone(KST).date() != today:
                continue
            found = matching_orders(statuses, order.code, order.side, order.qty, order.order_type, order.price,
                                    since=since_stamp(order.sent_at.astimezone(KST), CLOCK_SKEW),
                                    exclude=self._known_today())
            if not found:
                continue
            seen = found[0]
            if lost:
                # unanswered, it may have been sent twice: keep watching for the other send
                adopted = order if self.journal.adopt_late(order.id, seen.order_no, seen.org_no, RESENT) else None
            else:
                twin_id = self.journal.add_twin(order.id, seen.order_no, seen.org_no, TWIN_FOUND)
                adopted = next((o for o in self.journal.orders(self.run_id) if o.id == twin_id), None)
            if adopted is not None:
                log.warning("order %s for %s showed up late as %s; counted, later slices shrink",
                            order.id, order.code, seen.order_no)
                self._count_exchange_order(adopted, seen)

    def _count_exchange_order(self, order: OrderRecord, seen: OrderStatus) -> None:
        """An order just tied to the exchange's `seen`: store what it shows, tell it was sent and filled."""
        amount = seen.filled_amount or seen.avg_fill_price * seen.filled_qty
        inc_qty, inc_amount = self.journal.record_exchange_view(
            order.id, seen.filled_qty, amount, seen.remaining_qty, not seen.is_open, self.clock.now())
        self._emit(OrderSent(self.run_id, order.code, order.side, order.qty, seen.order_no))
        if inc_qty:
            self._emit_fill(order, inc_qty, inc_amount)

    def _emit_fill(self, order: OrderRecord, qty: int, amount: int) -> None:
        status = run_status(self.journal, self.run_id, self.clock.now())
        stock = next(s for s in status.stocks if s.code == order.code)
        self._emit(Filled(self.run_id, order.code, stock.name, order.side, qty, round(amount / qty),
                          stock.done_qty, stock.order_qty, status.progress))

    def _reconcile_unacked(self, *, wait_to_settle: bool) -> None:
        """Intents and uncertain orders: found in today's orders -> acked; surely never sent -> owed again."""
        today = self.clock.now().astimezone(KST).date()
        for order in self.journal.orders(self.run_id):
            if order.state not in (OrderState.INTENT, OrderState.UNCERTAIN):
                continue
            sent_on = order.sent_at.astimezone(KST).date()
            if sent_on != today:
                # Order numbers restart each day and day orders expire at the close: a lookup today
                # could only match someone else's order. It can no longer trade.
                self.journal.mark_lost(order.id, f"sent on {sent_on}; a day order, expired at that close")
                continue
            found = self._find(order)
            age = (self.clock.now() - order.sent_at).total_seconds()
            if found is None and wait_to_settle and age < self.settings.settle_seconds:
                # Orders can show up late in the daily inquiry: give it time before ruling it out.
                if self.clock.wait(self.settings.settle_seconds - age, self.cancel):
                    return
                found = self._find(order)
                age = self.settings.settle_seconds
            if found is False:
                continue  # could not look: keep it outstanding, try again next poll
            if found is not None:
                # Unanswered, the client may have sent it twice (a re-send after lookups that missed
                # a late listing): keep watching for the other send, as for an ack marked resent.
                self.journal.mark_acked(order.id, found.order_no, found.org_no, RESENT)
                self._count_exchange_order(order, found)
            elif age >= self.settings.settle_seconds:
                log.info("order %s for %s never reached the exchange; its shares are owed again", order.id, order.code)
                self.journal.mark_lost(order.id, f"not among today's orders {age:.0f}s after sending")

    def _find(self, order: OrderRecord) -> OrderStatus | None | bool:
        """The exchange's order matching an unacknowledged one; None if absent, False if the look-up failed."""
        since = since_stamp(order.sent_at.astimezone(KST), CLOCK_SKEW)
        try:
            return self.client.find_order(order.code, order.side, order.qty, order.order_type, order.price,
                                          since=since, exclude=self._known_today())
        except READ_ERRORS as exc:
            log.warning("could not look order %s up (%s)", order.id, type(exc).__name__)
            return False

    # ending -------------------------------------------------------------------------------------------
    def _stop(self, *, cancelled: bool) -> None:
        """End the run: settle unknowns, cancel what still rests, read the balance, report."""
        self.done = True
        self._poll()
        self._reconcile_unacked(wait_to_settle=False)
        withdrawn = self._cancel_resting()
        for _ in range(CANCEL_PASSES - 1):
            self._poll()
            # A cancel that got no answer or failed leaves its order working: try again, since a
            # second cancel of a cancelled order is only refused, never harmful.
            if not any(o.resting for o in self.journal.orders(self.run_id)):
                break
            withdrawn += self._cancel_resting()
        results = self._results()
        self.journal.end_run(self.run_id, "cancelled" if cancelled else "finished", self.clock.now())
        if cancelled:
            self._emit(Cancelled(self.run_id, withdrawn, results))
        else:
            self._emit(Finished(self.run_id, results))

    def _cancel_resting(self) -> int:
        withdrawn = 0
        today = self.clock.now().astimezone(KST).date()
        for order in self.journal.orders(self.run_id):
            # Another day's order expired at that close, and its number may be someone else's today.
            if not order.resting or order.sent_at.astimezone(KST).date() != today:
                continue
            try:
                self.client.cancel(order.order_no, order.org_no)
                withdrawn += 1
            except READ_ERRORS as exc:  # e.g. filled meanwhile: nothing left to cancel
                log.warning("cancel of order %s failed: %s", order.order_no, exc)
        return withdrawn

    def _results(self) -> tuple[StockResult, ...]:
        """Target vs actual per stock from the balance (the seed's 차이 table)."""
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
        return tuple(StockResult(line.code, line.name, line.current_qty, line.target_qty, balance.qty(line.code))
                     for line in self.run_rec.plan.lines)

    def _fail(self, reason: str) -> None:
        self.done = True
        try:
            self._cancel_resting()
        except Exception:  # best effort: the reason below matters more
            log.exception("cancelling resting orders after a failure")
        try:
            self.journal.end_run(self.run_id, "failed", self.clock.now(), reason)
        except Exception:
            log.exception("journaling the failure of %s", self.run_id)
        self._emit(Failed(self.run_id, reason))

    def _emit(self, event: Event) -> None:
        try:
            self.x.on_event(event)
        except Exception:  # the listener's bug must not stop trading
            log.exception("on_event failed for %s", type(event).__name__)
