"""Shared fixtures: the paper exchange (`sim`) and a real `KisClient` talking to it (`sim_client`).

The sim runs on a free loopback port with a manual clock (`sim.clock`, a Tuesday 10:00 KST): prices,
token ages and partial fills move only when a test calls `sim.clock.advance(seconds)`. Its call limit
is high (500/s) and its pages are small (5 rows) so paging is exercised without slowing tests.
Steer it through `sim.exchange` (set_price, add_cash, set_holding, partial_fill_shares, order_log),
`sim.faults` (latency, error_rate, drop_after_order, drop_before_order, force_rate_limit) and
`sim.expire_tokens()`.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from kis.client import KisClient
from kis.config import SIM_ACCOUNT, SIM_APP_KEY, SIM_APP_SECRET, KisConfig
from kis.models import Account, Env
from kis.sim import KST, ManualClock, SimServer

SIM_TEST_RATE = 500.0  # calls per second, sim and client alike: fast tests, same pacing code path
SIM_TEST_PAGE_ROWS = 5
SIM_START = datetime(2026, 11, 24, 10, 0, 0, tzinfo=KST)  # a Tuesday, market hours


def sim_config(sim: SimServer, data_dir: Path, *, rate_limit: float | None = None) -> KisConfig:
    """A `KIS_ENV=sim` configuration pointing at `sim`, with its own token cache in `data_dir`."""
    return KisConfig(env=Env.SIM, app_key=SIM_APP_KEY, app_secret=SIM_APP_SECRET,
                     account=Account.parse(SIM_ACCOUNT), base_url=sim.url,
                     rate_limit=rate_limit or sim.limiter.rate, data_dir=data_dir)


def make_sim_client(sim: SimServer, data_dir: Path, **options) -> KisClient:
    """A real KisClient on `sim`; its wall clock is the sim's and order lookups do not wait long."""
    options.setdefault("wall", sim.clock)
    options.setdefault("lookup_delays", (0.0, 0.01, 0.02))
    rate_limit = options.pop("rate_limit", None)
    return KisClient(sim_config(sim, data_dir, rate_limit=rate_limit), **options)


@pytest.fixture
def sim_clock() -> ManualClock:
    return ManualClock(SIM_START)


@pytest.fixture
def sim(sim_clock):
    server = SimServer(0, rate_limit=SIM_TEST_RATE, page_rows=SIM_TEST_PAGE_ROWS,
                       daily_page_rows=SIM_TEST_PAGE_ROWS, seed=7, clock=sim_clock).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sim_client(sim, tmp_path) -> KisClient:
    return make_sim_client(sim, tmp_path / "kisbot")


@pytest.fixture
def sim_client_factory(sim, tmp_path):
    """Build more clients on `sim`, with faults switched on first: `factory(faults={"latency": 0.2}, **client_options)`.

    Clients built by one factory share a data dir (so a token cache), like processes on one machine.
    """

    def build(*, faults: dict | None = None, **options) -> KisClient:
        for name, value in (faults or {}).items():
            if name in ("drop_after_order", "drop_before_order", "force_rate_limit"):
                getattr(sim.faults, name)(value)
            else:
                setattr(sim.faults, name, value)
        return make_sim_client(sim, tmp_path / "kisbot", **options)

    return build
