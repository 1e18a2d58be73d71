"""The TWAP journal: SQLite memory of every run, slice and order, so a restart resumes exactly.

An order's intent is committed before it is sent and its acknowledgement after; each state change
is one transaction, so a crash between any two lines leaves a state `resume()` can reconcile.
"""
from __future__ import annotations

from decimal import Decimal

import json
import os
import sqlite3
import tempfile
import threading
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Callable, Collection, Sequence

from kis.files import disk_full, private_dir
from kis.errors import ConfigError
from kis.models import OrderSide, OrderType
from kis.krx import KST
from rebalance.lifecycle import OrderKind, OrderState, RunState, check_transition, owed_change
from rebalance.i18n import t
from rebalance.model import Plan, PlanLine
from rebalance.slicing import SliceSchedule
from rebalance.window import Window

JOURNAL_FILE = "journal.sqlite3"

SCHEMA_VERSION = 3  # PRAGMA user_version; a journal older than this is migrated on open

SCHEMA = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    plan_id TEXT NOT NULL,
    plan_json TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    catch_up_at TEXT NOT NULL,
    poll_seconds REAL NOT NULL,
    order_type TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('active', 'finished', 'cancelled', 'failed')),
    reason TEXT NOT NULL DEFAULT '',
    caught_up INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    ended_at TEXT,
    price_guard REAL NOT NULL DEFAULT 0,  -- a limit order pays at most this fraction past the latest price
    execution TEXT NOT NULL DEFAULT 'cross'  -- cross: guard-priced slices, passive: own-side best first
);
-- One active run per account: the database itself refuses a second one.
CREATE UNIQUE INDEX one_active_run ON runs(account) WHERE state = 'active';
CREATE TABLE stocks (
    run_id TEXT NOT NULL REFERENCES runs(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    side TEXT NOT NULL,
    goal INTEGER NOT NULL,        -- shares this run must trade
    start_qty INTEGER NOT NULL,
    target_qty INTEGER NOT NULL,
    owed INTEGER NOT NULL DEFAULT 0,   -- due by the schedule but not yet placed
    waiting INTEGER NOT NULL DEFAULT 0, -- a buy is waiting for cash
    halted INTEGER NOT NULL DEFAULT 0,  -- the price ran past the guard: no more orders for this stock
    PRIMARY KEY (run_id, code)
);
CREATE TABLE slices (
    run_id TEXT NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    code TEXT NOT NULL,
    side TEXT NOT NULL,
    qty INTEGER NOT NULL,
    due_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'fired')),
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(id),
    code TEXT NOT NULL,
    side TEXT NOT NULL,
    qty INTEGER NOT NULL,
    order_type TEXT NOT NULL,
    price INTEGER NOT NULL,
    kind TEXT NOT NULL,            -- slice | catch_up | retry | twin
    state TEXT NOT NULL CHECK (state IN (%s)),
    order_no TEXT,
    org_no TEXT,
    sent_at TEXT NOT NULL,         -- when the intent was written, just before sending
    filled_qty INTEGER NOT NULL DEFAULT 0,
    filled_amount INTEGER NOT NULL DEFAULT 0,
    remaining INTEGER,             -- NULL until the exchange has shown the order
    unseen_since TEXT,             -- first of an unbroken row of working lookups that did not list it
    cancel_sent INTEGER NOT NULL DEFAULT 0,  -- a cancel of its rest was accepted (re-pricing, halt)
    msg_cd TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',  -- for people only: no code reads it
    market TEXT NOT NULL DEFAULT 'KRX',  -- where it was sent: a kis.markets code (KRX NASD NYSE AMEX)
    bid INTEGER NOT NULL DEFAULT 0,        -- the best bid when the order was sent (0: not read)
    ask INTEGER NOT NULL DEFAULT 0,        -- the best ask when the order was sent (0: not read)
    passive INTEGER NOT NULL DEFAULT 0,    -- priced at the own side's best (joins the queue)
    revises INTEGER                        -- a revision (order-rvsecncl 01): the order whose rest it moves
);
CREATE INDEX orders_by_run ON orders(run_id);
%s
CREATE TABLE fills (
    order_id INTEGER NOT NULL REFERENCES orders(id),
    qty INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    at TEXT NOT NULL
);
""" % (", ".join(f"'{s.value}'" for s in OrderState), "%s")

# One window per market a run trades (issue 22): a run without rows trades every stock in the run's window.
WINDOWS_SQL = """
CREATE TABLE run_windows (
    run_id TEXT NOT NULL REFERENCES runs(id),
    leg TEXT NOT NULL,             -- the executor's leg: KRX, US
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    catch_up_at TEXT NOT NULL,
    caught_up INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, leg)
);"""
SCHEMA = SCHEMA % WINDOWS_SQL


def _migrate_0_to_1(db: sqlite3.Connection) -> None:
    """States in columns: 'acked' + closed flag become open/closed; 'uncertain' is unresolved; 'lost'
    splits by its message into not_sent, expired and absent; an order re-sent by the old client gets
    a 'twin' row for its first send, which may still show up."""
    db.execute("ALTER TABLE runs ADD COLUMN price_guard REAL NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE stocks ADD COLUMN halted INTEGER NOT NULL DEFAULT 0")
    # SQLite cannot change a CHECK constraint: build the new table beside the old one, copy, swap.
    # (Renaming the old table instead would make `fills` follow it to the old name.)
    orders_sql = SCHEMA[SCHEMA.index("CREATE TABLE orders"):SCHEMA.index("CREATE INDEX orders_by_run")]
    db.execute(orders_sql.strip().rstrip(";").replace("CREATE TABLE orders (", "CREATE TABLE orders_v1 (", 1))
    db.execute("""
        INSERT INTO orders_v1 (id, run_id, code, side, qty, order_type, price, kind, state, order_no, org_no,
                               sent_at, filled_qty, filled_amount, remaining, msg_cd, message)
        SELECT id, run_id, code, side, qty, order_type, price, kind,
               CASE
                   WHEN state = 'acked' AND closed = 1 THEN 'closed'
                   WHEN state = 'acked' THEN 'open'
                   WHEN state = 'uncertain' THEN 'unresolved'
                   WHEN state = 'lost' AND message LIKE 'not sent%' THEN 'not_sent'
                   WHEN state = 'lost' AND message LIKE 'sent on %' THEN 'expired'
                   WHEN state = 'lost' THEN 'absent'
                   ELSE state
               END,
               order_no, org_no, sent_at, filled_qty, filled_amount, remaining, msg_cd, message
        FROM orders ORDER BY id""")
    db.execute("""
        INSERT INTO orders_v1 (run_id, code, side, qty, order_type, price, kind, state, sent_at, message)
        SELECT run_id, code, side, qty, order_type, price, 'twin', 'absent', sent_at,
               'first send of an order the old client re-sent: it may still show up'
        FROM orders WHERE state = 'acked' AND message = 're-sent after a lost answer'""")
    db.execute("DROP INDEX IF EXISTS orders_by_run")
    db.execute("DROP TABLE orders")
    db.execute("ALTER TABLE orders_v1 RENAME TO orders")
    db.execute("CREATE INDEX orders_by_run ON orders(run_id)")


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """Each order's market (every order before issue 22 went to KRX) and one window per market of a run."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(orders)")}
    if "market" not in columns:  # a journal rebuilt by step 0 -> 1 has it already
        db.execute("ALTER TABLE orders ADD COLUMN market TEXT NOT NULL DEFAULT 'KRX'")
    db.execute(WINDOWS_SQL.strip().rstrip(";"))


