"""Client-side pacing of KIS calls: one pace per account and server, shared by threads and processes.

KIS counts calls per second per account and answers EGW00201 above the limit, whoever made the call:
a `kisbot balance` typed while `kisbot run` trades shares the run's budget. The next free turn lives
in a small file in the data dir, taken under a file lock, so every kisbot process of the account waits
its turn. Fixed spacing (a token bucket of capacity 1) never bursts, and a small safety margin absorbs
network jitter.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import os
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from kis.files import file_lock, server_name

log = logging.getLogger(__name__)

SAFETY_MARGIN = 0.05  # spacing 5 % wider than 1/rate: at most `rate` calls in any 1-second window
# A stored turn further ahead than this is not ours to honour: the file outlived a reboot (the
# monotonic clock restarted) or was written by a broken process. No penalty is ever this long.
STALE_AHEAD = 120.0
_SLOT = struct.Struct("<d")
# Who hears of each turn taken in this context (a front end counting a slow command's calls), or None.
_turn_watcher: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar("kis_turn_watcher",
                                                                                         default=None)


@contextlib.contextmanager
def watching_turns(on_turn: Callable[[], None]) -> Iterator[None]:
    """Within the block, `on_turn()` is called each time a call in this context takes its turn.

    A context variable: `asyncio.to_thread` carries it into the thread that makes the calls, and
    other threads (a TWAP worker) are not counted."""
    token = _turn_watcher.set(on_turn)
    try:
        yield
    finally:
        _turn_watcher.reset(token)


@dataclass(frozen=True)
class Pace:
    """How fast one account's KIS calls go: its environment, calls a second, codes one quote call reads."""

    env: str
    rate: float
    codes_per_quote_call: int = 1

    def quote_calls(self, codes: int) -> int:
        """Calls it takes to read the prices of `codes` stocks."""
        return math.ceil(codes / max(1, self.codes_per_quote_call)) if codes > 0 else 0

    def seconds(self, calls: int) -> float:
        """About how long `calls` calls take at this pace (the first goes at once, the rest wait their turn)."""
        return max(0, calls - 1) * (1.0 + SAFETY_MARGIN) / self.rate if calls > 0 else 0.0


class RateLimiter:
    """Blocks each caller until its turn; turns are `(1 + margin) / rate` seconds apart.

    With `shared_path`, the next turn is kept in that file under a lock, so every process using the
    same file shares one pace (the clock must then be the system-wide `time.monotonic`).
    """

    def __init__(self, rate: float, *, margin: float = SAFETY_MARGIN,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 shared_path: Path | None = None):
        if rate <= 0:
            raise ValueError(f"rate {rate} is not a positive number of calls per second")
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._margin = margin
        self._interval = (1.0 + margin) / rate
        self._next = float("-inf")
        self._shared_path = shared_path
        self.rate = rate

    @property
    def interval(self) -> float:
        return self._interval

    @property
    def shared_path(self) -> Path | None:
        return self._shared_path

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self.rate = rate
            self._interval = (1.0 + self._margin) / rate

    def acquire(self) -> None:
        """Wait for the next free turn, then take it.

        The locks are held while sleeping and the next turn is counted from the moment the wait really
        ended, so a late wake-up pushes later turns back instead of squeezing two calls together.
        """
        with self._lock, self._shared_turn():
            now = self._clock()
            wait = self._next - now
            if wait > 0:
                self._sleep(wait)
                now = max(self._clock(), self._next)
            self._next = now + self._interval
        watcher = _turn_watcher.get()
        if watcher is not None:
            try:
                watcher()
            except Exception:  # a progress line must never stop a KIS call
                log.exception("turn watcher failed")

    def penalize(self, seconds: float) -> None:
        """Hold every caller back for `seconds` (after KIS said the limit was exceeded)."""
        with self._lock, self._shared_turn():
            self._next = max(self._next, self._clock() + seconds)

    @contextlib.contextmanager
    def _shared_turn(self) -> Iterator[None]:
        """Hold the shared file, if any: `_next` is brought up to the turn kept there and stored back after."""
        if self._shared_path is None:
            yield
            return
        held = contextlib.ExitStack()
        try:
            fd = held.enter_context(file_lock(self._shared_path))
        except OSError as exc:  # an unwritable data dir must not stop trading: pace this process alone
            log.warning("cannot share the call pace through %s (%s); pacing this process alone",
                        self._shared_path, type(exc).__name__)
            self._shared_path = None
            yield
            return
        with held:
            if fd is not None:
                data = os.pread(fd, _SLOT.size, 0)
                stored = _SLOT.unpack(data)[0] if len(data) == _SLOT.size else None
                if stored is not None and stored <= self._clock() + STALE_AHEAD:
                    self._next = max(self._next, stored)
            yield
            if fd is not None:
                os.pwrite(fd, _SLOT.pack(self._next), 0)


_registry: dict[tuple[str, ...], RateLimiter] = {}
_registry_lock = threading.Lock()


def pace_file(data_dir: Path, env: str, account: str, base_url: str) -> Path:
    """Where the shared turn of one account at one server is kept."""
    return Path(data_dir) / "pace" / f"{env}-{account}-{server_name(base_url)}.turn"


def limiter_for(env: str, account: str, base_url: str, rate: float, data_dir: Path | None = None) -> RateLimiter:
    """The limiter of one account at one server; the slower rate wins if two differ.

    With `data_dir` the pace is shared with every other process using that data dir.
    """
    key = (env, account, base_url)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            shared = pace_file(data_dir, env, account, base_url) if data_dir is not None else None
            limiter = _registry[key] = RateLimiter(rate, shared_path=shared)
        elif rate < limiter.rate:
            limiter.set_rate(rate)
        return limiter
