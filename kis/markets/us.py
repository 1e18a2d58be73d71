"""The US exchanges KIS trades (NASD, NYSE, AMEX): paths, tr_ids per environment, exchange codes, sessions.

Source: koreainvestment/open-trading-api, examples_llm/overseas_stock/* (price, price_detail, search_info,
inquire_balance, inquire_present_balance, inquire_psamount, order, order_rvsecncl, inquire_ccnl, inquire_nccs,
daytime_order) and the mock Postman collection (legacy/postman), which lists no price-detail, search-info,
psamount nor daytime order: KIS mock serves none of them. The simulator serves price-detail and search-info
(as it serves KRX's stock info) so names and exchanges are tested end to end.
"""
from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

from kis.calendars import session_hours
from kis.codes import is_ticker
from kis.markets.base import USD, Endpoint, Market
from kis.models import Env
from kis.ticks import round_us_price, us_tick

NEW_YORK = ZoneInfo("America/New_York")
REGULAR = (time(9, 30), time(16, 0))  # New York local: 23:30-06:00 KST in winter, 22:30-05:00 in US summer time
CALENDAR = "XNYS"  # Nasdaq and NYSE American keep NYSE's holidays and early closes


def _envs(real: str | None, mock: str | None, sim: str | None = "") -> dict[Env, str | None]:
    """tr_ids per environment; the simulator takes mock's unless it says otherwise."""
    return {Env.REAL: real, Env.MOCK: mock, Env.SIM: mock if sim == "" else sim}


PRICE = Endpoint("the overseas quote (price)", "/uapi/overseas-price/v1/quotations/price",
                 _envs("HHDFS00000300", "HHDFS00000300"))
PRICE_DETAIL = Endpoint("the overseas quote detail (price-detail)", "/uapi/overseas-price/v1/quotations/price-detail",
                        _envs("HHDFS76200200", None, "HHDFS76200200"))
SEARCH_INFO = Endpoint("the overseas product lookup (search-info)", "/uapi/overseas-price/v1/quotations/search-info",
                       _envs("CTPF1702R", None, "CTPF1702R"))
BALANCE = Endpoint("the overseas balance (inquire-balance)", "/uapi/overseas-stock/v1/trading/inquire-balance",
                   _envs("TTTS3012R", "VTTS3012R"))
PRESENT_BALANCE = Endpoint("the overseas balance in won (inquire-present-balance)",
                           "/uapi/overseas-stock/v1/trading/inquire-present-balance", _envs("CTRP6504R", "VTRP6504R"))
# Later slices (orders) use these; listed here so one table holds every US tr_id. psamount on mock: not in
# KIS's mock Postman collection, named VTTS3007R by the samples' own env switch (unverified).
BUYABLE = Endpoint("the overseas buying power (inquire-psamount)", "/uapi/overseas-stock/v1/trading/inquire-psamount",
                   _envs("TTTS3007R", "VTTS3007R"))
BUY = Endpoint("an overseas buy (order)", "/uapi/overseas-stock/v1/trading/order", _envs("TTTT1002U", "VTTT1002U"),
               "POST")
SELL = Endpoint("an overseas sell (order)", "/uapi/overseas-stock/v1/trading/order", _envs("TTTT1006U", "VTTT1001U"),
                "POST")
REVISE_CANCEL = Endpoint("an overseas revise or cancel (order-rvsecncl)",
                         "/uapi/overseas-stock/v1/trading/order-rvsecncl", _envs("TTTT1004U", "VTTT1004U"), "POST")
ORDERS = Endpoint("the overseas orders and fills (inquire-ccnl)", "/uapi/overseas-stock/v1/trading/inquire-ccnl",
                  _envs("TTTS3035R", "VTTS3035R"))
OPEN_ORDERS = Endpoint("the overseas open orders (inquire-nccs)", "/uapi/overseas-stock/v1/trading/inquire-nccs",
                       _envs("TTTS3018R", None))
DAYTIME_BUY = Endpoint("a US daytime buy (daytime-order)", "/uapi/overseas-stock/v1/trading/daytime-order",
                       _envs("TTTS6036U", None), "POST")
DAYTIME_SELL = Endpoint("a US daytime sell (daytime-order)", "/uapi/overseas-stock/v1/trading/daytime-order",
                        _envs("TTTS6037U", None), "POST")

ENDPOINTS = {"price": PRICE, "price_detail": PRICE_DETAIL, "search_info": SEARCH_INFO, "balance": BALANCE,
             "present_balance": PRESENT_BALANCE, "buyable": BUYABLE, "buy": BUY, "sell": SELL,
             "revise_cancel": REVISE_CANCEL, "orders": ORDERS, "open_orders": OPEN_ORDERS,
             "daytime_buy": DAYTIME_BUY, "daytime_sell": DAYTIME_SELL}


def us_session(day: date):
    """The US regular session on the New York `day` (XNYS: holidays, 13:00 early closes), or None."""
    return session_hours(CALENDAR, day, NEW_YORK, REGULAR)


def _us(code: str, name: str, quote_code: str, product_type: str, balance_market: str,
        prefixes: tuple[str, ...]) -> Market:
    return Market(code=code, name=name, currency=USD, calendar=CALENDAR, tz=NEW_YORK, regular=REGULAR,
                  quote_code=quote_code, product_type=product_type, balance_market=balance_market,
                  prefixes=prefixes, endpoints=ENDPOINTS, _is_symbol=is_ticker, _session=us_session,
                  _tick=us_tick, _round=round_us_price)


# One table of exchange codes: order (NASD, NYSE, AMEX), quote (NAS, NYS, AMS), search-info product type and
# present-balance market code. Asking a ticker on the wrong one answers APBK0656 "해당종목정보가 없습니다".
NASD = _us("NASD", "Nasdaq", "NAS", "512", "01", ("NASD", "NAS", "NASDAQ"))
NYSE = _us("NYSE", "New York Stock Exchange", "NYS", "513", "02", ("NYSE", "NYS"))
AMEX = _us("AMEX", "NYSE American", "AMS", "529", "05", ("AMEX", "AMS", "ARCA", "NYSEARCA"))
US_MARKETS = (NASD, NYSE, AMEX)  # the order a bare ticker is looked up in