def _migrate_2_to_3(db: sqlite3.Connection) -> None:
    """Passive slices and spread-aware receipts: a run's execution style; each order's best bid and ask at
    its send, whether it joined the own side's best, and the order a revision moves the rest of."""
    # A journal migrated from version 0 in the same open already has them (step 1 builds `orders` from SCHEMA).
    columns = {
        "runs": (("execution", "TEXT NOT NULL DEFAULT 'cross'"),),
        "orders": (("bid", "INTEGER NOT NULL DEFAULT 0"), ("ask", "INTEGER NOT NULL DEFAULT 0"),
                   ("passive", "INTEGER NOT NULL DEFAULT 0"), ("revises", "INTEGER")),
    }
    for table, wanted in columns.items():
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for name, kind in wanted:
            if name not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


# (version reached, step): applied in order to a journal whose user_version is below the version
MIGRATIONS: tuple[tuple[int, Callable[[sqlite3.Connection], None]], ...] = ((1, _migrate_0_to_1),
                                                                           (2, _migrate_1_to_2),
                                                                           (3, _migrate_2_to_3))


class JournalUnusable(ConfigError):
    """The journal file cannot be opened as it is; kisbot never replaces it (it may hold an active run)."""


class JournalTooNew(JournalUnusable):
    """The journal was written by a newer kisbot: refuse rather than misread it."""


