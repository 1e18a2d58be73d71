"""Client-side pacing of KIS calls: one limiter per account, shared by every thread of the process.

KIS counts calls per second per account and answers EGW00201 above the limit. Fixed spacing (a
token bucket of capacity 1) never bursts, and a small safety margin absorbs network jitter.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

SAFETY_MARGIN = 0.05  # spacing 5 % wider than 1/rate: at most `rate` calls in any 1-second window


class RateLimiter:
    """Blocks each caller until its turn; turns are `(1 + margin) / rate` seconds apart."""

    def __init__(self, rate: float, *, margin: float = SAFETY_MARGIN,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError(f"rate {rate} is not a positive number of calls per second")
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._margin = margin
        self._interval = (1.0 + margin) / rate
        self._next = float("-inf")
        self.rate = rate

    @property
    def interval(self) -> float:
        return self._interval

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self.rate = rate
            self._interval = (1.0 + self._margin) / rate

    def acquire(self) -> None:
        """Wait for the next free turn, then take it.

        The lock is held while sleeping and the next turn is counted from the moment the wait really
        ended, so a late wake-up pushes later turns back instead of squeezing two calls together.
        """
        with self._lock:
            now = self._clock()
            wait = self._next - now
            if wait > 0:
                self._sleep(wait)
                now = max(self._clock(), self._next)
            self._next = now + self._interval

    def penalize(self, seconds: float) -> None:
        """Hold every caller back for `seconds` (after KIS said the limit was exceeded)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)


_registry: dict[tuple[str, ...], RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(env: str, account: str, base_url: str, rate: float) -> RateLimiter:
    """The process-wide limiter of one account at one server; the slower rate wins if two differ."""
    key = (env, account, base_url)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = RateLimiter(rate)
        elif rate < limiter.rate:
            limiter.set_rate(rate)
        return limiter
