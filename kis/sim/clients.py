"""A real `KisClient` wired to an in-process `SimServer` (tests and demos)."""
from __future__ import annotations

from pathlib import Path

from kis.client import KisClient
from kis.config import KisConfig
from kis.models import Env
from kis.sim.server import SimServer


def sim_config(sim: SimServer, data_dir: Path, *, rate_limit: float | None = None) -> KisConfig:
    """A `KIS_ENV=sim` configuration pointing at `sim`, with its token cache in `data_dir`."""
    return KisConfig(env=Env.SIM, app_key=sim.protocol.app_key, app_secret=sim.protocol.app_secret,
                     account=sim.account, base_url=sim.url, rate_limit=rate_limit or sim.limiter.rate,
                     data_dir=Path(data_dir), hts_id=sim.hts_id, ws_url=sim.ws_url)


def client_for(sim: SimServer, data_dir: Path, **options) -> KisClient:
    """A KisClient on `sim` that shares its clock (order times line up)."""
    options.setdefault("wall", sim.clock)
    rate_limit = options.pop("rate_limit", None)
    return KisClient(sim_config(sim, data_dir, rate_limit=rate_limit), **options)
