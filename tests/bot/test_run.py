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
    # Real time passes in these processes: after 15:40 the day's report would come unasked, between replies.
    env.update(KISBOT_REPORT_AT="off")
    env.update(extra)
    return env


@pytest.mark.parametrize("extra, says", [
    ({}, "TELEGRAM_BOT_TOKEN is not set"),
])
def test_run_refuses_to_start_without_a_token(tmp_path, monkeypatch, capsys, extra, says):
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


def test_without_allowed_chats_run_only_tells_each_chat_its_id_and_opens_no_kis_client(api, tmp_path):
    # KIS_BASE_URL points nowhere: setup mode must not call it (a call would log a connection error).
    env = clean_env(tmp_path, TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_BASE_URL=api.base_url,
                    TELEGRAM_FILE_BASE_URL=api.base_file_url, KIS_ENV="sim", KIS_BASE_URL="http://127.0.0.1:9")
    out = open(tmp_path / "setup.out", "w+")
    bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, stdout=out,
                           stderr=subprocess.STDOUT, text=True)
    try:
        api.send_text(OWNER, "/balance")
        answer = api.wait_for(lambda a: a.calls_to("sendMessage", chat_id=OWNER), timeout=30)[-1].text
        assert f"Your chat id is {OWNER}" in answer and f"TELEGRAM_ALLOWED_CHAT_IDS={OWNER}" in answer
        assert "trades nothing" in answer
    finally:
        bot.send_signal(signal.SIGINT)
        bot.wait(20)
    output = (tmp_path / "setup.out").read_text()
    assert bot.returncode == 0, output[-2000:]
    assert "setup mode" in output and "Traceback" not in output and api.token not in output
    assert not (tmp_path / "data" / "journal.sqlite3").exists()


def test_setup_mode_speaks_the_chats_language_and_warns_a_group():
    from bot.setup_mode import chat_id_answer

    korean = chat_id_answer(-100123, "supergroup", "ko")
    assert "-100123" in korean and "채팅의 ID" in korean and "그룹" in korean
    assert "every member" not in chat_id_answer(42, "private", "en")


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
        assert api.allowed_updates == ["message", "callback_query"]  # only what the bot handles


def test_the_bot_token_never_reaches_a_log_line_nor_a_logged_traceback(capsys):
    import logging

    from bot.redact import protect

    root = logging.getLogger()
    handler = logging.StreamHandler()
    root.addHandler(handler)
    try:
        protect("123:SECRETTOKEN")
        logging.getLogger("telegram.Bot").warning("Set Bot API URL: %s", "https://api.telegram.org/bot123:SECRETTOKEN")
        logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot123:SECRETTOKEN/getMe")
        try:
            raise RuntimeError("The token `123:SECRETTOKEN` was rejected by the server.")
        except RuntimeError:
            logging.getLogger("telegram.ext").exception("error while polling")
    finally:
        root.removeHandler(handler)
    err = capsys.readouterr().err
    assert "SECRETTOKEN" not in err and "bot<secret>" in err and "The token `<secret>` was rejected" in err


@pytest.mark.parametrize("where", ["main thread", "worker thread"])
def test_an_uncaught_traceback_never_shows_a_protected_secret(tmp_path, where):
    code = (
        "import threading\n"
        "from bot.redact import protect\n"
        "protect('123:SECRETTOKEN')\n"
        "def boom():\n"
        "    raise RuntimeError('The token `123:SECRETTOKEN` was rejected by the server.')\n"
        + ("t = threading.Thread(target=boom); t.start(); t.join()\n" if where == "worker thread" else "boom()\n"))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "RuntimeError: The token `<secret>` was rejected" in done.stderr
    assert "SECRETTOKEN" not in done.stderr


def run_once(tmp_path, **extra) -> subprocess.CompletedProcess:
    """`kisbot run` to its end (it is expected to stop by itself), its output as text."""
    env = clean_env(tmp_path, TELEGRAM_ALLOWED_CHAT_IDS=str(OWNER), KIS_ENV="sim", MARKET_CALENDAR="always",
                    KIS_RATE_LIMIT="50", **extra)
    return subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_token_telegram_rejects_stops_the_bot_with_a_sentence_and_no_token(api, tmp_path):
    with SimServer(0, rate_limit=50.0, always_open=True) as sim:
        done = run_once(tmp_path, TELEGRAM_BOT_TOKEN="999999:WRONG-secret-token", KIS_BASE_URL=sim.url,
                        TELEGRAM_API_BASE_URL=api.base_url)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in done.stderr and "@BotFather" in done.stderr
    assert "WRONG-secret-token" not in out and "Traceback" not in out
    assert "polling Telegram" not in out  # it never was


