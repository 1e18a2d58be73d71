"""A KIS look-alike for the client's unit tests: `responses` callbacks that keep orders and tokens.

Responses are shaped like the samples KIS publishes (values as strings). Time is a fake clock: no
test sleeps for real.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import requests
import responses

from kis import endpoints as ep
from kis.krx import KST
from kis.config import KisConfig
from kis.models import Account, Env

REAL_URL = ep.BASE_URLS[Env.REAL]
MOCK_URL = ep.BASE_URLS[Env.MOCK]
APP_KEY = "PSappKEYforTESTSonly0000000000000000"
APP_SECRET = "appSECRETforTESTSonly" + "x" * 40
TOKEN_VALUE = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9.TESTTOKEN"


class FakeClock:
    """Monotonic seconds, a KST wall clock that moves with them, and a sleep that only advances them."""

    def __init__(self, start: datetime = datetime(2026, 11, 24, 10, 0, 0, tzinfo=KST)):
        self.start = start
        self.t = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(0.0, seconds)

    def wall(self) -> datetime:
        return self.start + timedelta(seconds=self.t)


def make_config(tmp_path, env: Env = Env.REAL, *, rate: float = 18.0, base_url: str | None = None,
                app_key: str = APP_KEY) -> KisConfig:
    return KisConfig(env=env, app_key=app_key, app_secret=APP_SECRET, account=Account.parse("50087375-01"),
                     base_url=ep.BASE_URLS.get(env, REAL_URL) if base_url is None else base_url, rate_limit=rate,
                     data_dir=tmp_path / "data")


def ok(**body) -> dict:
    return {"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다.                        ", **body}


def fail(msg_cd: str, msg1: str) -> dict:
    return {"rt_cd": "1", "msg_cd": msg_cd, "msg1": msg1}


@dataclass
class Call:
    method: str
    path: str
    headers: dict
    params: dict
    body: dict


@dataclass
class FakeKis:
    """Serves token, hashkey, order-cash and inquire-daily-ccld; other paths are added per test."""

    rsps: responses.RequestsMock
    base_url: str
    clock: FakeClock
    orders: list[dict] = field(default_factory=list)  # rows as inquire-daily-ccld shows them
    tokens_issued: int = 0
    token_life: timedelta = timedelta(hours=24)  # a token expires this long after its issue, on the fake clock
    token_value: str = TOKEN_VALUE
    # Faults for the next order POSTs: "lost_after" (arrives, answer lost), "lost_before" (never
    # arrives), "rate_limited" (refused with EGW00201), "refused" (no connection), "no_cash" (APBK0952)
    order_faults: list[str] = field(default_factory=list)
    daily_faults: list[object] = field(default_factory=list)  # an Exception or a KIS error body per call
    late_rows: int = 0  # hide an arrived order from this many daily-ccld lookups
    exchange_skew: timedelta = timedelta(0)  # the exchange's clock against ours (ORD_TMD)

    def install(self) -> "FakeKis":
        self.rsps.add_callback(responses.POST, self.base_url + ep.TOKEN, callback=self._token)
        self.rsps.add_callback(responses.POST, self.base_url + ep.HASHKEY, callback=self._hashkey)
        self.rsps.add_callback(responses.POST, self.base_url + ep.ORDER_CASH, callback=self._order)
        self.rsps.add_callback(responses.GET, self.base_url + ep.DAILY_ORDERS, callback=self._daily)
        return self

    @staticmethod
    def record(request) -> Call:
        """The request decoded: query parameters, JSON body, headers."""
        split = urlsplit(request.url)
        params = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        body = json.loads(request.body) if request.body else {}
        return Call(request.method, split.path, dict(request.headers), params, body)

    @property
    def calls(self) -> list[Call]:
        """Every request the client made, in order (callbacks and canned answers alike)."""
        return [self.record(c.request) for c in self.rsps.calls]

    def paths(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def _token(self, request):
        self.record(request)
        self.tokens_issued += 1
        expiry = (self.clock.wall() + self.token_life).strftime("%Y-%m-%d %H:%M:%S")
        return 200, {}, json.dumps({"access_token": self.token_value, "token_type": "Bearer",
                                    "expires_in": int(self.token_life.total_seconds()),
                                    "access_token_token_expired": expiry})

    def _hashkey(self, request):
        call = self.record(request)
        return 200, {}, json.dumps({"BODY": call.body, "HASH": "hash-of-" + call.body.get("PDNO", "")})

    def _order(self, request):
        call = self.record(request)
        fault = self.order_faults.pop(0) if self.order_faults else ""
        if fault == "lost_before":
            return requests.ConnectionError("Connection aborted.")
        if fault == "rate_limited":  # refused at KIS's gate: nothing reaches the exchange
            return 500, {}, json.dumps(fail("EGW00201", "초당 거래건수를 초과하였습니다."))
        if fault == "refused":  # the connection cannot even be opened
            return requests.ConnectTimeout("connect timed out")
        if fault == "no_cash":
            return 200, {}, json.dumps(fail("APBK0952", "주문가능금액을 초과 했습니다"))
        b = call.body
        order_no = f"{len(self.orders) + 1:010d}"
        tmd = (self.clock.wall() + self.exchange_skew).strftime("%H%M%S")
        self.orders.append({
            "ord_dt": "20261124", "ord_gno_brno": "91252", "odno": order_no, "orgn_odno": "",
            "ord_dvsn_name": "", "sll_buy_dvsn_cd": "01" if call.headers["tr_id"][-2] == "1" else "02",
            "pdno": b["PDNO"], "prdt_name": "삼성전자", "ord_qty": b["ORD_QTY"], "ord_unpr": b["ORD_UNPR"],
            "ord_tmd": tmd, "tot_ccld_qty": "0", "avg_prvs": "0", "cncl_yn": "N", "tot_ccld_amt": "0",
            "rmn_qty": b["ORD_QTY"], "rjct_qty": "0", "ord_dvsn_cd": b["ORD_DVSN"], "cnc_cfrm_qty": "0",
        })
        if fault == "lost_after":
            return requests.ReadTimeout("Read timed out. (read timeout=10)")
        if fault == "ledger_busy":  # the ledger's per-second limit, after the order may have been taken
            return 500, {}, json.dumps(fail("EGW00215", "초당 거래건수를 초과하였습니다."))
        return 200, {}, json.dumps(ok(output={"KRX_FWDG_ORD_ORGNO": "91252", "ODNO": order_no, "ORD_TMD": tmd}))

    def _daily(self, request):
        call = self.record(request)
        if self.daily_faults:
            fault = self.daily_faults.pop(0)
            if isinstance(fault, Exception):
                return fault
            return 200, {}, json.dumps(fault)
        rows = [r for r in self.orders if not call.params.get("PDNO") or r["pdno"] == call.params["PDNO"]]
        if self.late_rows:
            self.late_rows -= 1
            rows = rows[:-1]
        return 200, {"tr_cont": "D"}, json.dumps(ok(ctx_area_fk100="", ctx_area_nk100="",
                                                    output1=list(reversed(rows)), output2={}))


def holding_row(code, qty, name="종목", avg="71234.5678", price="72000"):
    return {"pdno": code, "prdt_name": name, "trad_dvsn_name": "현금", "bfdy_buy_qty": "0",
            "bfdy_sll_qty": "0", "thdt_buyqty": "0", "thdt_sll_qty": "0", "hldg_qty": str(qty),
            "ord_psbl_qty": str(qty), "pchs_avg_pric": avg, "pchs_amt": str(int(float(avg) * qty)),
            "prpr": price, "evlu_amt": str(int(price) * qty), "evlu_pfls_amt": "7654",
            "evlu_pfls_rt": "1.07", "evlu_erng_rt": "0.00000000", "loan_dt": "", "loan_amt": "0",
            "stln_slng_chgs": "0", "expd_dt": "", "fltt_rt": "1.23", "bfdy_cprs_icdc": "500",
            "item_mgna_rt_name": "20%", "grta_rt_name": "", "sbst_pric": "0", "stck_loan_unpr": "0.0000"}


SUMMARY = {"dnca_tot_amt": "1000000", "nxdy_excc_amt": "900000", "prvs_rcdl_excc_amt": "850000",
           "cma_evlu_amt": "0", "bfdy_buy_amt": "0", "thdt_buy_amt": "0", "scts_evlu_amt": "4320000",
           "tot_evlu_amt": "5170000", "nass_amt": "5170000", "evlu_pfls_smtl_amt": "7654",
           "asst_icdc_amt": "0", "tot_stln_slng_chgs": "0"}
