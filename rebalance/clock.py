"""Time for the TWAP worker: a clock to read and to wait on, and a `schedule.Scheduler` driven by it.

Waits take the cancel event so that `/cancel` wakes the worker at once; `rebalance.testing.FakeClock`
jumps ahead instead of sleeping, so tests run whole windows in milliseconds.
"""
from __future__ import annotations

import threading
from datetime import datetime
from typing import Callable, Protocol

import schedule

from kis.krx import KST


class Clock(Protocol):
    """What the executor needs of time: read it (KST, aware) and wait until cancelled."""

    def now(self) -> datetime: ...

    def wait(self, seconds: float, cancel: threading.Event) -> bool:
        """Wait up to `seconds`; True when `cancel` was set (at once, not after the wait)."""
        ...


class SystemClock:
    """Real time. `wait` is `Event.wait`: no busy loop, woken by cancel."""

    def now(self) -> datetime:
        return datetime.now(KST)

    def wait(self, seconds: float, cancel: threading.Event) -> bool:
        return cancel.wait(max(0.0, seconds))


class _AtJob(schedule.Job):
    """A one-shot `schedule` job at an absolute time, due by the injected clock, not `datetime.now`."""

    def __init__(self, scheduler: "ClockScheduler", at: datetime):
        super().__init__(1, scheduler)
        self.unit = "seconds"  # schedule validates a unit in do(); next_run is then overwritten
        self._at = at

    def do(self, job_func: Callable, *args, **kwargs) -> "_AtJob":
        super().do(job_func, *args, **kwargs)
        self.next_run = _naive_kst(self._at)
        return self

    @property
    def should_run(self) -> bool:
        return self.scheduler.naive_now() >= self.next_run  # type: ignore[union-attr]

    def run(self):
        self.job_func()
        self.last_run = self.scheduler.naive_now()  # type: ignore[union-attr]
        return schedule.CancelJob


class ClockScheduler(schedule.Scheduler):
    """`schedule.Scheduler` whose notion of now is a `Clock`; jobs run once at a given KST time."""

    def __init__(self, clock: Clock):
        super().__init__()
        self.clock = clock

    def naive_now(self) -> datetime:
        return _naive_kst(self.clock.now())

    def at(self, when: datetime, func: Callable, *args, tag: str = "", **kwargs) -> schedule.Job:
        job = _AtJob(self, when).do(func, *args, **kwargs)
        if tag:
            job.tag(tag)
        return job

    @property
    def idle_seconds(self) -> float | None:
        nxt = self.next_run
        if nxt is None:
            return None
        return (nxt - self.naive_now()).total_seconds()


def _naive_kst(when: datetime) -> datetime:
    # schedule compares naive datetimes; KST has no DST, so naive KST orders correctly.
    return when.astimezone(KST).replace(tzinfo=None)
