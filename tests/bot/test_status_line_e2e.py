"""Never silent: through the fake Bot API, a file or /plan at mock's pace is answered at once with a typing
action and a status line, the line is edited as KIS calls go (at most once a second), and the plan then
takes its place: at most three messages (table, chart with buttons) are left in the chat."""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from bot.service import open_service
from kis.client import KisClient
from kis.config import Source
from kis.models import Env
from kis.sim.clients import sim_config
from rebalance.testing import workbook as xlsx_bytes
from tests.conftest import SIM_START
from tg_harness import OWNER, BotRunner
from test_telegram_e2e import HoldableClock

MOCK_RATE = 2.0  # calls per second: slow like mock (1/s), quick enough for a test
MODEL = [["종목코드", "비중"], ["005930", 40], ["000660", 30], ["035720", 30]]


class PricedAt(list):
    """The monotonic moments at which the client's single-stock quotes came back."""


@pytest.fixture
def mock_client(sim, tmp_path):
    """A client that talks to the sim as KIS mock is talked to: one quote a call, no stock info, slow pace."""
    for code in list(sim.exchange.positions):  # the model's three stocks are the whole plan
        sim.exchange.set_holding(code, 0)
    config = replace(sim_config(sim, tmp_path / "kisbot", rate_limit=MOCK_RATE), env=Env.MOCK)
    client = KisClient(config, wall=sim.clock)
    priced = client.priced_at = PricedAt()
    quote = client.price

    def timed_price(code):
        try:
            return quote(code)
        finally:
            priced.append(time.monotonic())

    client.price = timed_price
    return client


@pytest.fixture
def bot(api, sim, mock_client, tmp_path):
    source = Source(environ={"MARKET_CALENDAR": "always", "TWAP_START": "10:00", "TWAP_END": "10:02"},
                    dotenv_path=tmp_path / "no.env", use_keyring=False)

    def build(on_event):
        return open_service(mock_client, source=source, on_event=on_event, clock=HoldableClock(SIM_START, sim.clock),
                            poll_seconds=2.0, settle_seconds=2.0, max_slices=3)

    runner = BotRunner(api, build).start()
    yield runner
    runner.finish()


def test_a_file_is_answered_with_typing_and_a_status_line_before_the_first_price_is_read(api, bot, mock_client):
    sent_at = time.monotonic()
    api.send_document(OWNER, "model.xlsx", xlsx_bytes(("model", MODEL, "visible")))
    line = api.wait_for(lambda a: a.calls_to("sendMessage", chat_id=OWNER))[0]
    typing = api.calls_to("sendChatAction", chat_id=OWNER)[0]
    assert typing.params["action"] == "typing"
    assert line.text == "Planning 3 stocks: mock allows 2 KIS call/s, about 2 s"  # balance + 3 quotes
    api.wait_for(lambda a: a.calls_to("sendPhoto"), timeout=20)
    assert mock_client.priced_at, "the plan read its prices one call at a time"
    assert typing.at < line.at < mock_client.priced_at[0]
    assert typing.at - sent_at < 1.0


def test_the_status_line_counts_the_calls_and_the_plan_takes_its_place_in_three_messages_at_most(api, bot):
    api.send_document(OWNER, "model.xlsx", xlsx_bytes(("model", MODEL, "visible")), caption="/plan")
    photo = api.wait_for(lambda a: a.calls_to("sendPhoto"), timeout=20)[0]
    line = api.calls_to("sendMessage", chat_id=OWNER)[0]
    edits = api.calls_to("editMessageText", chat_id=OWNER)
    progress = [e for e in edits if "KIS calls" in e.text]
    assert progress and progress[-1].text.startswith("Planning 3 stocks: KIS calls ")
    moments = [line.at] + [e.at for e in progress]
    assert all(b - a >= 0.9 for a, b in zip(moments, moments[1:])), "edited at most about once a second"
    shown = api.shown(OWNER)
    assert len(shown) <= 3
    assert "<pre>" in shown[0]["text"]  # the status line became the plan table, the notes folded into it
    assert "Planning" not in "".join(m.get("text", "") for m in shown)
    assert shown[-1].get("photo") and [b["text"] for b in photo.buttons][1] == "Cancel"
