"""The simulator takes EXCG_ID_DVSN_CD KRX, NXT and SOR as KIS documents them, serves NXT's list, and its fill
notices say where an order filled (ORD_EXG_GB)."""
from __future__ import annotations

import pytest

from kis import endpoints as ep
from kis.krx import xkrx
from kis.models import OrderSide, OrderType
from kis.sim.venues import NOT_ON_NXT, fill_code, nxt_codes
from sim_raw import CANO, PRODUCT, Raw, refusal

ETF = "069500"  # KODEX 200: no ETF is on NXT's list
NEW_LISTING = "0013V0"


@pytest.fixture
def raw(sim):
    return Raw(sim).login()


def order(raw, code, venue, *, dvsn="00", price=None, qty=1):
    price = price if price is not None else raw.sim.exchange.market.quote(code).lower
    body = {"CANO": CANO, "ACNT_PRDT_CD": PRODUCT, "PDNO": code, "ORD_DVSN": dvsn, "ORD_QTY": str(qty),
            "ORD_UNPR": str(price if dvsn == "00" else 0), "EXCG_ID_DVSN_CD": venue, "SLL_TYPE": "", "CNDT_PRIC": ""}
    return raw.post(ep.ORDER_CASH, "VTTC0012U", body)


def listed(raw, venue, day):
    return [(r["odno"], r["excg_id_dvsn_cd"]) for r in raw.daily(day, EXCG_ID_DVSN_CD=venue).json()["output1"]]


def test_nxts_list_holds_stocks_and_no_etf():
    assert "005930" in nxt_codes() and ETF not in nxt_codes() and NEW_LISTING not in nxt_codes()


@pytest.mark.parametrize("venue", ["KRX", "NXT", "SOR"])
def test_an_order_to_any_documented_venue_is_taken_for_a_stock_on_nxts_list(sim, raw, venue):
    reply = order(raw, "005930", venue)
    assert reply.json()["rt_cd"] == "0", reply.json()
    assert sim.exchange.orders[-1].venue == venue


def test_an_unknown_venue_is_refused_as_an_invalid_input(raw):
    assert refusal(order(raw, "005930", "NYSE"))[0] == "OPSQ2001"


@pytest.mark.parametrize("code", [ETF, NEW_LISTING])
@pytest.mark.parametrize("venue", ["NXT", "SOR"])
def test_an_nxt_or_sor_order_for_an_etf_or_a_stock_off_the_list_is_refused(sim, raw, code, venue):
    assert refusal(order(raw, code, venue)) == NOT_ON_NXT
    assert sim.exchange.order_log == []


def test_todays_orders_are_listed_by_the_venue_asked_and_all_of_them_under_all(sim, raw):
    krx = order(raw, "005930", "KRX").json()["output"]["ODNO"]
    sor = order(raw, "000660", "SOR").json()["output"]["ODNO"]
    sim.pass_listing_lag()
    day = sim.clock().strftime("%Y%m%d")
    assert listed(raw, "KRX", day) == [(krx, "KRX")]
    assert listed(raw, "SOR", day) == [(sor, "SOR")]
    assert sorted(listed(raw, "ALL", day)) == sorted([(krx, "KRX"), (sor, "SOR")])
    assert refusal(raw.daily(day, EXCG_ID_DVSN_CD="XX"))[0] == "OPSQ2001"


def test_search_stock_info_says_whether_nxt_trades_the_stock(raw):
    def info(code):
        return raw.get(ep.STOCK_INFO, "CTPF1002R", {"PRDT_TYPE_CD": "300", "PDNO": code}).json()["output"]
    assert info("005930")["cptt_trad_tr_psbl_yn"] == "Y" and info("005930")["nxt_tr_stop_yn"] == "N"
    assert info(ETF)["cptt_trad_tr_psbl_yn"] == "N"


def test_after_krxs_close_nxt_takes_an_order_in_its_after_market_and_krx_does_not(sim, sim_clock, raw):
    sim.exchange.always_open = False
    xkrx()  # seconds to build the first time: not inside a request with a timeout
    sim_clock.set(sim_clock().replace(hour=17, minute=0))
    raw.login()
    assert order(raw, "005930", "NXT").json()["rt_cd"] == "0"
    assert order(raw, "005930", "SOR").json()["rt_cd"] == "0"
    assert refusal(order(raw, "005930", "KRX"))[0] == "40580000"
    sim_clock.set(sim_clock().replace(hour=20, minute=0))
    assert refusal(order(raw, "005930", "NXT"))[0] == "40580000"


def test_krxs_after_market_takes_limit_orders_from_four_to_eight_when_on(sim, sim_clock, raw):
    sim.exchange.always_open = False
    sim.exchange.after_market = True
    xkrx()
    sim_clock.set(sim_clock().replace(hour=15, minute=50))
    raw.login()
    assert refusal(order(raw, "005930", "KRX"))[0] == "40580000"  # between the close and 16:00
    sim_clock.set(sim_clock().replace(hour=16, minute=0))
    assert order(raw, "005930", "KRX").json()["rt_cd"] == "0"
    assert refusal(order(raw, "005930", "KRX", dvsn="01"))[0] == "40580000"  # a market order: not there


def test_a_fill_notice_says_krx_nxt_or_where_sor_sent_it(sim_clock):
    morning, evening = sim_clock().replace(hour=10), sim_clock().replace(hour=17)
    assert [fill_code(v, morning) for v in ("KRX", "NXT", "SOR")] == ["1", "2", "3"]
    assert fill_code("SOR", evening) == "4"


def test_the_client_sends_the_venue_and_finds_and_cancels_a_sor_order_across_venues(sim, sim_client):
    price = sim.exchange.market.quote("005930").lower
    ack = sim_client.order("005930", OrderSide.BUY, 1, OrderType.LIMIT, price, venue="SOR")
    assert ack.venue == "SOR" and sim.exchange.orders[-1].venue == "SOR"
    assert sim_client.orders_venue == "ALL"
    sim.pass_listing_lag()
    mine = [o for o in sim_client.orders_today("005930") if o.order_no == ack.order_no]
    assert mine and mine[0].venue == "SOR"
    sim_client.cancel(ack.order_no, ack.org_no, 0)
    assert sim.exchange.orders[-1].kind == "cancel" and sim.exchange.orders[-1].venue == "SOR"


def test_the_client_sends_krx_unless_told_otherwise(sim, sim_client):
    price = sim.exchange.market.quote("005930").lower
    ack = sim_client.order("005930", OrderSide.BUY, 1, OrderType.LIMIT, price)
    assert ack.venue == "KRX" and sim.exchange.orders[-1].venue == "KRX" and sim_client.orders_venue == "KRX"


def test_the_client_quotes_krx_by_default_and_nxt_or_both_when_asked(sim, sim_client):
    asked = []
    get = sim_client.transport.get

    def spy(path, tr_id, params, **kw):
        asked.append(params.get("FID_COND_MRKT_DIV_CODE"))
        return get(path, tr_id, params, **kw)

    sim_client.transport.get = spy
    assert sim_client.price("005930", market="UN").price == sim_client.price("005930").price > 0
    assert asked == ["UN", "J"]
    with pytest.raises(ValueError):
        sim_client.price("005930", market="NYS")
