"""Two allowed chats on one bot (TELEGRAM_ALLOWED_CHAT_IDS=111,222): the fake Bot API -> service -> sim.

Chat 111 is offered a plan; chat 222, which never saw it, can neither confirm it by typing nor by a
forged press, and its /cancel does not silently stop 111's run."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.service import open_service
from tests.conftest import SIM_START
from test_telegram_e2e import HoldableClock, env_source
from tg_harness import BotRunner, chat_texts as texts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ALICE, BOB = 111, 222


@pytest.fixture
def clock(sim):
    return HoldableClock(SIM_START, sim.clock)


@pytest.fixture
def bot(api, sim, sim_client, clock, tmp_path):
    def build(on_event):
        return open_service(sim_client, source=env_source(tmp_path), on_event=on_event, clock=clock,
                            poll_seconds=2.0, catch_up_seconds=20.0, settle_seconds=2.0, max_slices=3)

    runner = BotRunner(api, build, allowed=(ALICE, BOB), batch_seconds=0.2, min_gap_seconds=0.2).start()
    yield runner
    runner.finish()


def wait_text(api, needle, chat, timeout=15.0):
    return api.wait_for(lambda a: [t for t in texts(a, chat) if needle in t], timeout)[-1]


def test_a_plan_offered_in_one_chat_cannot_be_confirmed_or_cancelled_from_another(api, bot, sim, clock):
    api.send_document(ALICE, "model.xlsx", (EXAMPLES / "model.xlsx").read_bytes(), caption="/plan")
    photo = api.wait_for(lambda a: a.calls_to("sendPhoto", chat_id=ALICE))[-1]
    plan_id = photo.buttons[0]["callback_data"].removeprefix("confirm:")
    orders = len(sim.exchange.order_log)

    api.send_text(BOB, "/status")
    assert plan_id not in wait_text(api, "No run is active", BOB)
    api.send_text(BOB, "/confirm 1m")
    assert "no plan to confirm" in wait_text(api, "no plan to confirm", BOB)
    api.press(BOB, 1, f"confirm:{plan_id}")  # a press carrying the other chat's plan id
    wait_text(api, "another chat", BOB)
    assert len(sim.exchange.order_log) == orders and bot.service.active_run() is None

    clock.hold_at = SIM_START + timedelta(seconds=40)
    api.send_text(ALICE, "/confirm 90s")
    started = wait_text(api, "started", ALICE)
    assert plan_id in started
    assert clock.holding.wait(15)
    run_id = bot.service.active_run().run_id
    api.send_text(BOB, "/cancel")
    refusal = wait_text(api, "did not stop", BOB)
    assert run_id in refusal and str(ALICE) in refusal
    assert bot.service.active_run() is not None  # Alice's run goes on
    api.send_text(ALICE, "/cancel")
    wait_text(api, "Stopping the run", ALICE)
    wait_text(api, "Run cancelled", ALICE, timeout=30)
