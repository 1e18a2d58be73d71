"""Test doubles for the rebalance layer, for tests and benchmarks only: nothing in kisbot imports this."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

from kis.krx import KST


class FakeClock:
    """Test time: `wait` advances the clock instead of sleeping. Thread-safe."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(KST)
        self._lock = threading.Lock()
        self.waits: list[float] = []  # every wait asked for, to check there is no busy loop

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def wait(self, seconds: float, cancel: threading.Event) -> bool:
        if cancel.is_set():
            return True
        seconds = max(0.0, seconds)
        with self._lock:
            self.waits.append(seconds)
            self._now += timedelta(seconds=seconds)
        return cancel.is_set()
