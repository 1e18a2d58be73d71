"""KIS's per-second call limit per app key, as the exchange enforces it (EGW00201 beyond it)."""
from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Callable

# Requests cross a socket: a client pacing at exactly the limit can arrive a few ms early. KIS's own
# counter is per second; a small grace keeps well-paced clients from being refused by jitter alone.
JITTER_GRACE = 0.05


class CallLimiter:
    """Sliding window: at most `rate` calls in any window of one second (or one call per 1/rate s)."""

    def __init__(self, rate: float, monotonic: Callable[[], float] = time.monotonic):
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._calls: dict[str, deque[float]] = {}
        self.refused = 0
        self.refused_by: Counter[str] = Counter()  # refusals per app key (a sim of several accounts)
        self.set_rate(rate)

    def set_rate(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._capacity = max(1, int(rate)) if rate >= 1 else 1
        self._window = (1.0 if rate >= 1 else 1.0 / rate) * (1 - JITTER_GRACE)

    def allow(self, key: str) -> bool:
        now = self.monotonic()
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - self._window:
                calls.popleft()
            if len(calls) >= self._capacity:
                self.refused += 1
                self.refused_by[key] += 1
                return False
            calls.append(now)
            return True
