"""Orders: bodies as KIS wants them, tick rounding, and no order ever lost or sent twice."""
from datetime import timedelta

import pytest
import requests
import responses

from kis import endpoints as ep
from kis.errors import KisError, KisTransportError, OrderUncertain
from kis.models import Env, OrderAck, OrderSide, OrderType
from kis_fakes import MOCK_URL, REAL_URL, FakeKis, fail, ok


def order_posts(fake):
    return fake.paths(ep.ORDER_CASH)


def quote_reply(price: int, tick: int) -> dict:
    """inquire-price's answer as far as the grid goes: the price and its aspr_unit."""
    return ok(output={"stck_prpr": str(price), "prdy_vrss": "0", "prdy_vrss_sign": "3", "prdy_ctrt": "0.00",
                      "aspr_unit": str(tick), "stck_mxpr": str(price * 13 // 10), "stck_llam": str(price * 7 // 10)})


@pytest.mark.parametrize("env,base,sell,buy", [
    (Env.REAL, REAL_URL, "TTTC0011U", "TTTC0012U"),
    (Env.MOCK, MOCK_URL, "VTTC0011U", "VTTC0012U"),
    (Env.SIM, "http://127.0.0.1:29443", "VTTC0011U", "VTTC0012U"),
])
def test_order_bodies_and_tr_ids_per_environment(rsps, clock, tmp_path, make_client, env, base, sell, buy):
    from kis_fakes import make_config

    fake = FakeKis(rsps, base, clock).install()
    rsps.add(responses.GET, base + ep.PRICE, json=quote_reply(71_200, 100))
    client = make_client(config=make_config(tmp_path, env, base_url=base))
    sold = client.order("005930", OrderSide.SELL, 7, OrderType.LIMIT, 71234)
    bought = client.order("000660", OrderSide.BUY, 3, OrderType.MARKET, 123456)

    sell_call, buy_call = order_posts(fake)
    assert sell_call.headers["tr_id"] == sell and buy_call.headers["tr_id"] == buy
    assert sell_call.body == {
        "CANO": "50087375", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_DVSN": "00", "ORD_QTY": "7",
        "ORD_UNPR": "71300", "EXCG_ID_DVSN_CD": "KRX", "SLL_TYPE": "01", "CNDT_PRIC": "",
    }
    assert buy_call.body["ORD_DVSN"] == "01" and buy_call.body["ORD_UNPR"] == "0" and buy_call.body["SLL_TYPE"] == ""
    assert all(isinstance(v, str) for v in sell_call.body.values())
    assert "hashkey" not in sell_call.headers  # off by default: it would cost a call
    assert sold == OrderAck("0000000001", "91252", "005930", OrderSide.SELL, 7, OrderType.LIMIT, 71300, "100000")
    assert bought.price == 0 and bought.order_type is OrderType.MARKET


def test_a_buy_limit_rounds_down_to_the_tick_grid(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=quote_reply(71_200, 100))
    ack = client.order("005930", OrderSide.BUY, 1, OrderType.LIMIT, 71299)
    assert order_posts(fake)[0].body["ORD_UNPR"] == "71200" and ack.price == 71200


def test_an_etf_limit_price_goes_on_the_grid_its_aspr_unit_tells(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=quote_reply(35_115, 5))  # an ETF: 5 won ticks
    sold = client.order("0126Z0", OrderSide.SELL, 2, OrderType.LIMIT, 35_112)
    bought = client.order("0126Z0", OrderSide.BUY, 2, OrderType.LIMIT, 35_119)
    assert [c.body["ORD_UNPR"] for c in order_posts(fake)] == ["35115", "35115"]
    assert (sold.price, bought.price) == (35_115, 35_115)
    assert len(fake.paths(ep.PRICE)) == 1  # a code's grid is asked once


def test_a_limit_price_on_the_stock_grid_is_sent_without_asking_the_grid(fake, client):
    client.order("005930", OrderSide.BUY, 1, OrderType.LIMIT, 71_200)
    assert order_posts(fake)[0].body["ORD_UNPR"] == "71200" and fake.paths(ep.PRICE) == []


def test_without_a_quote_a_limit_price_goes_on_the_stock_grid(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.PRICE, json=fail("OPSQ0002", "없는 종목"))
    client.order("0126Z0", OrderSide.SELL, 1, OrderType.LIMIT, 35_112)
    assert order_posts(fake)[0].body["ORD_UNPR"] == "35150"


@pytest.mark.parametrize("order_type,code", [(OrderType.BEST_LIMIT, "03"), (OrderType.TOP_OF_BOOK, "04")])
def test_non_limit_types_send_price_zero(fake, client, order_type, code):
    client.order("005930", OrderSide.BUY, 1, order_type, 70000)
    body = order_posts(fake)[0].body
    assert (body["ORD_DVSN"], body["ORD_UNPR"]) == (code, "0")


def test_hashkey_when_enabled_is_fetched_for_the_exact_body_and_sent(fake, make_client):
    client = make_client(use_hashkey=True)
    client.order("005930", OrderSide.BUY, 1, OrderType.LIMIT, 71000)
    hash_call = fake.paths(ep.HASHKEY)[0]
    order_call = order_posts(fake)[0]
    assert hash_call.body == order_call.body
    assert order_call.headers["hashkey"] == "hash-of-005930"
    assert hash_call.headers["appkey"] and "authorization" not in hash_call.headers


@pytest.mark.parametrize("qty,price,order_type", [(0, 0, OrderType.MARKET), (-1, 0, OrderType.MARKET),
                                                  (1.5, 0, OrderType.MARKET), (True, 0, OrderType.MARKET),
                                                  (1, 0, OrderType.LIMIT)])
def test_invalid_orders_are_refused_before_sending(fake, client, qty, price, order_type):
    with pytest.raises(ValueError):
        client.order("005930", OrderSide.BUY, qty, order_type, price)
    assert order_posts(fake) == []


def test_a_rejection_raises_the_kis_error_and_is_not_resent(fake, client):
    fake.rsps.replace(responses.POST, REAL_URL + ep.ORDER_CASH,
                      json=fail("APBK0952", "주문가능금액을 초과 했습니다"), status=200)
    with pytest.raises(KisError) as err:
        client.order("005930", OrderSide.BUY, 1000, OrderType.MARKET)
    assert err.value.msg_cd == "APBK0952" and err.value.msg1 == "주문가능금액을 초과 했습니다"
    assert len(order_posts(fake)) == 1


@pytest.mark.parametrize("fault", ["lost_after", "lost_before", "ledger_busy"])
def test_a_lost_answer_is_never_resent_and_says_the_order_may_have_reached_kis(fake, client, fault):
    # Whether the order arrived (lost_after, EGW00215) or not (lost_before), the client cannot know:
    # it sends once, looks nothing up, and says so. The executor settles it against today's orders.
    fake.order_faults = [fault]
    with pytest.raises(OrderUncertain, match="may have reached KIS"):
        client.order("005930", OrderSide.BUY, 5, OrderType.LIMIT, 71000)
    assert len(order_posts(fake)) == 1
    assert fake.paths(ep.DAILY_ORDERS) == []


def test_an_order_answered_at_once_gives_its_number(fake, client):
    ack = client.order("005930", OrderSide.BUY, 5, OrderType.LIMIT, 71000)
    assert (ack.order_no, ack.org_no, ack.price) == ("0000000001", "91252", 71000) and len(order_posts(fake)) == 1


def test_a_refused_connection_is_not_an_uncertain_order(fake, client):
    fake.rsps.replace(responses.POST, REAL_URL + ep.ORDER_CASH, body=requests.ConnectTimeout("connect timed out"))
    with pytest.raises(KisTransportError) as err:
        client.order("005930", OrderSide.BUY, 5, OrderType.MARKET)
    assert not isinstance(err.value, OrderUncertain)
    assert fake.paths(ep.DAILY_ORDERS) == []


def test_a_rate_limited_order_is_sent_again_because_kis_refused_it_at_the_gate(fake, client):
    """EGW00201 is an answer: KIS did not process the order, so sending it again cannot double it."""
    fake.order_faults = ["rate_limited"]
    ack = client.order("005930", OrderSide.BUY, 5, OrderType.MARKET)
    assert ack.order_no == "0000000001" and len(fake.orders) == 1 and len(order_posts(fake)) == 2


def test_orders_today_parses_every_page(fake, client):
    rows = [
        {"ord_gno_brno": "91252", "odno": "0000011111", "orgn_odno": "", "sll_buy_dvsn_cd": "02",
         "pdno": "005930", "prdt_name": "삼성전자", "ord_qty": "10", "ord_unpr": "71000", "ord_tmd": "091502",
         "tot_ccld_qty": "4", "avg_prvs": "70950.5", "cncl_yn": "N", "tot_ccld_amt": "283802", "rmn_qty": "6",
         "rjct_qty": "0", "ord_dvsn_cd": "00", "cnc_cfrm_qty": "0"},
        {"ord_gno_brno": "91252", "odno": "0000011112", "orgn_odno": "0000011111", "sll_buy_dvsn_cd": "02",
         "pdno": "005930", "prdt_name": "삼성전자", "ord_qty": "6", "ord_unpr": "0", "ord_tmd": "091600",
         "tot_ccld_qty": "0", "avg_prvs": "0", "cncl_yn": "Y", "tot_ccld_amt": "0", "rmn_qty": "0",
         "rjct_qty": "0", "ord_dvsn_cd": "00", "cnc_cfrm_qty": "6"},
        {"ord_gno_brno": "91252", "odno": "0000011113", "orgn_odno": "", "sll_buy_dvsn_cd": "01",
         "pdno": "000660", "prdt_name": "SK하이닉스", "ord_qty": "2", "ord_unpr": "0", "ord_tmd": "092000",
         "tot_ccld_qty": "2", "avg_prvs": "180000", "cncl_yn": "N", "tot_ccld_amt": "360000", "rmn_qty": "0",
         "rjct_qty": "0", "ord_dvsn_cd": "61", "cnc_cfrm_qty": "0"},
    ]
    fake.rsps.remove(responses.GET, REAL_URL + ep.DAILY_ORDERS)
    fake.rsps.add(responses.GET, REAL_URL + ep.DAILY_ORDERS, headers={"tr_cont": "F"},
                  json=ok(ctx_area_fk100="F1", ctx_area_nk100="N1", output1=rows[:2], output2={}))
    fake.rsps.add(responses.GET, REAL_URL + ep.DAILY_ORDERS, headers={"tr_cont": "D"},
                  json=ok(ctx_area_fk100="F2", ctx_area_nk100="N2", output1=rows[2:], output2={}))
    orders = client.orders_today()

    calls = fake.paths(ep.DAILY_ORDERS)
    assert calls[0].headers["tr_id"] == "TTTC0081R"
    assert calls[0].params == {
        "CANO": "50087375", "ACNT_PRDT_CD": "01", "INQR_STRT_DT": "20261124", "INQR_END_DT": "20261124",
        "SLL_BUY_DVSN_CD": "00", "PDNO": "", "CCLD_DVSN": "00", "INQR_DVSN": "00", "INQR_DVSN_3": "00",
        "ORD_GNO_BRNO": "", "ODNO": "", "INQR_DVSN_1": "", "EXCG_ID_DVSN_CD": "KRX",
        "CTX_AREA_FK100": "", "CTX_AREA_NK100": "",
    }
    assert calls[1].headers["tr_cont"] == "N" and calls[1].params["CTX_AREA_NK100"] == "N1"
    first, cancel, other = orders
    assert (first.filled_qty, first.remaining_qty, first.avg_fill_price, first.is_open) == (4, 6, 70951, True)
    assert first.side is OrderSide.BUY and first.order_type is OrderType.LIMIT and first.org_no == "91252"
    assert cancel.cancelled and cancel.orig_order_no == "0000011111" and cancel.cancelled_qty == 6
    assert other.side is OrderSide.SELL and other.order_type is None and not other.is_open


def test_find_order_skips_excluded_and_earlier_orders(fake, client, clock):
    a = client.order("005930", OrderSide.BUY, 5, OrderType.LIMIT, 71000)
    clock.sleep(30)
    b = client.order("005930", OrderSide.BUY, 5, OrderType.LIMIT, 71000)
    since = clock.wall().strftime("%H%M%S")
    assert client.find_order("005930", OrderSide.BUY, 5, OrderType.LIMIT, 71000, since="000000",
                             exclude=[a.order_no]).order_no == b.order_no
    assert client.find_order("005930", OrderSide.BUY, 5, OrderType.LIMIT, 71000, since=since).order_no == b.order_no
    # price and type only break ties: another price still matches on code, side and quantity
    assert client.find_order("005930", OrderSide.BUY, 5, OrderType.LIMIT, 70900, since="000000") is not None
    assert client.find_order("005930", OrderSide.SELL, 5, OrderType.LIMIT, 71000, since="000000") is None
    assert client.find_order("005930", OrderSide.BUY, 6, OrderType.LIMIT, 71000, since="000000") is None


def test_cancel_sends_the_documented_body(fake, client):
    ack = client.order("005930", OrderSide.BUY, 5, OrderType.LIMIT, 71000)
    fake.rsps.add(responses.POST, REAL_URL + ep.ORDER_REVISE_CANCEL,
                  json=ok(output={"KRX_FWDG_ORD_ORGNO": "91252", "ODNO": "0000000099", "ORD_TMD": "100001"}))
    cancelled = client.cancel(ack.order_no, ack.org_no)

    call = fake.paths(ep.ORDER_REVISE_CANCEL)[0]
    assert call.headers["tr_id"] == "TTTC0013U"
    assert call.body == {
        "CANO": "50087375", "ACNT_PRDT_CD": "01", "KRX_FWDG_ORD_ORGNO": "91252", "ORGN_ODNO": "0000000001",
        "ORD_DVSN": "00", "RVSE_CNCL_DVSN_CD": "02", "ORD_QTY": "0", "ORD_UNPR": "0", "QTY_ALL_ORD_YN": "Y",
        "EXCG_ID_DVSN_CD": "KRX",
    }
    assert cancelled.order_no == "0000000099" and cancelled.code == "005930" and cancelled.qty == 5
    assert cancelled.side is OrderSide.BUY


def test_a_revision_goes_to_the_venue_its_order_was_sent_to(fake, client):
    # order_rvsecncl.py: EXCG_ID_DVSN_CD KRX / NXT / SOR; a SOR order's revision must not be sent as KRX's.
    sor = OrderAck(order_no="0000000007", org_no="91252", code="005930", side=OrderSide.BUY, qty=5,
                   order_type=OrderType.LIMIT, price=70900, time="100000", venue="SOR")
    fake.rsps.add(responses.POST, REAL_URL + ep.ORDER_REVISE_CANCEL,
                  json=ok(output={"KRX_FWDG_ORD_ORGNO": "91252", "ODNO": "0000000099", "ORD_TMD": "100001"}))
    revised = client.revise(sor.order_no, sor.org_no, 71000, original=sor)
    body = fake.paths(ep.ORDER_REVISE_CANCEL)[0].body
    assert (body["RVSE_CNCL_DVSN_CD"], body["EXCG_ID_DVSN_CD"], body["ORD_UNPR"]) == ("01", "SOR", "71000")
    assert revised.venue == "SOR" and revised.order_no == "0000000099"


def test_a_partial_cancel_with_a_known_original_needs_no_lookup(fake, client):
    ack = client.order("005930", OrderSide.SELL, 5, OrderType.LIMIT, 71000)
    fake.rsps.add(responses.POST, REAL_URL + ep.ORDER_REVISE_CANCEL,
                  json=ok(output={"KRX_FWDG_ORD_ORGNO": "91252", "ODNO": "0000000099", "ORD_TMD": "100001"}))
    client.cancel(ack.order_no, ack.org_no, 2, original=ack)
    body = fake.paths(ep.ORDER_REVISE_CANCEL)[0].body
    assert (body["ORD_QTY"], body["QTY_ALL_ORD_YN"]) == ("2", "N")
    assert fake.paths(ep.DAILY_ORDERS) == []


def test_a_cancel_whose_answer_is_lost_is_uncertain_not_resent(fake, client):
    ack = client.order("005930", OrderSide.SELL, 5, OrderType.LIMIT, 71000)
    fake.rsps.add(responses.POST, REAL_URL + ep.ORDER_REVISE_CANCEL, body=requests.ReadTimeout("timed out"))
    with pytest.raises(OrderUncertain):
        client.cancel(ack.order_no, ack.org_no, original=ack)
    assert len(fake.paths(ep.ORDER_REVISE_CANCEL)) == 1


def test_cancel_of_an_order_not_seen_today_says_so(fake, client):
    with pytest.raises(KisError, match="not among today's orders"):
        client.cancel("0000000404", "91252")


def test_a_limit_buys_buying_power_is_asked_with_ord_dvsn_01_as_kis_docs_require(fake, client):
    # inquire_psbl_order.py: 00 "종목증거금율이 반영되지 않습니다"; the buyable quantity "반드시" with 01.
    fake.rsps.add(responses.GET, REAL_URL + ep.BUYABLE, json=ok(output={
        "ord_psbl_cash": "1000000", "ord_psbl_sbst": "0", "ruse_psbl_amt": "0", "fund_rpch_chgs": "0",
        "psbl_qty_calc_unpr": "71000", "nrcvb_buy_amt": "994000", "nrcvb_buy_qty": "14",
        "max_buy_amt": "994000", "max_buy_qty": "14", "cma_evlu_amt": "0", "ovrs_re_use_amt_wcrc": "0",
        "ord_psbl_frcr_amt_wcrc": "0"}))
    power = client.buying_power("005930", 71049, OrderType.LIMIT)
    call = fake.paths(ep.BUYABLE)[0]
    assert call.headers["tr_id"] == "TTTC8908R"
    assert call.params == {"CANO": "50087375", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_UNPR": "71000",
                           "ORD_DVSN": "01", "CMA_EVLU_AMT_ICLD_YN": "N", "OVRS_ICLD_YN": "N"}
    assert (power.cash, power.max_amount, power.max_qty, power.unit_price) == (1000000, 994000, 14, 71000)
    assert (power.margin_amount, power.margin_qty, power.asked_with) == (994000, 14, "01")


def test_buying_power_of_an_ioc_like_type_is_asked_with_that_type_and_00_only_on_request(fake, client):
    for _ in range(2):
        fake.rsps.add(responses.GET, REAL_URL + ep.BUYABLE, json=ok(output={"ord_psbl_cash": "5"}))
    client.buying_power("005930", 0, OrderType.BEST_LIMIT)
    client.buyable_as("005930", 71000, "00")
    assert [c.params["ORD_DVSN"] for c in fake.paths(ep.BUYABLE)] == ["03", "00"]


def test_mock_tr_ids_for_cancel_daily_and_buyable(rsps, clock, make_client):
    fake = FakeKis(rsps, MOCK_URL, clock).install()
    client = make_client(Env.MOCK, rate=1.0)
    rsps.add(responses.GET, MOCK_URL + ep.BUYABLE, json=ok(output={"ord_psbl_cash": "5"}))
    rsps.add(responses.POST, MOCK_URL + ep.ORDER_REVISE_CANCEL, json=ok(output={"ODNO": "2"}))
    ack = client.order("005930", OrderSide.BUY, 1, OrderType.MARKET)
    client.orders_today()
    client.buying_power("005930")
    client.cancel(ack.order_no, ack.org_no, original=ack)
    tr_ids = {c.path: c.headers.get("tr_id") for c in fake.calls if c.path != ep.TOKEN}
    assert tr_ids == {ep.ORDER_CASH: "VTTC0012U", ep.DAILY_ORDERS: "VTTC0081R", ep.BUYABLE: "VTTC8908R",
                      ep.ORDER_REVISE_CANCEL: "VTTC0013U"}


@pytest.mark.parametrize("status,body", [(200, "<html>gateway</html>"), (502, ""), (504, "Gateway Time-out")])
def test_an_answer_without_json_after_sending_is_uncertain_not_resent(fake, client, status, body):
    fake.rsps.replace(responses.POST, REAL_URL + ep.ORDER_CASH, status=status, body=body)
    with pytest.raises(OrderUncertain):
        client.order("005930", OrderSide.BUY, 5, OrderType.LIMIT, 71000)
    assert len(order_posts(fake)) == 1


def test_a_failed_hashkey_means_the_order_was_not_sent_and_needs_no_lookup(fake, make_client):
    client = make_client(use_hashkey=True)
    fake.rsps.replace(responses.POST, REAL_URL + ep.HASHKEY, body=requests.ReadTimeout("timed out"))
    with pytest.raises(KisTransportError, match="not sent") as err:
        client.order("005930", OrderSide.BUY, 1, OrderType.MARKET)
    assert not isinstance(err.value, OrderUncertain)
    assert order_posts(fake) == [] and fake.paths(ep.DAILY_ORDERS) == []


def test_a_numpy_quantity_from_a_pandas_plan_is_accepted_as_shares(fake, client):
    import numpy as np

    ack = client.order("005930", OrderSide.BUY, np.int64(4), OrderType.MARKET)
    assert ack.qty == 4 and type(ack.qty) is int
    assert order_posts(fake)[0].body["ORD_QTY"] == "4"


def test_cancel_after_a_restart_reads_the_original_from_todays_orders(fake, client, make_client):
    ack = client.order("005930", OrderSide.SELL, 5, OrderType.LIMIT, 71000)
    fake.rsps.add(responses.POST, REAL_URL + ep.ORDER_REVISE_CANCEL,
                  json=ok(output={"KRX_FWDG_ORD_ORGNO": "91252", "ODNO": "0000000099", "ORD_TMD": "100001"}))
    restarted = make_client()
    cancelled = restarted.cancel(ack.order_no, ack.org_no)
    assert len(fake.paths(ep.DAILY_ORDERS)) == 1
    assert (cancelled.code, cancelled.side, cancelled.qty) == ("005930", OrderSide.SELL, 5)


def test_cancel_of_an_order_this_client_placed_needs_no_lookup(fake, client):
    ack = client.order("005930", OrderSide.BUY, 5, OrderType.LIMIT, 71000)
    fake.rsps.add(responses.POST, REAL_URL + ep.ORDER_REVISE_CANCEL,
                  json=ok(output={"KRX_FWDG_ORD_ORGNO": "91252", "ODNO": "0000000099", "ORD_TMD": "100001"}))
    client.cancel(ack.order_no, ack.org_no)
    assert fake.paths(ep.DAILY_ORDERS) == []
