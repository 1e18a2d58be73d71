"""The versioned model of an account: every change (an .xlsx, an edit, a Mini App save, undo, save, use) is a version.

One SQLite file per account in the data dir (`models-<account>.db`), each change one transaction: a
version row (who, when, the operation as JSON, the model after it) and the named models. The current
model is the newest version. `apply_op` is the one place an operation changes a model, so the saved
model always equals `replay` of its version log. The old one-file model (`model-<account>.json`) is
imported as version 1 the first time the store is opened.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

from kis.codes import BadStockCode, normalize_code, normalize_ticker
from rebalance.model import Portfolio, Target
from rebalance.portfolio import MAX_STOCKS, SUM_TOLERANCE

OPS = ("load", "set", "add", "rm", "band", "cash", "undo", "save", "use", "page")
MAX_NAME = 40


def legacy_path(data_dir: str | Path, account: object) -> Path:
    """Where earlier kisbots kept the one-file model of `account` (imported as version 1)."""
    return Path(data_dir) / f"model-{account}.json"


def check_targets(targets: tuple[Target, ...]) -> None:
    """ValueError unless the targets keep the rules `read_portfolio` enforces: the planner trusts them."""
    if len(targets) > MAX_STOCKS:
        raise ValueError(f"{len(targets)} stocks, more than {MAX_STOCKS}")
    for t in targets:
        try:
            if _code(t.code) != t.code:
                raise ValueError(f"code {t.code!r} is not written as a stock code or a US ticker")
        except ModelEditError:
            raise ValueError(f"{t.code!r} is neither a stock code nor a US ticker") from None
        if not (math.isfinite(t.weight) and t.weight >= 0):
            raise ValueError(f"{t.code}: weight {t.weight!r} is not 0 or more")
        if t.band is not None and not (math.isfinite(t.band) and 0 <= t.band < 1):
            raise ValueError(f"{t.code}: band {t.band!r} is not a fraction from 0 to 1")
    if len({t.code for t in targets}) != len(targets):
        raise ValueError("a stock code appears twice")
    if math.fsum(t.weight for t in targets) > 1 + SUM_TOLERANCE:
        raise ValueError("the weights add up to more than 100 %")


class ModelEditError(ValueError):
    """An edit that is refused; `key` is the i18n key of its one sentence (area `model_edit`), `params` its fields."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key, self.params = key, params
        super().__init__(key)


@dataclass(frozen=True)
class ModelState:
    """A model as one version holds it: targets (fractions), cash kept aside (fraction), source file, name."""

    targets: tuple[Target, ...] = ()
    cash: float = 0.0
    source: str = ""
    name: str = ""  # the named model in force ("" = none)

    @property
    def total(self) -> float:
        """The stocks' weights added up (a fraction)."""
        return math.fsum(t.weight for t in self.targets)

    @property
    def unassigned(self) -> float:
        """What neither a stock nor the cash setting claims (a fraction, 0 or more)."""
        return max(0.0, 1 - self.total - self.cash)

    def target(self, code: str) -> Target | None:
        return next((t for t in self.targets if t.code == code), None)

    def portfolio(self) -> Portfolio:
        """The planner's view: the stocks; what they leave unassigned stays in cash."""
        return Portfolio(self.targets, self.source or self.name)


@dataclass(frozen=True)
class Version:
    """One change: its number, the version it built on (for undo), when, who, the operation, the model after."""

    id: int
    parent: int | None
    at: datetime
    who: str
    op: Mapping[str, Any] = field(compare=False)
    state: ModelState = ModelState()


def state_to_dict(state: ModelState) -> dict:
    return {"targets": [{"code": t.code, "weight": t.weight, "name": t.name, "band": t.band, "row": t.row,
                         **({"market": t.market, "market_from": t.market_from} if t.market else {})}
                        for t in state.targets],
            "cash": state.cash, "source": state.source, "name": state.name}


def state_from_dict(data: Mapping[str, Any]) -> ModelState:
    targets = tuple(Target(code=str(t["code"]), weight=float(t["weight"]), name=str(t.get("name") or ""),
                           row=int(t.get("row") or 0), band=None if t.get("band") is None else float(t["band"]),
                           market=str(t.get("market") or ""), market_from=str(t.get("market_from") or ""))
                    for t in data.get("targets", ()))
    return ModelState(targets, float(data.get("cash") or 0.0), str(data.get("source") or ""),
                      str(data.get("name") or ""))


def targets_op(portfolio: Portfolio) -> dict:
    """The `load` operation of a model read from a file."""
    return {"op": "load", "source": portfolio.source,
            **{k: v for k, v in state_to_dict(ModelState(portfolio.targets)).items() if k == "targets"}}


def _code(value: object) -> str:
    """A KRX code or a US ticker (kis.codes); ModelEditError for anything else."""
    try:
        return normalize_code(value)
    except BadStockCode:
        pass
    try:
        return normalize_ticker(value)
    except BadStockCode as exc:
        raise ModelEditError("model_edit.bad_code", code=str(value).strip()[:20]) from exc


