"""One run's thread and its schedule: slices, fill polls, the catch-up pass and the end, on the injected clock.

A `schedule` scheduler (`rebalance.clock.ClockScheduler`) fires each job at its time; in between the
worker sleeps on an alarm that a cancel or a notice sets. The jobs hand the work to the run's parts:
`Placer` (placing and re-pricing), `Reconciler` (polls and notices), `Cash` (buys without 미수) and
`Ending` (settling, cancelling and the summary).
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from rebalance.clock import ClockScheduler
from rebalance.events import RunStarted
from rebalance.i18n import Msg
from rebalance.lifecycle import OrderKind
from rebalance.twap.cash import Cash
from rebalance.twap.ending import Ending
from rebalance.twap.placing import Placer
from rebalance.twap.pricing import Pricing
from rebalance.twap.reconciling import Reconciler
from rebalance.twap.run import Owner, Run

log = logging.getLogger(__name__)

POLL_GAP_MARGIN = 0.05  # seconds of slack a poll leaves before the next slice


class Worker:
    """One run in its thread. Every exchange-visible step is journaled first; errors end in Failed."""

    def __init__(self, owner: Owner, run_id: str, resumed: bool, cancel: threading.Event,
                 alarm: threading.Event | None = None):
        self.alarm = alarm or threading.Event()  # wakes the wait between jobs: a cancel or a notice
        self.run = Run(owner, run_id, cancel, self.alarm)
        self.resumed = resumed
        self.done = False
        self.scheduler = ClockScheduler(owner.clock)
        self.deferred = 0.0  # seconds the current poll has given way to slices (at most one interval)
        self.reading = Reconciler(self.run, owner.rate)
        self.cash = Cash(self.run, self.reading)
        self.placing = Placer(self.run, self.reading, self.cash)
        self.pricing = self.placing.pricing = Pricing(self.run, self.placing)  # passive first, then the guard
        self.ending = Ending(self.run, self.reading)

    # the thread ------------------------------------------------------------------------------------
    def work(self) -> None:
        """The thread's body: the run from start (or resume) to its end; an unexpected error ends it as failed."""
        run = self.run
        try:
            self._main()
        except Exception as exc:  # never a silent thread death: journal it, tell the user
            log.exception("TWAP run %s failed", run.id)
            self.fail(Msg("run_failure.unexpected", error=f"{type(exc).__name__}: {exc}"))
        finally:
            if run.notes is not None:
                run.notes.close()
            if run.prices is not None:
                run.prices.watch([])

    def _main(self) -> None:
        run, record = self.run, self.run.record
        run.emit(RunStarted(run.id, record.plan.id, record.window.start, record.window.end,
                            len(run.journal.slices(run.id)), resumed=self.resumed))
        if self.resumed:
            # What the crash left unknown counts as live until settled: other stocks trade meanwhile.
            self.reading.poll()
        if run.clock.now() >= record.window.end:  # resumed after the window: only settle and report
            self.stop(cancelled=False)
            return
        if run.prices is not None:
            run.prices.watch([s.code for s in run.stocks() if not s.halted and run.leg(s.code).streamed])
        for s in run.journal.slices(run.id):
            if not s.fired:
                self.scheduler.at(s.at, self.fire_slice, s.seq, s.code, tag="slice")
        for key, leg_window in run.windows.items():  # one catch-up pass per market's window
            if not leg_window.caught_up:
                self.scheduler.at(leg_window.catch_up_at, self.catch_up, key, tag="catch_up")
        first_poll = max(run.clock.now(), record.window.start) + timedelta(seconds=record.poll_seconds)
        if first_poll < record.window.end:
            self.scheduler.at(first_poll, self.poll_tick, tag="poll")
        for key, leg_window in run.windows.items():  # a market whose window closes first withdraws what rests
            if run.clock.now() < leg_window.window.end < record.window.end:
                self.scheduler.at(leg_window.window.end, self.close_leg, key, tag="leg_end")
            elif leg_window.window.end < record.window.end:  # resumed after it closed: nothing new goes there
                run.closed.add(key)
        self.scheduler.at(record.window.end, self._end, tag="end")

        while not self.done:
            self.alarm.clear()  # before looking: a notice or cancel from now on wakes the wait below
            if run.cancel.is_set():
                self.stop(cancelled=True)
                return
            self.reading.take_notices()
            self.scheduler.run_pending()
            if self.done:
                return
            idle = self.scheduler.idle_seconds
            if idle is None:  # pragma: no cover - the end job is always there until done
                self._end()
                return
            run.clock.wait(max(0.0, idle), self.alarm)

    # scheduled jobs -----------------------------------------------------------------------------------
    def fire_slice(self, seq: int, code: str) -> None:
        """A slice's time: re-price what rests, then place what the stock owes (once per slice, across restarts)."""
        run = self.run
        if run.cancel.is_set():
            return
        if not run.journal.fire_slice(run.id, seq):
            return  # already fired (e.g. before a restart): its shares are owed or placed already
        self.pricing.review(code)
        self.placing.reprice(code)
        self.placing.place(code, kind=OrderKind.SLICE)

    def poll_tick(self) -> None:
        """A fill poll (unless notices make it needless), then what is owed is placed; the next tick is set."""
        run = self.run
        if run.cancel.is_set():
            return
        now = run.clock.now()
        next_slice = min((job.next_run for job in self.scheduler.get_jobs("slice")), default=None)
        if next_slice is not None and self.deferred < run.record.poll_seconds:
            gap = (next_slice - self.scheduler.naive_now()).total_seconds()
            if gap < self.reading.poll_cost + POLL_GAP_MARGIN:  # a poll now would make that slice late
                later = max(0.0, gap) + 0.001
                self.deferred += later
                self.scheduler.at(now + timedelta(seconds=later), self.poll_tick, tag="poll")
                return
        self.deferred = 0.0
        notes = run.notes
        if self.reading.unsettled() and (notes is None or self.reading.poll_could_forbid()
                                         or self.reading.cancels_unconfirmed() or self.reading.unnoticed_unsettled()
                                         or notes.poll_due(now)):
            self.reading.poll()
        self.pricing.review_all()  # passive orders whose time has come move to the guard price
        for stock in run.stocks():  # owed: waiting for cash, refused for pace, re-priced
            if stock.owed > 0 and not stock.halted and not run.cancel.is_set():
                self.placing.place(stock.code, kind=OrderKind.RETRY)
        nxt = run.clock.now() + timedelta(seconds=run.record.poll_seconds)
        horizon = self._next_horizon()
        if horizon is not None and horizon < nxt:
            nxt = horizon
        if nxt < run.record.window.end:
            self.scheduler.at(nxt, self.poll_tick, tag="poll")

    def _next_horizon(self) -> datetime | None:
        """When the first unanswered order's settle horizon ends: a poll then may rule it out and free its shares."""
        # Its shares are then placed again before the window ends, not only at the next regular poll.
        run = self.run
        now = run.clock.now()
        ends = [o.unseen_since + timedelta(seconds=run.settings.settle_seconds)
                for o in run.orders() if o.state.unsettled and o.unseen_since is not None]
        return min((end for end in ends if end > now), default=None)

    def catch_up(self, key: str | None = None) -> None:
        """One pass that re-prices what rests and owes every stock (of the market `key`, the run's only one when
        None) whatever is still missing, then places it."""
        run = self.run
        if run.cancel.is_set():
            return
        self.reading.poll()
        stocks = [s for s in run.stocks() if key is None or run.leg(s.code).key == key]
        for stock in stocks:
            self.pricing.review(stock.code, late=True)
            self.placing.reprice(stock.code)
        owed = {s.code: 0 if s.halted else self.placing.owable(s) for s in stocks}
        one = key is None or len(run.windows) == 1  # a run of one window keeps its flag on the run
        run.journal.mark_caught_up(run.id, owed, None if one else key)
        for code, qty in owed.items():
            if qty > 0 and not run.cancel.is_set():
                self.placing.place(code, kind=OrderKind.CATCH_UP)

    def close_leg(self, key: str) -> None:
        """One market's window is over before the run's: what still rests there is cancelled (no new orders go
        out for its stocks); the run goes on in the other market's window."""
        run = self.run
        run.closed.add(key)
        if run.cancel.is_set():
            return
        self.reading.poll()
        self.ending.cancel_resting(key)

    def _end(self) -> None:
        self.stop(cancelled=False)

    # the end ----------------------------------------------------------------------------------------
    def stop(self, *, cancelled: bool) -> None:
        """End the run (the window's end or /cancel): no job runs after it."""
        self.done = True
        self.ending.finish(cancelled=cancelled)

    def fail(self, reason: Msg) -> None:
        """End the run as failed with `reason` for the user."""
        self.done = True
        self.ending.fail(reason)
