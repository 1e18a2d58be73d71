"""The plan shown with Confirm, kept in the journal's database so that Confirm works after a restart.

One row per account in its own table; Confirm after a restart runs the plan if its prices are still
valid, else the bot re-plans from the kept portfolio and options and shows the new plan.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from rebalance.journal import JOURNAL_FILE, plan_from_json, plan_to_json
from rebalance.model import Plan, Portfolio
from rebalance.options import PlanOptions
from rebalance.saved_model import portfolio_from_dict, portfolio_to_dict

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_plans (
    account TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    plan_json TEXT NOT NULL,
    portfolio_json TEXT NOT NULL,
    options_json TEXT NOT NULL,
    shown INTEGER NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class PendingPlan:
    """A plan waiting for Confirm, with what re-plans it when its prices expire."""

    plan: Plan
    portfolio: Portfolio
    options: PlanOptions = PlanOptions()
    shown: bool = False  # its offer reached the user: only such a plan may be confirmed after a restart


class PendingPlans:
    """The pending plan of one account, in the journal's SQLite file."""

    def __init__(self, path: str | Path, account: object):
        self.path, self.account = Path(path), str(account)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    @classmethod
    def in_dir(cls, data_dir: str | Path, account: object) -> "PendingPlans":
        return cls(Path(data_dir) / JOURNAL_FILE, account)

    def save(self, pending: PendingPlan) -> None:
        """Keep `pending` as the account's pending plan (replacing any other)."""
        row = (self.account, pending.plan.id, plan_to_json(pending.plan),
               json.dumps(portfolio_to_dict(pending.portfolio), ensure_ascii=False),
               json.dumps(pending.options.to_dict()), int(pending.shown))
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO pending_plans VALUES (?, ?, ?, ?, ?, ?)", row)

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM pending_plans WHERE account = ?", (self.account,))

    def load(self) -> PendingPlan | None:
        """The kept pending plan, or None (also when the row cannot be read: the user plans again)."""
        with self._lock:
            row = self._db.execute("SELECT plan_json, portfolio_json, options_json, shown FROM pending_plans "
                                   "WHERE account = ?", (self.account,)).fetchone()
        if row is None:
            return None
        try:
            return PendingPlan(plan_from_json(row[0]), portfolio_from_dict(json.loads(row[1])),
                               PlanOptions(**json.loads(row[2])), bool(row[3]))
        except (ValueError, KeyError, TypeError):
            log.warning("the pending plan kept for %s cannot be read; it is dropped", self.account, exc_info=True)
            return None

    def close(self) -> None:
        with self._lock:
            self._db.close()
