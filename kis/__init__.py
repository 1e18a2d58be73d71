"""The KIS Open API client: `open_client()` for the configured account, typed models and errors."""
from __future__ import annotations

import dataclasses

from kis.client import KisClient
from kis.config import KisConfig, load_kis_config
from kis.endpoints import DAILY_ORDERS_PAGE_ROWS
from kis.errors import (ConfigError, DataChanged, KisError, KisTransportError, NoAnswer, NotSent, NotServed,
                        OrderUncertain, RateLimited, TokenExpired, TokenInvalid, TokenIssueTooFrequent, UnknownStock)
from kis.models import (Account, Balance, BuyingPower, CurrencyCash, Env, Fill, Holding, OrderAck, OrderSide,
                        OrderStatus, OrderType, Quote, UsBalance, UsHolding, UsQuote)
from kis.notices import Correction, Notice, NoticeKind, Trade
from kis.orders import Lookup, interchangeable, look_up, same_order_no


def open_client(config: KisConfig | None = None, **client_options) -> KisClient:
    """A client for the configured account; for `sim`, the simulator is found or started and says its websocket."""
    config = config or load_kis_config()
    if config.env is Env.SIM:
        from kis.sim import find_or_start, ws_url_of  # lazily: only the sim environment needs the simulator

        if not config.base_url:
            config = dataclasses.replace(config, base_url=find_or_start(config).rstrip("/"))
        if not config.ws_url:  # the notice stream reads the config only: it never asks the simulator
            config = dataclasses.replace(config, ws_url=ws_url_of(config.base_url))
    return KisClient(config, **client_options)


__all__ = [
    "KisClient", "KisConfig", "open_client", "load_kis_config",
    "Account", "Balance", "BuyingPower", "Env", "Fill", "Holding", "OrderAck", "OrderSide", "OrderStatus",
    "OrderType", "Quote", "CurrencyCash", "UsBalance", "UsHolding", "UsQuote",
    "ConfigError", "DataChanged", "KisError", "KisTransportError", "NoAnswer", "NotSent", "NotServed", "OrderUncertain",
    "RateLimited",
    "TokenExpired", "TokenInvalid", "TokenIssueTooFrequent", "UnknownStock",
    # finding an order among today's orders: the one rule, for whoever holds the rows
    "Lookup", "interchangeable", "look_up", "same_order_no",
    # order and fill notices as the websocket delivers them
    "Correction", "Notice", "NoticeKind", "Trade",
    "DAILY_ORDERS_PAGE_ROWS",
]
