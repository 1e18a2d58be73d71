"""Tokens: one issue shared by instances, threads and processes; re-issue only when KIS says so."""
import json
import logging
import stat
import threading
from datetime import timedelta

import pytest
import responses

from kis import endpoints as ep
from kis.auth import TokenCache
from kis.client import KisClient
from kis.errors import KisError, TokenIssueTooFrequent
from kis.models import Env
from kis_fakes import REAL_URL, TOKEN_VALUE, FakeKis, fail, make_config, ok

PRICE_OK = ok(output={"stck_prpr": "71000", "prdy_vrss": "0", "prdy_vrss_sign": "3", "prdy_ctrt": "0.00"})


@pytest.fixture
def quotes(fake):
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=PRICE_OK)
    return fake


def test_two_clients_share_one_token_through_the_disk_cache(quotes, make_client, tmp_path):
    make_client().price("005930")
    make_client().price("005930")
    assert quotes.tokens_issued == 1
    token_call = quotes.paths(ep.TOKEN)[0]
    assert token_call.body == {"grant_type": "client_credentials", "appkey": make_config(tmp_path).app_key,
                               "appsecret": make_config(tmp_path).app_secret}
    assert all(c.headers["authorization"] == f"Bearer {TOKEN_VALUE}" for c in quotes.paths(ep.PRICE))


def test_the_cache_file_is_private_and_keyed_by_environment_app_key_and_host(quotes, make_client, tmp_path):
    make_client().price("005930")
    files = list((tmp_path / "data" / "tokens").glob("*.json"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    real = make_config(tmp_path)
    assert files[0].name == f"real-{real.app_key_id}-openapi.koreainvestment.com_9443.json"
    assert real.app_key not in files[0].name
    mock = make_config(tmp_path, Env.MOCK)
    assert TokenCache(mock).path != TokenCache(real).path
    assert TokenCache(make_config(tmp_path, app_key="another-key")).path != TokenCache(real).path
    assert not list((tmp_path / "data" / "tokens").glob(".token-*"))  # no temp file left behind


def test_a_token_near_its_expiry_is_renewed_mid_run(quotes, make_client, clock):
    client = make_client()
    client.price("005930")
    quotes.token_value = "SECOND-TOKEN"
    clock.sleep(timedelta(hours=23, minutes=55).total_seconds())  # within 10 minutes of expiry
    client.price("005930")
    assert quotes.tokens_issued == 2
    assert quotes.paths(ep.PRICE)[-1].headers["authorization"] == "Bearer SECOND-TOKEN"


def test_expired_token_answer_reissues_once_and_retries_the_call(quotes, make_client):
    client = make_client()
    client.price("005930")
    quotes.token_value = "FRESH-TOKEN"
    quotes.rsps.replace(responses.GET, REAL_URL + ep.PRICE, status=500,
                        json=fail("EGW00123", "기간이 만료된 token 입니다."))
    quotes.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=PRICE_OK)
    assert client.price("005930").price == 71000
    assert quotes.tokens_issued == 2
    assert quotes.paths(ep.PRICE)[-1].headers["authorization"] == "Bearer FRESH-TOKEN"


def test_a_token_refused_twice_raises_instead_of_looping(quotes, make_client):
    quotes.rsps.replace(responses.GET, REAL_URL + ep.PRICE, status=500,
                        json=fail("EGW00121", "유효하지 않은 token 입니다."))
    with pytest.raises(KisError) as err:
        make_client().price("005930")
    assert err.value.msg_cd == "EGW00121"
    assert quotes.tokens_issued == 2


def test_another_instance_already_refreshed_so_no_second_issue(quotes, make_client, tmp_path):
    a, b = make_client(), make_client()
    a.price("005930")
    b.price("005930")
    stale = a.tokens.token()
    quotes.token_value = "REFRESHED"
    assert a.tokens.refresh(stale) == "REFRESHED"
    assert b.tokens.refresh(stale) == "REFRESHED"  # found on disk, not issued again
    assert quotes.tokens_issued == 2


def test_too_frequent_issue_waits_a_minute_then_succeeds(rsps, clock, make_client):
    fake = FakeKis(rsps, REAL_URL, clock)
    rsps.add(responses.POST, REAL_URL + ep.TOKEN, status=403, json={
        "error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)", "error_code": "EGW00133"})
    fake.install()
    rsps.add(responses.GET, REAL_URL + ep.PRICE, json=PRICE_OK)
    make_client().price("005930")
    assert 61.0 in clock.sleeps
    assert len(fake.paths(ep.TOKEN)) == 2


def test_too_frequent_issue_is_bounded(rsps, clock, make_client):
    rsps.add(responses.POST, REAL_URL + ep.TOKEN, status=403, json={
        "error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)", "error_code": "EGW00133"})
    with pytest.raises(TokenIssueTooFrequent):
        make_client().price("005930")
    assert len(rsps.calls) == 3


def test_threads_of_one_process_issue_one_token(quotes, tmp_path, clock):
    config = make_config(tmp_path, rate=1e6)
    client = KisClient(config, wall=clock.wall)  # real pacing and sleeps; token expiry on the fake's clock
    threads = [threading.Thread(target=client.price, args=("005930",)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert quotes.tokens_issued == 1 and len(quotes.paths(ep.PRICE)) == 8


def test_the_token_and_secrets_never_show_in_reprs_logs_or_errors(quotes, make_client, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    client = make_client()
    client.price("005930")
    quotes.rsps.replace(responses.GET, REAL_URL + ep.PRICE, status=500,
                        json=fail("EGW00123", "기간이 만료된 token 입니다."))
    with pytest.raises(KisError) as err:
        client.price("005930")
    config = make_config(tmp_path)
    texts = [repr(client), repr(client.tokens), repr(client.transport), repr(config), str(err.value),
             repr(err.value), caplog.text, repr(client.tokens._token)]
    for secret in (TOKEN_VALUE, config.app_key, config.app_secret):
        assert not any(secret in t for t in texts)


def test_a_corrupt_cache_file_means_a_new_token_not_a_crash(quotes, make_client, tmp_path):
    client = make_client()
    path = TokenCache(client.config).path
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    client.price("005930")
    assert quotes.tokens_issued == 1
    assert json.loads(path.read_text())["access_token"] == TOKEN_VALUE


def test_the_simulator_has_one_token_cache_entry_whatever_its_port(tmp_path):
    # Each CLI command may start its own simulator on a free port; they share the paper account through the
    # data dir, so the second command must reuse the first one's token instead of issuing (and, on KIS,
    # alerting) again.
    from kis.sim import SimServer
    from kis.sim.clients import client_for

    state = tmp_path / "sim-state.json"
    issued = []
    for _ in range(2):
        with SimServer(0, always_open=True, state_path=state) as sim:
            client = client_for(sim, tmp_path / "data")
            client.price("005930")
            issued.append(client.tokens.issued)
            sim.save()
    assert issued == [True, False], "the second simulator's client must take the token from the cache"
    assert [p.name.split("-")[-1] for p in (tmp_path / "data" / "tokens").glob("*.json")] == ["sim.json"]
