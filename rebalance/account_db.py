"""One account's tables in the journal's SQLite file (`journal.db` in the data dir), shared by the stores
that keep their rows beside the runs: the offered plans (`rebalance/pending.py`) and the schedules
(`rebalance/schedules.py`). Every row names its account; several processes may share the file."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import TypeVar

from rebalance.journal import JOURNAL_FILE

_Store = TypeVar("_Store", bound="AccountDb")


class AccountDb:
    """An open connection (autocommit, synchronous=FULL, a 30 s busy wait) with `schema` applied, a lock
    around every use of it, and the account its rows belong to."""

    schema = ""  # CREATE TABLE IF NOT EXISTS ... of the subclass

    def __init__(self, path: str | Path, account: object):
        self.path, self.account = Path(path), str(account)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(self.schema)

    @classmethod
    def in_dir(cls: type[_Store], data_dir: str | Path, account: object) -> _Store:
        return cls(Path(data_dir) / JOURNAL_FILE, account)

    def close(self) -> None:
        with self._lock:
            self._db.close()
