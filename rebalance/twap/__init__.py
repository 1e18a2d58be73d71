"""TWAP execution of a confirmed plan in a worker thread, journaled so nothing is lost or sent twice.

`TwapExecutor` is the facade the bot uses (start, cancel, status, resume, wait); `_Worker` is one
run's thread: a `schedule` scheduler on the injected clock fires slices, fill polls, the catch-up pass
and the end, and sleeps in between on the cancel event. What the exchange shows is turned into
journal updates by the pure functions of `rebalance.reconcile`; the worker only reads and applies.
KIS's order/fill notices, when on, reach the same journal through `rebalance.notices` and `observe`.
"""
from __future__ import annotations

import logging
import os
import threading
import uuid
from datetime import datetime, timedelta
from typing import Callable

from rebalance.broker import Broker
from rebalance.clock import Clock, ClockScheduler, SystemClock
from rebalance.events import Event, RunStarted
from rebalance.journal import Journal, RunActive, RunRecord
from rebalance.lifecycle import OrderKind
from rebalance.i18n import t
from rebalance.model import Plan
from rebalance.notices import NoticeFeed
from rebalance.runlock import RunLock
from rebalance.slicing import slice_plan
from rebalance.window import TwapSettings, Window
from rebalance.twap.cash import Cash, cash_without_credit, shares_without_credit  # noqa: F401 - for bot/doctor_buy
from rebalance.twap.ending import Ending
from rebalance.twap.placing import Placer, beyond_guard, guard_price  # noqa: F401 - imported from here by others
from rebalance.twap.reconciling import Reconciler
from rebalance.twap.run import Run
from rebalance.twap.status import RunStatus, StockProgress, run_status

log = logging.getLogger(__name__)

END_BALANCE_TRIES = 3
CANCEL_PASSES = 3  # rounds of cancelling what still rests when a run ends
CONFIRM_GAP = 1.0  # seconds between two looks at today's orders while a cancel KIS took is unconfirmed
POLL_GAP_MARGIN = 0.05  # seconds of slack a poll leaves before the next slice

__all__ = ["RunActive", "RunStatus", "StockProgress", "TwapExecutor"]


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
        self.alarm = alarm or threading.Event()
        self.ctx = Run(executor, run_id, cancel, self.alarm)
        self.run_rec: RunRecord = self.ctx.record
        self.lines = self.ctx.lines
        self.order_type = self.ctx.order_type
        self.guard = self.ctx.guard
        self.scheduler = ClockScheduler(self.clock)
        self.deferred = 0.0  # seconds the current poll has given way to slices (at most one interval)
        self.notes = self.ctx.notes
        executor.notice_stats = self.notes.stats if self.notes is not None else None  # for benches and tests
        self.prices = self.ctx.prices
        self.reading = Reconciler(self.ctx, executor.rate)
        self.placing = Placer(self.ctx, self.reading, Cash(self.ctx, self.reading))
        self.ending = Ending(self.ctx, self.reading)
        executor.quote_sources = self.placing.quotes

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
        self.ctx.emit(RunStarted(self.run_id, run.plan.id, run.window.start, run.window.end,
                              len(self.journal.slices(self.run_id)), resumed=self.resumed))
        if self.resumed:
            # What the crash left unknown counts as live until settled: other stocks trade meanwhile.
            self.reading.poll()
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
            self.reading.take_notices()
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
        self.placing.reprice(code)
        self.placing.place(code, kind=OrderKind.SLICE)

    def _poll_tick(self) -> None:
        if self.cancel.is_set():
            return
        now = self.clock.now()
        next_slice = min((job.next_run for job in self.scheduler.get_jobs("slice")), default=None)
        if next_slice is not None and self.deferred < self.run_rec.poll_seconds:
            gap = (next_slice - self.scheduler.naive_now()).total_seconds()
            if gap < self.reading.poll_cost + POLL_GAP_MARGIN:  # a poll now would make that slice late
                later = max(0.0, gap) + 0.001
                self.deferred += later
                self.scheduler.at(now + timedelta(seconds=later), self._poll_tick, tag="poll")
                return
        self.deferred = 0.0
        if self.reading.unsettled() and (self.notes is None or self.reading.poll_could_forbid() or self.reading.cancels_unconfirmed()
                                  or self.notes.poll_due(now)):
            self.reading.poll()
        for stock in self.journal.stocks(self.run_id):  # owed: waiting for cash, refused for pace, re-priced
            if stock.owed > 0 and not stock.halted and not self.cancel.is_set():
                self.placing.place(stock.code, kind=OrderKind.RETRY)
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
        self.reading.poll()
        for stock in self.journal.stocks(self.run_id):
            self.placing.reprice(stock.code)
        owed = {s.code: 0 if s.halted else self.placing.owable(s) for s in self.journal.stocks(self.run_id)}
        self.journal.mark_caught_up(self.run_id, owed)
        for code, qty in owed.items():
            if qty > 0 and not self.cancel.is_set():
                self.placing.place(code, kind=OrderKind.CATCH_UP)

    def _end(self) -> None:
        self._stop(cancelled=False)

    # ending -------------------------------------------------------------------------------------------

    # ending -------------------------------------------------------------------------------------------
    def _stop(self, *, cancelled: bool) -> None:
        """End the run (the window's end or /cancel): no job runs after it."""
        self.done = True
        self.ending.finish(cancelled=cancelled)

    def _fail(self, reason: str) -> None:
        """End the run as failed with `reason` for the user."""
        self.done = True
        self.ending.fail(reason)
