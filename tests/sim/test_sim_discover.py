"""`find_or_start` and `kisbot sim`: how a new user's process finds the paper exchange."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from kis.config import SIM_ACCOUNT, SIM_APP_KEY, SIM_APP_SECRET, KisConfig
from kis.models import Account, Env
from kis.sim import SimServer, discover, find_or_start

ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path, app_key=SIM_APP_KEY):
    return KisConfig(env=Env.SIM, app_key=app_key, app_secret=SIM_APP_SECRET, account=Account.parse(SIM_ACCOUNT),
                     base_url="", rate_limit=50.0, data_dir=tmp_path)


@pytest.fixture
def started(monkeypatch):
    """Sims that find_or_start launches in this test, stopped afterwards."""
    registry: dict = {}
    monkeypatch.setattr(discover, "_started", registry)
    yield registry
    for server in registry.values():
        server.stop()


def free_port() -> int:
    with SimServer(0) as probe:
        return probe.port


def test_a_running_sim_with_the_same_key_and_account_is_used(sim, tmp_path, started):
    assert find_or_start(config(tmp_path), port=sim.port) == sim.url
    assert started == {}


def test_without_a_sim_one_is_started_in_process_and_reused(tmp_path, started):
    port = free_port()
    url = find_or_start(config(tmp_path), port=port)
    assert url != f"http://127.0.0.1:{port}"
    assert requests.get(url + "/sim/health").json()["account"] == SIM_ACCOUNT
    assert find_or_start(config(tmp_path), port=port) == url and len(started) == 1
    server = next(iter(started.values()))
    assert server.limiter.rate == 50.0
    assert server.state_path == tmp_path / "sim-state.json"


def test_a_sim_serving_another_key_is_not_used(sim, tmp_path, started):
    url = find_or_start(config(tmp_path, app_key="PSanotherKEY000000000000000000000000"), port=sim.port)
    assert url != sim.url and len(started) == 1


def test_something_else_on_the_port_is_not_taken_for_a_sim(tmp_path, started):
    from http.server import BaseHTTPRequestHandler, HTTPServer
    import threading

    class Other(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"hello": "world"}')

        def log_message(self, *args):
            pass

    other = HTTPServer(("127.0.0.1", 0), Other)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        url = find_or_start(config(tmp_path), port=other.server_address[1])
        assert url != f"http://127.0.0.1:{other.server_address[1]}" and len(started) == 1
    finally:
        other.shutdown()
        other.server_close()


def _kisbot(*args, env=None):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "KISBOT_"))}
    environ.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=ROOT, env=environ, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kisbot_sim_prints_how_to_use_it_serves_and_stops_on_ctrl_c(tmp_path):
    state = tmp_path / "state.json"
    proc = _kisbot("sim", "--port", "0", "--state", str(state), "--rate-limit", "5")
    try:
        first = proc.stdout.readline()
        assert first.startswith("kisbot paper exchange") and "http://127.0.0.1:" in first
        url = first.split()[-1]
        lines = [proc.stdout.readline() for _ in range(10)]
        text = "".join(lines)
        assert SIM_APP_KEY in text and SIM_ACCOUNT in text and "5 calls/s" in text
        assert "reserve at the upper limit" in text and "late, as on KIS" in text
        assert "KRX sessions only" in text and "--always-open" in text  # the default keeps KIS mock's hours
        assert f"KIS_ENV=sim KIS_BASE_URL={url}" in text
        assert requests.get(url + "/sim/health", timeout=5).json()["sim"] == "kisbot"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    assert state.exists()


def test_kisbot_sim_always_open_says_so_in_the_banner():
    proc = _kisbot("sim", "--port", "0", "--always-open")
    try:
        text = "".join(proc.stdout.readline() for _ in range(8))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    assert "always open: orders are accepted at any hour" in text and "KRX sessions only" not in text


@pytest.mark.parametrize("calendar, always_open", [("", False), ("krx", False), ("always", True)])
def test_a_sim_started_in_process_keeps_the_hours_of_the_market_calendar(tmp_path, started, monkeypatch,
                                                                          calendar, always_open):
    monkeypatch.setenv("MARKET_CALENDAR", calendar)
    monkeypatch.chdir(tmp_path)  # no stray .env
    find_or_start(config(tmp_path), port=free_port())
    assert next(iter(started.values())).exchange.always_open is always_open


def test_kisbot_sim_masks_a_configured_key(tmp_path):
    key, secret = "PSmyOwnKEY1234567890abcdefghijklmnop", "S" * 180
    proc = _kisbot("sim", "--port", "0", env={"KIS_APP_KEY": key, "KIS_APP_SECRET": secret,
                                              "KIS_ACCOUNT": "12345678-01"})
    try:
        text = "".join(proc.stdout.readline() for _ in range(5))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    assert key not in text and secret not in text and "12345678-01" in text
    assert "KIS_APP_KEY" in text


def test_kisbot_sim_on_a_taken_port_says_so_in_one_line(sim):
    proc = _kisbot("sim", "--port", str(sim.port))
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 1
    assert err.strip().count("\n") == 0 and f"port {sim.port} is in use" in err


def test_a_damaged_state_file_in_the_data_dir_says_what_to_do(tmp_path, started):
    from kis.errors import ConfigError

    (tmp_path / "sim-state.json").write_text("garbage")
    with pytest.raises(ConfigError, match="delete it"):
        find_or_start(config(tmp_path), port=free_port())
