"""The sim speaks KIS: headers, tr_ids, fields, token and call-limit rules, paging, faults, state."""
from __future__ import annotations

import json

import pytest
import requests

from kis import endpoints as ep
from kis.krx import xkrx
from kis.sim import SimServer
from sim_raw import Raw, refusal


@pytest.fixture
def raw(sim):
    return Raw(sim).login()


# tokens ---------------------------------------------------------------------------------------

def test_token_is_issued_for_24_hours_and_the_same_one_comes_back_within_6_hours(sim, sim_clock):
    raw = Raw(sim)
    first = raw.issue().json()
    assert first["token_type"] == "Bearer" and first["expires_in"] == 86_400
    assert first["access_token_token_expired"] == "2026-11-25 10:00:00"
    sim_clock.advance(hours=5)
    again = raw.issue().json()
    assert again["access_token"] == first["access_token"] and again["expires_in"] == 86_400 - 5 * 3600
    sim_clock.advance(hours=2)
    assert raw.issue().json()["access_token"] != first["access_token"]
    assert sim.tokens.issued == 2


def test_a_new_token_within_a_minute_of_the_last_is_refused_with_egw00133(sim, sim_clock):
    raw = Raw(sim).login()
    revoke = {"appkey": raw.headers("")["appkey"], "appsecret": raw.headers("")["appsecret"], "token": raw.token}
    assert raw.http.post(sim.url + ep.REVOKE, data=json.dumps(revoke)).status_code == 200
    refused = raw.issue()
    assert refused.status_code == 403
    assert refused.json() == {"error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)",
                              "error_code": "EGW00133"}
    sim_clock.advance(61)
    assert raw.issue().status_code == 200


def test_token_request_with_a_wrong_secret_is_refused(sim):
    body = {"grant_type": "client_credentials", "appkey": Raw(sim).headers("")["appkey"], "appsecret": "nope"}
    reply = requests.post(sim.url + ep.TOKEN, data=json.dumps(body))
    assert reply.status_code == 403 and reply.json()["error_code"] == "EGW00105"


def test_an_expired_token_is_refused_with_egw00123_and_a_new_one_works(sim, sim_clock, raw):
    sim_clock.advance(hours=24)
    assert refusal(raw.price("005930")) == ("EGW00123", "기간이 만료된 token 입니다.")
    raw.login()
    assert raw.price("005930").json()["rt_cd"] == "0"


def test_expire_tokens_switch_forces_egw00123_now(sim, raw):
    sim.faults.expire_tokens()
    reply = raw.price("005930")
    assert reply.status_code == 500 and refusal(reply)[0] == "EGW00123"
    raw.login()  # no EGW00133: the switch stands for a day gone by
    assert raw.price("005930").json()["rt_cd"] == "0"


