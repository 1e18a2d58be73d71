"""The listing lag `kisbot doctor` measured: how long a new order stayed out of today's orders.

KIS lists same-day orders late in inquire-daily-ccld, by an amount nobody documents. An unanswered
order may only be ruled out after lookups over a horizon longer than that lag, so the measured lag
is kept in the data dir (per environment and server) and raises the executor's settle horizon.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kis.config import KisConfig
from kis.files import server_name, write_private

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListingLag:
    """Seconds from sending an order until it was listed; `listed` False: not listed within them (a floor)."""

    seconds: float
    measured_at: datetime
    listed: bool = True


def lag_path(config: KisConfig) -> Path:
    return Path(config.data_dir) / "listing-lag" / f"{config.env.value}-{server_name(config.base_url)}.json"


def save_listing_lag(config: KisConfig, lag: ListingLag) -> Path:
    """Keep `lag` for this environment and server; returns the file."""
    path = lag_path(config)
    write_private(path, json.dumps({"seconds": round(lag.seconds, 3), "measured_at": lag.measured_at.isoformat(),
                                    "listed": lag.listed}))
    return path


def load_listing_lag(config: KisConfig) -> ListingLag | None:
    """The last lag measured for this environment and server, or None."""
    path = lag_path(config)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        seconds = float(data["seconds"])
        if not seconds >= 0:
            raise ValueError
        return ListingLag(seconds, datetime.fromisoformat(data["measured_at"]), bool(data.get("listed", True)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("the measured listing lag in %s is unreadable; run `kisbot doctor --orders` again", path)
        return None


def settle_horizon(setting: float, config: KisConfig) -> float:
    """The settle horizon to use: the setting, or the measured listing lag when that is longer."""
    lag = load_listing_lag(config)
    return max(setting, lag.seconds) if lag is not None else setting
