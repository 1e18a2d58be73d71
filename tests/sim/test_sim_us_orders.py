"""The sim takes US orders as KIS mock does (examples_llm/overseas_stock/order, order_rvsecncl, inquire_ccnl,
inquire_nccs, inquire_psamount and their chk_*.py fields): limit only, whole shares, the US grid, the exchange
per ticker, the US regular session, dollars held while a buy rests, the listing lag and lost answers."""
from __future__ import annotations

from datetime import datetime

import pytest

from kis.markets import us
from kis.sim import ManualClock, SimServer
from kis.sim.overseas_protocol import CCNL_FIELDS_OUT, PSAMOUNT_OUT
from kis.sim.us_exchange import NEW_YORK
from sim_raw import CANO, PRODUCT, Raw, refusal

ORDER_ACK = ("KRX_FWDG_ORD_ORGNO", "ODNO", "ORD_TMD")  # chk_order.py / chk_order_rvsecncl.py


@pytest.fixture
def raw(sim):
    sim.faults.listing_lag = sim.faults.cancel_confirm_delay = 0.0
    return Raw(sim).login()


def order(raw, symbol="AAPL", qty="1", price="200.00", *, excd="NASD", dvsn="00", tr_id="VTTT1002U"):
    sell = tr_id != "VTTT1002U"
    body = {"CANO": CANO, "ACNT_PRDT_CD": PRODUCT, "OVRS_EXCG_CD": excd, "PDNO": symbol, "ORD_QTY": qty,
            "OVRS_ORD_UNPR": price, "CTAC_TLNO": "", "MGCO_APTM_ODNO": "", "SLL_TYPE": "00" if sell else "",
            "ORD_SVR_DVSN_CD": "0", "ORD_DVSN": dvsn}  # order.py's params
    return raw.post(us.BUY.path, tr_id, body)


def rvsecncl(raw, odno, symbol="AAPL", *, kind="02", qty="1", price="0", excd="NASD"):
    body = {"CANO": CANO, "ACNT_PRDT_CD": PRODUCT, "OVRS_EXCG_CD": excd, "PDNO": symbol, "ORGN_ODNO": odno,
            "RVSE_CNCL_DVSN_CD": kind, "ORD_QTY": qty, "OVRS_ORD_UNPR": price, "MGCO_APTM_ODNO": "",
            "ORD_SVR_DVSN_CD": "0"}  # order_rvsecncl.py's params
    return raw.post(us.REVISE_CANCEL.path, "VTTT1004U", body)


def ccnl(raw, day, *, nk="", fk="", tr_cont=None, **over):
    params = {"CANO": CANO, "ACNT_PRDT_CD": PRODUCT, "PDNO": "", "ORD_STRT_DT": day, "ORD_END_DT": day,
              "SLL_BUY_DVSN": "00", "CCLD_NCCS_DVSN": "00", "OVRS_EXCG_CD": "", "SORT_SQN": "DS", "ORD_DT": "",
              "ORD_GNO_BRNO": "", "ODNO": "", "CTX_AREA_NK200": nk, "CTX_AREA_FK200": fk, **over}
    return raw.get(us.ORDERS.path, "VTTS3035R", params, tr_cont=tr_cont)


def psamount(raw, symbol="AAPL", price="200.00", excd="NASD"):
    params = {"CANO": CANO, "ACNT_PRDT_CD": PRODUCT, "OVRS_EXCG_CD": excd, "OVRS_ORD_UNPR": price, "ITEM_CD": symbol}
    return raw.get(us.BUYABLE.path, "VTTS3007R", params)


def ny_day(sim) -> str:
    return sim.clock().astimezone(NEW_YORK).strftime("%Y%m%d")


def test_a_limit_buy_below_the_market_rests_holds_its_dollars_and_answers_the_documented_fields(sim, raw):
    sim.us_market.set_price("AAPL", "233.12")
    cash = sim.us_book.usd_cash
    reply = order(raw, qty="2", price="200.00")
    body = reply.json()
    assert body["rt_cd"] == "0", body
    assert set(body["output"]) == set(ORDER_ACK)
    assert sim.us_book.usd_cash == cash  # nothing filled
    assert sim.us_exchange.orderable_usd() == cash * 100 - (400 + 1) * 10_000  # $400 and a $1 fee, in $0.0001


