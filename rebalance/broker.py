"""What a TWAP run needs of a broker: the calls of `kis.KisClient` it makes, as a Protocol.

Every failure of a call is a `KisError` or a `KisTransportError` (an order's lost answer: `OrderUncertain`);
the test doubles keep the same surface and raise the same types.
"""
from __future__ import annotations

from typing import Collection, Protocol

from kis.models import Balance, BuyingPower, OrderAck, OrderSide, OrderStatus, OrderType, Quote


class BrokerAccount(Protocol):
    """The account a broker trades and the calls per second it may make."""

    @property
    def account(self) -> object: ...

    @property
    def rate_limit(self) -> float: ...


class Broker(Protocol):
    """Quotes, cash, orders and today's orders of one account."""

    @property
    def config(self) -> BrokerAccount: ...

    def price(self, code: str) -> Quote: ...

    def balance(self) -> Balance: ...

    def buying_power(self, code: str, price: int = 0, order_type: OrderType = OrderType.MARKET) -> BuyingPower: ...

    def order(self, code: str, side: OrderSide, qty: int, order_type: OrderType = OrderType.LIMIT,
              price: int = 0) -> OrderAck: ...

    def cancel(self, order_no: str, org_no: str, qty: int = 0) -> OrderAck: ...

    def orders_today(self, code: str | None = None, *,
                     wanted: Collection[str] | None = None) -> list[OrderStatus]: ...
