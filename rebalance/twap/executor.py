"""The facade of TWAP execution: one plan at a time per account, its run in a worker thread.

`TwapExecutor` is what the bot uses (start, cancel, status, resume, wait). It journals the run and its
slices, holds the account's run lock, and starts `rebalance.twap.scheduling.Worker` in a thread.
"""
from __future__ import annotations

import os
import threading
import uuid
from dataclasses import replace
from typing import Callable

from rebalance.broker import Broker
from rebalance.clock import Clock, SystemClock
from rebalance.events import Event
from rebalance.i18n import t
from rebalance.journal import Journal, RunActive
from rebalance.model import Plan
from rebalance.notices import NoticeFeed
from rebalance.runlock import RunLock
from rebalance.twap.legs import Legs, leg_windows, slice_legs
from rebalance.twap.scheduling import Worker
from rebalance.twap.status import RunStatus, run_status
from rebalance.window import EXECUTIONS, TwapSettings, Window


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
        self.pricing_counts = None  # the current run's rebalance.twap.pricing.Pricing.counts
        self._run_id: str | None = None
        slug = "".join(ch if ch.isalnum() else "_" for ch in self.account)
        self._process_lock = RunLock(journal.path.with_name(f"run-{slug}.lock"))

    def start(self, plan: Plan, window: Window, guard: float | None = None, *, execution: str | None = None) -> str:
        """Journal the run and its slices, then trade them in a worker thread; RunActive if one runs.

        `guard`: this run's price guard instead of the settings' (an after-work run's wider one).
        `execution` ("passive" or "cross", the plan word `cross`) overrides the settings' style for this run.
        """
        if execution is not None and execution not in EXECUTIONS:
            raise ValueError(f"execution '{execution}' is not one of {', '.join(EXECUTIONS)}")
        if plan.manual:
            raise ValueError(t("accounts.read_only"))
        if not plan.has_orders:
            raise ValueError(t("misc_replies.nothing_to_trade"))
        now = self.clock.now()
        windows = leg_windows(Legs(self.client), plan, window, now, self.settings)
        span = Window(min(w.start for w in windows.values()), max(w.end for w in windows.values()))
        if span.end <= now:
            raise ValueError(t("misc_replies.window_ended", end=f"{span.end:%H:%M}"))
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise RunActive(self._run_id or "")
            self._lock_account()
            try:
                # the run's own style sizes its slices (a passive slice costs more calls than a crossing one)
                styled = self.settings if execution is None else replace(self.settings, execution=execution)
                schedule, kept = slice_legs(plan, windows, styled, self.rate)
                run_id = f"{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
                self.journal.create_run(run_id, self.account, plan, span, schedule, self.settings.order_type, now,
                                        self.settings.price_guard if guard is None else guard, kept,
                                        execution=execution or self.settings.execution)
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
            raise RunActive(run_id, t("misc_replies.other_process"))

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
        worker = Worker(self, run_id, resumed, self._cancel, self._alarm)
        self.notice_stats = worker.run.notes.stats if worker.run.notes is not None else None  # benches, tests
        self.quote_sources = worker.placing.quotes
        self.pricing_counts = worker.pricing.counts  # passive and crossed sends, revisions (benches, tests)

        def work() -> None:
            try:
                worker.work()
            finally:
                self._process_lock.release()

        self._thread = threading.Thread(target=work, name=f"twap-{run_id}", daemon=True)
        self._thread.start()
