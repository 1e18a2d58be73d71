"""Speak to the sim the way any KIS program would: plain `requests`, KIS headers, string bodies."""
from __future__ import annotations

import json

import requests

from kis import endpoints as ep
from kis.config import SIM_APP_KEY, SIM_APP_SECRET

CANO, PRODUCT = "50000000", "01"


class Raw:
    def __init__(self, sim):
        self.sim = sim
        self.http = requests.Session()
        self.token = ""

    def issue(self) -> requests.Response:
        body = {"grant_type": "client_credentials", "appkey": SIM_APP_KEY, "appsecret": SIM_APP_SECRET}
        return self.http.post(self.sim.url + ep.TOKEN, data=json.dumps(body), timeout=5)

    def login(self) -> "Raw":
        reply = self.issue()
        assert reply.status_code == 200, reply.text
        self.token = reply.json()["access_token"]
        return self

    def headers(self, tr_id: str, **extra: str) -> dict[str, str]:
        headers = {"content-type": "application/json; charset=utf-8", "authorization": f"Bearer {self.token}",
                   "appkey": SIM_APP_KEY, "appsecret": SIM_APP_SECRET, "tr_id": tr_id, "custtype": "P"}
        headers.update(extra)
        return {k: v for k, v in headers.items() if v is not None}

    def get(self, path: str, tr_id: str, params: dict, **extra) -> requests.Response:
        return self.http.get(self.sim.url + path, headers=self.headers(tr_id, **extra), params=params, timeout=5)

    def post(self, path: str, tr_id: str, body: dict, **extra) -> requests.Response:
        return self.http.post(self.sim.url + path, headers=self.headers(tr_id, **extra), data=json.dumps(body),
                              timeout=5)

    # typical calls ------------------------------------------------------------------------------
    def price(self, code: str) -> requests.Response:
        return self.get(ep.PRICE, "FHKST01010100", {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": code})

    def order(self, code: str, qty: int, *, buy: bool = True, dvsn: str = "01", price: int = 0,
              tr_id: str | None = None) -> requests.Response:
        body = {"CANO": CANO, "ACNT_PRDT_CD": PRODUCT, "PDNO": code, "ORD_DVSN": dvsn, "ORD_QTY": str(qty),
                "ORD_UNPR": str(price), "EXCG_ID_DVSN_CD": "KRX", "SLL_TYPE": "" if buy else "01", "CNDT_PRIC": ""}
        return self.post(ep.ORDER_CASH, tr_id or ("VTTC0012U" if buy else "VTTC0011U"), body)

    def cancel(self, order_no: str, org_no: str = "00950", *, qty: int = 0) -> requests.Response:
        body = {"CANO": CANO, "ACNT_PRDT_CD": PRODUCT, "KRX_FWDG_ORD_ORGNO": org_no, "ORGN_ODNO": order_no,
                "ORD_DVSN": "00", "RVSE_CNCL_DVSN_CD": "02", "ORD_QTY": str(qty), "ORD_UNPR": "0",
                "QTY_ALL_ORD_YN": "N" if qty else "Y", "EXCG_ID_DVSN_CD": "KRX"}
        return self.post(ep.ORDER_REVISE_CANCEL, "VTTC0013U", body)

    def balance(self, fk: str = "", nk: str = "", *, tr_cont: str = "", **over) -> requests.Response:
        params = {"CANO": CANO, "ACNT_PRDT_CD": PRODUCT, "AFHR_FLPR_YN": "N", "OFL_YN": "", "INQR_DVSN": "01",
                  "UNPR_DVSN": "01", "FUND_STTL_ICLD_YN": "N", "FNCG_AMT_AUTO_RDPT_YN": "N", "PRCS_DVSN": "00",
                  "CTX_AREA_FK100": fk, "CTX_AREA_NK100": nk, **over}
        return self.get(ep.BALANCE, "VTTC8434R", params, tr_cont=tr_cont or None)

    def daily(self, day: str = "20261124", fk: str = "", nk: str = "", *, tr_cont: str = "", **over):
        params = {"CANO": CANO, "ACNT_PRDT_CD": PRODUCT, "INQR_STRT_DT": day, "INQR_END_DT": day,
                  "SLL_BUY_DVSN_CD": "00", "INQR_DVSN": "00", "PDNO": "", "CCLD_DVSN": "00", "ORD_GNO_BRNO": "",
                  "ODNO": "", "INQR_DVSN_3": "00", "INQR_DVSN_1": "", "CTX_AREA_FK100": fk, "CTX_AREA_NK100": nk,
                  "EXCG_ID_DVSN_CD": "KRX", **over}
        return self.get(ep.DAILY_ORDERS, "VTTC0081R", params, tr_cont=tr_cont or None)

    def buyable(self, code: str, price: int = 0, dvsn: str = "01") -> requests.Response:
        params = {"CANO": CANO, "ACNT_PRDT_CD": PRODUCT, "PDNO": code, "ORD_UNPR": str(price), "ORD_DVSN": dvsn,
                  "CMA_EVLU_AMT_ICLD_YN": "N", "OVRS_ICLD_YN": "N"}
        return self.get(ep.BUYABLE, "VTTC8908R", params)


def refusal(reply: requests.Response) -> tuple[str, str]:
    body = reply.json()
    assert body["rt_cd"] == "1", body
    return body["msg_cd"], body["msg1"]