def test_a_limit_buy_at_or_above_the_market_fills_at_the_market_price_and_settles_the_dollars(sim, raw):
    sim.us_market.set_price("KO", "69.41")
    cash = sim.us_book.usd_cash
    assert order(raw, "KO", qty="3", price="70.00", excd="NYSE").json()["rt_cd"] == "0"
    assert sim.us_book.positions["KO"].qty == 3
    assert sim.us_book.usd_cash == cash - 20823 - 53  # 3 x $69.41 and 0.25 % commission, rounded up


def test_a_sell_sends_the_sample_tr_id_and_the_documented_one_alike(sim, raw):
    sim.us_book.set_holding("AAPL", 4, "150.00")
    sim.us_market.set_price("AAPL", "233.12")
    for tr_id in ("VTTT1001U", "VTTT1006U"):
        assert order(raw, qty="1", price="230.00", tr_id=tr_id).json()["rt_cd"] == "0"
    assert sim.us_book.positions["AAPL"].qty == 2


def test_mock_refuses_every_order_type_but_limit(sim, raw):
    for dvsn in ("01", "32", "34"):
        assert refusal(order(raw, dvsn=dvsn))[1] == "주문구분 입력오류입니다."
    assert sim.us_exchange.orders == []


def test_a_real_tr_id_is_refused_as_not_a_mock_tr(sim, raw):
    assert refusal(order(raw, tr_id="TTTT1002U"))[0] == "EGW02006"


def test_a_price_off_the_us_grid_is_refused_and_four_places_below_a_dollar_are_taken(sim, raw):
    assert refusal(order(raw, price="200.005")) == ("APTR0057", "주문 가격 소수점 초과")
    assert refusal(order(raw, price="200.001"))[0] == "APTR0057"
    assert refusal(order(raw, "SNDL", price="0.87345"))[0] == "APTR0057"
    sim.us_market.set_price("SNDL", "0.9000")
    assert order(raw, "SNDL", qty="10", price="0.8734").json()["rt_cd"] == "0"
    assert order(raw, price="200").json()["rt_cd"] == "0"  # chk_order.py sends "200"


def test_a_zero_price_and_a_fractional_quantity_are_refused(sim, raw):
    assert refusal(order(raw, price="0"))[0] == "APBK1507"
    assert refusal(order(raw, qty="1.5"))[0] == "OPSQ2002"


def test_a_ticker_on_the_wrong_exchange_is_refused_with_apbk0656(sim, raw):
    assert refusal(order(raw, "KO", excd="NASD")) == ("APBK0656", "해당종목정보가 없습니다")
    assert refusal(psamount(raw, "KO", excd="NASD"))[0] == "APBK0656"


def test_a_buy_beyond_the_dollars_is_refused_and_a_sell_beyond_the_shares_too(sim, raw):
    assert refusal(order(raw, qty="1000", price="200.00"))[0] == "APBK0952"
    assert refusal(order(raw, qty="1", price="230.00", tr_id="VTTT1001U"))[0] == "APBK0400"


def test_psamount_answers_the_documented_fields_in_whole_shares_with_the_commission(sim, raw):
    out = psamount(raw, "AAPL", "200.00").json()["output"]
    assert set(out) == set(PSAMOUNT_OUT)
    dollars = sim.us_book.usd_cash * 100
    qty = int(out["max_ord_psbl_qty"])
    assert qty * 200 * 1.0025 <= dollars / 10_000 < (qty + 1) * 200 * 1.0025
    assert out["ovrs_max_ord_psbl_qty"] == out["max_ord_psbl_qty"]  # no integrated margin by default
    assert float(out["exrt"]) > 1000


def test_integrated_margin_counts_the_won_deposit_in_ovrs_max_ord_psbl_qty_and_pays_a_fill_with_it(sim, raw):
    sim.us_exchange.integrated_margin = True
    sim.us_book.usd_cash = 10_000  # $100
    out = psamount(raw, "AAPL", "200.00").json()["output"]
    assert int(out["ovrs_max_ord_psbl_qty"]) > int(out["max_ord_psbl_qty"]) == 0
    sim.us_market.set_price("AAPL", "200.00")
    won = sim.exchange.cash
    assert order(raw, qty="1", price="200.00").json()["rt_cd"] == "0"
    assert sim.us_book.positions["AAPL"].qty == 1 and sim.exchange.cash < won


