"""`kisbot run` as a process: refuses to start unconfigured; serves; resumes a run a crash left active."""
from __future__ import annotations

import os
import signal
import time
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from kis.sim import SimServer
from tg_harness import OWNER

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def clean_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "TELEGRAM_", "TWAP_", "MARKET_"))}
    env.update(KISBOT_DATA_DIR=str(tmp_path / "data"), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    env.update(extra)
    return env


@pytest.mark.parametrize("extra, says", [
    ({}, "TELEGRAM_BOT_TOKEN is not set"),
    ({"TELEGRAM_BOT_TOKEN": "1:SECRETTOKEN"}, "TELEGRAM_ALLOWED_CHAT_IDS is not set"),
])
def test_run_refuses_to_start_without_token_or_allowed_chats(tmp_path, monkeypatch, capsys, extra, says):
    for key in list(os.environ):
        if key.startswith(("TELEGRAM_", "KIS_")):
            monkeypatch.delenv(key)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.chdir(tmp_path)  # no .env
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert says in err and "SECRETTOKEN" not in err and "Traceback" not in err


def start_bot(api, sim, tmp_path) -> subprocess.Popen:
    env = clean_env(tmp_path, TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_ALLOWED_CHAT_IDS=str(OWNER),
                    TELEGRAM_API_BASE_URL=api.base_url, TELEGRAM_FILE_BASE_URL=api.base_file_url,
                    KIS_ENV="sim", KIS_BASE_URL=sim.url, KIS_RATE_LIMIT="50", MARKET_CALENDAR="always")
    # Output to files: debug logging would fill a pipe nobody reads while the test runs.
    out = open(tmp_path / f"bot-{len(list(tmp_path.glob('bot-*.out')))}.out", "w+")
    return subprocess.Popen([sys.executable, "-m", "bot", "--verbose", "run"], cwd=tmp_path, env=env,
                            stdout=out, stderr=subprocess.STDOUT, text=True)


def texts(api):
    return [c.text for c in api.calls_to("sendMessage", "sendPhoto", chat_id=OWNER)]


def wait_text(api, needle, timeout=20.0):
    return api.wait_for(lambda a: [t for t in texts(a) if needle in t], timeout)[-1]


def test_a_crashed_run_is_resumed_on_start_and_the_user_told(api, tmp_path):
    with SimServer(0, rate_limit=50.0, always_open=True) as sim:
        first = start_bot(api, sim, tmp_path)
        try:
            api.send_text(OWNER, "/price 005930")
            assert "005930" in wait_text(api, "005930")
            api.send_document(OWNER, "model.xlsx", (EXAMPLES / "model.xlsx").read_bytes())
            api.wait_for(lambda a: a.calls_to("sendPhoto"))
            api.send_text(OWNER, "/confirm 10m")
            wait_text(api, "started")
            # Once orders are going out, the process dies without warning.
            deadline = time.monotonic() + 20
            while not sim.exchange.order_log and time.monotonic() < deadline:
                time.sleep(0.01)
            assert sim.exchange.order_log, "no order reached the exchange"
        finally:
            first.kill()
            first.wait(10)

        second = start_bot(api, sim, tmp_path)
        try:
            resumed = wait_text(api, "Resumed a run")
            assert "% done" in resumed and "left" in resumed
            api.send_text(OWNER, "/cancel")
            summary = wait_text(api, "Run cancelled", timeout=30)
            assert "target" in summary
        finally:
            second.send_signal(signal.SIGINT)
            second.wait(20)
        output = (tmp_path / "bot-1.out").read_text()
        assert second.returncode == 0, output[-2000:]
        assert "polling Telegram" in output
        assert "getUpdates" in output and api.token not in output  # debug logs, yet no token


def test_the_bot_token_never_reaches_a_log_line(capsys):
    import logging

    from bot.telegram import guard_logs

    root = logging.getLogger()
    handler = logging.StreamHandler()
    root.addHandler(handler)
    try:
        guard_logs("123:SECRETTOKEN")
        logging.getLogger("telegram.Bot").warning("Set Bot API URL: %s", "https://api.telegram.org/bot123:SECRETTOKEN")
        logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot123:SECRETTOKEN/getMe")
    finally:
        root.removeHandler(handler)
    err = capsys.readouterr().err
    assert "SECRETTOKEN" not in err and "bot<bot-token>" in err


def test_a_malformed_report_time_stops_start_up_with_one_sentence(tmp_path, monkeypatch, capsys):
    for key in list(os.environ):
        if key.startswith(("TELEGRAM_", "KIS_", "KISBOT_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:SECRETTOKEN")
    monkeypatch.setenv("TELEGRAM_ALLOWED_CHAT_IDS", str(OWNER))
    monkeypatch.setenv("KISBOT_REPORT_AT", "25:99")
    monkeypatch.setenv("KISBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.chdir(tmp_path)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err == "kisbot: KISBOT_REPORT_AT='25:99' is not a time of day as HH:MM (KST) such as 15:40, or off\n"
    assert not (tmp_path / "data").exists()  # stopped before touching anything