class RunActive(Exception):
    """A run is already active for this account: one at a time."""

    def __init__(self, run_id: str, message: str = ""):
        self.run_id = run_id
        super().__init__(message or f"run {run_id} is still executing: /cancel it or wait for it to finish")


@dataclass(frozen=True)
class RunRecord:
    id: str
    account: str
    plan: Plan
    window: Window
    catch_up_at: datetime
    poll_seconds: float
    order_type: OrderType
    state: RunState
    reason: str
    caught_up: bool
    created_at: datetime
    price_guard: float = 0.0
    execution: str = "cross"  # cross | passive (rebalance.window.EXECUTIONS)


@dataclass(frozen=True)
class LegWindow:
    """When one leg (market) of a run trades: its window and its own catch-up pass."""

    leg: str  # the executor's leg key: KRX, US
    window: Window
    catch_up_at: datetime
    caught_up: bool = False


@dataclass(frozen=True)
class StockRecord:
    code: str
    name: str
    side: OrderSide
    goal: int
    start_qty: int
    target_qty: int
    owed: int
    waiting: bool
    halted: bool = False


@dataclass(frozen=True)
class SliceRecord:
    seq: int
    code: str
    side: OrderSide
    qty: int
    at: datetime
    fired: bool


@dataclass(frozen=True)
class OrderRecord:
    id: int
    run_id: str
    code: str
    side: OrderSide
    qty: int
    order_type: OrderType
    price: int
    kind: OrderKind
    state: OrderState
    order_no: str
    org_no: str
    sent_at: datetime
    filled_qty: int
    filled_amount: int
    remaining: int | None
    msg_cd: str
    message: str
    unseen_since: datetime | None = None
    cancel_sent: bool = False
    market: str = "KRX"  # where it was sent (kis.markets code); its price and amounts are that currency's minor unit
    bid: int = 0  # best bid and ask when it was sent (0: not read)
    ask: int = 0
    passive: bool = False  # priced at the own side's best
    revises: int | None = None  # a revision: the id of the order whose rest it moved

    @property
    def committed(self) -> int:
        """Shares this order has done or may still do: counted against the stock's goal."""
        if self.state is OrderState.OPEN:
            rest = self.qty - self.filled_qty if self.remaining is None else self.remaining
            return self.filled_qty + max(0, rest)
        if self.state.unsettled or self.state is OrderState.EXPIRED:
            return max(self.qty, self.filled_qty)
        return self.filled_qty

    @property
    def resting(self) -> bool:
        """Known to KIS and maybe still open: a cancel candidate."""
        return self.state is OrderState.OPEN and (self.remaining is None or self.remaining > 0)

    @property
    def open_qty(self) -> int:
        """Shares still working at the exchange (as far as the journal knows)."""
        if self.state is OrderState.OPEN:
            return max(0, self.qty - self.filled_qty if self.remaining is None else self.remaining)
        return 0


@dataclass(frozen=True)
class OrderUpdate:
    """One change to an order, as reconciliation decides it; None fields stay as they are."""

    order_id: int
    state: OrderState
    order_no: str | None = None
    org_no: str | None = None
    filled_qty: int | None = None
    filled_amount: int | None = None
    remaining: int | None = None
    unseen_since: datetime | None = None
    clear_unseen: bool = False  # set unseen_since back to NULL (a lookup failed)
    message: str | None = None