def test_unknown_or_missing_token_is_refused_with_egw00121(sim, raw):
    raw.token = "not-a-token"
    assert refusal(raw.price("005930"))[0] == "EGW00121"
    reply = raw.get(ep.PRICE, "FHKST01010100", {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
                    authorization=None)
    assert refusal(reply)[0] == "EGW00121"


# headers and tr_ids ------------------------------------------------------------------------------

def test_wrong_app_key_or_secret_header_is_refused(raw):
    reply = raw.get(ep.PRICE, "FHKST01010100", {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
                    appkey="PSother")
    assert refusal(reply)[0] == "EGW00103"
    reply = raw.get(ep.PRICE, "FHKST01010100", {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
                    appsecret="other")
    assert refusal(reply)[0] == "EGW00105"


def test_real_tr_ids_are_refused_as_kis_mock_refuses_them(raw):
    reply = raw.order("005930", 1, tr_id="TTTC0012U")
    assert reply.status_code == 500 and refusal(reply) == ("EGW02006", "모의투자 TR 이 아닙니다.")
    assert refusal(raw.get(ep.BALANCE, "TTTC8434R", _balance_params()))[0] == "EGW02006"
    assert raw.sim.exchange.order_log == []


def test_unknown_or_misplaced_tr_id_is_refused(raw):
    assert refusal(raw.order("005930", 1, tr_id="VTTC8434R"))[0] == "OPSQ0002"
    assert refusal(raw.get(ep.PRICE, "", {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}))[0] == "OPSQ0002"


@pytest.mark.parametrize("tr_id, side", [("VTTC0012U", "02"), ("VTTC0802U", "02"), ("VTTC0011U", "01"),
                                         ("VTTC0801U", "01")])
def test_current_and_old_order_tr_ids_are_both_accepted(raw, tr_id, side):
    reply = raw.order("005930", 1, tr_id=tr_id, buy=side == "02")
    assert reply.json()["rt_cd"] == "0", reply.json()
    assert raw.sim.exchange.order_log[-1].side == side


def test_unknown_custtype_is_refused(raw):
    reply = raw.get(ep.PRICE, "FHKST01010100", {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
                    custtype="X")
    assert refusal(reply)[0] == "EGW00207"


# fields -------------------------------------------------------------------------------------------

def test_missing_field_is_refused_naming_it(raw):
    body = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_DVSN": "01", "ORD_QTY": "1"}
    code, msg = refusal(raw.post(ep.ORDER_CASH, "VTTC0012U", body))
    assert code == "OPSQ2002" and "ORD_UNPR" in msg
    assert raw.sim.exchange.order_log == []


def test_numbers_must_be_sent_as_strings(raw):
    body = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_DVSN": "01", "ORD_QTY": 1,
            "ORD_UNPR": "0"}
    code, msg = refusal(raw.post(ep.ORDER_CASH, "VTTC0012U", body))
    assert code == "OPSQ2002" and "ORD_QTY" in msg


def test_non_numeric_quantity_and_bad_order_type_are_refused(raw):
    body = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_DVSN": "01", "ORD_QTY": "ten",
            "ORD_UNPR": "0"}
    assert refusal(raw.post(ep.ORDER_CASH, "VTTC0012U", body))[0] == "OPSQ2002"
    assert refusal(raw.order("005930", 1, dvsn="02"))[0] == "OPSQ2001"


def test_another_account_is_refused(raw):
    reply = raw.get(ep.BALANCE, "VTTC8434R", {**_balance_params(), "CANO": "12345678"})
    assert refusal(reply)[0] == "OPSQ0013"


def test_balance_by_stock_inqr_dvsn_02_is_refused(raw):
    code, msg = refusal(raw.balance(INQR_DVSN="02"))
    assert code == "OPSQ2001" and "INQR_DVSN" in msg


def test_broken_json_body_is_refused(raw):
    reply = raw.http.post(raw.sim.url + ep.ORDER_CASH, headers=raw.headers("VTTC0012U"), data="{not json")
    assert refusal(reply)[0] == "OPSQ1002"


# quotes ---------------------------------------------------------------------------------------------

def test_price_answers_kis_fields_as_strings(raw):
    body = raw.price("005930").json()
    out = body["output"]
    assert (body["rt_cd"], body["msg_cd"]) == ("0", "MCA00000")
    assert out["stck_prpr"] == "97000" and out["stck_mxpr"] == "126100" and out["stck_llam"] == "67900"
    assert all(isinstance(v, str) for v in out.values())


def test_price_answers_every_field_the_official_sample_documents(raw):
    from kis.sim.quotes import FIELDS

    out = raw.price("005930").json()["output"]
    assert set(out) == set(FIELDS) and len(FIELDS) == 82
    assert out["aspr_unit"] == "100" and int(out["stck_mxpr"]) > int(out["stck_prpr"]) > int(out["stck_llam"])
    assert float(out["per"]) > 0 and float(out["pbr"]) > 0 and out["stck_shrn_iscd"] == "005930"
    assert int(out["w52_hgpr"]) >= int(out["stck_hgpr"]) and int(out["w52_lwpr"]) <= int(out["stck_lwpr"])
    assert len(out["w52_hgpr_date"]) == 8 and out["w52_hgpr_date"] <= "20261124"


def test_an_etf_quotes_its_own_tick_and_no_earnings(raw):
    out = raw.price("0126Z0").json()["output"]
    assert out["aspr_unit"] == "5" and int(out["stck_prpr"]) % 5 == 0 and int(out["stck_prpr"]) % 50
    assert (out["per"], out["pbr"]) == ("0.00", "0.00")


def test_price_of_an_unknown_code_is_success_with_zeroes(raw):
    body = raw.price("999999").json()
    assert body["rt_cd"] == "0" and body["output"]["stck_prpr"] == "0"


def test_price_moves_with_the_sim_clock_and_follows_set_price(sim, sim_clock, raw):
    sim.exchange.set_price("005930", 101_000)
    assert raw.price("005930").json()["output"]["prdy_vrss"] == "4000"
    sim_clock.advance(3600)
    assert raw.price("005930").json()["output"]["stck_prpr"] != "101000"


def test_multi_price_answers_up_to_30_codes_in_one_call(sim, raw):
    codes = [s for s in sim.market.codes()][:30]
    params = {}
    for n, code in enumerate(codes, 1):
        params[f"FID_COND_MRKT_DIV_CODE_{n}"] = "J"
        params[f"FID_INPUT_ISCD_{n}"] = code
    rows = raw.get(ep.MULTI_PRICE, "FHKST11300006", params).json()["output"]
    assert [r["inter_shrn_iscd"] for r in rows] == codes
    assert rows[0]["inter_kor_isnm"] == "삼성전자" and rows[0]["inter2_prpr"] == "97000"


# call limit ------------------------------------------------------------------------------------------

def test_calls_beyond_the_per_second_limit_are_refused_with_egw00201(sim_clock):
    now = [100.0]
    server = SimServer(0, rate_limit=2, clock=sim_clock, monotonic=lambda: now[0], always_open=True).start()
    try:
        raw = Raw(server).login()  # the token call does not count
        assert raw.price("005930").json()["rt_cd"] == "0"
        assert raw.price("005930").json()["rt_cd"] == "0"
        reply = raw.price("005930")
        assert reply.status_code == 500 and refusal(reply) == ("EGW00201", "초당 거래건수를 초과하였습니다.")
        now[0] += 1.0
        assert raw.price("005930").json()["rt_cd"] == "0"
    finally:
        server.stop()


def test_forced_rate_limit_answers(sim, raw):
    sim.faults.force_rate_limit(2)
    assert refusal(raw.price("005930"))[0] == "EGW00201"
    assert refusal(raw.order("005930", 1))[0] == "EGW00201"
    assert raw.price("005930").json()["rt_cd"] == "0"
    assert sim.exchange.order_log == []


# paging ----------------------------------------------------------------------------------------------

def _balance_params():
    return {"CANO": "50000000", "ACNT_PRDT_CD": "01", "AFHR_FLPR_YN": "N", "OFL_YN": "", "INQR_DVSN": "01",
            "UNPR_DVSN": "01", "FUND_STTL_ICLD_YN": "N", "FNCG_AMT_AUTO_RDPT_YN": "N", "PRCS_DVSN": "00",
            "CTX_AREA_FK100": "", "CTX_AREA_NK100": ""}


def _hold(sim, n):
    for code in sim.market.codes()[:n]:
        sim.exchange.set_holding(code, 10, 50_000)


def test_balance_pages_follow_tr_cont_and_ctx_area(sim, raw):
    _hold(sim, 12)  # with the seed holdings 14 rows, pages of 5
    seen, fk, nk, tr_cont, pages = [], "", "", "", 0
    while True:
        reply = raw.balance(fk, nk, tr_cont=tr_cont)
        body = reply.json()
        pages += 1
        seen += [r["pdno"] for r in body["output1"]]
        assert len(body["ctx_area_nk100"]) == 100  # KIS pads the keys
        if reply.headers["tr_cont"] not in ("M", "F"):
            assert reply.headers["tr_cont"] == "D" and body["ctx_area_nk100"].strip() == ""
            break
        fk, nk, tr_cont = body["ctx_area_fk100"], body["ctx_area_nk100"], "N"
    assert len(seen) == 14 and pages == 3 and seen == list(sim.exchange.positions)
    assert int(body["output2"][0]["tot_evlu_amt"]) > 0


def test_balance_page_after_a_new_row_appeared_answers_sydb0050(sim, raw):
    _hold(sim, 7)
    first = raw.balance().json()
    sim.exchange.set_holding("000270", 5, 100_000)  # a row that was not there
    code, _ = refusal(raw.balance(first["ctx_area_fk100"], first["ctx_area_nk100"], tr_cont="N"))
    assert code == "SYDB0050"


def test_continuation_without_a_key_is_refused(raw):
    assert refusal(raw.balance(tr_cont="N"))[0] == "OPSQ2002"


def test_daily_orders_page_newest_first_with_filled_and_remaining(sim, raw):
    numbers = [raw.order("005930", 1).json()["output"]["ODNO"] for _ in range(7)]
    resting = raw.order("005930", 3, dvsn="00", price=90_000).json()["output"]["ODNO"]
    assert raw.daily().json()["output1"] == []  # KIS lists same-day orders late
    sim.pass_listing_lag()
    first = raw.daily()
    assert first.headers["tr_cont"] == "M"
    rows = first.json()["output1"]
    assert rows[0]["odno"] == resting and (rows[0]["tot_ccld_qty"], rows[0]["rmn_qty"]) == ("0", "3")
    second = raw.daily(fk=first.json()["ctx_area_fk100"], nk=first.json()["ctx_area_nk100"], tr_cont="N")
    assert second.headers["tr_cont"] == "D"
    got = [r["odno"] for r in rows + second.json()["output1"]]
    assert got == [resting] + numbers[::-1]
    filled = second.json()["output1"][-1]
    ask = 97_000 + 100  # a market buy pays the book's best ask, one tick above the walk's 97,000
    assert (filled["tot_ccld_qty"], filled["rmn_qty"], filled["avg_prvs"], filled["cncl_yn"]) == ("1", "0", str(ask), "N")


def test_daily_orders_filter_by_code_side_and_fill_state(sim, raw):
    raw.order("005930", 1)
    raw.order("035720", 2, buy=False)
    raw.order("005930", 3, dvsn="00", price=90_000)
    sim.pass_listing_lag()
    assert [r["pdno"] for r in raw.daily(PDNO="035720").json()["output1"]] == ["035720"]
    assert [r["sll_buy_dvsn_cd"] for r in raw.daily(SLL_BUY_DVSN_CD="01").json()["output1"]] == ["01"]
    assert [r["ord_qty"] for r in raw.daily(CCLD_DVSN="02").json()["output1"]] == ["3"]
    sim.exchange.partial_fill_shares = 2
    sim.exchange.partial_fill_seconds = 3600.0
    raw.order("000660", 5)  # 2 filled, 3 to go: both filled and unfilled
    sim.pass_listing_lag()
    assert [r["pdno"] for r in raw.daily(CCLD_DVSN="02").json()["output1"]] == ["000660", "005930"]
    assert [r["pdno"] for r in raw.daily(CCLD_DVSN="01").json()["output1"]] == ["000660", "035720", "005930"]
    assert raw.daily(day="20261123").json()["output1"] == []


def test_cancel_shows_as_its_own_row_and_empties_the_original(sim, raw):
    odno = raw.order("005930", 4, dvsn="00", price=90_000).json()["output"]["ODNO"]
    ack = raw.cancel(odno).json()
    assert ack["rt_cd"] == "0" and ack["output"]["ODNO"] != odno
    sim.pass_listing_lag()
    rows = {r["odno"]: r for r in raw.daily().json()["output1"]}
    cancel = rows[ack["output"]["ODNO"]]
    assert (cancel["orgn_odno"], cancel["cncl_yn"], cancel["cnc_cfrm_qty"]) == (odno, "Y", "4")
    assert rows[odno]["rmn_qty"] == "0"
    assert refusal(raw.cancel(odno))[0] == "APBK0344"


def test_a_cancel_stays_unconfirmed_in_todays_orders_for_the_confirmation_delay_by_default(sim, raw):
    # KIS takes a cancel at once and confirms it later; the sim does so by default, as with the listing lag.
    assert sim.faults.cancel_confirm_delay == 0.5
    sim.faults.listing_lag = 0.0  # listed at once: this test is about the confirmation
    odno = raw.order("005930", 4, dvsn="00", price=90_000).json()["output"]["ODNO"]
    cancel_no = raw.cancel(odno).json()["output"]["ODNO"]
    rows = {r["odno"]: r for r in raw.daily().json()["output1"]}
    assert (rows[odno]["rmn_qty"], rows[odno]["cnc_cfrm_qty"]) == ("4", "0")  # still listed as resting
    assert (rows[cancel_no]["cncl_yn"], rows[cancel_no]["cnc_cfrm_qty"]) == ("Y", "0")
    assert odno in [r["odno"] for r in raw.daily(CCLD_DVSN="02").json()["output1"]]
    assert refusal(raw.cancel(odno))[0] == "APBK0344"  # a second cancel is refused: nothing is left to cancel
    sim.clock.advance(0.5)
    rows = {r["odno"]: r for r in raw.daily().json()["output1"]}
    assert (rows[odno]["rmn_qty"], rows[odno]["cnc_cfrm_qty"]) == ("0", "4")
    assert rows[cancel_no]["cnc_cfrm_qty"] == "4"


def test_buyable_counts_cash_less_open_buys(sim, raw):
    out = raw.buyable("005930", 97_000, "00").json()["output"]
    assert out["ord_psbl_cash"] == "100000000" and out["psbl_qty_calc_unpr"] == "97000"
    assert int(out["nrcvb_buy_qty"]) == 1030  # 1031 * 97,000 plus commission exceeds the cash
    raw.order("005930", 100, dvsn="00", price=90_000)
    after = raw.buyable("005930", 90_000, "00").json()["output"]
    assert int(after["ord_psbl_cash"]) == 100_000_000 - 9_000_000 - 1_350


def test_buyable_for_a_market_type_order_is_computed_at_the_upper_limit(sim, raw):
    # inquire_psbl_order.py: ask with the ORD_DVSN and ORD_UNPR of the order; a buy without a price
    # is costed at the upper limit (+30 %), so fewer shares fit than at the price.
    upper = sim.market.quote("005930").upper
    out = raw.buyable("005930", 0, "01").json()["output"]
    assert out["psbl_qty_calc_unpr"] == str(upper) and upper > 97_000
    qty = int(out["nrcvb_buy_qty"])
    assert qty * upper <= 100_000_000 < (qty + 1) * upper * 1.00015
    too_many = qty + 1
    assert refusal(raw.order("005930", too_many))[0] == "APBK0952"  # though too_many x 97,000 fits
    assert raw.order("005930", too_many - 1).json()["rt_cd"] == "0"


def test_buyable_max_counts_on_margin_and_nrcvb_does_not(sim, raw):
    sim.exchange.margin_percent = 40  # a 증거금40%계좌; the stock's own rate (20 %) is lower
    out = raw.buyable("005930", 97_000, "01").json()["output"]
    cash_only, on_margin = int(out["nrcvb_buy_qty"]), int(out["max_buy_qty"])
    upper = int(out["psbl_qty_calc_unpr"])
    assert cash_only == sim.exchange.affordable(100_000_000, upper)
    assert on_margin == sim.exchange.affordable(250_000_000, upper)  # 미수: 40 % in cash now, the rest later
    assert int(out["max_buy_amt"]) == on_margin * upper


def test_an_account_without_margin_offers_nothing_beyond_cash(sim, raw):
    out = raw.buyable("005930", 97_000, "01").json()["output"]
    assert (out["max_buy_qty"], out["max_buy_amt"]) == (out["nrcvb_buy_qty"], str(int(out["nrcvb_buy_qty"]) * int(out["psbl_qty_calc_unpr"])))


# faults ---------------------------------------------------------------------------------------------

def test_dropped_connection_after_acceptance_leaves_exactly_one_order(sim, raw):
    sim.faults.drop_after_order()
    with pytest.raises(requests.ConnectionError):
        raw.order("005930", 2)
    assert len(sim.exchange.order_log) == 1 and sim.exchange.holding_qty("005930") == 122
    sim.pass_listing_lag()
    assert raw.daily().json()["output1"][0]["ord_qty"] == "2"


def test_an_order_answered_egw00215_was_taken_all_the_same(sim, raw):
    sim.faults.ledger_busy_after_order()
    assert refusal(raw.order("005930", 2))[0] == "EGW00215"
    assert len(sim.exchange.order_log) == 1  # the outcome of an EGW00215 order is unknown: here it was placed


def test_a_fault_switch_lists_every_order_type_as_limit(sim, raw):
    sim.faults.list_as_limit = True
    raw.order("005930", 2, dvsn="03")
    sim.pass_listing_lag()
    assert raw.daily().json()["output1"][0]["ord_dvsn_cd"] == "00"


def test_dropped_connection_before_acceptance_places_nothing(sim, raw):
    sim.faults.drop_before_order()
    with pytest.raises(requests.ConnectionError):
        raw.order("005930", 2)
    assert sim.exchange.order_log == []


def test_server_errors_come_as_html_or_empty_bodies_and_change_nothing(sim, raw):
    sim.faults.error_rate = 1.0
    replies = [raw.order("005930", 1) for _ in range(6)]
    assert {r.status_code for r in replies} <= {500, 502} and all("rt_cd" not in r.text for r in replies)
    assert sim.exchange.order_log == []
    sim.faults.error_rate = 0.0
    assert raw.price("005930").json()["rt_cd"] == "0"


def test_latency_delays_answers(sim, raw):
    slept = []
    sim.sleep = slept.append
    sim.faults.latency = 0.25
    raw.price("005930")
    assert slept == [0.25]


# state -----------------------------------------------------------------------------------------------

def test_a_restarted_sim_keeps_account_orders_and_tokens(tmp_path, sim_clock):
    state = tmp_path / "sim.json"
    with SimServer(0, rate_limit=100, clock=sim_clock, state_path=state, always_open=True) as first:
        raw = Raw(first).login()
        raw.order("000660", 3)
        resting = raw.order("005930", 2, dvsn="00", price=90_000).json()["output"]["ODNO"]
    assert (state.stat().st_mode & 0o777) == 0o600
    with SimServer(0, rate_limit=100, clock=sim_clock, state_path=state, always_open=True) as second:
        raw.sim = second  # same token: the restart does not log anyone out
        assert second.exchange.holding_qty("000660") == 3
        assert raw.cancel(resting).json()["rt_cd"] == "0"
        assert [e.order_no for e in second.exchange.order_log][:2] == ["0000000001", "0000000002"]


def test_health_answers_without_a_token(sim):
    info = requests.get(sim.url + "/sim/health").json()
    assert info["sim"] == "kisbot" and info["account"] == "50000000-01"
    assert "PSsim" not in json.dumps(info)


def test_hashkey_must_match_the_body_it_came_with(sim, raw):
    body = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_DVSN": "01", "ORD_QTY": "1",
            "ORD_UNPR": "0"}
    digest = raw.http.post(sim.url + ep.HASHKEY, headers=raw.headers(""), data=json.dumps(body)).json()["HASH"]
    changed = dict(body, ORD_QTY="100")
    assert refusal(raw.post(ep.ORDER_CASH, "VTTC0012U", changed, hashkey=digest))[0] == "EGW00212"
    reordered = dict(reversed(list(body.items())))
    assert raw.post(ep.ORDER_CASH, "VTTC0012U", reordered, hashkey=digest).json()["rt_cd"] == "0"
    assert [e.qty for e in sim.exchange.order_log] == [1]


def test_the_sim_keeps_krx_hours_unless_told_always_open(sim_clock):
    assert SimServer(0, clock=sim_clock).exchange.always_open is False
    assert SimServer(0, clock=sim_clock, always_open=True).exchange.always_open is True


@pytest.mark.parametrize("hour, minute, code", [(8, 59, "40570000"), (15, 30, "40580000")])
def test_orders_outside_the_session_are_refused_as_kis_mock_refuses_them(sim, sim_clock, raw, hour, minute, code):
    sim.exchange.always_open = False
    xkrx()  # seconds to build the first time: not inside a request with a timeout
    sim_clock.set(sim_clock().replace(hour=hour, minute=minute))
    raw.login()
    assert refusal(raw.order("005930", 1))[0] == code
    sim_clock.set(sim_clock().replace(hour=9, minute=0))
    assert raw.order("005930", 1).json()["rt_cd"] == "0"


@pytest.mark.parametrize("days, why", [(4, "a Saturday"), (31, "Christmas, a Friday")])
def test_orders_on_a_day_krx_does_not_trade_are_refused(sim, sim_clock, raw, days, why):
    sim.exchange.always_open = False
    xkrx()  # seconds to build the first time: not inside a request with a timeout
    sim_clock.advance(days=days)  # from Tuesday 2026-11-24 10:00
    raw.login()
    assert refusal(raw.order("005930", 1))[0] == "40580000", why
    assert sim.exchange.order_log == []


def test_always_open_accepts_orders_at_the_weekend(sim, sim_clock, raw):
    sim_clock.advance(days=4)
    raw.login()
    assert raw.order("005930", 1).json()["rt_cd"] == "0"


def test_a_damaged_state_file_is_one_clear_error(tmp_path):
    state = tmp_path / "sim.json"
    state.write_text("{not json")
    with pytest.raises(ValueError, match="not a readable kisbot sim state file"):
        SimServer(0, state_path=state)
    state.write_text(json.dumps({"exchange": {"account": "12345678-01"}}))
    with pytest.raises(ValueError, match="holds account 12345678-01"):
        SimServer(0, state_path=state)


def test_services_mock_lacks_and_unknown_paths_are_refused_not_crashed(raw):
    holiday = raw.get("/uapi/domestic-stock/v1/quotations/chk-holiday", "CTCA0903R", {"BASS_DT": "20261124"})
    assert holiday.status_code == 500 and refusal(holiday)[0] == "EGW02006"
    typo = raw.get("/uapi/domestic-stock/v1/quotations/inquire-prise", "FHKST01010100", {})
    assert typo.status_code == 404 and typo.json()["rt_cd"] == "1"


def test_a_sim_bug_answers_as_a_gateway_error(sim, raw, monkeypatch):
    def broken(req, tr_id):
        raise RuntimeError("bug")

    monkeypatch.setattr(sim.protocol, "_price", broken)
    reply = raw.price("005930")
    assert reply.status_code == 500 and refusal(reply)[0] == "EGW00002"
