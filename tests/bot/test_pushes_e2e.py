"""What kisbot tells unasked, end to end: Telegram (fake Bot API) -> pushes/service -> KisClient -> sim.

The scheduled report runs on its real worker thread; the test moves the fake clock to report time.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.notify import NotifyPrefs
from rebalance.i18n import t
from bot.pushes import open_pushes
from bot.service import open_service
from kis.config import Source
from rebalance.testing import FakeClock
from rebalance.model import Portfolio, Target
from rebalance.saved_model import save_model
from tests.conftest import SIM_START
from tg_harness import OWNER, BotRunner, chat_texts as texts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class PollingClock:
    """The report worker's view of the test's fake clock: it really sleeps a little per wait (the
    executor's waits jump the clock instead), so it notices when the test moves the clock on."""

    def __init__(self, base: FakeClock):
        self.base = base

    def now(self):
        return self.base.now()

    def wait(self, seconds, cancel):
        return cancel.wait(min(max(seconds, 0.0), 0.02))


def env_source(tmp_path, **extra):
    environ = {"MARKET_CALENDAR": "always", "TWAP_START": "10:00", "TWAP_END": "10:02", **extra}
    return Source(environ=environ, dotenv_path=tmp_path / "no.env", use_keyring=False)


@pytest.fixture
def clock():
    return FakeClock(SIM_START)


def start_bot(api, sim_client, clock, tmp_path) -> BotRunner:
    """`kisbot run` in a thread: service, pushes and /notify settings over the data dir of `sim_client`."""
    source = env_source(tmp_path)
    prefs = NotifyPrefs.in_dir(sim_client.config.data_dir)

    def build(on_event):
        return open_service(sim_client, source=source, on_event=on_event, clock=clock,
                            poll_seconds=2.0, catch_up_seconds=20.0, settle_seconds=2.0, max_slices=3)

    def pushes(service, notifier):
        return open_pushes(service, source=source, push=notifier.push, clock=PollingClock(clock), prefs=prefs)

    return BotRunner(api, build, batch_seconds=0.2, min_gap_seconds=0.2, prefs=prefs, pushes=pushes).start()


@pytest.fixture
def bot(api, sim, sim_client, clock, tmp_path):
    runner = start_bot(api, sim_client, clock, tmp_path)
    yield runner
    runner.finish()


def wait_text(api, needle, chat=OWNER, timeout=15.0):
    return api.wait_for(lambda a: [c for c in a.calls_to("sendMessage", "sendPhoto", chat_id=chat)
                                   if needle in c.text], timeout)[-1]


def save_drifting_model(sim_client):
    """A saved model that wants most of the account in one stock: far outside a 2-point band."""
    model = Portfolio((Target("005930", 0.6, "삼성전자", band=0.02), Target("000660", 0.2, "SK하이닉스", band=0.02)),
                      "model.xlsx")
    save_model(sim_client.config.data_dir, sim_client.config.account, model, SIM_START)


def test_startup_message_then_one_scheduled_report_at_report_time(api, bot, clock):
    up = wait_text(api, "kisbot is up")
    assert up.text == "kisbot is up: sim, account 50****00-01, no run active."
    assert not [t for t in texts(api) if "Daily report" in t]  # 10:00: not yet
    clock.advance(5 * 3600 + 40 * 60)  # 15:40
    report = wait_text(api, "Daily report")
    assert "total value" in report.text and "No saved model" in report.text
    threading.Event().wait(0.3)  # the worker keeps running: no second report the same day
    assert len([t for t in texts(api) if "Daily report" in t]) == 1
    assert not api.calls_to("sendPhoto")  # one session of history draws no value chart (it needs two)


def test_a_restart_at_15_41_does_not_send_the_report_again(api, sim, sim_client, clock, tmp_path):
    first = start_bot(api, sim_client, clock, tmp_path)
    try:
        clock.advance(5 * 3600 + 40 * 60)  # 15:40
        wait_text(api, "Daily report")
    finally:
        first.stop()
    clock.advance(60)  # back up at 15:41
    second = start_bot(api, sim_client, clock, tmp_path)
    try:
        api.wait_for(lambda a: len([t for t in texts(a) if "kisbot is up" in t]) == 2)
        threading.Event().wait(0.3)
        assert len([t for t in texts(api) if "Daily report" in t]) == 1
        clock.advance(24 * 3600)  # the next day's report still comes
        api.wait_for(lambda a: len([t for t in texts(a) if "Daily report" in t]) == 2)
    finally:
        second.stop()


def test_drift_report_plan_button_offers_the_plan_and_orders_nothing(api, bot, sim, sim_client):
    save_drifting_model(sim_client)
    wait_text(api, "kisbot is up")
    orders_before = len(sim.exchange.order_log)
    api.send_text(OWNER, "/report")
    report = wait_text(api, "outside the band")
    assert report.text.startswith("<b>Drift: 2 stocks outside the band</b>")  # the report starts with it
    assert [b["text"] for b in report.buttons] == ["Plan"]
    message_id = max(api.wait_for(lambda a: [k[1] for k, m in a._messages.items()
                                             if "outside the band" in m.get("text", "")]))
    api.press(OWNER, message_id, report.buttons[0]["callback_data"])
    offer = api.wait_for(lambda a: [c for c in a.calls_to("sendPhoto") if c.buttons])[-1]
    assert [b["text"].split()[0] for b in offer.buttons] == ["Confirm", "Cancel"]
    assert "saved model" in "\n".join(texts(api))
    assert len(sim.exchange.order_log) == orders_before  # nothing without Confirm


def test_health_through_telegram(api, bot):
    wait_text(api, "kisbot is up")
    api.send_text(OWNER, "/health")
    health = wait_text(api, "environment: sim")
    assert "account: 50****00-01" in health.text and "active run: none" in health.text


def test_notify_settings_silence_fills_but_not_the_summary(api, bot, sim):
    wait_text(api, "kisbot is up")
    api.send_text(OWNER, "/notify loud")
    assert wait_text(api, "Use /notify").text == t("misc_replies.notify_usage")
    api.send_text(OWNER, "/notify fills off")
    wait_text(api, "fills off")
    api.send_document(OWNER, "model.xlsx", (EXAMPLES / "model.xlsx").read_bytes(), caption="/plan")
    photo = api.wait_for(lambda a: [c for c in a.calls_to("sendPhoto") if c.buttons])[-1]
    # The fake records a call before it stores the message: wait for the message itself.
    message_id = max(api.wait_for(lambda a: [k[1] for k, m in a._messages.items()
                                             if "photo" in m and m.get("reply_markup")]))
    api.press(OWNER, message_id, photo.buttons[0]["callback_data"])
    # the summary rings whether the run reached its target or ended short (and says which)
    api.wait_for(lambda a: [t for t in texts(a) if "Run finished" in t or "Run ended short" in t], timeout=30)
    assert not [t for t in texts(api) if t.startswith("<b>Filled</b>")]
    assert len(sim.exchange.order_log) > 0


def test_one_alert_when_kis_stops_answering_and_one_when_it_answers(api, bot, sim):
    wait_text(api, "kisbot is up")
    sim.faults.error_rate = 1.0
    api.send_text(OWNER, "/balance")
    wait_text(api, "KIS did not answer")
    api.send_text(OWNER, "/price 005930")
    alert = wait_text(api, "KIS is not answering")
    assert alert.params.get("disable_notification") in (None, False, "false", "False")
    sim.faults.error_rate = 0.0
    api.send_text(OWNER, "/price 005930")
    wait_text(api, "KIS answers again")
    assert len([t for t in texts(api) if "KIS is not answering" in t]) == 1


def test_perf_through_telegram_says_one_sentence_then_the_returns_after_a_second_session(api, bot, clock):
    wait_text(api, "kisbot is up")
    api.send_text(OWNER, "/report")
    wait_text(api, "Daily report")
    api.send_text(OWNER, "/perf")
    assert "at least two sessions" in wait_text(api, "Performance needs").text
    clock.advance(24 * 3600)  # the next session's /report writes its row
    api.send_text(OWNER, "/report")
    api.wait_for(lambda a: len([t for t in texts(a) if "Daily report" in t]) >= 2)
    api.send_text(OWNER, "/perf all")
    perf = wait_text(api, "Performance over all the history")
    assert "time-weighted" in perf.text and "2 sessions" in perf.text and "costs paid" in perf.text
    chart = wait_text(api, "Value vs net deposits")
    assert chart.files["photo"][:8] == b"\x89PNG\r\n\x1a\n"
