"""Fixtures for the bot tests: a fake Bot API on loopback and the bot polling it."""
from __future__ import annotations

import pytest

from fake_bot_api import FakeBotApi


@pytest.fixture
def api():
    with FakeBotApi() as server:
        yield server
