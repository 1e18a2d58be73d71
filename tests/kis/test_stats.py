"""What the client counts for /health and the alerts: calls, EGW00201 refusals, tokens, KIS up or down."""
from __future__ import annotations


import pytest
import requests
import responses

from kis import endpoints as ep
from kis.errors import KisTransportError
from kis.stats import KisState
from kis_fakes import REAL_URL, fail, ok

PRICE_OK = ok(output={"stck_prpr": "71000", "prdy_vrss": "0", "prdy_vrss_sign": "3", "prdy_ctrt": "0.00"})


def test_calls_refusals_and_the_token_are_counted_per_day(fake, client, clock):
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, status=500, json=fail("EGW00201", "초당 거래건수를 초과하였습니다."))
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=PRICE_OK)
    client.price("005930")
    counts = client.stats.counts()
    assert (counts.calls, counts.refusals, counts.tokens_issued) == (2, 1, 1)
    assert counts.last_ok == clock.wall() and counts.state is KisState.UP
    clock.sleep(24 * 3600)  # the next day starts at zero; the token is still cached
    assert (client.stats.counts().calls, client.stats.counts().refusals) == (0, 0)
    assert client.stats.counts().tokens_issued == 0


def test_token_issues_are_counted_across_clients_of_the_account(fake, make_client):
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=PRICE_OK)
    first = make_client()
    first.price("005930")
    second = make_client()  # another process on the same data dir reads the same log
    assert second.stats.counts().tokens_issued == 1


def test_kis_is_down_after_several_unanswered_calls_and_up_at_the_first_answer(fake, client):
    heard = []
    client.stats.add_listener(lambda state, reason: heard.append((state, reason)))
    for _ in range(5):
        fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(KisTransportError):
        client.price("005930")
    assert [s for s, _ in heard] == [KisState.DOWN]  # one change for five failures
    assert "3 KIS calls in a row got no answer" in heard[0][1]
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=PRICE_OK)
    client.price("005930")
    client.price("005930")
    assert [s for s, _ in heard] == [KisState.DOWN, KisState.UP]


def test_a_token_that_cannot_be_had_is_down_at_once(fake, client):
    heard = []
    client.stats.add_listener(lambda state, reason: heard.append(state))
    fake.rsps.replace(responses.POST, REAL_URL + ep.TOKEN, body=requests.ConnectionError("refused"))
    with pytest.raises(KisTransportError):
        client.price("005930")
    assert heard == [KisState.DOWN]
    assert "access token" in client.stats.counts().reason
