"""The plans shown with Confirm, kept in the journal's database so that Confirm works after a restart.

One row per account and chat (each allowed chat has its own offered plan) in its own table; Confirm after a restart runs the plan if its prices are still
valid, else the bot re-plans from the kept portfolio and options and shows the new plan.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from rebalance.account_db import AccountDb
from rebalance.journal import plan_from_json, plan_to_json
from rebalance.model import Plan, Portfolio
from rebalance.options import PlanOptions
from rebalance.saved_model import portfolio_from_dict, portfolio_to_dict

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS chat_pending_plans (
    account TEXT NOT NULL,
    chat INTEGER NOT NULL,
    plan_id TEXT NOT NULL,
    plan_json TEXT NOT NULL,
    portfolio_json TEXT NOT NULL,
    options_json TEXT NOT NULL,
    shown INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, chat)
);
"""
# An older kisbot kept one plan per account in `pending_plans`, seen by no chat in particular: it is not read
# (confirming it from any chat is the defect this table fixes); the user plans again once after the upgrade.


@dataclass(frozen=True)
class PendingPlan:
    """A plan waiting for Confirm, with what re-plans it when its prices expire."""

    plan: Plan
    portfolio: Portfolio
    options: PlanOptions = PlanOptions()
    shown: bool = False  # its offer reached the user: only such a plan may be confirmed after a restart


class PendingPlans(AccountDb):
    """The pending plan of each chat of one account, in the journal's SQLite file."""

    schema = SCHEMA

    def save(self, pending: PendingPlan, chat: int = 0) -> None:
        """Keep `pending` as the pending plan of `chat` (replacing that chat's other one)."""
        row = (self.account, int(chat), pending.plan.id, plan_to_json(pending.plan),
               json.dumps(portfolio_to_dict(pending.portfolio), ensure_ascii=False),
               json.dumps(pending.options.to_dict()), int(pending.shown))
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO chat_pending_plans VALUES (?, ?, ?, ?, ?, ?, ?)", row)

    def clear(self, chat: int = 0) -> None:
        with self._lock:
            self._db.execute("DELETE FROM chat_pending_plans WHERE account = ? AND chat = ?",
                             (self.account, int(chat)))

    def load(self, chat: int = 0) -> PendingPlan | None:
        """The plan kept for `chat`, or None (also when the row cannot be read: the user plans again)."""
        return self.load_all().get(int(chat))

    def load_all(self) -> dict[int, PendingPlan]:
        """Every chat's kept plan; a row that cannot be read is dropped with a warning."""
        with self._lock:
            rows = self._db.execute("SELECT chat, plan_json, portfolio_json, options_json, shown "
                                    "FROM chat_pending_plans WHERE account = ?", (self.account,)).fetchall()
        kept: dict[int, PendingPlan] = {}
        for chat, *row in rows:
            try:
                kept[int(chat)] = PendingPlan(plan_from_json(row[0]), portfolio_from_dict(json.loads(row[1])),
                                              PlanOptions(**json.loads(row[2])), bool(row[3]))
            except (ValueError, KeyError, TypeError):
                log.warning("the pending plan kept for %s in chat %s cannot be read; it is dropped", self.account,
                            chat, exc_info=True)
        return kept