class Journal:
    """SQLite in WAL mode; one connection guarded by a lock, usable from any thread."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = _open_db(self.path)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA synchronous=FULL")  # an intent must be on disk before its order is sent
        with self._lock:
            self._upgrade()
        self._db.execute("PRAGMA foreign_keys=ON")

    def _upgrade(self) -> None:
        """Create the schema, or bring an older journal up to SCHEMA_VERSION step by step."""
        if self._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        self._db.execute("PRAGMA foreign_keys=OFF")  # tables are rebuilt; each step checks them itself
        self._db.execute("BEGIN IMMEDIATE")  # one process upgrades; another waits, then sees it done
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalTooNew(t("journal_errors.too_new", path=self.path, version=version, reads=SCHEMA_VERSION))
            fresh = self._db.execute("SELECT 1 FROM sqlite_master WHERE name='runs'").fetchone() is None
            if fresh:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
            elif version < SCHEMA_VERSION:
                for reached, step in MIGRATIONS:
                    if version < reached:
                        step(self._db)
                problems = self._db.execute("PRAGMA foreign_key_check").fetchall()
                if problems:
                    raise RuntimeError(f"journal migration left {len(problems)} dangling reference(s)")
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @classmethod
    def in_dir(cls, data_dir: str | Path) -> "Journal":
        """The journal of a data directory (KISBOT_DATA_DIR)."""
        return cls(Path(data_dir) / JOURNAL_FILE)

    def close(self) -> None:
        with self._lock:
            self._db.close()


    def _tx(self):
        return _Transaction(self._db, self._lock, self.path.parent)

    # runs --------------------------------------------------------------------------------------
    def create_run(self, run_id: str, account: str, plan: Plan, window: Window, schedule: SliceSchedule,
                   order_type: OrderType, created_at: datetime, price_guard: float = 0.0,
                   windows: tuple[LegWindow, ...] = (), execution: str = "cross") -> None:
        """Write the run, its stocks, slices and per-market windows at once; RunActive if the account already has
        a run."""
        with self._tx() as db:
            active = db.execute("SELECT id FROM runs WHERE account=? AND state='active'", (account,)).fetchone()
            if active:
                raise RunActive(active["id"])
            db.execute(
                "INSERT INTO runs (id, account, plan_id, plan_json, window_start, window_end, catch_up_at,"
                " poll_seconds, order_type, state, created_at, price_guard, execution)"
                " VALUES (?,?,?,?,?,?,?,?,?, 'active', ?, ?, ?)",
                (run_id, account, plan.id, plan_to_json(plan), window.start.isoformat(), window.end.isoformat(),
                 schedule.catch_up_at.isoformat(), schedule.poll_seconds, order_type.value, created_at.isoformat(),
                 price_guard, execution),
            )
            for line in plan.lines:
                if line.order_qty:
                    db.execute(
                        "INSERT INTO stocks (run_id, code, name, side, goal, start_qty, target_qty)"
                        " VALUES (?,?,?,?,?,?,?)",
                        (run_id, line.code, line.name, line.side.value, abs(line.order_qty), line.current_qty,
                         line.target_qty),
                    )
            db.executemany(
                "INSERT INTO slices (run_id, seq, code, side, qty, due_at, state) VALUES (?,?,?,?,?,?, 'pending')",
                [(run_id, s.seq, s.code, s.side.value, s.qty, s.at.isoformat()) for s in schedule.slices],
            )
            db.executemany(
                "INSERT INTO run_windows (run_id, leg, window_start, window_end, catch_up_at) VALUES (?,?,?,?,?)",
                [(run_id, w.leg, w.window.start.isoformat(), w.window.end.isoformat(), w.catch_up_at.isoformat())
                 for w in windows],
            )

    def windows(self, run_id: str) -> list[LegWindow]:
        """The run's window per leg (market), in the order written; empty for a run of one window."""
        with self._tx() as db:
            rows = db.execute("SELECT * FROM run_windows WHERE run_id=? ORDER BY rowid", (run_id,)).fetchall()
        return [LegWindow(r["leg"], Window(datetime.fromisoformat(r["window_start"]),
                                           datetime.fromisoformat(r["window_end"])),
                          datetime.fromisoformat(r["catch_up_at"]), bool(r["caught_up"])) for r in rows]

    def active_run(self, account: str) -> RunRecord | None:
        with self._tx() as db:
            row = db.execute("SELECT * FROM runs WHERE account=? AND state='active'", (account,)).fetchone()
        return _run(row) if row else None

    def latest_run(self, account: str) -> RunRecord | None:
        """The account's most recent run, whatever its state."""
        with self._tx() as db:
            row = db.execute("SELECT * FROM runs WHERE account=? ORDER BY created_at DESC, rowid DESC LIMIT 1",
                             (account,)).fetchone()
        return _run(row) if row else None

    def run(self, run_id: str) -> RunRecord:
        with self._tx() as db:
            row = db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(run_id)
        return _run(row)

    def end_run(self, run_id: str, state: RunState, at: datetime, reason: str = "") -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET state=?, reason=?, ended_at=? WHERE id=? AND state='active'",
                       (RunState(state).value, reason, at.isoformat(), run_id))

    def mark_caught_up(self, run_id: str, owed: dict[str, int], leg: str | None = None) -> None:
        """The catch-up pass (of the run, or of one leg's window): its stocks now owe whatever is still missing,
        recorded once."""
        with self._tx() as db:
            for code, qty in owed.items():
                db.execute("UPDATE stocks SET owed=? WHERE run_id=? AND code=?", (qty, run_id, code))
            if leg is None:
                db.execute("UPDATE runs SET caught_up=1 WHERE id=?", (run_id,))
            else:
                db.execute("UPDATE run_windows SET caught_up=1 WHERE run_id=? AND leg=?", (run_id, leg))

    # stocks and slices --------------------------------------------------------------------------
    def stocks(self, run_id: str) -> list[StockRecord]:
        with self._tx() as db:
            rows = db.execute("SELECT * FROM stocks WHERE run_id=? ORDER BY rowid", (run_id,)).fetchall()
        return [StockRecord(r["code"], r["name"], OrderSide(r["side"]), r["goal"], r["start_qty"], r["target_qty"],
                            r["owed"], bool(r["waiting"]), bool(r["halted"])) for r in rows]

    def slices(self, run_id: str) -> list[SliceRecord]:
        with self._tx() as db:
            rows = db.execute("SELECT * FROM slices WHERE run_id=? ORDER BY seq", (run_id,)).fetchall()
        return [SliceRecord(r["seq"], r["code"], OrderSide(r["side"]), r["qty"], datetime.fromisoformat(r["due_at"]),
                            r["state"] == "fired") for r in rows]

    def fire_slice(self, run_id: str, seq: int) -> bool:
        """The slice is due: add its quantity to what its stock owes. False if it already fired."""
        with self._tx() as db:
            row = db.execute("SELECT code, qty FROM slices WHERE run_id=? AND seq=? AND state='pending'",
                             (run_id, seq)).fetchone()
            if row is None:
                return False
            db.execute("UPDATE slices SET state='fired' WHERE run_id=? AND seq=?", (run_id, seq))
            db.execute("UPDATE stocks SET owed=owed+? WHERE run_id=? AND code=?", (row["qty"], run_id, row["code"]))
            return True

    def set_waiting(self, run_id: str, code: str, waiting: bool) -> None:
        with self._tx() as db:
            db.execute("UPDATE stocks SET waiting=? WHERE run_id=? AND code=?", (int(waiting), run_id, code))

    def set_owed(self, run_id: str, code: str, owed: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE stocks SET owed=? WHERE run_id=? AND code=?", (max(0, owed), run_id, code))

    def halt(self, run_id: str, code: str) -> None:
        """No more orders for this stock in this run (its price ran past the guard); nothing is owed."""
        with self._tx() as db:
            db.execute("UPDATE stocks SET halted=1, owed=0, waiting=0 WHERE run_id=? AND code=?", (run_id, code))

    def cancel_accepted(self, order_id: int, owe_rest: bool) -> None:
        """KIS took a cancel of the order's rest; with `owe_rest` that rest is owed again (re-pricing).

        The rest is placed only once the exchange shows the order closed: until then it still counts.
        """
        with self._tx() as db:
            row = db.execute("SELECT * FROM orders WHERE id=?", (order_id,)).fetchone()
            if row is None or row["cancel_sent"]:
                return
            db.execute("UPDATE orders SET cancel_sent=1 WHERE id=?", (order_id,))
            if owe_rest:
                rest = row["qty"] - row["filled_qty"] if row["remaining"] is None else row["remaining"]
                db.execute("UPDATE stocks SET owed=owed+? WHERE run_id=? AND code=?",
                           (max(0, rest), row["run_id"], row["code"]))

    # orders -------------------------------------------------------------------------------------
    def add_intent(self, run_id: str, code: str, side: OrderSide, qty: int, order_type: OrderType, price: int,
                   kind: OrderKind, sent_at: datetime, market: str = "KRX", *, bid: int = 0, ask: int = 0,
                   passive: bool = False) -> int:
        """Commit the intent (and take its shares off what the stock owes) before the order is sent."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO orders (run_id, code, side, qty, order_type, price, kind, state, sent_at, market, bid,"
                " ask, passive) VALUES (?,?,?,?,?,?,?, 'intent', ?, ?, ?, ?, ?)",
                (run_id, code, side.value, qty, order_type.value, price, OrderKind(kind).value, sent_at.isoformat(),
                 market, bid, ask, int(passive)),
            )
            db.execute("UPDATE stocks SET owed=MAX(0, owed-?) WHERE run_id=? AND code=?", (qty, run_id, code))
            return int(cur.lastrowid)

    def add_revision(self, original: OrderRecord, qty: int, price: int, sent_at: datetime, *, bid: int = 0,
                     ask: int = 0) -> int:
        """Commit a revision's intent before it is sent: it moves `original`'s rest (`qty`) to `price`.

        Nothing is owed by it or to it: the rest was placed already. The original is marked as cancelling
        (`cancel_sent`) in the same transaction, so its close never frees that rest while the revision may
        hold it; a revision that surely never took (refused, not sent, ruled out) unmarks it.
        """
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO orders (run_id, code, side, qty, order_type, price, kind, state, sent_at, bid, ask,"
                " passive, revises) VALUES (?,?,?,?,?,?,?, 'intent', ?, ?, ?, 0, ?)",
                (original.run_id, original.code, original.side.value, qty, original.order_type.value, price,
                 OrderKind.REVISION.value, sent_at.isoformat(), bid, ask, original.id),
            )
            db.execute("UPDATE orders SET cancel_sent=1 WHERE id=?", (original.id,))
            return int(cur.lastrowid)

    def transition(self, order_id: int, state: OrderState, *, order_no: str | None = None,
                   org_no: str | None = None, msg_cd: str | None = None, message: str | None = None,
                   owe_again: bool = False) -> OrderState:
        """Move an order to `state` (the lifecycle must allow it) and settle what its stock owes.

        Returns the state it left. `owe_again` (with REJECTED): a refusal for cash, retried later.
        """
        with self._tx() as db:
            row = db.execute("SELECT run_id, code, qty, state, revises FROM orders WHERE id=?",
                             (order_id,)).fetchone()
            old = OrderState(row["state"])
            check_transition(old, state)
            db.execute("UPDATE orders SET state=?, order_no=COALESCE(?, order_no), org_no=COALESCE(?, org_no),"
                       " msg_cd=COALESCE(?, msg_cd), message=COALESCE(?, message) WHERE id=?",
                       (state.value, order_no, org_no, msg_cd, message, order_id))
            if row["revises"] is not None:  # a revision owes nothing: its rest stays with the original
                if state in _NOT_TAKEN:
                    db.execute("UPDATE orders SET cancel_sent=0 WHERE id=?", (row["revises"],))
                return old
            change = owed_change(old, state, row["qty"], owe_again=owe_again)
            if change:
                db.execute("UPDATE stocks SET owed=MAX(0, owed+?) WHERE run_id=? AND code=?",
                           (change, row["run_id"], row["code"]))
            return old

    def apply(self, update: OrderUpdate, at: datetime) -> tuple[int, int]:
        """Store a reconciliation update in one transaction; return the new fill (qty, amount), (0, 0) if none.

        Fills never go backwards: a stale page shows fewer than already counted and is ignored for them.
        """
        with self._tx() as db:
            row = db.execute("SELECT * FROM orders WHERE id=?", (update.order_id,)).fetchone()
            old = OrderState(row["state"])
            check_transition(old, update.state)
            filled_qty, filled_amount = row["filled_qty"], row["filled_amount"]
            inc_qty = inc_amount = 0
            if update.filled_qty is not None and update.filled_qty > filled_qty:
                inc_qty, inc_amount = update.filled_qty - filled_qty, (update.filled_amount or 0) - filled_amount
                filled_qty, filled_amount = update.filled_qty, update.filled_amount or 0
            unseen = row["unseen_since"]
            if update.clear_unseen:
                unseen = None
            elif update.unseen_since is not None and unseen is None:
                unseen = update.unseen_since.isoformat()
            db.execute(
                "UPDATE orders SET state=?, order_no=COALESCE(?, order_no), org_no=COALESCE(?, org_no),"
                " filled_qty=?, filled_amount=?, remaining=COALESCE(?, remaining), unseen_since=?,"
                " message=COALESCE(?, message) WHERE id=?",
                (update.state.value, update.order_no, update.org_no, filled_qty, filled_amount, update.remaining,
                 unseen, update.message, update.order_id))
            change = _freed(_order(row), update.state, filled_qty, update.remaining)
            if row["revises"] is not None and update.state in _NOT_TAKEN and old is not update.state:
                db.execute("UPDATE orders SET cancel_sent=0 WHERE id=?", (row["revises"],))  # ruled out
            if change:
                db.execute("UPDATE stocks SET owed=MAX(0, owed+?) WHERE run_id=? AND code=?",
                           (change, row["run_id"], row["code"]))
            if inc_qty > 0:
                db.execute("INSERT INTO fills (order_id, qty, amount, at) VALUES (?,?,?,?)",
                           (update.order_id, inc_qty, inc_amount, at.isoformat()))
            return inc_qty, inc_amount

    def orders(self, run_id: str) -> list[OrderRecord]:
        with self._tx() as db:
            rows = db.execute("SELECT * FROM orders WHERE run_id=? ORDER BY id", (run_id,)).fetchall()
        return [_order(r) for r in rows]

    def known_order_nos(self, day: date, markets: Collection[str] | None = None, tz: tzinfo = KST) -> set[str]:
        """Order numbers acknowledged for orders sent on `day` (in `tz`), across runs: never matched twice.

        KIS numbers orders per day (and US orders apart from KRX's: `markets` keeps one market's), so another
        day's numbers must not hide today's orders.
        """
        with self._tx() as db:
            rows = db.execute("SELECT order_no, sent_at, market FROM orders WHERE order_no IS NOT NULL").fetchall()
        return {r["order_no"] for r in rows if datetime.fromisoformat(r["sent_at"]).astimezone(tz).date() == day
                and (markets is None or r["market"] in markets)}


def committed(orders: Sequence[OrderRecord]) -> int:
    """Shares a stock's orders have done or may still do, counted against its goal.

    A revision only moves its original's rest (KIS never adds shares by one), so an original and its
    revisions together commit at most the original's quantity: until a poll shows the original closed, each
    row alone still counts its whole rest, and a plain sum would count the moved shares twice.
    """
    ids = {o.id for o in orders}
    moved: dict[int, int] = {}
    for o in orders:
        if o.revises is not None and o.revises in ids:
            moved[o.revises] = moved.get(o.revises, 0) + o.committed
    total = 0
    for o in orders:
        if o.revises is not None and o.revises in ids:
            continue  # counted with its original
        total += min(o.qty, o.committed + moved[o.id]) if o.id in moved else o.committed
    return total


# A revision in these states never reached KIS (or was refused): the original keeps its rest.
_NOT_TAKEN = frozenset({OrderState.REJECTED, OrderState.NOT_SENT, OrderState.ABSENT})


def _freed(order: OrderRecord, state: OrderState, filled_qty: int, remaining: int | None) -> int:
    """Shares an observation gives back to (or takes from) what the stock owes: what it stops committing.

    An order that closes with shares unfilled (cancelled by KIS or the user, a cancel whose journal entry
    died with the process), one ruled out, or one that shows up after all: the change in `committed`.
    A rest whose cancel was journaled was owed when KIS took the cancel, so its close changes nothing.
    """
    if order.cancel_sent:
        return 0
    if order.revises is not None and (state is OrderState.ABSENT or order.state is OrderState.ABSENT):
        return 0  # a revision ruled out (or back after all) moves nothing: the original held its rest
    after = replace(order, state=state, filled_qty=filled_qty,
                    remaining=order.remaining if remaining is None else remaining)
    return order.committed - after.committed


def _open_db(path: Path) -> sqlite3.Connection:
    """The journal's connection in WAL mode, files 0600 in a 0700 data dir; JournalUnusable says what to do.

    A missing journal is created whole (built aside, then moved in), so an empty or unreadable file at
    `path` is always damage, never something to overwrite: it may have held a run still trading.
    """
    private_dir(path.parent)
    if path.is_file() and path.stat().st_size == 0:
        raise JournalUnusable(t("journal_errors.empty", path=path))
    try:
        if not path.exists():
            _create_db(path)
        for own in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if own.is_file():
                os.chmod(own, 0o600)  # private whoever made it: it lists every order of the account
    except (OSError, sqlite3.Error) as exc:
        raise JournalUnusable(t("journal_errors.unusable", path=path,
                                why=getattr(exc, "strerror", None) or exc)) from None
    db = None
    try:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(check)
    except sqlite3.DatabaseError as exc:  # OperationalError (cannot open) is one too
        if db is not None:
            db.close()
        raise JournalUnusable(t("journal_errors.unreadable", path=path, why=exc, name=path.name)) from None
    return db


def _create_db(path: Path) -> None:
    """An empty WAL-mode SQLite file at `path`, mode 0600; a journal another process made first is kept."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".new")  # mode 0600
    os.close(fd)
    try:
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # writes the header page: the file is a database now
        finally:
            db.close()
        try:
            os.link(tmp, path)  # never over an existing file
        except FileExistsError:
            pass
    finally:
        for leftover in (tmp, tmp + "-wal", tmp + "-shm"):
            try:
                os.unlink(leftover)
            except FileNotFoundError:
                pass


class _Transaction:
    """BEGIN IMMEDIATE .. COMMIT under the journal's lock; ROLLBACK on any error. A full disk is a DiskFull
    naming the data directory: nothing of the transaction was written (so no order was sent for it)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock, data_dir: Path):
        self.db, self.lock, self.data_dir = db, lock, data_dir

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException as exc:
            self.lock.release()
            full = disk_full(exc, self.data_dir)
            if full is not None:
                raise full from exc
            raise
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                try:
                    self.db.execute("COMMIT")
                except sqlite3.Error as failed:
                    if self.db.in_transaction:  # the COMMIT was refused: undo it whole
                        self.db.execute("ROLLBACK")
                    full = disk_full(failed, self.data_dir)
                    if full is None:
                        raise
                    raise full from failed
            elif self.db.in_transaction:  # SQLite undoes some failures itself (SQLITE_FULL)
                self.db.execute("ROLLBACK")
        finally:
            self.lock.release()
        full = disk_full(exc, self.data_dir) if exc is not None else None
        if full is not None and full is not exc:
            raise full from exc


def plan_to_json(plan: Plan) -> str:
    data = asdict(plan)
    data["priced_at"] = plan.priced_at.isoformat()
    data["expires_at"] = plan.expires_at.isoformat()
    return json.dumps(data, ensure_ascii=False, default=_decimal_text)


def _decimal_text(value: object) -> str:
    """A Decimal (a US price, KIS's rate) kept as its exact text; anything else is not JSON."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not kept in a plan")


def _line_from(data: dict) -> PlanLine:
    if data.get("currency", "KRW") != "KRW":
        data = {**data, "price": Decimal(str(data["price"])),
                "rate": None if data.get("rate") is None else Decimal(str(data["rate"]))}
    return PlanLine(**data)


def plan_from_json(text: str) -> Plan:
    data = json.loads(text)
    return Plan(
        id=data["id"],
        lines=tuple(_line_from(line) for line in data["lines"]),
        cash=data["cash"],
        total_value=data["total_value"],
        investable=data["investable"],
        est_costs=data["est_costs"],
        priced_at=datetime.fromisoformat(data["priced_at"]),
        expires_at=datetime.fromisoformat(data["expires_at"]),
        notes=tuple(data.get("notes", ())),
        options=tuple(data.get("options", ())),
        dropped=tuple(data.get("dropped", ())),
        manual=bool(data.get("manual", False)),
        usd_cash=int(data.get("usd_cash") or 0),
        rate=None if data.get("rate") is None else Decimal(str(data["rate"])),
        usd_costs=int(data.get("usd_costs") or 0),
        usd_missing=int(data.get("usd_missing") or 0),
        execution=str(data.get("execution") or ""),
    )


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        price_guard=row["price_guard"], execution=row["execution"],
        id=row["id"], account=row["account"], plan=plan_from_json(row["plan_json"]),
        window=Window(datetime.fromisoformat(row["window_start"]), datetime.fromisoformat(row["window_end"])),
        catch_up_at=datetime.fromisoformat(row["catch_up_at"]), poll_seconds=row["poll_seconds"],
        order_type=OrderType(row["order_type"]), state=RunState(row["state"]), reason=row["reason"],
        caught_up=bool(row["caught_up"]), created_at=datetime.fromisoformat(row["created_at"]),
    )


def _order(r: sqlite3.Row) -> OrderRecord:
    return OrderRecord(
        id=r["id"], run_id=r["run_id"], code=r["code"], side=OrderSide(r["side"]), qty=r["qty"],
        order_type=OrderType(r["order_type"]), price=r["price"], kind=OrderKind(r["kind"]), state=OrderState(r["state"]),
        order_no=r["order_no"] or "", org_no=r["org_no"] or "", sent_at=datetime.fromisoformat(r["sent_at"]),
        filled_qty=r["filled_qty"], filled_amount=r["filled_amount"], remaining=r["remaining"],
        msg_cd=r["msg_cd"], message=r["message"],
        unseen_since=datetime.fromisoformat(r["unseen_since"]) if r["unseen_since"] else None,
        cancel_sent=bool(r["cancel_sent"]), market=r["market"], bid=r["bid"], ask=r["ask"],
        passive=bool(r["passive"]), revises=r["revises"],
    )
