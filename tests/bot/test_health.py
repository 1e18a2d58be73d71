"""/health and the KIS alerts, on the simulator: figures a user can check, one alert per outage."""
from __future__ import annotations

from bot.health import KisAlert, health_lines, startup_text
from kis.errors import KisTransportError
from kis.stats import KisState

import pytest


def test_health_shows_environment_token_calls_run_and_journal(sim, sim_client, tmp_path):
    sim_client.price("005930")
    text = "\n".join(health_lines(sim_client))
    assert "environment: sim" in text and "account: 50****00-01" in text
    assert "KIS: answering" in text and "token: issued about 0s ago, expires" in text
    assert "tokens issued today: 1" in text and "KIS calls today: 1, EGW00201 refusals: 0" in text
    assert "last good KIS call: 10:00:00 KST" in text  # the sim client's wall clock
    assert "active run: none" in text and "journal.sqlite3 (not created yet)" in text
    assert "version: " in text
    assert sim_client.config.app_key not in text and str(sim_client.config.account) not in text


def test_health_warns_of_kakaotalk_alerts_only_where_kis_sends_them(sim_client):
    from dataclasses import replace

    from kis.models import Env

    assert "KakaoTalk" not in "\n".join(health_lines(sim_client))  # the simulator sends no alert
    sim_client.config = replace(sim_client.config, env=Env.MOCK)
    assert "(each one a KakaoTalk alert from KIS)" in "\n".join(health_lines(sim_client))


def test_health_before_any_call_has_no_token_and_no_calls(sim_client):
    text = "\n".join(health_lines(sim_client))
    assert "token: none yet" in text and "KIS calls today: 0" in text and "last good KIS call: none" in text
    assert "KIS: answering" not in text  # nothing was asked, so nothing is known to answer
    assert "KIS: not asked yet by this process (kisbot doctor checks the connection)" in text


def test_startup_names_environment_masked_account_and_resumed_run(sim_client):
    class Status:
        run_id = "r-42"

    assert startup_text(sim_client) == "kisbot is up: sim, account 50****00-01, no run active."
    assert startup_text(sim_client, Status()) == "kisbot is up: sim, account 50****00-01, run r-42 resumed."


def test_one_alert_when_kis_stops_answering_and_one_when_it_is_back(sim, sim_client):
    pushed = []
    KisAlert(pushed.append, sim_client._wall).attach(sim_client)
    sim_client.price("005930")
    sim.faults.error_rate = 1.0  # every call fails
    for _ in range(3):
        with pytest.raises(KisTransportError):
            sim_client.price("005930")
    assert len(pushed) == 1 and "KIS is not answering" in pushed[0].text and pushed[0].kind == "alert"
    assert "NOT answering" in "\n".join(health_lines(sim_client))
    sim.faults.error_rate = 0.0
    sim_client.price("005930")
    sim_client.price("005930")
    assert len(pushed) == 2 and "KIS answers again" in pushed[1].text
    assert sim_client.stats.counts().state is KisState.UP


def test_a_journal_path_that_cannot_be_read_is_not_called_not_created_yet(sim_client, tmp_path):
    (tmp_path / "afile").write_text("x")  # a data dir that is a file
    text = "\n".join(health_lines(sim_client, journal_path=tmp_path / "afile" / "journal.sqlite3"))
    assert "journal.sqlite3 (cannot be read: Not a directory)" in text and "not created yet" not in text


def test_a_wrong_hts_id_reaches_the_user_once_and_health_names_kis_hts_id(sim, sim_client):
    import time

    from bot.health import notice_news, notice_text
    from kis.auth import ApprovalKeys
    from kis.notices import Backoff, NoticeStream, StreamState
    from rebalance.events import NoticeStatus
    from rebalance.i18n import Lang, using

    events: list = []
    config = sim_client.config
    stream = NoticeStream(sim.ws_url, "H0STCNI9", "not-" + sim.hts_id, config.account, ApprovalKeys(config).key,
                          on_message=notice_news(events.append), backoff=Backoff(base=0.05, cap=0.2, floor=0.05))
    stream.start()
    try:
        end = time.monotonic() + 5
        while stream.state is not StreamState.REFUSED and time.monotonic() < end:
            time.sleep(0.01)
        time.sleep(0.2)
    finally:
        stream.stop()
    [event] = events  # said once, though KIS (here the sim) dropped the connection three times
    assert isinstance(event, NoticeStatus) and "KIS_HTS_ID" in event.text and "not-" + sim.hts_id in event.text
    line = next(li for li in health_lines(sim_client, notices=notice_text(stream)) if li.startswith("notice stream:"))
    assert "KIS_HTS_ID" in line and "fills are polled" in line
    with using(Lang.KO):
        assert "KIS_HTS_ID를 확인하세요" in notice_text(stream)()


def test_a_korean_chat_reads_health_and_the_kis_alert_in_korean(sim, sim_client):
    from rebalance.i18n import using

    sim_client.price("005930")
    with using("ko"):
        text = "\n".join(health_lines(sim_client))
        pushed = []
        KisAlert(pushed.append, sim_client._wall).on_change(KisState.DOWN, "timeout")
    assert "환경: sim" in text and "KIS: 응답 중" in text and "오늘 KIS 호출: 1회" in text and "버전: " in text
    assert "environment" not in text and pushed[0].text.startswith("<b>KIS가 응답하지 않습니다</b>")
