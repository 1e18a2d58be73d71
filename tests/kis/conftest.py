"""Fixtures for the client's unit tests; the fakes themselves live in kis_fakes.py."""
from __future__ import annotations

import pytest
import responses

from kis.client import KisClient
from kis.models import Env
from kis_fakes import REAL_URL, FakeClock, FakeKis, make_config


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def fake(rsps, clock) -> FakeKis:
    return FakeKis(rsps, REAL_URL, clock).install()


@pytest.fixture
def make_client(tmp_path, clock):
    """A client on a fake clock; the limiter runs on that clock too."""

    def build(env: Env = Env.REAL, **options) -> KisClient:
        config = options.pop("config", None) or make_config(tmp_path, env, rate=options.pop("rate", 18.0))
        return KisClient(config, sleep=clock.sleep, monotonic=clock.monotonic, wall=clock.wall, **options)

    return build


@pytest.fixture
def client(fake, make_client) -> KisClient:
    return make_client()
