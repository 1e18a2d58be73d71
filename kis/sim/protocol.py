"""The KIS REST protocol on top of the exchange: header and field checks, tr_ids, KIS-shaped JSON.

Every value is a string, as on KIS. Refusals carry rt_cd "1", msg_cd, msg1. Codes known from KIS or
its users: EGW00103/EGW00105 (app key/secret), EGW00121/EGW00123 (token), EGW00133 (token rate),
EGW00201 (calls per second), EGW02006 (real tr_id on mock), OPSQ2001/OPSQ2002 (input checks),
SYDB0050 (data moved while paging), APBK0952/APBK0506 (cash, tick). Others are marked as guesses.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from kis import endpoints as ep
from kis.markets import us
from kis.config import key_fingerprint
from kis.models import Account
from kis.sim.exchange import BUY, ORDER_TYPES, SELL, Exchange, Rejected, SimOrder
from kis.sim.faults import Faults
from kis.sim.limits import CallLimiter
from kis.sim.market import Market
from kis.sim.book import Book
from kis.sim.quotes import asking_price_output, price_output, unknown_output
from kis.sim.refusals import DATA_CHANGED, Refusal, invalid, missing
from kis.sim import venues as sim_venues
from kis.sim.overseas_protocol import OVERSEAS_PATH_TRS, OVERSEAS_REAL_ONLY, US_ORDER_PATHS, OverseasOrders, \
    OverseasProtocol
from kis.sim.pension_protocol import PENSION_PATH_TRS, PensionProtocol
from kis.sim.tokens import TokenBook, TokenError
from kis.sim.answers import OK_BUY, OK_CANCEL, OK_INQUIRY, OK_QUOTE, OK_REVISE, OK_SELL


BAD_APPKEY = ("EGW00103", "유효하지 않은 AppKey입니다.")
BAD_APPSECRET = ("EGW00105", "유효하지 않은 AppSecret입니다.")
BAD_GRANT = ("EGW00102", "grant_type 이 유효하지 않습니다.")  # guess
RATE_LIMIT = ("EGW00201", "초당 거래건수를 초과하였습니다.")
NOT_MOCK_TR = ("EGW02006", "모의투자 TR 이 아닙니다.")
NO_SUCH_TR = ("OPSQ0002", "없는 서비스 코드 입니다")  # guess
BAD_CUSTTYPE = ("EGW00207", "custtype 이 유효하지 않습니다.")  # guess
BAD_JSON = ("OPSQ1002", "JSON 형식이 올바르지 않습니다.")  # guess
BAD_ACCOUNT = ("OPSQ0013", "계좌번호를 확인하시기 바랍니다.")  # guess
# IRP (product code 29) has inquiry services only; practitioners report its orders refused with OPSQ0002.
IRP_PRODUCT = "29"
BAD_HASHKEY = ("EGW00212", "hashkey 가 요청 본문과 일치하지 않습니다.")  # guess

# tr_ids this exchange serves, per path: the current mock names and the older ones older samples send.
BUY_TRS = {"VTTC0012U", "VTTC0802U"}
SELL_TRS = {"VTTC0011U", "VTTC0801U"}
REVISE_CANCEL_TRS = {"VTTC0013U", "VTTC0803U"}
PATH_TRS = {
    ep.PRICE: {"FHKST01010100"},
    ep.MULTI_PRICE: {"FHKST11300006"},
    ep.ASKING_PRICE: {ep.ASKING_PRICE_TR},
    ep.ORDER_CASH: BUY_TRS | SELL_TRS,
    ep.ORDER_REVISE_CANCEL: REVISE_CANCEL_TRS,
    ep.BALANCE: {"VTTC8434R"},
    ep.DAILY_ORDERS: {"VTTC0081R"},
    ep.BUYABLE: {"VTTC8908R"},
    ep.STOCK_INFO: {"CTPF1002R"},  # real-only at KIS; served here so names and ETF taxes are tested
    **OVERSEAS_PATH_TRS,  # US stocks: kis/sim/overseas_protocol.py
    **PENSION_PATH_TRS,  # IRP inquiries: kis/sim/pension_protocol.py
}
# Services KIS mock does not offer: the mock answers them EGW02006 whatever the tr_id.
REAL_ONLY_PATHS = {
    "/uapi/domestic-stock/v1/quotations/chk-holiday",
    "/uapi/domestic-stock/v1/trading/inquire-psbl-rvsecncl",
    *OVERSEAS_REAL_ONLY,  # inquire-nccs, daytime-order
}
BALANCE_FIELDS = ("CANO", "ACNT_PRDT_CD", "AFHR_FLPR_YN", "INQR_DVSN", "UNPR_DVSN", "FUND_STTL_ICLD_YN",
                  "FNCG_AMT_AUTO_RDPT_YN", "PRCS_DVSN", "CTX_AREA_FK100", "CTX_AREA_NK100")
DAILY_FIELDS = ("CANO", "ACNT_PRDT_CD", "INQR_STRT_DT", "INQR_END_DT", "SLL_BUY_DVSN_CD", "INQR_DVSN", "PDNO",
                "CCLD_DVSN", "ORD_GNO_BRNO", "ODNO", "INQR_DVSN_3", "INQR_DVSN_1", "CTX_AREA_FK100",
                "CTX_AREA_NK100")
BUYABLE_FIELDS = ("CANO", "ACNT_PRDT_CD", "PDNO", "ORD_UNPR", "ORD_DVSN", "CMA_EVLU_AMT_ICLD_YN", "OVRS_ICLD_YN")
ORDER_FIELDS = ("CANO", "ACNT_PRDT_CD", "PDNO", "ORD_DVSN", "ORD_QTY", "ORD_UNPR")
RVSECNCL_FIELDS = ("CANO", "ACNT_PRDT_CD", "KRX_FWDG_ORD_ORGNO", "ORGN_ODNO", "ORD_DVSN", "RVSE_CNCL_DVSN_CD",
                   "ORD_QTY", "ORD_UNPR", "QTY_ALL_ORD_YN")
CTX_WIDTH = 100


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names: HTTP headers are case-insensitive (appKey = appkey)
    query: dict[str, str]  # upper-cased names: KIS accepts fid_input_iscd as FID_INPUT_ISCD
    raw: bytes = b""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass
class Response:
    status: int
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a non-JSON body (fault answers)
    drop: bool = False  # close the connection without answering


def body_hash(body) -> str:
    """The HASH /uapi/hashkey hands out: sha256 over the body's JSON, key order aside."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _s(value: int | float | str) -> str:
    return str(value)


