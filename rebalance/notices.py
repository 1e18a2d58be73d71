"""What the TWAP executor does with KIS's order and fill notices: faster news, never more orders.

Notices resolve unanswered orders and bring fills to the chat at once, and while the stream proves
healthy the executor polls at a slow reconciliation pace. The same session's trade prices price
guard-limited orders without an inquire-price call while they are fresh. Polling stays the source of truth: a
notice only ever ties an order to the exchange or raises a fill the exchange reported; it never
frees shares for another order (a refusal or a cancel notice only asks for a poll).

US fills (H0GSCNI0/9) come on the same session as `Notice`s with `market` US: a consumer takes only the
markets it is made for (KRX by default, so a KRX run never parks a US fill as unknown), and `notice_order`
ties a notice to the run's order of the same number in the same market (KRX and US number apart).
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable, Collection, Iterable, Protocol, Sequence, runtime_checkable

from kis import Correction, Notice, NoticeKind, Trade, look_up, same_order_no
from kis.markets import is_us_symbol
from kis.krx import KST
from kis.models import OrderStatus, OrderType, Quote
from kis.ticks import STOCK, price_limits
from rebalance.i18n import Msg
from rebalance.journal import OrderRecord
from rebalance.lifecycle import OrderState

log = logging.getLogger(__name__)

ACCEPT_GAP = timedelta(seconds=3)  # an acked order's acceptance notice later than this: the stream has a gap
SLOW_POLL_SECONDS = 120.0  # reconciliation poll pace while the stream is trusted (fills come by notice)
CASH_SECONDS = 120.0  # how long a buying-power answer, less what was spent since, serves later buys
PENDING_KEPT = 1000
# A streamed trade price at most this old is the latest known price; older (a quiet stock, a stalled
# feed), the order asks inquire-price. At KRX's pace a liquid stock trades several times a second.
PRICE_FRESH_SECONDS = 5.0


class NoticeFeed(Protocol):
    """What the executor needs of a notice stream (kis.notices.NoticeStream)."""

    healthy: bool
    generation: int

    def add_listener(self, fn: Callable[[Notice], None]) -> None: ...

    def remove_listener(self, fn: Callable[[Notice], None]) -> None: ...


@runtime_checkable
class PriceFeed(Protocol):
    """Trade prices on the notice session (kis.notices.NoticeStream.watch/price)."""

    def watch(self, codes: Iterable[str]) -> list[str]: ...

    def price(self, code: str, max_age: float) -> Trade | None: ...


# ---- what the user reads about the stream ----------------------------------------------------------------

def stream_news(news) -> Msg:
    """The sentence of a stream's news (kis.notices.StreamNews: `kind`, `params()`), put into words where shown."""
    return Msg(f"notices.{news.kind}", **news.params())


def stream_health(stream) -> Msg:
    """What /health says of a notice stream (kis.notices.NoticeStream): its state, and why it is off."""
    state = getattr(stream.state, "value", str(stream.state))
    refusal = getattr(stream, "refusal", None)
    if state == "refused" and refusal is not None:
        return Msg(f"notices.health_{refusal.kind}", **refusal.params())
    if state == "refused":
        return Msg("notices.health_refused_answer", hts_id=getattr(stream, "hts_id", ""), code="")
    return Msg(f"notices.health_{state}")


# ---- pure rules ----------------------------------------------------------------------------------------

def streamed_quote(trade: Trade, guard: float) -> Quote | None:
    """A streamed price as the quote guard_price reads; None when inquire-price must answer instead.

    The day's band comes from the previous close the frame's change is against, on the stock grid
    (inside the true band on the ETF grid too, whose ticks divide the stock grid's); the tick is the
    stock grid's, on which every price is valid for both. A price within the guard of the band, or
    without a previous close, asks inquire-price for KIS's own band.
    """
    if trade.prev_close <= 0 or trade.price <= 0:
        return None
    upper, lower = price_limits(trade.prev_close, STOCK)
    if not lower < trade.price * (1 - guard) or not trade.price * (1 + guard) < upper:
        return None
    change = trade.price - trade.prev_close
    return Quote(code=trade.code, price=trade.price, change=change,
                 change_rate=round(change * 100.0 / trade.prev_close, 2), upper_limit=upper, lower_limit=lower,
                 tick=STOCK.tick(trade.price))