def test_telegram_unreachable_at_start_is_one_sentence(tmp_path):
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with SimServer(0, rate_limit=50.0, always_open=True) as sim:
        done = run_once(tmp_path, TELEGRAM_BOT_TOKEN="999999:some-secret-token", KIS_BASE_URL=sim.url,
                        TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{port}/bot")
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "Telegram could not be reached" in done.stderr and "Traceback" not in out
    assert "some-secret-token" not in out


@pytest.mark.parametrize("damage, says", [
    ("data dir is a file", "the data directory"),
    ("journal is garbage", "cannot be read"),
    ("journal is empty", "is empty (0 bytes)"),
])
def test_an_unusable_data_dir_or_journal_stops_the_bot_with_one_sentence(api, tmp_path, damage, says):
    data = tmp_path / "data"
    if damage == "data dir is a file":
        data.write_text("not a directory")
    else:
        data.mkdir()
        (data / "journal.sqlite3").write_bytes(b"" if damage == "journal is empty" else b"garbage" * 1000)
    with SimServer(0, rate_limit=50.0, always_open=True) as sim:
        done = run_once(tmp_path, TELEGRAM_BOT_TOKEN=api.token, KIS_BASE_URL=sim.url,
                        TELEGRAM_API_BASE_URL=api.base_url)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and str(data) in lines[0] and "Traceback" not in done.stderr


def test_a_second_bot_on_the_same_data_dir_names_the_process_that_owns_the_run(api, tmp_path):
    from bot.service import open_service
    from fake_bot_api import FakeBotApi
    from kis.config import Source
    from kis.sim.clients import client_for
    from tg_harness import BotRunner

    with SimServer(0, rate_limit=50.0, always_open=True) as sim:
        first = start_bot(api, sim, tmp_path)
        try:
            api.send_document(OWNER, "model.xlsx", (EXAMPLES / "model.xlsx").read_bytes())
            api.wait_for(lambda a: a.calls_to("sendPhoto"))
            api.send_text(OWNER, "/confirm 10m")
            wait_text(api, "started")
            with FakeBotApi() as other_api:
                source = Source(environ={"MARKET_CALENDAR": "always"}, dotenv_path=tmp_path / "no.env",
                                use_keyring=False)
                client = client_for(sim, tmp_path / "data")
                with BotRunner(other_api, lambda on_event: open_service(client, source=source, on_event=on_event)):
                    hello = other_api.wait_sent(OWNER, 1, timeout=20)[0].text
                    other_api.send_text(OWNER, "/cancel")
                    answer = other_api.wait_for(lambda a: [c.text for c in a.calls_to("sendMessage", chat_id=OWNER)
                                                           if "cancel" in c.text.lower()], 20)[-1]
            assert f"another kisbot process (pid {first.pid})" in hello and "leaves it alone" in hello
            assert f"another kisbot process (pid {first.pid})" in answer and "Stopping the run" not in answer
            assert first.poll() is None and not [t for t in texts(api) if "Run cancelled" in t]
            api.send_text(OWNER, "/cancel")  # the owner can still stop it
            wait_text(api, "Stopping the run")
            wait_text(api, "Run cancelled", timeout=30)
        finally:
            first.kill()
            first.wait(10)


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


def test_a_telegram_base_url_answering_html_is_one_sentence_without_a_traceback(tmp_path):
    import http.server
    import threading

    class Html(http.server.BaseHTTPRequestHandler):  # e.g. a web server or a captive portal, not a Bot API
        def do_POST(self):
            body = b"<html><body><h1>Welcome to nginx!</h1></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with SimServer(0, rate_limit=50.0, always_open=True) as sim:
            done = run_once(tmp_path, TELEGRAM_BOT_TOKEN="999999:some-secret-token", KIS_BASE_URL=sim.url,
                            TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{server.server_port}/bot")
    finally:
        server.shutdown()
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "Traceback" not in out and "JSONDecodeError" not in out, out
    assert "TELEGRAM_API_BASE_URL" in done.stderr and "did not answer as a Telegram Bot API" in done.stderr, out
    assert "some-secret-token" not in out
