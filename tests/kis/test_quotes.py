"""Quotes: request shape per environment, parsing of KIS-shaped answers, unknown codes."""
import json

import pytest
import responses

from kis import endpoints as ep
from kis.errors import RateLimited, UnknownStock
from kis.models import Env
from kis_fakes import APP_KEY, APP_SECRET, MOCK_URL, REAL_URL, TOKEN_VALUE, FakeKis, fail, ok


def price_output(price="71000", change="500", sign="5", rate="-0.70", **extra):
    return {"iscd_stat_cls_code": "55", "marg_rate": "20.00", "rprs_mrkt_kor_name": "KOSPI200",
            "stck_prpr": price, "prdy_vrss": change, "prdy_vrss_sign": sign, "prdy_ctrt": rate,
            "acml_tr_pbmn": "987654321000", "acml_vol": "13817290", "stck_oprc": "71500",
            "stck_hgpr": "71900", "stck_lwpr": "70800", "stck_mxpr": "92800", "stck_llam": "50000",
            "stck_sdpr": "71500", **extra}


def test_price_sends_the_documented_request_and_parses_a_falling_stock(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=ok(output=price_output()))
    quote = client.price("005930")

    call = fake.paths(ep.PRICE)[0]
    assert call.params == {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}
    assert call.headers["tr_id"] == "FHKST01010100"
    assert call.headers["authorization"] == f"Bearer {TOKEN_VALUE}"
    assert call.headers["appkey"] == APP_KEY and call.headers["appsecret"] == APP_SECRET
    assert call.headers["custtype"] == "P"
    assert call.headers["content-type"] == "application/json; charset=utf-8"
    assert (quote.code, quote.price, quote.change, quote.change_rate) == ("005930", 71000, -500, -0.70)
    assert (quote.volume, quote.upper_limit, quote.lower_limit) == (13817290, 92800, 50000)
    assert quote.at == client._wall()


def test_a_rising_stock_has_a_positive_change_even_if_kis_sends_no_sign(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE,
                  json=ok(output=price_output(price="72000", change="1000", sign="2", rate="1.41")))
    quote = client.price("005930")
    assert (quote.change, quote.change_rate) == (1000, 1.41)


def test_a_zero_quote_means_the_code_is_unknown(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=ok(output=price_output(price="0", change="0", sign="3")))
    with pytest.raises(UnknownStock) as err:
        client.price("999999")
    assert err.value.codes == ("999999",)


def test_a_malformed_code_is_refused_without_a_call(fake, client):
    with pytest.raises(UnknownStock):
        client.price("5930A")
    assert fake.paths(ep.PRICE) == []


def multi_row(code, name, price, change="100", sign="2", rate="0.50"):
    return {"kospi_kosdaq_cls_name": "코스피", "mrkt_trtm_cls_name": "", "hour_cls_code": "0",
            "inter_shrn_iscd": code, "inter_kor_isnm": name, "inter2_prpr": price,
            "inter2_prdy_vrss": change, "prdy_vrss_sign": sign, "prdy_ctrt": rate, "acml_vol": "1000",
            "inter2_oprc": price, "inter2_hgpr": price, "inter2_lwpr": price, "inter2_llam": "1000",
            "inter2_mxpr": "99000"}


def test_prices_on_real_use_the_multi_stock_quote_thirty_codes_a_call(fake, client):
    codes = [f"{n:06d}" for n in range(1, 36)]

    def answer(request):
        params = fake.record(request).params
        rows = [multi_row(params[f"FID_INPUT_ISCD_{n}"], f"종목{n}", "50000")
                for n in range(1, 31) if f"FID_INPUT_ISCD_{n}" in params]
        return 200, {}, json.dumps(ok(output=rows))

    fake.rsps.add_callback(responses.GET, REAL_URL + ep.MULTI_PRICE, callback=answer)
    quotes = client.prices(codes)

    calls = fake.paths(ep.MULTI_PRICE)
    assert len(calls) == 2
    assert calls[0].headers["tr_id"] == "FHKST11300006"
    assert calls[0].params["FID_COND_MRKT_DIV_CODE_1"] == "J" and calls[0].params["FID_INPUT_ISCD_30"] == "000030"
    assert "FID_INPUT_ISCD_6" not in calls[1].params and calls[1].params["FID_INPUT_ISCD_5"] == "000035"
    assert list(quotes) == codes
    assert quotes["000001"].name == "종목1" and quotes["000001"].price == 50000
    assert quotes["000001"].upper_limit == 99000


def test_prices_name_every_unknown_code_at_once(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.MULTI_PRICE, json=ok(output=[
        multi_row("005930", "삼성전자", "71000"), multi_row("999998", "", "0"), multi_row("", "", "")]))
    with pytest.raises(UnknownStock) as err:
        client.prices(["005930", "999998", "999999", "12AB"])
    assert set(err.value.codes) == {"999998", "999999", "12AB"}
    assert "999999" in str(err.value)


def test_prices_on_mock_fall_back_to_one_call_per_code(rsps, clock, make_client):
    FakeKis(rsps, MOCK_URL, clock).install()
    rsps.add(responses.GET, MOCK_URL + ep.PRICE, json=ok(output=price_output(price="71000")))
    rsps.add(responses.GET, MOCK_URL + ep.PRICE, json=fail("EGW00001", "종목코드 오류입니다."))
    client = make_client(Env.MOCK, rate=1.0)
    with pytest.raises(UnknownStock) as err:
        client.prices(["005930", "000000"])
    assert err.value.codes == ("000000",)
    assert len(rsps.calls) == 3  # token + two quotes, no multi-stock quote on mock
    assert all(c.request.headers.get("tr_id") in (None, "FHKST01010100") for c in rsps.calls)


def test_a_rate_limited_quote_is_not_reported_as_an_unknown_code(fake, make_client):
    for _ in range(5):
        fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=fail("EGW00201", "초당 거래건수를 초과하였습니다."),
                      status=500)
    client = make_client()
    with pytest.raises(RateLimited):
        client.price("005930")
    assert len(fake.paths(ep.PRICE)) == 5


def test_a_refused_multi_stock_batch_is_asked_code_by_code_to_name_the_unknown_one(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.MULTI_PRICE, json=fail("EGW00001", "종목코드 오류입니다."))
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=ok(output=price_output()))
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=fail("EGW00001", "종목코드 오류입니다."))
    with pytest.raises(UnknownStock) as err:
        client.prices(["005930", "999999"])
    assert err.value.codes == ("999999",)
    assert [c.params["FID_INPUT_ISCD"] for c in fake.paths(ep.PRICE)] == ["005930", "999999"]
