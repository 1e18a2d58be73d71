"""Finding an order among today's orders: how an unanswered order POST is settled without guessing.

An order whose POST got no answer either reached the exchange (it shows up in inquire-daily-ccld,
sometimes late) or did not. KIS stamps ORD_TMD when it accepts an order, so the order can only be a
row stamped near the moment it was sent; KIS may list another `ord_dvsn_cd` than the one sent, so
type and price only break ties between rows that match on code, side and quantity.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Collection, Iterable, Protocol

from kis.models import OrderSide, OrderStatus, OrderType

CLOCK_SKEW = timedelta(seconds=60)  # our clock vs KIS's ORD_TMD: too narrow would miss an order that arrived


def since_stamp(sent_at: datetime, skew: timedelta = CLOCK_SKEW) -> str:
    """The earliest ORD_TMD (HHMMSS, KST) an order sent at `sent_at` can carry."""
    earliest = sent_at - skew
    if earliest.date() != sent_at.date():
        return "000000"
    return earliest.strftime("%H%M%S")


def until_stamp(sent_at: datetime, skew: timedelta = CLOCK_SKEW) -> str:
    """The latest ORD_TMD (HHMMSS, KST) an order sent at `sent_at` can carry."""
    latest = sent_at + skew
    if latest.date() != sent_at.date():
        return "235959"
    return latest.strftime("%H%M%S")


class SentOrder(Protocol):
    """An order as its sender knows it: what was asked for, and when it left."""

    code: str
    side: OrderSide
    qty: int
    sent_at: datetime


def interchangeable(a: SentOrder, b: SentOrder) -> bool:
    """Two orders that today's rows could not tell apart: same code, side and quantity, sent within each
    other's lookup windows."""
    return (a.code, a.side, a.qty) == (b.code, b.side, b.qty) and abs(a.sent_at - b.sent_at) <= 2 * CLOCK_SKEW


def same_order_no(order_no: str) -> str:
    """Order numbers compared without KIS's zero padding ("0000117057" is "117057")."""
    return order_no.strip().lstrip("0")


def matching_orders(orders: Iterable[OrderStatus], code: str, side: OrderSide, qty: int,
                    order_type: OrderType, price: int, *, since: str, until: str = "235959",
                    exclude: Collection[str] = ()) -> list[OrderStatus]:
    """Today's original orders that could be the one sent: the likeliest first.

    A candidate has the code, side and quantity and an ORD_TMD in [since, until]; revise/cancel rows
    and orders the caller already knows are left out. Rows that also show the type (and, for a limit
    order, the price) sent come first; if any do, the others are dropped, since they only tie-break.
    """
    known = {same_order_no(n) for n in exclude}
    found = sorted((
        o for o in orders
        if o.code == code and o.side is side and o.qty == qty
        and since <= (o.time or since) <= until
        and not o.orig_order_no.strip("0")
        and same_order_no(o.order_no) not in known
    ), key=lambda o: (o.time, o.order_no))
    exact = [o for o in found if o.order_type is order_type
             and (order_type is not OrderType.LIMIT or o.price == price)]
    return exact or found


@dataclass(frozen=True)
class Lookup:
    """What today's orders say about an unanswered order: `found` when exactly one row can be it."""

    found: OrderStatus | None
    candidates: int

    @property
    def ambiguous(self) -> bool:
        return self.found is None and self.candidates > 1


def look_up(orders: Iterable[OrderStatus], code: str, side: OrderSide, qty: int, order_type: OrderType,
            price: int, sent_at: datetime, exclude: Collection[str] = (), *, alike: int = 1) -> Lookup:
    """The row of today's orders an order sent at `sent_at` (KST) became; never a guess between two.

    `alike`: how many unanswered orders of the caller are interchangeable with this one (same code,
    side, quantity, time window). Up to that many candidates can only be theirs, so the earliest is
    taken; more candidates than that and the order is ambiguous.
    """
    found = matching_orders(orders, code, side, qty, order_type, price, since=since_stamp(sent_at),
                            until=until_stamp(sent_at), exclude=exclude)
    return Lookup(found[0] if 1 <= len(found) <= max(1, alike) else None, len(found))
