"""A real `KisClient` wired to an in-process `SimServer` (tests and demos)."""
from __future__ import annotations

from pathlib import Path

from kis.accounts import PRODUCT_KINDS, AccountKind
from kis.client import KisClient
from kis.config import KisConfig
from kis.models import Env
from kis.sim.server import SimServer


def sim_config(sim: SimServer, data_dir: Path, *, rate_limit: float | None = None, account: str = "") -> KisConfig:
    """A `KIS_ENV=sim` configuration pointing at `sim`, with its token cache in `data_dir`; `account` (a label or
    number) picks one of a sim of several accounts ('' = the first), with that account's own keys."""
    desk = sim.desk(account)
    return KisConfig(env=Env.SIM, app_key=desk.protocol.app_key, app_secret=desk.protocol.app_secret,
                     account=desk.account, base_url=sim.url, rate_limit=rate_limit or sim.limiter.rate,
                     data_dir=Path(data_dir), hts_id=sim.hts_id, ws_url=sim.ws_url, label=desk.label,
                     kind=PRODUCT_KINDS.get(desk.account.product, (AccountKind.GENERAL,))[0])


def client_for(sim: SimServer, data_dir: Path, **options) -> KisClient:
    """A KisClient on `sim` that shares its clock (order times line up); `account=` picks one of several."""
    options.setdefault("wall", sim.clock)
    rate_limit = options.pop("rate_limit", None)
    account = options.pop("account", "")
    return KisClient(sim_config(sim, data_dir, rate_limit=rate_limit, account=account), **options)