def order_key(order_no: str, market: str = "KRX") -> str:
    """How the consumer keys an order: its number, a US one marked apart (KRX and US number separately)."""
    number = same_order_no(order_no)
    return number if market == "KRX" else f"{market}:{number}"


def notice_order(notice: Notice, orders: Iterable[OrderRecord]) -> OrderRecord | None:
    """The order of `orders` this notice is about: the same order number in the same market (a US notice
    names a US ticker's order, a KRX notice a KRX code's), so a KRX and a US order sharing a number never mix."""
    number = same_order_no(notice.order_no)
    return next((o for o in orders if o.order_no and same_order_no(o.order_no) == number
                 and is_us_symbol(o.code) == notice.is_us), None)


def acceptance_status(notice: Notice) -> OrderStatus:
    """An acceptance notice as the row today's orders would show for the order."""
    try:
        order_type: OrderType | None = OrderType(notice.order_type)
    except ValueError:
        order_type = None
    qty = notice.order_qty or notice.qty
    return OrderStatus(order_no=notice.order_no, org_no=notice.branch, orig_order_no=notice.orig_order_no,
                       code=notice.code, name=notice.name, side=notice.side, order_type=order_type,
                       qty=qty, price=notice.price, filled_qty=0, remaining_qty=qty, avg_fill_price=0,
                       filled_amount=0, cancelled=False, time=notice.time)


def unsettled_match(orders: Sequence[OrderRecord], notice: Notice, known: Collection[str],
                    today: date) -> tuple[OrderRecord, OrderStatus] | None:
    """The unanswered (or ruled-out) order of today an acceptance notice is, with the row it stands for.

    The same rule as a lookup in today's orders (kis.orders.look_up), so a notice settles exactly what
    a poll would have; an ambiguous order is left to the user, as a poll leaves it.
    """
    if notice.kind is not NoticeKind.ACCEPTED or notice.correction is not Correction.NEW:
        return None
    status = acceptance_status(notice)
    waiting = [o for o in orders if o.state in (OrderState.INTENT, OrderState.UNRESOLVED, OrderState.ABSENT)
               and o.sent_at.astimezone(KST).date() == today]
    exclude = set(known) | {o.order_no for o in orders if o.order_no}
    for order in sorted(waiting, key=lambda o: o.sent_at):
        alike = sum(1 for o in waiting if (o.code, o.side, o.qty) == (order.code, order.side, order.qty))
        result = look_up([status], order.code, order.side, order.qty, order.order_type, order.price,
                         order.sent_at.astimezone(KST), exclude=exclude, alike=alike)
        if result.found is not None:
            return order, result.found
    return None


def fill_status(order: OrderRecord, noticed_qty: int, noticed_amount: int) -> OrderStatus | None:
    """The row today's orders would show once fill notices told `noticed_qty` filled; None if nothing new.

    Both the journal (polls) and the notices are lower bounds of what filled; the larger one wins
    (reconcile.observe keeps the maximum), so a fill a poll counted first, or a notice delivered
    twice, never counts twice.
    """
    filled = min(order.qty, noticed_qty)
    if filled <= order.filled_qty:
        return None
    amount = noticed_amount if noticed_qty <= order.qty else round(noticed_amount * filled / noticed_qty)
    before = order.remaining if order.remaining is not None else order.qty - order.filled_qty
    remaining = max(0, before - (filled - order.filled_qty))
    return OrderStatus(order_no=order.order_no, org_no=order.org_no, orig_order_no="", code=order.code, name="",
                       side=order.side, order_type=order.order_type, qty=order.qty, price=order.price,
                       filled_qty=filled, remaining_qty=remaining, avg_fill_price=round(amount / filled),
                       filled_amount=amount, cancelled=False,
                       cancelled_qty=max(0, order.qty - filled - remaining))


# ---- the consumer in the worker thread ------------------------------------------------------------------

@dataclass
class NoticeStats:
    notices: int = 0
    repeats: int = 0
    resolved: int = 0  # unanswered orders resolved by an acceptance
    fills: int = 0  # fills journaled from notices before a poll saw them
    distrusts: int = 0