def _pad(text: str) -> str:
    return text.ljust(CTX_WIDTH)


class KisProtocol(OverseasProtocol, OverseasOrders, PensionProtocol):
    """Turns one HTTP request into one KIS answer; the exchange does the bookkeeping."""

    def __init__(self, *, exchange: Exchange, market: Market, tokens: TokenBook, limiter: CallLimiter,
                 faults: Faults, app_key: str, app_secret: str, account: Account, page_rows: int,
                 daily_page_rows: int, clock: Callable[[], datetime], approvals=None, us_market=None, fx=None,
                 us_book=None, book: Book | None = None, us_exchange=None):
        self.us_market, self.fx, self.us_book = us_market, fx, us_book  # the US side (kis/sim/overseas.py)
        self.us_exchange = us_exchange  # US orders (kis/sim/us_exchange.py)
        self.exchange, self.market, self.tokens = exchange, market, tokens
        self.limiter, self.faults = limiter, faults
        self.app_key, self.app_secret, self.account = app_key, app_secret, account
        self.page_rows, self.daily_page_rows = page_rows, daily_page_rows
        self.clock = clock
        self.approvals = approvals  # kis.sim.notices.ApprovalBook, when the websocket is served
        self.book = book or Book(market, mode="off", clock=clock)  # what the asking-price inquiry shows
        self.ws_url: Callable[[], str] = lambda: ""

    # entry -----------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        try:
            if req.path == ep.TOKEN:
                return self._token(req)
            if req.path == ep.REVOKE:
                return self._revoke(req)
            if req.path == ep.APPROVAL and self.approvals is not None:
                return self._approval(req)
            if req.path == "/sim/health":
                return Response(200, {"sim": "kisbot", "account": str(self.account),
                                      "app_key_id": key_fingerprint(self.app_key), "ws_url": self.ws_url()})
            if req.path in REAL_ONLY_PATHS:
                raise Refusal(NOT_MOCK_TR, 500)
            if req.path not in PATH_TRS and req.path != ep.HASHKEY:
                return Response(404, {"rt_cd": "1", "msg_cd": "EGW00002", "msg1": "서비스를 찾을 수 없습니다."})  # guess
            if self.faults.roll_server_error():
                return self._server_error()
            return self._uapi(req)
        except Refusal as r:
            return self._refuse(r.msg_cd, r.msg1, r.status, req.header("tr_id"))

    def _uapi(self, req: Request) -> Response:
        self._check_app(req)
        if req.path != ep.HASHKEY:
            self._check_token(req)
        if self.faults.take_rate_limit() or not self.limiter.allow(self.app_key):
            raise Refusal(RATE_LIMIT, 500)
        if req.path == ep.HASHKEY:
            return self._hashkey(req)
        tr_id = self._check_tr_id(req)
        custtype = req.header("custtype")
        if custtype and custtype not in ("P", "B"):
            raise Refusal(BAD_CUSTTYPE, 500)
        self.exchange.match()
        if self.us_exchange is not None:
            self.us_exchange.match()
        handler = {
            ep.PRICE: self._price,
            ep.MULTI_PRICE: self._multi_price,
            ep.ASKING_PRICE: self._asking_price,
            ep.ORDER_CASH: self._order_cash,
            ep.ORDER_REVISE_CANCEL: self._revise_cancel,
            ep.BALANCE: self._balance,
            ep.DAILY_ORDERS: self._daily_orders,
            ep.BUYABLE: self._buyable,
            ep.STOCK_INFO: self._stock_info,
            us.PRICE.path: self._us_price,
            us.PRICE_DETAIL.path: self._us_price_detail,
            us.SEARCH_INFO.path: self._us_search_info,
            us.BALANCE.path: self._us_balance,
            us.PRESENT_BALANCE.path: self._us_present_balance,
            us.BUY.path: self._us_order,
            us.REVISE_CANCEL.path: self._us_revise_cancel,
            us.ORDERS.path: self._us_orders,
            us.BUYABLE.path: self._us_psamount,
            **self._pension_handlers(),
        }[req.path]
        self._overseas_gate(req.path)  # an account without overseas trading (off by default)
        posts = (ep.ORDER_CASH, ep.ORDER_REVISE_CANCEL, *US_ORDER_PATHS)
        expected_method = "POST" if req.path in posts else "GET"
        if req.method != expected_method:
            return Response(405, {"rt_cd": "1", "msg_cd": "EGW00003", "msg1": "허용되지 않은 메소드입니다."})  # guess
        return handler(req, tr_id)

    # checks ------------------------------------------------------------------------------------------
    def _check_app(self, req: Request) -> None:
        if req.header("appkey") != self.app_key:
            raise Refusal(BAD_APPKEY, 500)
        if req.header("appsecret") != self.app_secret:
            raise Refusal(BAD_APPSECRET, 500)

    def _check_token(self, req: Request) -> None:
        auth = req.header("authorization")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Refusal(("EGW00121", "유효하지 않은 token 입니다."), 500)
        try:
            self.tokens.check(value.strip(), self.app_key)
        except TokenError as e:
            raise Refusal((e.msg_cd, e.msg1), 500) from None

    def _check_tr_id(self, req: Request) -> str:
        tr_id = req.header("tr_id").strip()
        allowed = PATH_TRS[req.path]
        if tr_id in allowed:
            return tr_id
        if tr_id[:1] in ("T", "J", "C") and "V" + tr_id[1:] in allowed:
            raise Refusal(NOT_MOCK_TR, 500)
        raise Refusal(NO_SUCH_TR, 500)

    def _body(self, req: Request) -> dict[str, str]:
        """The JSON body with upper-cased keys; every value must be a JSON string, as KIS wants.

        A hashkey header, when sent, must be the hash of this very body (hashkey is optional on KIS).
        """
        try:
            data = json.loads(req.raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            raise Refusal(BAD_JSON, 500) from None
        if not isinstance(data, dict):
            raise Refusal(BAD_JSON, 500)
        sent_hash = req.header("hashkey").strip()
        if sent_hash and sent_hash != body_hash(data):
            raise Refusal(BAD_HASHKEY, 500)
        body = {}
        for key, value in data.items():
            if not isinstance(value, str):
                raise Refusal(("OPSQ2002", f"ERROR INVALID INPUT_FILED_TYPE [{key.upper()}]"), 500)
            body[key.upper()] = value
        return body

    @staticmethod
    def _need(fields: dict[str, str], names: tuple[str, ...]) -> None:
        for name in names:
            if name not in fields:
                raise missing(name)

    def _refuse_irp_orders(self) -> None:
        """An IRP account (product 29) takes no orders over the API, as KIS answers: OPSQ0002."""
        if self.account.product == IRP_PRODUCT:
            raise Refusal(NO_SUCH_TR, 500)

    def _check_account(self, fields: dict[str, str]) -> None:
        if fields.get("CANO") != self.account.cano or fields.get("ACNT_PRDT_CD") != self.account.product:
            raise Refusal(BAD_ACCOUNT, 500)

    @staticmethod
    def _int(fields: dict[str, str], name: str, *, allow_empty: bool = False) -> int:
        text = fields.get(name, "").strip()
        if allow_empty and text == "":
            return 0
        if not text.isdigit():
            raise invalid(name, "OPSQ2002")
        return int(text)

    # token, revoke, hashkey ----------------------------------------------------------------------------
    def _token(self, req: Request) -> Response:
        try:
            data = json.loads(req.raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict) or req.method != "POST":
            return self._token_error(BAD_GRANT)
        if data.get("grant_type") != "client_credentials":
            return self._token_error(BAD_GRANT)
        if data.get("appkey") != self.app_key:
            return self._token_error(BAD_APPKEY)
        if data.get("appsecret") != self.app_secret:
            return self._token_error(BAD_APPSECRET)
        try:
            token = self.tokens.issue(self.app_key)
        except TokenError as e:
            return self._token_error((e.msg_cd, e.msg1))
        expires = datetime.fromisoformat(token.expires_at)
        left = int((expires - self.clock()).total_seconds())
        return Response(200, {"access_token": token.value, "access_token_token_expired":
                              expires.strftime("%Y-%m-%d %H:%M:%S"), "token_type": "Bearer", "expires_in": left})

    def _approval(self, req: Request) -> Response:
        """POST /oauth2/Approval: the websocket key; the secret goes in `secretkey`, not `appsecret`."""
        try:
            data = json.loads(req.raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict) or req.method != "POST" or data.get("grant_type") != "client_credentials":
            return self._token_error(BAD_GRANT)
        if data.get("appkey") != self.app_key:
            return self._token_error(BAD_APPKEY)
        if data.get("secretkey") != self.app_secret:
            return self._token_error(BAD_APPSECRET)
        return Response(200, {"approval_key": self.approvals.issue(self.app_key)})

    @staticmethod
    def _token_error(msg: tuple[str, str]) -> Response:
        # tokenP answers errors in its own OAuth-ish shape, HTTP 403, not the rt_cd envelope.
        return Response(403, {"error_description": msg[1], "error_code": msg[0]})

    def _revoke(self, req: Request) -> Response:
        try:
            data = json.loads(req.raw.decode("utf-8") or "null") or {}
        except (UnicodeDecodeError, ValueError):
            data = {}
        if data.get("appkey") != self.app_key or data.get("appsecret") != self.app_secret:
            return self._token_error(BAD_APPKEY)
        if not self.tokens.revoke(str(data.get("token", "")), self.app_key):
            return self._token_error(("EGW00121", "유효하지 않은 token 입니다."))
        return Response(200, {"code": 200, "message": "접근토큰 폐기에 성공하였습니다"})

    def _hashkey(self, req: Request) -> Response:
        try:
            body = json.loads(req.raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            raise Refusal(BAD_JSON, 500) from None
        return Response(200, {"BODY": body, "HASH": body_hash(body)})

    # quotes -------------------------------------------------------------------------------------------
    def _market_code(self, value: str, name: str) -> None:
        if value not in ("J", "NX", "UN"):
            raise invalid(name)

    def _price(self, req: Request, tr_id: str) -> Response:
        q = req.query
        self._need(q, ("FID_COND_MRKT_DIV_CODE", "FID_INPUT_ISCD"))
        self._market_code(q["FID_COND_MRKT_DIV_CODE"], "FID_COND_MRKT_DIV_CODE")
        code = q["FID_INPUT_ISCD"].strip()
        quote = self.market.quote(code)
        output = unknown_output(code) if quote is None else price_output(quote)
        return self._ok(OK_QUOTE, tr_id, output=output)

    def _asking_price(self, req: Request, tr_id: str) -> Response:
        """inquire-asking-price-exp-ccn: ten levels a side of the book (output1) and the quote (output2)."""
        q = req.query
        self._need(q, ("FID_COND_MRKT_DIV_CODE", "FID_INPUT_ISCD"))
        self._market_code(q["FID_COND_MRKT_DIV_CODE"], "FID_COND_MRKT_DIV_CODE")
        code = q["FID_INPUT_ISCD"].strip()
        quote = self.market.quote(code)
        with self.exchange.lock:
            snap = None if quote is None else self.book.snapshot(code, self.exchange.open_orders())
        output1, output2 = asking_price_output(code, quote, snap)
        return self._ok(OK_QUOTE, tr_id, output1=output1, output2=output2)

    def _stock_info(self, req: Request, tr_id: str) -> Response:
        q = req.query
        self._need(q, ("PRDT_TYPE_CD", "PDNO"))
        if q["PRDT_TYPE_CD"].strip() != "300":  # 300: 주식, ETF, ETN, ELW
            raise invalid("PRDT_TYPE_CD")
        code = q["PDNO"].strip()
        if not self.market.knows(code):
            return self._ok(OK_QUOTE, tr_id, output={"pdno": code, "prdt_type_cd": "300", "prdt_name": "",
                                                     "prdt_abrv_name": "", "scty_grp_id_cd": ""})
        group = self.market.group(code)
        name = self.market.name(code)
        output = {"pdno": code, "prdt_type_cd": "300", "prdt_name": name, "prdt_abrv_name": name,
                  "prdt_eng_name": "", "mket_id_cd": "STK", "scty_grp_id_cd": group,
                  "excg_dvsn_cd": "02", "etf_dvsn_cd": "0" if group == "ST" else "1", "tr_stop_yn": "N",
                  "admn_item_yn": "N", **sim_venues.stock_info_fields(code)}
        return self._ok(OK_QUOTE, tr_id, output=output)

    def _multi_price(self, req: Request, tr_id: str) -> Response:
        q = req.query
        self._need(q, ("FID_COND_MRKT_DIV_CODE_1", "FID_INPUT_ISCD_1"))
        rows = []
        for n in range(1, ep.MULTI_PRICE_MAX_CODES + 1):
            code = q.get(f"FID_INPUT_ISCD_{n}")
            if code is None:
                continue
            self._market_code(q.get(f"FID_COND_MRKT_DIV_CODE_{n}", ""), f"FID_COND_MRKT_DIV_CODE_{n}")
            code = code.strip()
            if not code:
                continue
            quote = self.market.quote(code)
            if quote is None:
                rows.append({"inter_shrn_iscd": code, "inter_kor_isnm": "", "inter2_prpr": "0",
                             "inter2_prdy_vrss": "0", "prdy_vrss_sign": "3", "prdy_ctrt": "0.00",
                             "acml_vol": "0", "inter2_mxpr": "0", "inter2_llam": "0", "inter2_sdpr": "0"})
                continue
            sign = "2" if quote.change > 0 else "5" if quote.change < 0 else "3"
            rows.append({
                "kospi_kosdaq_cls_name": "KOSPI", "mrkt_trtm_cls_name": "", "hour_cls_code": "0",
                "inter_shrn_iscd": code, "inter_kor_isnm": quote.name, "inter2_prpr": _s(quote.price),
                "inter2_prdy_vrss": _s(quote.change), "prdy_vrss_sign": sign,
                "prdy_ctrt": f"{quote.change_rate:.2f}", "acml_vol": _s(quote.volume),
                "inter2_oprc": _s(quote.open), "inter2_hgpr": _s(quote.high), "inter2_lwpr": _s(quote.low),
                "inter2_llam": _s(quote.lower), "inter2_mxpr": _s(quote.upper), "inter2_sdpr": _s(quote.prev_close),
                "acml_tr_pbmn": _s(quote.volume * quote.price),
            })
        return self._ok(OK_QUOTE, tr_id, output=rows)

    # orders -----------------------------------------------------------------------------------------------
    def _order_cash(self, req: Request, tr_id: str) -> Response:
        if self.faults.take_drop_before_order():
            return Response(0, drop=True)
        body = self._body(req)
        self._need(body, ORDER_FIELDS)
        self._check_account(body)
        self._refuse_irp_orders()
        code = body["PDNO"].strip()
        order_type = body["ORD_DVSN"]
        if order_type not in ORDER_TYPES:
            raise invalid("ORD_DVSN")
        qty = self._int(body, "ORD_QTY")
        price = self._int(body, "ORD_UNPR")
        exchange_id = body.get("EXCG_ID_DVSN_CD", "KRX") or "KRX"
        if exchange_id not in sim_venues.VENUES:  # KRX, NXT, SOR (order_rvsecncl.py)
            raise invalid("EXCG_ID_DVSN_CD")
        if exchange_id != "KRX" and not sim_venues.on_nxt(code):  # an ETF or a stock off NXT's list
            raise Refusal(sim_venues.NOT_ON_NXT)
        side = BUY if tr_id in BUY_TRS else SELL
        try:
            order = self.exchange.place(code, side, order_type, qty, price, tr_id, exchange_id)
        except Rejected as r:
            raise Refusal((r.msg_cd, r.msg1), r.http_status) from None
        return self._order_ack(order, OK_BUY if side == BUY else OK_SELL, tr_id)

    def _revise_cancel(self, req: Request, tr_id: str) -> Response:
        body = self._body(req)
        self._need(body, RVSECNCL_FIELDS)
        self._check_account(body)
        kind = body["RVSE_CNCL_DVSN_CD"]
        if kind not in ("01", "02"):
            raise invalid("RVSE_CNCL_DVSN_CD")
        all_qty = body["QTY_ALL_ORD_YN"]
        if all_qty not in ("Y", "N"):
            raise invalid("QTY_ALL_ORD_YN")
        qty = None if all_qty == "Y" else self._int(body, "ORD_QTY")
        if qty == 0:
            raise invalid("ORD_QTY", "OPSQ2002")
        try:
            if kind == "02":
                order = self.exchange.cancel(body["ORGN_ODNO"].strip(), body["KRX_FWDG_ORD_ORGNO"].strip(), qty, tr_id)
                ok = OK_CANCEL
            else:
                if body["ORD_DVSN"] not in ORDER_TYPES:
                    raise invalid("ORD_DVSN")
                order = self.exchange.revise(body["ORGN_ODNO"].strip(), body["KRX_FWDG_ORD_ORGNO"].strip(),
                                             body["ORD_DVSN"], qty, self._int(body, "ORD_UNPR"), tr_id)
                ok = OK_REVISE
        except Rejected as r:
            raise Refusal((r.msg_cd, r.msg1), r.http_status) from None
        return self._order_ack(order, ok, tr_id)

    def _order_ack(self, order: SimOrder, ok: tuple[str, str], tr_id: str) -> Response:
        return self._acked({"KRX_FWDG_ORD_ORGNO": order.org_no, "ODNO": order.order_no, "ORD_TMD": order.time},
                           ok, tr_id)

    # inquiries -----------------------------------------------------------------------------------------------
    def _query_fields(self, req: Request, names: tuple[str, ...]) -> dict[str, str]:
        q = req.query
        self._need(q, names)
        self._check_account(q)
        return q

    def _continuation(self, req: Request, q: dict[str, str]) -> tuple[str, str]:
        """(fk100, nk100) of a continued inquiry, or ('', '') for page one."""
        nk = q.get("CTX_AREA_NK100", "").strip()
        fk = q.get("CTX_AREA_FK100", "").strip()
        if req.header("tr_cont") == "N" and not nk:
            raise invalid("CTX_AREA_NK100", "OPSQ2002")
        return (fk, nk) if nk else ("", "")

    def _balance(self, req: Request, tr_id: str) -> Response:
        q = self._query_fields(req, BALANCE_FIELDS)
        if q["INQR_DVSN"] != "01":
            raise invalid("INQR_DVSN")  # "02" (by stock) has been refused since 2026-02-10
        for name, allowed in (("AFHR_FLPR_YN", ("N", "Y", "X")), ("UNPR_DVSN", ("01",)),
                              ("FUND_STTL_ICLD_YN", ("N", "Y")), ("FNCG_AMT_AUTO_RDPT_YN", ("N", "Y")),
                              ("PRCS_DVSN", ("00", "01"))):
            if q[name] not in allowed:
                raise invalid(name)
        fk, nk = self._continuation(req, q)
        ex = self.exchange
        with ex.lock:
            version = _s(ex.rows_version)
            if fk and fk.split("!")[-1] != version:
                raise Refusal(DATA_CHANGED, 200)
            codes = list(ex.positions)
            start = codes.index(nk.split("!")[-1]) + 1 if nk and nk.split("!")[-1] in codes else 0
            if nk and start == 0:
                raise Refusal(DATA_CHANGED, 200)
            page = codes[start:start + self.page_rows]
            more = start + self.page_rows < len(codes)
            rows = [self._holding_row(code) for code in page]
            summary = self._balance_summary()
        fk_out = f"{self.account.cano}!{self.account.product}!{version}"
        nk_out = f"{self.account.cano}!{self.account.product}!{page[-1]}" if more and page else ""
        return self._ok(OK_INQUIRY, tr_id, more=more, output1=rows, output2=[summary],
                        ctx_area_fk100=_pad(fk_out), ctx_area_nk100=_pad(nk_out))

    def _holding_row(self, code: str) -> dict[str, str]:
        ex = self.exchange
        pos = ex.positions[code]
        quote = self.market.quote(code)
        price = quote.price
        value = pos.qty * price
        pnl = value - pos.cost
        avg = pos.cost / pos.qty if pos.qty else 0.0
        rate = pnl * 100.0 / pos.cost if pos.cost else 0.0
        return {
            "pdno": code, "prdt_name": quote.name, "trad_dvsn_name": "현금",
            "bfdy_buy_qty": "0", "bfdy_sll_qty": "0", "thdt_buyqty": _s(pos.bought_today),
            "thdt_sll_qty": _s(pos.sold_today), "hldg_qty": _s(pos.qty), "ord_psbl_qty": _s(ex.orderable_qty(code)),
            "pchs_avg_pric": f"{avg:.4f}", "pchs_amt": _s(pos.cost), "prpr": _s(price), "evlu_amt": _s(value),
            "evlu_pfls_amt": _s(pnl), "evlu_pfls_rt": f"{rate:.2f}", "evlu_erng_rt": f"{rate:.8f}",
            "loan_dt": "", "loan_amt": "0", "stln_slng_chgs": "0", "expd_dt": "",
            "fltt_rt": f"{quote.change_rate:.8f}", "bfdy_cprs_icdc": _s(quote.change),
            "item_mgna_rt_name": "20%", "grta_rt_name": "", "sbst_pric": "0", "stck_loan_unpr": "0.0000",
        }

    def _balance_summary(self) -> dict[str, str]:
        ex = self.exchange
        led = ex.ledger
        stock_value = cost = 0
        for code, pos in ex.positions.items():
            stock_value += pos.qty * self.market.quote(code).price
            cost += pos.cost
        # The sim settles at once: D+2 cash is the cash now; the deposit line still shows the day's opening
        # cash, as KIS's dnca_tot_amt does before settlement.
        total = stock_value + led.cash
        return {
            "dnca_tot_amt": _s(led.cash_at_open), "nxdy_excc_amt": _s(led.cash), "prvs_rcdl_excc_amt": _s(led.cash),
            "cma_evlu_amt": "0", "bfdy_buy_amt": "0", "thdt_buy_amt": _s(led.buy_amount), "nxdy_auto_rdpt_amt": "0",
            "bfdy_sll_amt": "0", "thdt_sll_amt": _s(led.sell_amount), "d2_auto_rdpt_amt": "0",
            "bfdy_tlex_amt": "0", "thdt_tlex_amt": _s(led.fees), "tot_loan_amt": "0",
            "scts_evlu_amt": _s(stock_value), "tot_evlu_amt": _s(total), "nass_amt": _s(total),
            "fncg_gld_auto_rdpt_yn": "", "pchs_amt_smtl_amt": _s(cost), "evlu_amt_smtl_amt": _s(stock_value),
            "evlu_pfls_smtl_amt": _s(stock_value - cost), "tot_stln_slng_chgs": "0",
            "bfdy_tot_asst_evlu_amt": _s(total), "asst_icdc_amt": "0", "asst_icdc_erng_rt": "0.00000000",
        }

    def _daily_orders(self, req: Request, tr_id: str) -> Response:
        q = self._query_fields(req, DAILY_FIELDS)
        for name in ("INQR_STRT_DT", "INQR_END_DT"):
            if len(q[name]) != 8 or not q[name].isdigit():
                raise invalid(name, "OPSQ2002")
        side = q["SLL_BUY_DVSN_CD"]
        if side not in ("00", "01", "02"):
            raise invalid("SLL_BUY_DVSN_CD")
        ccld = q["CCLD_DVSN"]
        if ccld not in ("00", "01", "02"):
            raise invalid("CCLD_DVSN")
        if q["INQR_DVSN"] not in ("00", "01"):
            raise invalid("INQR_DVSN")
        code, order_no = q["PDNO"].strip(), q["ODNO"].strip()
        fk, nk = self._continuation(req, q)
        ex = self.exchange
        now = self.clock()
        with ex.lock:
            pending = self._unconfirmed(ex.orders, now)
            venue = q.get("EXCG_ID_DVSN_CD", "KRX").strip() or "KRX"
            if venue not in sim_venues.INQUIRY_VENUES:
                raise invalid("EXCG_ID_DVSN_CD")
            rows = [o for o in ex.orders if q["INQR_STRT_DT"] <= o.day <= q["INQR_END_DT"]
                    and self._listed(o, now) and sim_venues.listed_under(venue, o.venue)
                    and (side == "00" or o.side == side) and (not code or o.code == code)
                    and (not order_no or o.order_no == order_no)
                    and (ccld == "00" or (ccld == "01" and o.filled_qty > 0)
                         or (ccld == "02" and o.remaining + pending.get(o.order_no, 0) > 0))]
            if q["INQR_DVSN"] == "00":  # 역순: newest first
                rows.reverse()
            numbers = [o.order_no for o in rows]
            key = nk.split("!")[-1]
            start = numbers.index(key) + 1 if nk and key in numbers else 0
            if nk and start == 0:
                raise Refusal(DATA_CHANGED, 200)
            page = rows[start:start + self.daily_page_rows]
            more = start + self.daily_page_rows < len(rows)
            out1 = [self._order_row(o, pending) for o in page]
            out2 = {
                "tot_ord_qty": _s(sum(o.qty for o in rows if o.kind != "cancel")),
                "tot_ccld_qty": _s(sum(o.filled_qty for o in rows)),
                "tot_ccld_amt": _s(sum(o.filled_amount for o in rows)),
                "prsm_tlex_smtl": _s(sum(o.fees for o in rows)),
                "pchs_avg_pric": "0.0000",
            }
        fk_out = f"{self.account.cano}!{self.account.product}!{q['INQR_STRT_DT']}"
        nk_out = f"{self.account.cano}!{self.account.product}!{page[-1].order_no}" if more and page else ""
        return self._ok(OK_INQUIRY, tr_id, more=more, output1=out1, output2=out2,
                        ctx_area_fk100=_pad(fk_out), ctx_area_nk100=_pad(nk_out))

    def _listed(self, o: SimOrder, now: datetime) -> bool:
        """KIS lists same-day orders late: an order shows once its own lag has passed."""
        lag = self.faults.lag_of(o.order_no)
        return lag <= 0 or datetime.fromisoformat(o.accepted_at) + timedelta(seconds=lag) <= now

    def _unconfirmed(self, orders: list[SimOrder], now: datetime) -> dict[str, int]:
        """Shares whose cancel KIS took but has not confirmed yet, by the order they were cancelled from; the
        cancel rows themselves by their own number (KIS confirms a cancel later than it takes it)."""
        delay = timedelta(seconds=self.faults.cancel_confirm_delay)
        pending: dict[str, int] = {}
        if delay <= timedelta(0):
            return pending
        for o in orders:
            if o.kind == "cancel" and datetime.fromisoformat(o.accepted_at) + delay > now:
                pending[o.orig_order_no] = pending.get(o.orig_order_no, 0) + o.cancelled_qty
                pending[o.order_no] = o.cancelled_qty
        return pending

    def _order_row(self, o: SimOrder, pending: dict[str, int] | None = None) -> dict[str, str]:
        cancel = o.kind == "cancel"
        waiting = (pending or {}).get(o.order_no, 0)  # cancelled at the exchange, not yet confirmed in the listing
        remaining = o.remaining + (0 if cancel else waiting)
        return {
            "ord_dt": o.day, "ord_gno_brno": "00950", "odno": o.order_no, "orgn_odno": o.orig_order_no,
            "ord_dvsn_name": ORDER_TYPES.get(o.order_type, "") + ("취소" if cancel else ""),
            "sll_buy_dvsn_cd": o.side, "sll_buy_dvsn_cd_name": "현금매수" if o.side == BUY else "현금매도",
            "pdno": o.code, "prdt_name": o.name, "ord_qty": _s(o.qty), "ord_unpr": _s(o.price),
            "ord_tmd": o.time, "tot_ccld_qty": _s(o.filled_qty), "avg_prvs": _s(o.avg_price),
            "cncl_yn": "Y" if cancel else "N", "tot_ccld_amt": _s(o.filled_amount), "loan_dt": "",
            "ordr_empno": "", "ord_dvsn_cd": "00" if self.faults.list_as_limit else o.order_type,
            self.faults.cancel_qty_key: _s(o.cancelled_qty - waiting),
            "rmn_qty": _s(remaining), "rjct_qty": "0", "ccld_cndt_name": "없음", "inqr_ip_addr": "",
            "cpbc_ordp_ord_rcit_dvsn_cd": "", "cpbc_ordp_infm_mthd_dvsn_cd": "", "infm_tmd": "",
            "ctac_tlno": "", "prdt_type_cd": "300", "excg_dvsn_cd": "01", "cpbc_ordp_mtrl_dvsn_cd": "",
            "ord_orgno": o.org_no, "rsvn_ord_end_dt": "", "excg_id_dvsn_cd": o.venue, "stpm_cndt_pric": "0",
            "stpm_efct_occr_dtmd": "",
        }

    def _buyable(self, req: Request, tr_id: str) -> Response:
        q = self._query_fields(req, BUYABLE_FIELDS)
        order_type = q["ORD_DVSN"]
        if order_type not in ORDER_TYPES:
            raise invalid("ORD_DVSN")
        price = self._int(q, "ORD_UNPR", allow_empty=True)
        code = q["PDNO"].strip()
        try:
            row = self.exchange.buying_power(code, price, order_type)
        except Rejected as r:
            raise Refusal((r.msg_cd, r.msg1), r.http_status) from None
        # 미수: max_buy_* count on a buy paying only the margin rate in cash now; nrcvb_buy_* (미수 없는) do not.
        output = {
            "ord_psbl_cash": _s(row.cash), "ord_psbl_sbst": "0", "ruse_psbl_amt": "0", "fund_rpch_chgs": "0",
            "psbl_qty_calc_unpr": _s(row.unit), "nrcvb_buy_amt": _s(row.amount), "nrcvb_buy_qty": _s(row.qty),
            "max_buy_amt": _s(row.max_amount), "max_buy_qty": _s(row.max_qty), "cma_evlu_amt": "0",
            "ovrs_re_use_amt_wcrc": "0", "ord_psbl_frcr_amt_wcrc": "0",
        }
        return self._ok(OK_INQUIRY, tr_id, output=output)

    # envelopes ------------------------------------------------------------------------------------------------
    @staticmethod
    def _headers(tr_id: str, tr_cont: str = "") -> dict[str, str]:
        return {"tr_id": tr_id, "tr_cont": tr_cont, "gt_uid": secrets.token_hex(16)}

    def _ok(self, msg: tuple[str, str], tr_id: str, *, more: bool | None = None, **payload) -> Response:
        body = {"rt_cd": "0", "msg_cd": msg[0], "msg1": msg[1], **payload}
        tr_cont = "" if more is None else ("M" if more else "D")
        return Response(200, body, self._headers(tr_id, tr_cont))

    @staticmethod
    def _dropped() -> Response:
        """No answer: the connection closes before the exchange sees the request."""
        return Response(0, drop=True)

    def _refuse(self, msg_cd: str, msg1: str, status: int, tr_id: str) -> Response:
        return Response(status, {"rt_cd": "1", "msg_cd": msg_cd, "msg1": msg1}, self._headers(tr_id))

    def _server_error(self) -> Response:
        if self.faults.roll_server_error():
            return Response(502, raw=b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>",
                            headers={"content-type": "text/html"})
        return Response(500, raw=b"", headers={"content-type": "text/plain"})
