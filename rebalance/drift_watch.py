"""Drift: each stock of the saved model, its weight now against its target and band.

`drift()` is pure; `load_saved_model()` is the one place the report reads the saved model from.
A band is in percentage points of total value around the target; 0 means the stock has no band.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Mapping

from rebalance.model import Portfolio, Target

MODEL_FILE = "saved-model.json"


@dataclass(frozen=True)
class ModelStock:
    code: str
    name: str
    weight: float  # target, fraction of total value
    band: float = 0.0  # percentage points either side of the target; 0 = no band


@dataclass(frozen=True)
class SavedModel:
    """The model portfolio last accepted for an account."""

    stocks: tuple[ModelStock, ...]
    source: str = ""
    saved_at: datetime | None = None

    def portfolio(self) -> Portfolio:
        """The model as a plan input."""
        return Portfolio(tuple(Target(s.code, s.weight, s.name) for s in self.stocks), source=self.source)


@dataclass(frozen=True)
class StockDrift:
    code: str
    name: str
    value: int  # won held now
    weight: float  # now, fraction of total value
    target: float
    band: float  # percentage points; 0 = none

    @property
    def off_by(self) -> float:
        """Percentage points above (+) or below (-) the target."""
        return 100 * (self.weight - self.target)

    @property
    def outside(self) -> bool:
        return self.band > 0 and abs(self.off_by) > self.band


def drift(model: SavedModel, values: Mapping[str, int], cash: int) -> tuple[StockDrift, ...]:
    """Each model stock's weight in total value (cash + every holding, in the model or not)."""
    total = cash + sum(values.values())
    return tuple(
        StockDrift(s.code, s.name, values.get(s.code, 0), values.get(s.code, 0) / total if total > 0 else 0.0,
                   s.weight, s.band)
        for s in model.stocks
    )


def load_saved_model(data_dir: str | Path, account: str) -> SavedModel | None:
    """The account's saved model, or None when none was saved (or the file is unreadable)."""
    try:
        data = json.loads((Path(data_dir) / MODEL_FILE).read_text(encoding="utf-8"))[account]
        return SavedModel(
            tuple(ModelStock(s["code"], s.get("name", ""), float(s["weight"]), float(s.get("band", 0.0)))
                  for s in data["stocks"]),
            data.get("source", ""),
            datetime.fromisoformat(data["saved_at"]) if data.get("saved_at") else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_model(data_dir: str | Path, account: str, model: SavedModel) -> None:
    """Keep `model` as the account's saved model."""
    path = Path(data_dir) / MODEL_FILE
    try:
        everything = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        everything = {}
    everything[account] = {
        "source": model.source,
        "saved_at": model.saved_at.isoformat() if model.saved_at else None,
        "stocks": [{"code": s.code, "name": s.name, "weight": s.weight, "band": s.band} for s in model.stocks],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(everything, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
