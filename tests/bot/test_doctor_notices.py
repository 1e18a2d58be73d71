"""`kisbot doctor`'s notice check: KIS allows one websocket session per app key, so while a bot's stream runs
the doctor reports what that stream last saw instead of opening a second one; otherwise it opens its own
(issue 19). Either way it reports the field count of the last notice and the frames skipped."""
import json

import pytest

from bot.cli_doctor import doctor
from kis.config import load_kis_config
from kis.notices import NOTICE_FIELDS, StreamState, open_notices
from kis.sim.clients import client_for
from tests.bot.test_cli_doctor import args, sim, sim_source  # noqa: F401 - sim is a fixture


def wait_for(condition, tries=500):
    import time

    for _ in range(tries):
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def running_bot(sim, tmp_path):
    """The notice stream a `kisbot run` opens (open_notices, as bot/telegram.py does), live on the sim."""
    config = load_kis_config(sim_source(sim, tmp_path))
    client = client_for(sim, config.data_dir)  # the approval key is issued through the same sim
    stream = open_notices(client.config)
    assert wait_for(lambda: stream.state is StreamState.LIVE)
    try:
        yield stream
    finally:
        stream.stop()


def test_without_a_running_bot_the_doctor_opens_its_own_session_and_reports_fields_and_skipped_frames(sim, tmp_path,
                                                                                                       capsys):
    sim.faults.ws_odd_count(1)  # the test order's first notice comes after a copy whose count field is '²'
    assert doctor(args(orders=True, json=True), source=sim_source(sim, tmp_path)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["notices"]["source"] == "own session" and report["notices"]["state"] == "live"
    assert report["notices_arrive"] is True
    assert report["notice_field_count"] == len(NOTICE_FIELDS) and report["notices_skipped"] == 1
    [finding] = [c for c in report["checks"] if c["name"] == "order notices"]
    assert f"had {len(NOTICE_FIELDS)} fields; 1 frame(s) were skipped" in finding["text"]
    assert all(not s.subscribed for s in sim.notices.sessions)  # it unsubscribed at the end


def test_with_a_running_bot_the_doctor_opens_no_session_and_reports_what_the_bots_stream_saw(sim, tmp_path, capsys,
                                                                                             running_bot):
    sim.faults.refuse_second_session = True  # as KIS: a second session of the app key would be refused
    sim.faults.ws_odd_count(1)
    assert doctor(args(orders=True, json=True), source=sim_source(sim, tmp_path)) == 0
    report = json.loads(capsys.readouterr().out)
    notices = report["notices"]
    assert notices["source"] == "running bot" and notices["state"] == "live" and notices["pid"] > 0
    assert report["notices_arrive"] is True  # the bot's stream counted the test order's notices
    assert report["notice_field_count"] == len(NOTICE_FIELDS) and report["notices_skipped"] == 1
    assert len(sim.notices.sessions) == 1 and running_bot.state is StreamState.LIVE  # still the bot's one session
    [finding] = [c for c in report["checks"] if c["name"] == "notices"]
    assert finding["status"] == "ok" and "not opened: another kisbot process" in finding["text"]


def test_once_the_bot_stops_the_doctor_opens_its_own_session_again(sim, tmp_path, capsys, running_bot):
    running_bot.stop()
    assert doctor(args(json=True), source=sim_source(sim, tmp_path)) == 0
    assert json.loads(capsys.readouterr().out)["notices"]["source"] == "own session"
