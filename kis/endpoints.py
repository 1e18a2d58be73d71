"""Paths and tr_ids of the KIS domestic-stock REST API, one table per environment.

Source: koreainvestment/open-trading-api, examples_llm/domestic_stock/*/ (order_cash.py,
order_rvsecncl, inquire_balance, inquire_daily_ccld.py, inquire_psbl_order.py, inquire_price,
intstock_multprice.py) and examples_user/kis_auth.py. The mock tr_id is the real one with its first
letter made V. VTTC0802U/0801U/0803U are older mock names of buy/sell/revise-cancel that older samples send.
"""
from __future__ import annotations

from dataclasses import dataclass

from kis.models import Env

TOKEN = "/oauth2/tokenP"
REVOKE = "/oauth2/revokeP"
APPROVAL = "/oauth2/Approval"  # websocket approval key (body field `secretkey`, not `appsecret`)
HASHKEY = "/uapi/hashkey"
PRICE = "/uapi/domestic-stock/v1/quotations/inquire-price"
MULTI_PRICE = "/uapi/domestic-stock/v1/quotations/intstock-multprice"
# 주식현재가 호가/예상체결 (inquire_asking_price_exp_ccn.py): ten levels a side; FHKST01010200 on real and mock
ASKING_PRICE = "/uapi/domestic-stock/v1/quotations/inquire-asking-price-exp-ccn"
ASKING_PRICE_TR = "FHKST01010200"
ORDER_CASH = "/uapi/domestic-stock/v1/trading/order-cash"
ORDER_REVISE_CANCEL = "/uapi/domestic-stock/v1/trading/order-rvsecncl"
BALANCE = "/uapi/domestic-stock/v1/trading/inquire-balance"
DAILY_ORDERS = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld"
BUYABLE = "/uapi/domestic-stock/v1/trading/inquire-psbl-order"
STOCK_INFO = "/uapi/domestic-stock/v1/quotations/search-stock-info"  # 주식기본조회 (search_stock_info.py)

MULTI_PRICE_MAX_CODES = 30

BASE_URLS = {
    Env.REAL: "https://openapi.koreainvestment.com:9443",
    Env.MOCK: "https://openapivts.koreainvestment.com:29443",
}


@dataclass(frozen=True)
class TrIds:
    """The tr_id of each call in one environment."""

    price: str
    multi_price: str | None  # None where the environment does not serve it
    sell: str
    buy: str
    revise_cancel: str
    balance: str
    daily_orders: str
    buyable: str
    stock_info: str | None = None  # None where the environment does not serve it


REAL_TR = TrIds(
    price="FHKST01010100",
    multi_price="FHKST11300006",
    sell="TTTC0011U",
    buy="TTTC0012U",
    revise_cancel="TTTC0013U",
    balance="TTTC8434R",
    daily_orders="TTTC0081R",
    buyable="TTTC8908R",
    stock_info="CTPF1002R",
)

# Mock does not serve the multi-stock quote nor the stock info (CTPF1002R is only in the official real-account
# Postman collection); quotes are the same tr_id.
MOCK_TR = TrIds(
    price="FHKST01010100",
    multi_price=None,
    sell="VTTC0011U",
    buy="VTTC0012U",
    revise_cancel="VTTC0013U",
    balance="VTTC8434R",
    daily_orders="VTTC0081R",
    buyable="VTTC8908R",
)

# The simulator speaks the mock protocol; it also serves the multi-stock quote so the demo is quick,
# and the stock info so names and ETF taxes are tested end to end.
SIM_TR = TrIds(**{**MOCK_TR.__dict__, "multi_price": "FHKST11300006", "stock_info": "CTPF1002R"})

TR_IDS = {Env.REAL: REAL_TR, Env.MOCK: MOCK_TR, Env.SIM: SIM_TR}

# Order/fill notices over the websocket (examples_llm/domestic_stock/ccnl_notice/ccnl_notice.py: "모의투자는
# H0STCNI9"); the URLs are kis_devlp.yaml's ops/vops, the path the current sample's KISWebSocket(api_url=...).
NOTICE_TR_IDS = {Env.REAL: "H0STCNI0", Env.MOCK: "H0STCNI9", Env.SIM: "H0STCNI9"}
# US fills on the same session (examples_llm/overseas_stock/ccnl_notice/ccnl_notice.py: real H0GSCNI0, demo H0GSCNI9)
US_NOTICE_TR_IDS = {Env.REAL: "H0GSCNI0", Env.MOCK: "H0GSCNI9", Env.SIM: "H0GSCNI9"}
WS_URLS = {Env.REAL: "ws://ops.koreainvestment.com:21000", Env.MOCK: "ws://ops.koreainvestment.com:31000"}
WS_PATH = "/tryitout"

# KIS per-second call limits per account (KIS notice of 2026-04-20).
DEFAULT_RATE_LIMIT = {Env.REAL: 18.0, Env.MOCK: 1.0, Env.SIM: 1.0}

# Rows per page of the daily-orders inquiry.
DAILY_ORDERS_PAGE_ROWS = {Env.REAL: 100, Env.MOCK: 15, Env.SIM: 15}
