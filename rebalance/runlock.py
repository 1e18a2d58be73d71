"""One process at a time drives an account's runs: an exclusive lock on a file beside the journal.

Two `kisbot run` processes sharing a data directory would otherwise both resume a run a crash left
active, and each would place its slices. The OS drops the lock when the process dies, so a crash
never leaves the account locked.
"""
from __future__ import annotations

import os
from pathlib import Path

from kis.files import HAS_FILE_LOCKS, try_lock


class RunLock:
    """A non-blocking exclusive lock; `acquire` says whether this process now holds it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        if not HAS_FILE_LOCKS:  # pragma: no cover - Windows: the journal's one-active-run rule stays
            return True
        fd = try_lock(self.path)
        if fd is None:
            return False
        self._fd = fd
        os.ftruncate(fd, 0)  # the holder's pid, so another process can say who drives the account
        os.write(fd, f"{os.getpid()}\n".encode())
        return True

    def holder(self) -> int | None:
        """The pid that holds the lock (this one's when it does), or None when nobody holds it."""
        if self._fd is not None:
            return os.getpid()
        if not self.acquire():
            try:
                return int(self.path.read_text().strip())
            except (OSError, ValueError):  # the holder has not written its pid yet
                return -1
        self.release()
        return None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the lock