def test_a_cancel_takes_the_rest_off_and_frees_its_dollars(sim, raw):
    sim.us_market.set_price("AAPL", "233.12")
    cash = sim.us_exchange.orderable_usd()
    odno = order(raw, qty="2", price="150.00").json()["output"]["ODNO"]
    body = rvsecncl(raw, odno, qty="2").json()
    assert body["rt_cd"] == "0" and set(body["output"]) == set(ORDER_ACK)
    assert sim.us_exchange.orderable_usd() == cash
    assert refusal(rvsecncl(raw, odno))[0] == "APBK0344"  # nothing left to cancel


def test_a_revise_moves_the_rest_to_a_new_price_and_fills_there(sim, raw):
    sim.us_market.set_price("AAPL", "233.12")
    odno = order(raw, qty="2", price="150.00").json()["output"]["ODNO"]
    assert rvsecncl(raw, odno, kind="01", qty="2", price="240.00").json()["rt_cd"] == "0"
    assert sim.us_book.positions["AAPL"].qty == 2


def test_inquire_ccnl_lists_todays_orders_by_new_york_date_with_the_documented_fields_and_pages(sim, raw):
    sim.us_market.set_price("AAPL", "233.12")
    numbers = [order(raw, price=f"{100 + n}.00").json()["output"]["ODNO"] for n in range(7)]
    rvsecncl(raw, numbers[0])
    first = ccnl(raw, ny_day(sim))
    body = first.json()
    assert first.headers["tr_cont"] == "M"
    assert set(body["output"][0]) == set(CCNL_FIELDS_OUT)
    rows = list(body["output"])
    while first.headers["tr_cont"] == "M":
        first = ccnl(raw, ny_day(sim), nk=first.json()["ctx_area_nk200"], fk=first.json()["ctx_area_fk200"],
                     tr_cont="N")
        rows += first.json()["output"]
    assert [r["odno"] for r in rows if r["rvse_cncl_dvsn"] != "02"] == numbers
    cancelled = next(r for r in rows if r["odno"] == numbers[0])
    assert cancelled["nccs_qty"] == "0" and cancelled["ft_ccld_qty"] == "0"
    assert next(r for r in rows if r["rvse_cncl_dvsn"] == "02")["orgn_odno"] == numbers[0]


def test_inquire_ccnl_on_mock_takes_only_the_whole_listing(sim, raw):
    day = ny_day(sim)
    for name, value in (("PDNO", "AAPL"), ("SLL_BUY_DVSN", "02"), ("CCLD_NCCS_DVSN", "02"), ("OVRS_EXCG_CD", "NASD")):
        assert refusal(ccnl(raw, day, **{name: value}))[1].endswith(f"[{name}]")


def test_a_new_us_order_is_listed_late_as_krx_orders_are(sim, raw):
    sim.faults.listing_lag = 3.0
    odno = order(raw, price="150.00").json()["output"]["ODNO"]
    assert odno not in [r["odno"] for r in ccnl(raw, ny_day(sim)).json()["output"]]
    sim.pass_listing_lag()
    assert odno in [r["odno"] for r in ccnl(raw, ny_day(sim)).json()["output"]]


def test_an_order_whose_answer_is_lost_is_on_the_book_once(sim, raw):
    sim.faults.drop_after_order()
    with pytest.raises(Exception):
        order(raw, price="150.00")
    assert len(sim.us_exchange.orders) == 1
    sim.faults.ledger_busy_after_order()
    assert refusal(order(raw, price="151.00"))[0] == "EGW00215"
    assert len(sim.us_exchange.orders) == 2
    sim.faults.drop_before_order()
    with pytest.raises(Exception):
        order(raw, price="152.00")
    assert len(sim.us_exchange.orders) == 2