def _check_sum(state: ModelState, edited: str | None) -> ModelState:
    """`state` unless its stocks and cash add up to more than 100 %: then the refusal names the rows."""
    if state.total + state.cash > 1 + SUM_TOLERANCE:
        rows = sorted(state.targets, key=lambda t: (t.code != edited, -t.weight))
        named = ", ".join(f"{t.code} {100 * t.weight:.1f}%" for t in rows[:10]) + (", …" if len(rows) > 10 else "")
        raise ModelEditError("model_edit.over_100", total=round(100 * (state.total + state.cash), 1),
                             cash=round(100 * state.cash, 1), rows=named)
    return state


def apply_op(state: ModelState | None, op: Mapping[str, Any], *, named: Mapping[str, ModelState],
             states: Mapping[int, ModelState]) -> ModelState:
    """The model after `op` on `state` (None: no model yet); ModelEditError says why an op is refused.

    `named`: the saved named models (for `use`); `states`: earlier versions by number (for `undo`'s `to`)."""
    kind = op.get("op")
    if kind == "load":
        return state_from_dict({"targets": op["targets"], "source": op.get("source", "")})
    if kind == "use":
        if op["name"] not in named:
            raise ModelEditError("model_edit.no_such_name", name=op["name"], names=", ".join(sorted(named)) or "-")
        return named[op["name"]]
    if kind == "undo":
        return states[int(op["to"])]
    current = state or ModelState()
    if kind == "page":
        return _check_sum(_whole_model(current, op), None)
    if kind == "save":
        return replace(current, name=str(op["name"]))
    if kind == "cash":
        return _check_sum(replace(current, cash=float(op["cash"])), None)
    code = _code(op.get("code"))
    row = current.target(code)
    if kind == "add":
        if row is not None:
            raise ModelEditError("model_edit.already_in", code=code)
        if len(current.targets) >= MAX_STOCKS:
            raise ModelEditError("model_edit.too_many", limit=MAX_STOCKS)
        added = Target(code, float(op["weight"]), name=str(op.get("name") or ""), market=str(op.get("market") or ""),
                       market_from=str(op.get("market_from") or "prefix") if op.get("market") else "")
        return _check_sum(replace(current, targets=(*current.targets, added)), code)
    if row is None:
        raise ModelEditError("model_edit.not_in", code=code)
    if kind == "rm":
        return replace(current, targets=tuple(t for t in current.targets if t.code != code))
    if kind == "set":
        changed = replace(row, weight=float(op["weight"]))
    elif kind == "band":
        changed = replace(row, band=None if op.get("band") is None else float(op["band"]))
    else:
        raise ModelEditError("model_edit.usage")
    return _check_sum(replace(current, targets=tuple(changed if t.code == code else t for t in current.targets)),
                      code)


def _whole_model(current: ModelState, op: Mapping[str, Any]) -> ModelState:
    """`page`: the rows and cash the Mini App editor sent are the whole model; a kept row keeps its name and row."""
    rows = list(op["targets"])
    if len(rows) > MAX_STOCKS:
        raise ModelEditError("model_edit.too_many", limit=MAX_STOCKS)
    targets: list[Target] = []
    for item in rows:
        code = _code(item["code"])
        if any(t.code == code for t in targets):
            raise ModelEditError("webapp.twice", code=code)
        old = current.target(code) or Target(code, 0.0, name=str(item.get("name") or ""))
        targets.append(replace(old, weight=float(item["weight"]),
                               band=None if item.get("band") is None else float(item["band"])))
    return replace(current, targets=tuple(targets), cash=float(op["cash"]))


def replay(versions: Iterable[Version]) -> tuple[dict[int, ModelState], dict[str, ModelState]]:
    """Every version's model rebuilt from the operations alone, and the named models they leave."""
    states: dict[int, ModelState] = {}
    named: dict[str, ModelState] = {}
    for version in versions:
        state = states.get(version.parent) if version.parent is not None else None
        if version.op.get("op") == "undo":
            state = None
        states[version.id] = apply_op(state, version.op, named=named, states=states)
        if version.op.get("op") == "save":
            named[str(version.op["name"])] = states[version.id]
    return states, named


def diff(before: ModelState | None, after: ModelState) -> list[tuple[str, float | None, float | None,
                                                                     float | None, float | None]]:
    """(code, weight before, weight after, band before, band after) of each stock that changed; None = absent."""
    old = {t.code: t for t in (before.targets if before else ())}
    new = {t.code: t for t in after.targets}
    rows = []
    for code in [*old, *(c for c in new if c not in old)]:
        a, b = old.get(code), new.get(code)
        pair = (a.weight if a else None, b.weight if b else None, a.band if a else None, b.band if b else None)
        if pair[0] != pair[1] or pair[2] != pair[3]:
            rows.append((code, *pair))
    return rows


