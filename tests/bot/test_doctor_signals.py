"""`kisbot doctor --orders` stopped by a signal (Ctrl-C, `timeout`, systemd, a closed ssh session) withdraws its
1-share test buy and says so; a later run warns when an earlier test order still rests (issue 19)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bot.cli_doctor import doctor
from bot.doctor_orders import load_records
from kis.config import load_kis_config
from kis.sim import SimServer
from tests.bot.test_cli_doctor import APP_KEY, APP_SECRET, args, new_orders, sim_source

BOUND = 60.0  # seconds a child may take before the test gives up on it (a bound, not a measured figure)


@pytest.fixture
def sim():
    # The real clock (the child process measures real seconds). New orders are listed 2 s late: the doctor
    # is still polling for its test order when the test sees it rest at the exchange and sends the signal.
    server = SimServer(0, rate_limit=20.0, app_key=APP_KEY, app_secret=APP_SECRET, account="50087375-01",
                       always_open=True, listing_lag=2.0, listing_jitter=0.0).start()
    try:
        yield server
    finally:
        server.stop()


def start_doctor(sim, tmp_path, *options) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIS_", "TELEGRAM_", "TWAP_", "MARKET_"))}
    env.update(sim_source(sim, tmp_path).environ, KIS_RATE_LIMIT="20",
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    return subprocess.Popen([sys.executable, "-m", "bot", "doctor", "--orders", *options], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_until_it_rests(sim, child):
    """The test order is at the exchange, resting (the child is still running)."""
    end = time.monotonic() + BOUND
    while not [o for o in new_orders(sim) if o.remaining > 0]:
        assert child.poll() is None, child.communicate()[0]
        assert time.monotonic() < end, "the doctor placed no test order"
        time.sleep(0.02)
    [order] = new_orders(sim)
    return order


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_doctor_stopped_by_a_signal_cancels_its_test_order_and_names_it(sim, tmp_path, signum):
    child = start_doctor(sim, tmp_path)
    order = wait_until_it_rests(sim, child)
    child.send_signal(signum)
    out, _ = child.communicate(timeout=BOUND)
    assert child.returncode == 128 + signum, out
    assert [o for o in new_orders(sim) if o.remaining > 0] == []  # nothing rests at the exchange
    assert order.cancelled_qty == 1 and order.filled_qty == 0
    name = signal.Signals(signum).name
    assert f"stopped by {name}: placed a 1-share limit buy of 005930" in out
    assert f"(order {order.order_no}) and cancelled it; today's orders confirmed the cancel" in out
    assert "Traceback" not in out and f"placed; stopped by {name} before every check ran" in out
    assert load_records(load_kis_config(sim_source(sim, tmp_path))) == []  # nothing left to warn about


def test_a_stopped_doctor_reports_in_json_too(sim, tmp_path):
    child = start_doctor(sim, tmp_path, "--json")
    order = wait_until_it_rests(sim, child)
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=BOUND)
    report = json.loads(out)
    assert child.returncode == 128 + signal.SIGTERM
    assert report["stopped_by"] == "SIGTERM" and report["cancelled"] is True
    assert report["test_order"]["order_no"] == order.order_no and report["orders_placed"] == 1


def test_a_test_order_left_by_a_killed_doctor_is_named_by_the_next_run_until_it_is_cancelled(sim, tmp_path, capsys):
    child = start_doctor(sim, tmp_path)
    order = wait_until_it_rests(sim, child)
    child.kill()  # SIGKILL: nothing can be done in the process itself
    child.communicate(timeout=BOUND)
    assert order.remaining == 1
    time.sleep(2.1)
    source = sim_source(sim, tmp_path)
    assert doctor(args(), source=source) == 0  # a warning, not a failure
    out = capsys.readouterr().out
    assert "WARN earlier test orders: An earlier doctor test order still rests" in out
    assert f"order {order.order_no}" in out and "KIS app" in out
    # cancelled by hand: the next run says nothing and forgets it
    sim.exchange.cancel(order.order_no, order.org_no, None)
    time.sleep(2.1)
    assert doctor(args(), source=source) == 0
    assert "earlier test orders" not in capsys.readouterr().out
    assert load_records(load_kis_config(source)) == []


def test_a_doctor_run_to_the_end_keeps_no_record_and_warns_of_nothing(sim, tmp_path, capsys):
    source = sim_source(sim, tmp_path)
    assert doctor(args(orders=True), source=source) == 0
    assert load_records(load_kis_config(source)) == []
    assert "earlier test orders" not in capsys.readouterr().out
