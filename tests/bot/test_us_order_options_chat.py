"""`/plan loc` and `/plan daytime` from chat: refused on mock and the sim before any KIS call; on a real account the
plan's header says them."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from bot_fakes import make_service
from kis.models import Env
from test_mixed_plan_chat import _service, _texts

MIXED = Path(__file__).resolve().parents[2] / "examples" / "mixed.xlsx"


def test_plan_loc_on_an_account_that_is_not_real_is_refused_before_any_call():
    service, client, executor, planner, _ = make_service()
    replies = service.plan(["loc"])
    assert "real accounts only" in _texts(replies) and len(replies) == 1
    assert client.calls == [] and executor.started == []


def test_a_file_with_the_daytime_caption_on_the_sim_is_refused_before_any_call(sim, sim_client):
    before = len(sim.calls)
    text = _texts(_service(sim_client).plan_file(MIXED.read_bytes(), "mixed.xlsx", args=["daytime"]))
    assert "주간거래" in text and "real accounts only" in text
    assert len(sim.calls) == before


class RealLooking:
    """The sim's client as a real account's would look to the service (its env), every call still the sim's."""

    def __init__(self, client):
        self._client = client
        self.config = SimpleNamespace(env=Env.REAL)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_on_a_real_account_a_plan_asking_loc_is_refused_in_one_sentence_since_no_run_would_place_it(sim_client):
    service = _service(RealLooking(sim_client))
    text = _texts(service.plan_file(MIXED.read_bytes(), "mixed.xlsx", args=["loc"]))
    assert "does not place LOC orders" in text and "Confirm" not in text
    text = _texts(service.plan_file(MIXED.read_bytes(), "mixed.xlsx", args=["daytime"]))
    assert "does not place 주간거래" in text and "Confirm" not in text
