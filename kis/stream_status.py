"""Which process holds an app key's notice session, and what its stream last saw, told through the data dir.

KIS allows one websocket session per app key in practice. The process whose notice stream runs holds a lock
on `<data dir>/notices/<env>-<app key fingerprint>.lock` while it runs (the OS drops it when the process dies)
and keeps `….json` beside it: its state, the notices it handed out, the field count of the last notice
record, the frames it skipped, and when. Another process (`kisbot doctor`) reads that instead of opening a
second session.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kis.files import try_lock, write_private


@dataclass(frozen=True)
class StreamSnapshot:
    """What a notice stream last saw; times are ISO datetimes of the wall clock ('' when never)."""

    pid: int
    state: str
    notices: int = 0  # notices handed out since the stream started
    last_notice_fields: int = 0  # `^`-separated fields in the last notice record (0: none seen yet)
    last_notice_at: str = ""
    skipped: dict[str, int] = field(default_factory=dict)  # frames skipped, by kind
    reconnects: int = 0
    updated_at: str = ""

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


class StreamStatus:
    """The lock and status file of one app key's notice session in a data dir."""

    def __init__(self, data_dir: str | Path, env: str, app_key_id: str):
        base = Path(data_dir) / "notices" / f"{env}-{app_key_id or 'default'}"
        self.lock_path = base.with_suffix(".lock")
        self.path = base.with_suffix(".json")
        self._fd: int | None = None
        self._lock = threading.Lock()  # the stream's thread and its stopper both release

    @classmethod
    def of(cls, config) -> "StreamStatus":
        return cls(config.data_dir, config.env.value, config.app_key_id)

    def claim(self) -> bool:
        """Hold the lock (this process runs the session); False when another holder has it."""
        if self._fd is None:
            try:
                self._fd = try_lock(self.lock_path)
            except OSError:  # an unusable data dir: the stream runs, unannounced
                return False
        return self._fd is not None

    def release(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def held_elsewhere(self) -> bool:
        """Another open of the lock file holds it: a stream of this app key runs (a bot, the demo)."""
        if self._fd is not None:
            return False
        try:
            fd = try_lock(self.lock_path)
        except OSError:
            return False
        if fd is None:
            return True
        os.close(fd)
        return False

    def write(self, snapshot: StreamSnapshot) -> None:
        try:
            write_private(self.path, json.dumps(asdict(snapshot), ensure_ascii=False))
        except OSError:  # a full disk must not stop the stream: the status is a courtesy
            pass

    def read(self) -> StreamSnapshot | None:
        """The last snapshot written, or None (none yet, or unreadable)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return StreamSnapshot(int(data["pid"]), str(data["state"]), int(data.get("notices", 0)),
                                  int(data.get("last_notice_fields", 0)), str(data.get("last_notice_at", "")),
                                  {str(k): int(v) for k, v in dict(data.get("skipped") or {}).items()},
                                  int(data.get("reconnects", 0)), str(data.get("updated_at", "")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
