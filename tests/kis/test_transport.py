"""Transport: the envelope becomes typed errors, GETs retry only what is safe, every call has a timeout."""
import pytest
import requests
import responses

from kis import endpoints as ep
from kis.errors import KisError, KisTransportError, RateLimited
from kis_fakes import REAL_URL, fail, ok

PRICE_OK = ok(output={"stck_prpr": "71000", "prdy_vrss": "0", "prdy_vrss_sign": "3", "prdy_ctrt": "0.00"})


def test_rate_limited_then_success_backs_off_and_returns_the_quote(fake, client, clock):
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, status=500, json=fail("EGW00201", "초당 거래건수를 초과하였습니다."))
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=PRICE_OK)
    assert client.price("005930").price == 71000
    assert len(fake.paths(ep.PRICE)) == 2
    assert clock.sleeps  # it waited before asking again


def test_a_business_error_with_http_500_is_raised_at_once_with_its_code(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.BUYABLE, status=500,
                  json=fail("OPSQ2001", "조회구분 입력값이 올바르지 않습니다.          "))
    with pytest.raises(KisError) as err:
        client.buying_power("005930")
    assert (err.value.msg_cd, err.value.msg1, err.value.http_status) == (
        "OPSQ2001", "조회구분 입력값이 올바르지 않습니다.", 500)
    assert err.value.tr_id == "TTTC8908R"
    assert len(fake.paths(ep.BUYABLE)) == 1


def test_gets_retry_on_timeouts_and_bodiless_5xx_then_give_up(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, body=requests.ReadTimeout("read timed out"))
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, status=503, body="Service Unavailable")
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, status=200, body="<html>not json</html>")
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, status=502, json={"message": "bad gateway"})
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, body=requests.ConnectionError("refused"))
    with pytest.raises(KisTransportError):
        client.price("005930")
    assert len(fake.paths(ep.PRICE)) == 5


def test_every_request_carries_a_timeout(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=PRICE_OK)
    client.price("005930")
    client.order("005930", "02", 1, "01")
    for call in fake.rsps.calls:
        assert call.request.req_kwargs["timeout"] is not None


def test_every_call_goes_through_the_rate_limiter_except_the_token(fake, make_client, clock):
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=PRICE_OK)
    client = make_client(rate=2.0)
    for _ in range(4):
        client.price("005930")
    client.order("005930", "02", 1, "01")
    # five paced calls at 2/s with 5 % margin: the fifth starts 4 intervals after the first
    assert clock.monotonic() == pytest.approx(4 * 1.05 / 2.0)


def test_a_rate_limit_on_a_post_that_persists_is_raised(fake, client):
    fake.order_faults = ["rate_limited"] * 5
    with pytest.raises(RateLimited):
        client.order("005930", "02", 1, "01")
    assert fake.orders == []


def _requests_errors() -> list[type[requests.RequestException]]:
    """Every exception `requests` can raise from a call (all subclasses of RequestException)."""
    found, todo = [], [requests.RequestException]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return sorted({c for c in found if c.__module__.startswith("requests")}, key=lambda c: c.__name__)


def _instance(cls: type[requests.RequestException]) -> requests.RequestException:
    try:
        return cls("simulated")
    except TypeError:  # JSONDecodeError also takes the document and position
        return cls("simulated", "", 0)


@pytest.mark.parametrize("error", _requests_errors(), ids=lambda c: c.__name__)
def test_no_requests_exception_escapes_the_client_as_anything_but_a_kis_error(fake, make_client, error):
    # The layers above catch only kis's own types: whatever requests raises must arrive as one of them.
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, body=_instance(error))
    fake.rsps.replace(responses.POST, REAL_URL + ep.ORDER_CASH, body=_instance(error))
    client = make_client()
    for call in (lambda: client.price("005930"), lambda: client.order("005930", "02", 1, "01")):
        with pytest.raises(KisTransportError) as caught:
            call()
        assert not isinstance(caught.value, requests.RequestException)


@pytest.mark.parametrize("error", _requests_errors(), ids=lambda c: c.__name__)
def test_no_requests_exception_escapes_a_token_issue(rsps, make_client, error):
    rsps.add(responses.POST, REAL_URL + ep.TOKEN, body=_instance(error))
    with pytest.raises(KisTransportError) as caught:
        make_client().price("005930")
    assert not isinstance(caught.value, requests.RequestException)
