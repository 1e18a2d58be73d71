"""The worker's time: a schedule.Scheduler driven by an injected clock, and waits that cancel wakes."""
from __future__ import annotations

import threading
from datetime import timedelta

from rebalance.clock import ClockScheduler, SystemClock
from rebalance.testing import FakeClock
from tests.rebalance.twap_fakes import T0


def test_jobs_run_once_in_time_order_by_the_injected_clock():
    clock = FakeClock(T0)
    scheduler = ClockScheduler(clock)
    ran = []
    scheduler.at(T0 + timedelta(seconds=30), ran.append, "b")
    scheduler.at(T0 + timedelta(seconds=10), ran.append, "a")
    scheduler.at(T0 + timedelta(hours=2), ran.append, "c")

    scheduler.run_pending()
    assert ran == [] and scheduler.idle_seconds == 10
    clock.advance(45)
    scheduler.run_pending()
    assert ran == ["a", "b"]
    scheduler.run_pending()
    assert ran == ["a", "b"]  # one-shot: never twice
    assert scheduler.idle_seconds == 2 * 3600 - 45
    clock.advance(2 * 3600)
    scheduler.run_pending()
    assert ran == ["a", "b", "c"] and scheduler.idle_seconds is None


def test_a_fake_wait_moves_time_instead_of_sleeping_and_stops_on_cancel():
    clock = FakeClock(T0)
    cancel = threading.Event()
    assert clock.wait(90, cancel) is False and clock.now() == T0 + timedelta(seconds=90)
    cancel.set()
    assert clock.wait(3600, cancel) is True and clock.now() == T0 + timedelta(seconds=90)


def test_a_real_wait_returns_at_once_when_cancelled():
    cancel = threading.Event()
    cancel.set()
    assert SystemClock().wait(3600, cancel) is True  # would hang the test for an hour otherwise
