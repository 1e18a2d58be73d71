"""Code written for real KIS runs against the sim: the seed chapter's own `requests` calls, as printed
(its header capitalisation, json.dumps bodies, old tr_ids, hashkey, the balance loop)."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import requests

from kis.config import SIM_APP_KEY, SIM_APP_SECRET


@pytest.fixture
def chapter(sim):
    """The chapter's module-level names, pointed at the sim instead of openapivts."""
    url_base = sim.url
    app_key, app_secret = SIM_APP_KEY, SIM_APP_SECRET
    headers = {"content-type": "application/json"}
    path = "oauth2/tokenP"
    body = {"grant_type": "client_credentials", "appkey": app_key, "appsecret": app_secret}
    url = f"{url_base}/{path}"
    res = requests.post(url, headers=headers, data=json.dumps(body))
    access_token = res.json()["access_token"]

    def hashkey(datas):
        path = "uapi/hashkey"
        url = f"{url_base}/{path}"
        headers = {"content-Type": "application/json", "appKey": app_key, "appSecret": app_secret}
        res = requests.post(url, headers=headers, data=json.dumps(datas))
        return res.json()["HASH"]

    def get_price(ticker):
        path = "uapi/domestic-stock/v1/quotations/inquire-price"
        url = f"{url_base}/{path}"
        headers = {"Content-Type": "application/json", "authorization": f"Bearer {access_token}",
                   "appKey": app_key, "appSecret": app_secret, "tr_id": "FHKST01010100"}
        params = {"fid_cond_mrkt_div_code": "J", "fid_input_iscd": ticker}
        res = requests.get(url, headers=headers, params=params)
        return int(res.json()["output"]["stck_prpr"])

    def order(tr_id, data):
        path = "/uapi/domestic-stock/v1/trading/order-cash"
        url = f"{url_base}/{path}"
        headers = {"Content-Type": "application/json", "authorization": f"Bearer {access_token}",
                   "appKey": app_key, "appSecret": app_secret, "tr_id": tr_id, "custtype": "P",
                   "hashkey": hashkey(data)}
        return requests.post(url, headers=headers, data=json.dumps(data))

    def revise(data):
        path = "/uapi/domestic-stock/v1/trading/order-rvsecncl"
        url = f"{url_base}/{path}"
        headers = {"Content-Type": "application/json", "authorization": f"Bearer {access_token}",
                   "appKey": app_key, "appSecret": app_secret, "tr_id": "VTTC0803U", "custtype": "P",
                   "hashkey": hashkey(data)}
        return requests.post(url, headers=headers, data=json.dumps(data))

    def check_account():
        output1, output2 = [], []
        CTX_AREA_NK100 = ""
        while True:
            path = "/uapi/domestic-stock/v1/trading/inquire-balance"
            url = f"{url_base}/{path}"
            headers = {"Content-Type": "application/json", "authorization": f"Bearer {access_token}",
                       "appKey": app_key, "appSecret": app_secret, "tr_id": "VTTC8434R"}
            params = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "AFHR_FLPR_YN": "N", "UNPR_DVSN": "01",
                      "FUND_STTL_ICLD_YN": "N", "FNCG_AMT_AUTO_RDPT_YN": "N", "OFL_YN": "", "INQR_DVSN": "01",
                      "PRCS_DVSN": "00", "CTX_AREA_FK100": "", "CTX_AREA_NK100": CTX_AREA_NK100}
            res = requests.get(url, headers=headers, params=params)
            output1.append(pd.DataFrame.from_records(res.json()["output1"]))
            CTX_AREA_NK100 = res.json()["ctx_area_nk100"].strip()
            if CTX_AREA_NK100 == "":
                output2.append(res.json()["output2"][0])
                break
        res1 = pd.concat(output1)[["pdno", "hldg_qty"]].rename(
            columns={"pdno": "종목코드", "hldg_qty": "보유수량"}).reset_index(drop=True)
        return [res1, output2[0]]

    return {"get_price": get_price, "order": order, "revise": revise, "check_account": check_account}


def test_the_chapter_quote_call_works(sim, chapter):
    assert chapter["get_price"]("005930") == sim.market.price("005930")


def test_the_chapter_market_buy_and_sell_with_old_tr_ids_and_hashkey(sim, chapter):
    buy = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_DVSN": "01", "ORD_QTY": "10",
           "ORD_UNPR": "0"}
    res = chapter["order"]("VTTC0802U", buy)
    assert res.json()["rt_cd"] == "0", res.json()
    sell = dict(buy, ORD_QTY="4")
    assert chapter["order"]("VTTC0801U", sell).json()["rt_cd"] == "0"
    assert sim.exchange.holding_qty("005930") == 126
    assert sim.count("/uapi/hashkey") == 2


def test_the_chapter_limit_order_then_revise_to_best_limit(sim, chapter):
    data = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_DVSN": "00", "ORD_QTY": "10",
            "ORD_UNPR": "50000"}
    res = chapter["order"]("VTTC0802U", data)
    # The chapter's 50,000 won was a 2022 price; today it sits under the -30 % limit and KRX refuses it.
    assert res.json()["rt_cd"] == "1" and res.json()["msg_cd"] == "APBK0510"
    res = chapter["order"]("VTTC0802U", dict(data, ORD_UNPR="70000"))
    KRX_FWDG_ORD_ORGNO = res.json()["output"]["KRX_FWDG_ORD_ORGNO"]
    ODNO = res.json()["output"]["ODNO"]
    assert sim.exchange.holding_qty("005930") == 120  # far below the market: it rests
    data = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "KRX_FWDG_ORD_ORGNO": KRX_FWDG_ORD_ORGNO, "ORGN_ODNO": ODNO,
            "ORD_DVSN": "03", "RVSE_CNCL_DVSN_CD": "01", "ORD_QTY": "10", "ORD_UNPR": "0", "QTY_ALL_ORD_YN": "Y"}
    assert chapter["revise"](data).json()["rt_cd"] == "0"
    assert sim.exchange.holding_qty("005930") == 130  # best-limit fills at once


def test_the_chapter_twap_slice_order(sim, chapter):
    data = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "PDNO": "105560", "ORD_DVSN": "03", "ORD_QTY": "1",
            "ORD_UNPR": "0"}
    assert chapter["order"]("VTTC0802U", data).json()["rt_cd"] == "0"
    assert sim.exchange.holding_qty("105560") == 1


def test_the_chapter_balance_loop_reads_every_page_and_stops(sim, chapter):
    for code in sim.market.codes()[:11]:
        sim.exchange.set_holding(code, 3, 50_000)
    ap, account = chapter["check_account"]()
    assert list(ap["종목코드"]) == list(sim.exchange.positions)  # 13 rows over 3 pages of 5
    assert int(account["tot_evlu_amt"]) > 0
    assert sim.count("/uapi/domestic-stock/v1/trading/inquire-balance") == 3
