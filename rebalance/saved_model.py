"""The last model portfolio accepted for an account, kept in the data dir so `/plan` needs no file.

The model is versioned (rebalance/model_store.py: every file, edit, undo is a version); this module is
its simple face: `save_model` adds a file's model as a version, `load_model` reads the newest, the read
side other features (drift reports) build on. The one JSON file of earlier kisbots
(`model-<account>.json`) is imported on first use.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rebalance.model import Portfolio, Target
from rebalance.model_store import VersionedModels, check_targets as _check_targets, legacy_path, targets_op

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SavedModel:
    """A model portfolio as saved: its targets (weights and bands as fractions), file name and time."""

    portfolio: Portfolio
    file_name: str
    saved_at: datetime
    name: str = ""  # the named model in force (`/model use NAME`), "" = none
    version: int = 0  # its number in the version log (rebalance.model_store), 0 = not versioned
    cash: float = 0.0  # the cash the model keeps aside (fraction)

    @property
    def weights(self) -> dict[str, float]:
        """Code -> target weight (fraction of the investable value)."""
        return {t.code: t.weight for t in self.portfolio.targets}

    @property
    def bands(self) -> dict[str, float | None]:
        """Code -> the stock's own band (fraction: 0.02 = ±2 percentage points), None = the default."""
        return {t.code: t.band for t in self.portfolio.targets}


def portfolio_to_dict(portfolio: Portfolio) -> dict:
    """A portfolio as JSON-ready data (the inverse of `portfolio_from_dict`)."""
    return {"source": portfolio.source,
            "targets": [{"code": t.code, "weight": t.weight, "name": t.name, "band": t.band, "row": t.row}
                        for t in portfolio.targets]}


def portfolio_from_dict(data: dict) -> Portfolio:
    """The portfolio `portfolio_to_dict` wrote; KeyError/ValueError/TypeError on anything else, including
    a file edited by hand past what an .xlsx may say (bad code, repeated code, weight outside 0..100 %)."""
    targets = tuple(Target(code=str(t["code"]), weight=float(t["weight"]), name=str(t.get("name") or ""),
                           row=int(t.get("row") or 0), band=None if t.get("band") is None else float(t["band"]))
                    for t in data["targets"])
    _check_targets(targets)
    return Portfolio(targets, str(data.get("source") or ""))


def model_path(data_dir: str | Path, account: object) -> Path:
    """Where the model of `account` (e.g. '50087375-01') is kept."""
    return legacy_path(data_dir, account)


def save_model(data_dir: str | Path, account: object, portfolio: Portfolio, saved_at: datetime,
               who: str = "file") -> SavedModel:
    """Replace the account's saved model with `portfolio` (its `source` is the file name): a new version."""
    _, after = VersionedModels(data_dir, account).apply(targets_op(portfolio), who=who, at=saved_at)
    return saved_from_version(after)


def saved_from_version(version) -> SavedModel:
    """The SavedModel view of a `rebalance.model_store.Version`."""
    state = version.state
    _check_targets(state.targets)
    return SavedModel(state.portfolio(), state.source, version.at, state.name, version.id, state.cash)


def load_model(data_dir: str | Path, account: object) -> SavedModel | None:
    """The account's saved model (the newest version), or None when none was saved (or it cannot be read)."""
    try:
        current = VersionedModels(data_dir, account).current()
    except (OSError, sqlite3.Error, ValueError, KeyError, TypeError) as exc:
        log.warning("the saved model in %s cannot be read (%s); send the .xlsx again", data_dir, exc)
        log.debug("reading the model of %s", account, exc_info=True)
        return None
    if current is not None:
        return saved_from_version(current)
    return _load_file(data_dir, account)


def _load_file(data_dir: str | Path, account: object) -> SavedModel | None:
    """The one-file model earlier kisbots wrote (only when the version store could not import it)."""
    path = model_path(data_dir, account)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        portfolio = portfolio_from_dict({**data, "source": data.get("file_name")})
        return SavedModel(portfolio, portfolio.source, datetime.fromisoformat(data["saved_at"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # One line for the user (a CLI shows warnings on stderr); the traceback only at debug.
        log.warning("the saved model %s cannot be read (%s); send the .xlsx again", path, exc)
        log.debug("reading %s", path, exc_info=True)
        return None


class ModelStore:
    """`save_model` / `load_model` bound to one account's data dir, for the bot service."""

    def __init__(self, data_dir: str | Path, account: object):
        self.data_dir, self.account = Path(data_dir), account

    def save(self, portfolio: Portfolio, saved_at: datetime, who: str = "file") -> SavedModel:
        return save_model(self.data_dir, self.account, portfolio, saved_at, who)

    def versions(self):
        """The account's `rebalance.model_store.VersionedModels` (history, edits, named models)."""
        return VersionedModels(self.data_dir, self.account)

    def load(self) -> SavedModel | None:
        return load_model(self.data_dir, self.account)
