"""The simulator's sense of time: the real KST clock, or a manual one tests move by hand."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

from kis.krx import KST


def kst_now() -> datetime:
    return datetime.now(KST)


class ManualClock:
    """A KST clock that only moves when told to, so prices and token ages are reproducible."""

    def __init__(self, start: datetime | None = None):
        start = start or datetime(2026, 11, 24, 10, 0, 0, tzinfo=KST)
        if start.tzinfo is None:
            start = start.replace(tzinfo=KST)
        self._now = start.astimezone(KST)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return self.now()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(KST) if when.tzinfo else when.replace(tzinfo=KST)
