"""KRX as a market: its codes (kis/codes.py), sessions (kis/krx.py), grid (kis/ticks.py), tr_ids (kis/endpoints.py)."""
from __future__ import annotations

from kis import endpoints as ep
from kis.codes import is_code
from kis.krx import KST, REGULAR_SESSION, session_hours
from kis.markets.base import KRW, Endpoint, Market
from kis.models import Env
from kis.ticks import STOCK, round_to_tick, tick_size


def _endpoint(name: str, path: str, field: str, method: str = "GET") -> Endpoint:
    return Endpoint(name, path, {env: getattr(ep.TR_IDS[env], field) for env in Env}, method)


ENDPOINTS = {
    "price": _endpoint("the quote (inquire-price)", ep.PRICE, "price"),
    "multi_price": _endpoint("the multi-stock quote (intstock-multprice)", ep.MULTI_PRICE, "multi_price"),
    "stock_info": _endpoint("the stock info (search-stock-info)", ep.STOCK_INFO, "stock_info"),
    "balance": _endpoint("the balance (inquire-balance)", ep.BALANCE, "balance"),
    "buyable": _endpoint("the buying power (inquire-psbl-order)", ep.BUYABLE, "buyable"),
    "buy": _endpoint("a buy (order-cash)", ep.ORDER_CASH, "buy", "POST"),
    "sell": _endpoint("a sell (order-cash)", ep.ORDER_CASH, "sell", "POST"),
    "revise_cancel": _endpoint("a revise or cancel (order-rvsecncl)", ep.ORDER_REVISE_CANCEL, "revise_cancel", "POST"),
    "orders": _endpoint("today's orders (inquire-daily-ccld)", ep.DAILY_ORDERS, "daily_orders"),
}

# KRX's grid here is the stock grid, whose prices are on every KRX grid; an ETF's finer one is told per code by
# inquire-price's aspr_unit (`KisClient.tick_grid`).
KRX = Market(code="KRX", name="Korea Exchange", currency=KRW, calendar="XKRX", tz=KST, regular=REGULAR_SESSION,
             quote_code="J", prefixes=("KRX",), endpoints=ENDPOINTS, _is_symbol=is_code, _session=session_hours,
             _tick=lambda price: tick_size(int(price), STOCK),
             _round=lambda price, direction="nearest": round_to_tick(int(price), direction, STOCK))