class VersionedModels:
    """The version log of one account's model in `models-<account>.db`; each change is one transaction."""

    def __init__(self, data_dir: str | Path, account: object):
        self.data_dir, self.account = Path(data_dir), account
        self.path = self.data_dir / f"models-{account}.db"
        self._migrated = False

    def _connect(self) -> sqlite3.Connection:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        if fresh:
            os.chmod(self.path, 0o600)
        conn.execute("CREATE TABLE IF NOT EXISTS versions (id INTEGER PRIMARY KEY, parent INTEGER, at TEXT NOT NULL,"
                     " who TEXT NOT NULL, op TEXT NOT NULL, state TEXT NOT NULL)")
        conn.execute("CREATE TABLE IF NOT EXISTS named (name TEXT PRIMARY KEY, state TEXT NOT NULL, version INTEGER)")
        if not self._migrated:
            self._migrated = True
            self._migrate(conn)
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """The one-file model of earlier kisbots becomes version 1 (the file stays, unread after this)."""
        old = legacy_path(self.data_dir, self.account)
        if not old.exists() or conn.execute("SELECT 1 FROM versions LIMIT 1").fetchone():
            return
        try:
            data = json.loads(old.read_text(encoding="utf-8"))
            state = state_from_dict({"targets": data["targets"], "source": data.get("file_name")})
            check_targets(state.targets)
            portfolio = Portfolio(state.targets, state.source)
            at = datetime.fromisoformat(data["saved_at"])
        except (OSError, ValueError, KeyError, TypeError):
            return  # saved_model.load_model says why it cannot be read
        self._append(conn, targets_op(portfolio), who="migrated", at=at)

    def _rows(self, conn: sqlite3.Connection, where: str = "", args: tuple = ()) -> list[Version]:
        return [Version(i, p, datetime.fromisoformat(at), who, json.loads(op), state_from_dict(json.loads(state)))
                for i, p, at, who, op, state in
                conn.execute(f"SELECT id, parent, at, who, op, state FROM versions {where} ORDER BY id", args)]

    def versions(self) -> list[Version]:
        """The whole log, oldest first."""
        with self._closing() as conn:
            return self._rows(conn)

    def current(self) -> Version | None:
        with self._closing() as conn:
            rows = self._rows(conn, "WHERE id = (SELECT MAX(id) FROM versions)")
        return rows[0] if rows else None

    def version(self, number: int) -> Version | None:
        with self._closing() as conn:
            rows = self._rows(conn, "WHERE id = ?", (number,))
        return rows[0] if rows else None

    def named(self) -> dict[str, ModelState]:
        with self._closing() as conn:
            return {n: state_from_dict(json.loads(s)) for n, s in conn.execute("SELECT name, state FROM named")}

    def apply(self, op: Mapping[str, Any], *, who: str, at: datetime) -> tuple[Version | None, Version]:
        """Apply `op` as a new version (ModelEditError when refused, and nothing is written): (before, after)."""
        with self._closing() as conn:
            return self._append(conn, op, who=who, at=at)

    def _append(self, conn: sqlite3.Connection, op: Mapping[str, Any], *, who: str,
                at: datetime) -> tuple[Version | None, Version]:
        op = dict(op)
        if op.get("op") not in OPS:
            raise ModelEditError("model_edit.usage")
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = self._rows(conn, "WHERE id = (SELECT MAX(id) FROM versions)")
            before = rows[0] if rows else None
            named = {n: state_from_dict(json.loads(s)) for n, s in conn.execute("SELECT name, state FROM named")}
            states: dict[int, ModelState] = {}
            parent = before.id if before else None
            if op["op"] in ("save", "use"):
                name = " ".join(str(op.get("name") or "").split())
                if not name or len(name) > MAX_NAME:
                    raise ModelEditError("model_edit.bad_name", limit=MAX_NAME)
                op["name"] = name
            if op["op"] == "save" and before is None:
                raise ModelEditError("model_edit.nothing_saved")
            if op["op"] == "undo":
                if before is None or before.parent is None:
                    raise ModelEditError("model_edit.nothing_to_undo")
                target = self._rows(conn, "WHERE id = ?", (before.parent,))[0]
                op["to"], states[target.id], parent = target.id, target.state, target.parent
            state = apply_op(before.state if before else None, op, named=named, states=states)
            cursor = conn.execute("INSERT INTO versions (parent, at, who, op, state) VALUES (?, ?, ?, ?, ?)",
                                  (parent, at.isoformat(), who, json.dumps(op, ensure_ascii=False),
                                   json.dumps(state_to_dict(state), ensure_ascii=False)))
            if op["op"] == "save":
                conn.execute("INSERT OR REPLACE INTO named (name, state, version) VALUES (?, ?, ?)",
                             (op["name"], json.dumps(state_to_dict(state), ensure_ascii=False), cursor.lastrowid))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return before, Version(int(cursor.lastrowid), parent, at, who, op, state)

    def _closing(self):
        import contextlib
        return contextlib.closing(self._connect())
