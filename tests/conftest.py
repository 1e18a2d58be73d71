"""Shared fixtures: the paper exchange (`sim`) and a real `KisClient` talking to it (`sim_client`).

The sim runs on a free loopback port with a manual clock (`sim.clock`, a Tuesday 10:00 KST): prices,
token ages and partial fills move only when a test calls `sim.clock.advance(seconds)`. Its call limit
is high (500/s) and its pages are small (5 rows) so paging is exercised without slowing tests.
Steer it through `sim.exchange` (set_price, add_cash, set_holding, partial_fill_shares, order_log),
`sim.faults` (latency, error_rate, listing_lag, drop_after_order, drop_before_order, force_rate_limit) and
`sim.expire_tokens()`. KIS lists same-day orders late and confirms a cancel after taking it, and so does
the sim by default (a few seconds; 0.5 s): `sim.pass_listing_lag()` moves the clock on until every order placed
so far is listed and every cancel taken so far confirmed. More clients on a sim: `kis.sim.clients.client_for(sim, data_dir, **options)`.
"""
from __future__ import annotations

from datetime import datetime

import pytest

from kis.client import KisClient
from kis.sim import KST, ManualClock, SimServer
from kis.sim.clients import client_for

SIM_TEST_RATE = 500.0  # calls per second, sim and client alike: fast tests, same pacing code path
SIM_TEST_PAGE_ROWS = 5
SIM_START = datetime(2026, 11, 24, 10, 0, 0, tzinfo=KST)  # a Tuesday, market hours


@pytest.fixture
def sim_clock() -> ManualClock:
    return ManualClock(SIM_START)


@pytest.fixture
def sim(sim_clock):
    server = SimServer(0, rate_limit=SIM_TEST_RATE, page_rows=SIM_TEST_PAGE_ROWS,
                       daily_page_rows=SIM_TEST_PAGE_ROWS, seed=7, clock=sim_clock,
                       always_open=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sim_client(sim, tmp_path) -> KisClient:
    return client_for(sim, tmp_path / "kisbot")


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
        return client_for(sim, tmp_path / "kisbot", **options)

    return build
