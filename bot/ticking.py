"""A bot's background check: `tick()` on a daemon thread until `stop()`, sleeping on the injected clock.

The daily report (`bot/reports.py`) and the schedule check (`bot/schedules.py`) both run this way; their
`tick()` stays the synchronous core the tests drive on a fake clock.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from rebalance.clock import Clock


class TickThread:
    """Calls `tick` until stopped, then waits as many seconds as it answers (`every` when it answers None).
    A tick that raises is logged (`failure`, on `log`) and the next comes `every` seconds later: the check
    outlives one bad tick."""

    def __init__(self, name: str, tick: Callable[[], float | None], clock: Clock, *, every: float,
                 failure: str, log: logging.Logger):
        self.name, self.tick, self.clock, self.every = name, tick, clock, every
        self.failure, self.log = failure, log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                idle = self.tick()
            except Exception:
                self.log.exception(self.failure)
                idle = None
            self.clock.wait(max(0.0, idle if idle is not None else self.every), self._stop)
