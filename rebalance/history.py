"""Value history: one row per account and trading day (total value, cash, holdings, the day's buys and sells
in won), and the days reported.

A sibling of the journal (`history.sqlite3` in the data dir), so that the journal's schema stays the
journal's. Each write is one transaction: a restart or a missed day loses nothing already written.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from kis.files import private_dir
from kis.models import Balance

log = logging.getLogger(__name__)

HISTORY_FILE = "history.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    account TEXT NOT NULL,
    day TEXT NOT NULL,              -- the trading day (KST) the value belongs to
    at TEXT NOT NULL,               -- when it was taken; a later one of the same day replaces it
    total_value INTEGER NOT NULL,
    cash INTEGER NOT NULL,          -- D+2 deposit
    stock_value INTEGER NOT NULL,
    pnl INTEGER NOT NULL,
    holdings_json TEXT NOT NULL,
    bought INTEGER,                 -- won filled on buys that day (NULL: a row from before it was kept)
    sold INTEGER,                   -- won filled on sells that day
    PRIMARY KEY (account, day)
);
CREATE TABLE IF NOT EXISTS reports (
    account TEXT NOT NULL,
    day TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (account, day)
);
"""


@dataclass(frozen=True)
class HeldValue:
    code: str
    name: str
    qty: int
    value: int


@dataclass(frozen=True)
class Snapshot:
    """The account at the end of (or during) one trading day."""

    day: date
    at: datetime
    total_value: int
    cash: int
    stock_value: int
    pnl: int
    holdings: tuple[HeldValue, ...] = ()
    bought: int | None = None  # won filled on buys that day; None: not recorded (a row from before issue 23)
    sold: int | None = None


class ValueHistory:
    """SQLite in WAL mode, one connection behind a lock, usable from any thread and process."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        private_dir(self.path.parent)
        _private_file(self.path)
        self._lock = threading.Lock()
        try:
            self._db = self._connect()
        except sqlite3.OperationalError:  # locked or unopenable: not damage, nothing to move
            raise
        except sqlite3.DatabaseError as exc:
            # Past report values only, unlike the journal: kept aside for the user, and a new history starts.
            aside = _free_name(self.path.with_name(self.path.name + ".broken"))
            for suffix in ("-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
            os.replace(self.path, aside)
            log.warning("the value history %s could not be read (%s); it was moved to %s and a new one started",
                        self.path, exc, aside.name)
            _private_file(self.path)
            self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            with self._lock:
                db.executescript(SCHEMA)
                _migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def in_dir(cls, data_dir: str | Path) -> "ValueHistory":
        return cls(Path(data_dir) / HISTORY_FILE)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record(self, account: str, day: date, balance: Balance, at: datetime,
               fills: tuple[int, int] | None = None) -> Snapshot:
        """Write the day's row (replacing an earlier one of the same day) and return it; `fills` is the day's
        (bought, sold) in won so far, which tells a deposit from a trade (None: not known)."""
        bought, sold = fills if fills is not None else (None, None)
        snap = Snapshot(day, at, balance.total_value, balance.cash_d2, balance.stock_value, balance.pnl,
                        tuple(HeldValue(h.code, h.name, h.qty, h.value) for h in balance.holdings), bought, sold)
        holdings = json.dumps([[h.code, h.name, h.qty, h.value] for h in snap.holdings], ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT INTO snapshots (account, day, at, total_value, cash, stock_value, pnl, holdings_json,"
                " bought, sold) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(account, day) DO UPDATE SET"
                " at=excluded.at, total_value=excluded.total_value, cash=excluded.cash,"
                " stock_value=excluded.stock_value, pnl=excluded.pnl, holdings_json=excluded.holdings_json,"
                " bought=coalesce(excluded.bought, bought), sold=coalesce(excluded.sold, sold)",
                (account, day.isoformat(), at.isoformat(), snap.total_value, snap.cash, snap.stock_value,
                 snap.pnl, holdings, bought, sold))
        return snap

    def recent(self, account: str, sessions: int = 30, *, until: date | None = None) -> list[Snapshot]:
        """The last `sessions` rows up to `until` (inclusive), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM snapshots WHERE account=? AND day<=? ORDER BY day DESC LIMIT ?",
                (account, (until or date.max).isoformat(), sessions)).fetchall()
        return [_snapshot(r) for r in reversed(rows)]

    def before(self, account: str, day: date) -> Snapshot | None:
        """The latest row of a trading day before `day`: what the day's change is measured against."""
        with self._lock:
            row = self._db.execute("SELECT * FROM snapshots WHERE account=? AND day<? ORDER BY day DESC LIMIT 1",
                                   (account, day.isoformat())).fetchone()
        return _snapshot(row) if row else None

    def claim_report(self, account: str, day: date, at: datetime) -> bool:
        """True once per account and day: the caller sends that day's report; any later caller does not."""
        with self._lock:
            cur = self._db.execute("INSERT OR IGNORE INTO reports (account, day, at) VALUES (?,?,?)",
                                   (account, day.isoformat(), at.isoformat()))
        return cur.rowcount == 1

    def last_report(self, account: str) -> date | None:
        with self._lock:
            row = self._db.execute("SELECT max(day) AS day FROM reports WHERE account=?", (account,)).fetchone()
        return date.fromisoformat(row["day"]) if row and row["day"] else None


def _migrate(db: sqlite3.Connection) -> None:
    """A history written before the day's fills were kept gets their columns, empty for its old rows."""
    have = {row[1] for row in db.execute("PRAGMA table_info(snapshots)")}
    for column in ("bought", "sold"):
        if column not in have:
            db.execute(f"ALTER TABLE snapshots ADD COLUMN {column} INTEGER")


def _private_file(path: Path) -> None:
    """`path` exists with mode 0600: the account's values and holdings, private like the journal
    (SQLite gives its -wal and -shm files the same mode)."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


def _free_name(path: Path) -> Path:
    """`path`, or `path` with a number added, whichever does not exist yet."""
    candidate, n = path, 1
    while candidate.exists():
        candidate, n = path.with_name(f"{path.name}{n}"), n + 1
    return candidate


def _snapshot(row: sqlite3.Row) -> Snapshot:
    return Snapshot(
        day=date.fromisoformat(row["day"]), at=datetime.fromisoformat(row["at"]), total_value=row["total_value"],
        cash=row["cash"], stock_value=row["stock_value"], pnl=row["pnl"],
        holdings=tuple(HeldValue(*h) for h in json.loads(row["holdings_json"])),
        bought=row["bought"], sold=row["sold"],
    )