def test_mock_serves_no_inquire_nccs(sim, raw):
    params = {"CANO": CANO, "ACNT_PRDT_CD": PRODUCT, "OVRS_EXCG_CD": "NASD", "SORT_SQN": "DS", "CTX_AREA_FK200": "",
              "CTX_AREA_NK200": ""}  # inquire_nccs.py's params
    for tr_id in ("TTTS3018R", "VTTS3018R"):
        assert refusal(raw.get(us.OPEN_ORDERS.path, tr_id, params))[0] == "EGW02006"


@pytest.fixture
def session_sim():
    """A sim on New York's clock that keeps the US session (no --always-open)."""
    clock = ManualClock(datetime(2026, 11, 24, 9, 0, tzinfo=NEW_YORK))  # a Tuesday, before the open
    server = SimServer(0, rate_limit=500.0, clock=clock, seed=7).start()
    server.faults.listing_lag = server.faults.cancel_confirm_delay = 0.0
    try:
        yield server
    finally:
        server.stop()


def test_an_order_outside_the_us_session_is_refused_and_inside_it_is_taken(session_sim):
    raw = Raw(session_sim).login()
    assert refusal(order(raw, price="150.00"))[0] == "40570000"  # 09:00 New York: before the open
    session_sim.clock.advance(45 * 60)  # 09:45
    assert order(raw, price="150.00").json()["rt_cd"] == "0"
    session_sim.clock.advance(6.5 * 3600)  # 16:15
    assert refusal(order(raw, price="150.00"))[0] == "40580000"


def test_the_day_after_thanksgiving_closes_at_one(session_sim):
    session_sim.clock.advance((3 * 24 + 4.5) * 3600)  # Friday 2026-11-27 13:30 New York
    raw = Raw(session_sim).login()
    assert refusal(order(raw, price="150.00"))[0] == "40580000"


def test_resting_orders_do_not_fill_while_the_us_market_is_shut(session_sim):
    raw = Raw(session_sim).login()
    session_sim.clock.advance(45 * 60)
    session_sim.us_market.set_price("AAPL", "233.12")
    order(raw, price="200.00")
    session_sim.clock.advance(7 * 3600)  # after the close
    session_sim.us_market.set_price("AAPL", "150.00")
    session_sim.us_exchange.match()
    assert "AAPL" not in session_sim.us_book.positions


def test_us_fills_arrive_on_the_websocket_as_h0gscni9_records_of_the_25_documented_columns(tmp_path):
    import json

    import requests
    from websockets.sync.client import connect

    from kis import endpoints as ep
    from kis.config import SIM_APP_KEY, SIM_APP_SECRET
    from kis.notices import US_NOTICE_FIELDS, decrypt, subscribe_frame

    server = SimServer(0, rate_limit=500.0, always_open=True).start()
    try:
        server.faults.listing_lag = 0.0
        key = requests.post(server.url + ep.APPROVAL, json={"grant_type": "client_credentials", "appkey": SIM_APP_KEY,
                                                            "secretkey": SIM_APP_SECRET}, timeout=5).json()["approval_key"]
        with connect(server.ws_url + "/tryitout") as ws:
            ws.send(subscribe_frame(key, "H0GSCNI9", server.hts_id))
            answer = json.loads(ws.recv(timeout=5))
            assert answer["body"]["rt_cd"] == "0" and answer["header"]["tr_key"] == server.hts_id
            cipher = answer["body"]["output"]["key"], answer["body"]["output"]["iv"]
            server.us_market.set_price("AAPL", "233.12")
            assert order(Raw(server).login(), qty="2", price="240.00").json()["rt_cd"] == "0"
            records = []
            while len(records) < 2:
                flag, tr_id, count, payload = ws.recv(timeout=5).split("|", 3)
                assert (flag, tr_id, count) == ("1", "H0GSCNI9", "001")
                records.append(dict(zip(US_NOTICE_FIELDS, decrypt(payload, *cipher).split("^"))))
        assert all(len(r) == 25 for r in records)
        accepted, filled = records
        assert (accepted["CNTG_YN"], accepted["CNTG_QTY"], accepted["STCK_SHRN_ISCD"]) == ("1", "2", "AAPL")
        assert (filled["CNTG_YN"], filled["CNTG_QTY"], filled["CNTG_UNPR"]) == ("2", "2", "233.1200")
        assert filled["ACNT_NO"] == CANO + PRODUCT
    finally:
        server.stop()