class NoticeConsumer:
    """Queues notices from the stream's thread; the worker drains them and decides the poll pace."""

    def __init__(self, feed: NoticeFeed, alarm: threading.Event, markets: Collection[str] = ("KRX",)):
        self.feed = feed
        self.alarm = alarm
        self.markets = frozenset(markets)  # Notice.market values this run takes (KRX, US); others are not queued
        self._queue: deque[Notice] = deque()
        self._lock = threading.Lock()
        self._seen: set[tuple] = set()
        self.noticed: dict[str, tuple[int, int]] = {}  # order number -> (qty, amount) from fill notices
        self._pending: dict[str, list[Notice]] = {}  # fills of order numbers the journal does not know yet
        self._awaiting: dict[str, datetime] = {}  # acked orders whose acceptance notice has not come
        self.unconfirmed: set[str] = set()  # order numbers with notice fills no poll has shown yet
        self._generation = feed.generation
        self._trusted = False
        self._reconciled = True  # a full-pace poll ran since the last distrust
        self.last_poll: datetime | None = None
        # per stock: KIS's no-미수 buying power for it, less every buy (of any stock) placed since
        self._cash: dict[str, tuple[int, datetime]] = {}
        # per leg whose one figure serves all its buys (US dollars alone): that figure, less its buys since
        self._shared: dict[str, tuple[int, datetime]] = {}
        self.stats = NoticeStats()
        feed.add_listener(self._put)

    def close(self) -> None:
        self.feed.remove_listener(self._put)

    def serves(self, market: str) -> bool:
        """This run takes `market`'s notices and the stream carries them now (US: KIS took H0GSCNI0/9 on this
        session; a feed that does not say serves every market it is given)."""
        if market not in self.markets:
            return False
        return market == "KRX" or getattr(self.feed, "us_live", True) is not False

    def unconfirmed_in(self, market: str) -> bool:
        """Some order of `market` has notice fills no poll of that market has shown yet."""
        if market == "KRX":  # KRX's keys are bare numbers (`order_key`)
            return any(":" not in key for key in self.unconfirmed)
        return any(key.startswith(f"{market}:") for key in self.unconfirmed)

    def _put(self, notice: Notice) -> None:  # the stream's thread
        if getattr(notice, "market", "KRX") not in self.markets:
            return  # another market's notice: not this run's news (its orders are polled by whoever placed them)
        with self._lock:
            self._queue.append(notice)
        self.alarm.set()

    def take(self) -> list[Notice]:
        """New notices in arrival order; repeats of one already taken are dropped."""
        with self._lock:
            batch = list(self._queue)
            self._queue.clear()
        fresh = []
        for notice in batch:
            self.stats.notices += 1
            if notice.identity in self._seen:
                self.stats.repeats += 1
                continue
            self._seen.add(notice.identity)
            fresh.append(notice)
        return fresh

    # trust and pace ------------------------------------------------------------------------------------
    def trusted(self, now: datetime) -> bool:
        """The stream may carry the news: healthy, no reconnect since, no overdue acceptance."""
        if self.feed.generation != self._generation:
            self._generation = self.feed.generation
            self.distrust("the notice stream reconnected")
        if not self.feed.healthy:
            if self._trusted:
                self.distrust("the notice stream is down")
            return False
        if any(now - since > ACCEPT_GAP for since in self._awaiting.values()):
            self._awaiting.clear()
            self.distrust("an order's acceptance notice did not come")
        return self._trusted

    def distrust(self, why: str) -> None:
        if self._trusted:
            log.info("notices: polling at full pace again (%s)", why)
            self.stats.distrusts += 1
        self._trusted = False
        self._reconciled = False
        self._cash = {}
        self._shared = {}

    # cash between buying-power checks -------------------------------------------------------------------
    def cash_seen(self, code: str, amount: int, now: datetime) -> None:
        """KIS's buying power without 미수 for a buy of `code`, just now (one stock's figure serves only it)."""
        self._cash[code] = (amount, now)

    def cash_left(self, code: str, now: datetime) -> int | None:
        """What `code`'s last buying-power answer leaves after the buys of all stocks placed since; None: ask KIS.

        Only while the stream is trusted and the answer is recent; it only ever shrinks, so it never
        allows a buy KIS's own answer would not (and KIS still checks every order).
        """
        seen = self._cash.get(code)
        if seen is None or not self.trusted(now) or (now - seen[1]).total_seconds() > CASH_SECONDS:
            return None
        return seen[0]

    def spend(self, amount: int) -> None:
        """A buy of `amount` won was placed: the account's cash is less for every stock."""
        self._cash = {code: (max(0, left - amount), when) for code, (left, when) in self._cash.items()}

    def forget_cash(self) -> None:
        self._cash = {}
        self._shared = {}

    def shared_seen(self, leg: str, amount: int, now: datetime) -> None:
        """KIS's figure of what every buy of `leg` may spend (US: the dollars orderable, in cents), just now."""
        self._shared[leg] = (amount, now)

    def shared_left(self, leg: str, now: datetime) -> int | None:
        """What `leg`'s last figure leaves after its buys placed since; None: ask KIS. As `cash_left`: only while
        the stream is trusted and the answer is recent, and it only ever shrinks (KIS still checks every order)."""
        seen = self._shared.get(leg)
        if seen is None or not self.trusted(now) or (now - seen[1]).total_seconds() > CASH_SECONDS:
            return None
        return seen[0]

    def spend_shared(self, leg: str, amount: int) -> None:
        """A buy of `leg` for `amount` (its minor unit) was placed: that leg's figure is less by it."""
        if leg in self._shared:
            left, when = self._shared[leg]
            self._shared[leg] = (max(0, left - amount), when)

    def poll_due(self, now: datetime) -> bool:
        """A fill poll is due now: always when the stream is not trusted, else at the slow pace."""
        if not self.trusted(now):
            return True
        if self.last_poll is None:  # trusted from the start: the slow pace counts from now
            self.last_poll = now
            return False
        return (now - self.last_poll).total_seconds() >= SLOW_POLL_SECONDS

    def polled(self, now: datetime) -> None:
        self.last_poll = now
        self._reconciled = True

    def expect(self, order_no: str, now: datetime, market: str = "KRX") -> None:
        """An order was acked: its acceptance notice should follow shortly."""
        self._awaiting[order_key(order_no, market)] = now

    def accepted(self, order_no: str, market: str = "KRX") -> None:
        if self._awaiting.pop(order_key(order_no, market), None) is not None and self._reconciled:
            if not self._trusted:
                log.info("notices: arriving; fills are polled at a slow pace while they keep coming")
            self._trusted = True

    def poll_saw(self, order_no: str, filled_qty: int, market: str = "KRX") -> None:
        """A poll showed one of the run's orders with `filled_qty` filled: the truth notices are checked against."""
        key = order_key(order_no, market)
        self.unconfirmed.discard(key)
        noticed = self.noticed.get(key, (0, 0))[0]
        if filled_qty > noticed:
            self.distrust("a poll found a fill no notice told")
        elif filled_qty < noticed:
            # KIS does not document whether CNTG_QTY is the increment (as read here) or a running total
            log.warning("notices told %d shares filled for order %s, today's orders show %d", noticed, order_no,
                        filled_qty)
            self.distrust("notices and today's orders disagree")

    def add_fill(self, notice: Notice) -> tuple[int, int]:
        """Count a fill notice; the order's noticed (qty, amount) so far."""
        key = order_key(notice.order_no, notice.market)
        qty, amount = self.noticed.get(key, (0, 0))
        self.noticed[key] = (qty + notice.qty, amount + notice.amount)  # won, or cents for a US fill
        self.unconfirmed.add(key)
        return self.noticed[key]

    def park(self, notice: Notice) -> None:
        """A fill of an order number the run does not know (yet): applied once it is known."""
        if sum(len(v) for v in self._pending.values()) < PENDING_KEPT:
            self._pending.setdefault(order_key(notice.order_no, notice.market), []).append(notice)
        self.distrust("a fill notice for an order the run does not know yet")

    @property
    def parked(self) -> bool:
        return bool(self._pending)

    def unparked(self, known: Iterable[str], market: str = "KRX") -> list[Notice]:
        """Parked fills (of `market`) whose order numbers are now known."""
        out: list[Notice] = []
        for number in [n for n in (order_key(k, market) for k in known) if n in self._pending]:
            out += self._pending.pop(number)
        return out
