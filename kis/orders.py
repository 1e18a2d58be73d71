"""Finding an order among today's orders: how an unanswered order POST is settled without guessing.

An order whose POST got no answer either reached the exchange (it shows up in inquire-daily-ccld,
sometimes late) or did not. Only a lookup that worked and found nothing allows sending it again.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Collection, Iterable

from kis.models import OrderAck, OrderSide, OrderStatus, OrderType

CLOCK_SKEW = timedelta(seconds=60)  # our clock vs KIS's ORD_TMD: too narrow would re-send an order that arrived
LOOKUP_DELAYS = (1.0, 2.0, 4.0)  # seconds before each lookup: same-day orders can show up late


def since_stamp(sent_at: datetime, skew: timedelta = CLOCK_SKEW) -> str:
    """The earliest ORD_TMD (HHMMSS, KST) an order sent at `sent_at` can carry."""
    earliest = sent_at - skew
    if earliest.date() != sent_at.date():
        return "000000"
    return earliest.strftime("%H%M%S")


def same_order_no(order_no: str) -> str:
    """Order numbers compared without KIS's zero padding ("0000117057" is "117057")."""
    return order_no.strip().lstrip("0")


def matching_orders(orders: Iterable[OrderStatus], code: str, side: OrderSide, qty: int,
                    order_type: OrderType, price: int, *, since: str,
                    exclude: Collection[str] = ()) -> list[OrderStatus]:
    """Today's original orders that could be the one sent, earliest first.

    Revise/cancel rows (orig_order_no set) and orders the caller already knows are left out; the price
    is compared for limit orders only (KIS shows 0 or the fill price for the others).
    """
    known = {same_order_no(n) for n in exclude}
    found = [
        o for o in orders
        if o.code == code and o.side is side and o.qty == qty and o.order_type is order_type
        and (order_type is not OrderType.LIMIT or o.price == price)
        and (o.time or "000000") >= since
        and not o.orig_order_no.strip("0")
        and same_order_no(o.order_no) not in known
    ]
    return sorted(found, key=lambda o: (o.time, o.order_no))


def ack_from_status(status: OrderStatus, order_type: OrderType, price: int) -> OrderAck:
    """The acknowledgement the lost answer would have carried."""
    return OrderAck(order_no=status.order_no, org_no=status.org_no, code=status.code, side=status.side,
                    qty=status.qty, order_type=order_type, price=price, time=status.time)
