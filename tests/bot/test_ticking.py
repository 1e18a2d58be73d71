"""The background check of the daily report and the schedules: a tick's answer is the wait, a failing tick
is logged and the next one comes anyway, stop ends the thread."""
from __future__ import annotations

import logging
import threading

from bot.ticking import TickThread


class CountingClock:
    """Records each wait; the n-th wait stops the thread (no real sleeping)."""

    def __init__(self, stop_after: int):
        self.waits: list[float] = []
        self.stop_after = stop_after

    def wait(self, seconds: float, cancel: threading.Event) -> bool:
        self.waits.append(seconds)
        if len(self.waits) >= self.stop_after:
            cancel.set()
        return cancel.is_set()


def test_each_wait_is_what_the_tick_answered_else_the_default():
    answers = iter([12.5, None, -3.0])
    clock = CountingClock(stop_after=3)
    ticks = TickThread("test-ticks", lambda: next(answers), clock, every=60.0, failure="tick failed",
                       log=logging.getLogger("test"))
    ticks.start()
    ticks._thread.join(timeout=10)  # the clock's third wait stops it
    assert clock.waits == [12.5, 60.0, 0.0]
    ticks.stop()


def test_a_failing_tick_is_logged_and_the_next_one_still_comes(caplog):
    calls = []

    def tick():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("bad day")
        return 5.0

    clock = CountingClock(stop_after=2)
    ticks = TickThread("test-ticks", tick, clock, every=3600.0, failure="report schedule failed",
                       log=logging.getLogger("test"))
    with caplog.at_level(logging.ERROR):
        ticks.start()
        ticks._thread.join(timeout=10)  # the clock's second wait stops it
    assert len(calls) == 2 and clock.waits == [3600.0, 5.0]
    assert [r.getMessage() for r in caplog.records if r.name == "test"] == ["report schedule failed"]
