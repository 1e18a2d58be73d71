"""Reconciliation: what the exchange shows about a run's orders, turned into journal updates.

Pure functions, no I/O and no threads: journal orders and exchange rows in, `OrderUpdate`s and
findings out. The worker thread reads the exchange, calls these, applies the updates and tells the
user. `observe` is the single path for one observation of one order (a daily-orders row today; a
websocket notice can feed it the same way).

The rule for an order whose answer was lost (UNRESOLVED) or whose process died mid-send (INTENT):
it counts in full against its stock until one row of today's orders can be it (then it is tracked
by number like any order), or until lookups spanning `settle_seconds` all worked and listed nothing
that could be it (then it is ABSENT and its shares are owed again; if it shows up even later it is
taken back). Two rows that could be it make it AMBIGUOUS: it keeps counting and the user is asked.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, tzinfo
from functools import partial
from typing import Collection, Sequence

from kis import OrderStatus, interchangeable, look_up, same_order_no
from kis.krx import KST
from rebalance.journal import OrderRecord, OrderUpdate
from rebalance.lifecycle import OrderState


@dataclass(frozen=True)
class NewFill:
    """More shares of an order filled since the journal last saw it."""

    order_id: int
    qty: int
    amount: int


@dataclass(frozen=True)
class Found:
    """An order that was unanswered (or ruled out) is listed by KIS under `order_no`."""

    order_id: int
    order_no: str
    was: OrderState


@dataclass(frozen=True)
class RuledOut:
    """Lookups spanning the settle horizon all worked and none listed the order: its shares are owed again."""

    order_id: int


@dataclass(frozen=True)
class Ambiguous:
    """Several of today's orders could be this unanswered one: it keeps counting; a person must check."""

    order_id: int
    candidates: int


Finding = NewFill | Found | RuledOut | Ambiguous


@dataclass(frozen=True)
class Reconciliation:
    updates: tuple[OrderUpdate, ...] = ()
    findings: tuple[Finding, ...] = field(default_factory=tuple)


def _fill_amount(seen: OrderStatus) -> int:
    return seen.filled_amount or seen.avg_fill_price * seen.filled_qty


def observe(order: OrderRecord, seen: OrderStatus) -> tuple[OrderUpdate, tuple[Finding, ...]]:
    """One exchange observation of `order` (the row KIS lists for it) -> its update and findings."""
    closed = seen.closed or order.state is OrderState.CLOSED
    state = OrderState.CLOSED if closed else OrderState.OPEN
    findings: list[Finding] = []
    if order.state.may_show_up:
        findings.append(Found(order.id, seen.order_no, order.state))
    filled = max(order.filled_qty, seen.filled_qty)
    if seen.filled_qty > order.filled_qty:
        findings.append(NewFill(order.id, seen.filled_qty - order.filled_qty,
                                _fill_amount(seen) - order.filled_amount))
    update = OrderUpdate(order.id, state, order_no=seen.order_no, org_no=seen.org_no or None,
                         filled_qty=filled, filled_amount=max(order.filled_amount, _fill_amount(seen)),
                         remaining=0 if closed else seen.remaining_qty, clear_unseen=True)
    return update, tuple(findings)


def reconcile(orders: Sequence[OrderRecord], statuses: Sequence[OrderStatus] | None, *, now: datetime,
              settle_seconds: float, known_order_nos: Collection[str] = (), tz: tzinfo = KST) -> Reconciliation:
    """Settle a run's orders against today's orders (`statuses`; None when the inquiry failed).

    `known_order_nos`: numbers of today's orders the journal already holds (any run): never matched to
    an unanswered order. Orders from another day never match today's rows (numbers restart daily).
    `tz`: the market's day and clock (KST for KRX; New York for US orders, whose rows KIS stamps in New York
    time): the orders and rows are one market's.
    """
    today = now.astimezone(tz).date()
    _day = partial(_day_in, tz=tz)
    updates: list[OrderUpdate] = []
    findings: list[Finding] = []
    for order in orders:
        if _day(order) != today and order.state.unsettled:
            # A day order unanswered on its day: it cannot trade any more, and today's numbers are others'.
            updates.append(OrderUpdate(order.id, OrderState.EXPIRED,
                                       message=f"unanswered on {_day(order)}; a day order, expired at that close"))
    if statuses is None:
        # The chain of working lookups is broken: the horizon starts again at the next one that works.
        updates += [OrderUpdate(o.id, o.state, clear_unseen=True) for o in orders
                    if _day(o) == today and o.state.unsettled and o.unseen_since is not None]
        return Reconciliation(tuple(updates), tuple(findings))

    # Originals and revisions (a revise row points at its original but trades under its own number); a
    # cancel row is no order of its own.
    by_no = {same_order_no(s.order_no): s for s in statuses if not s.orig_order_no.strip("0") or not s.cancelled}
    # A cancel is also listed as its own row pointing at the original: count it there too, in case the
    # original's own row lags (whichever says more was cancel-confirmed wins). Only what the exchange
    # confirmed (cnc_cfrm_qty) counts: a cancel listed but not yet confirmed can still lose to a fill.
    cancelled: dict[str, int] = {}
    for s in statuses:
        if s.orig_order_no.strip("0") and s.cancelled:
            key = same_order_no(s.orig_order_no)
            cancelled[key] = cancelled.get(key, 0) + s.cancelled_qty
    by_no = {no: replace(s, cancelled_qty=max(s.cancelled_qty, cancelled.get(no, 0))) for no, s in by_no.items()}
    claimed = {same_order_no(n) for n in known_order_nos}
    claimed |= {same_order_no(o.order_no) for o in orders if o.order_no}
    for order in orders:
        if _day(order) != today:
            continue
        if order.state is OrderState.OPEN and same_order_no(order.order_no) in by_no:
            update, found = observe(order, by_no[same_order_no(order.order_no)])
            updates.append(update)
            findings += found
        elif order.state.may_show_up and order.revises is not None:
            update, found = _settle_revision(order, orders, statuses, claimed, now, settle_seconds)
            if update is not None:
                updates.append(update)
                if update.order_no:
                    claimed.add(same_order_no(update.order_no))
            findings += found
        elif order.state.may_show_up:
            alike = sum(1 for o in orders if o.state.unsettled and interchangeable(o, order))
            update, found = _settle_unanswered(order, statuses, claimed, now, settle_seconds, alike, tz)
            if update is not None:
                updates.append(update)
                if update.order_no:
                    claimed.add(same_order_no(update.order_no))
            findings += found
    return Reconciliation(tuple(updates), tuple(findings))


def _settle_unanswered(order: OrderRecord, statuses: Sequence[OrderStatus], claimed: set[str], now: datetime,
                       settle_seconds: float, alike: int,
                       tz: tzinfo = KST) -> tuple[OrderUpdate | None, tuple[Finding, ...]]:
    # Rows that only interchangeable orders of ours could be are taken in time order: if one is in
    # fact someone else's, the run under-trades, never over-trades.
    result = look_up(statuses, order.code, order.side, order.qty, order.order_type, order.price,
                     order.sent_at.astimezone(tz), exclude=claimed, alike=alike if order.state.unsettled else 1)
    if result.found is not None:
        return observe(order, result.found)
    if order.state is OrderState.ABSENT:
        return None, ()  # already owed again; it is only taken back if it shows up
    if result.ambiguous:
        if order.state is OrderState.AMBIGUOUS:
            return None, ()
        return (OrderUpdate(order.id, OrderState.AMBIGUOUS, clear_unseen=True,
                            message=f"{result.candidates} of today's orders could be this unanswered one"),
                (Ambiguous(order.id, result.candidates),))
    # Nothing lists it (yet). An intent a crash left is unresolved; an ambiguous order whose other
    # candidates became known starts afresh.
    state = OrderState.UNRESOLVED
    since = order.unseen_since if state is order.state and order.unseen_since is not None else now
    if (now - since).total_seconds() >= settle_seconds:
        return (OrderUpdate(order.id, OrderState.ABSENT,
                            message=f"not among today's orders in working lookups over {settle_seconds:.0f}s"),
                (RuledOut(order.id),))
    if state is order.state and order.unseen_since is not None:
        return None, ()
    return OrderUpdate(order.id, state, unseen_since=since), ()


def _day_in(order: OrderRecord, tz: tzinfo = KST) -> date:
    return order.sent_at.astimezone(tz).date()


def _settle_revision(order: OrderRecord, orders: Sequence[OrderRecord], statuses: Sequence[OrderStatus],
                     claimed: set[str], now: datetime,
                     settle_seconds: float) -> tuple[OrderUpdate | None, tuple[Finding, ...]]:
    """An unanswered revision is the revise row that points at its original: never matched by likeness.

    Nothing points there (yet): it counts as live until lookups spanning the settle horizon all worked
    and listed nothing that points there; then it is ruled out and the original keeps its rest.
    """
    original = next((o for o in orders if o.id == order.revises), None)
    number = same_order_no(original.order_no) if original is not None and original.order_no else ""
    rows = [s for s in statuses if number and same_order_no(s.orig_order_no) == number and not s.cancelled
            and same_order_no(s.order_no) not in claimed]
    if rows:
        return observe(order, min(rows, key=lambda s: (s.time, s.order_no)))
    if order.state is OrderState.ABSENT:
        return None, ()
    since = order.unseen_since if order.state is OrderState.UNRESOLVED and order.unseen_since is not None else now
    if (now - since).total_seconds() >= settle_seconds:
        return (OrderUpdate(order.id, OrderState.ABSENT,
                            message=f"no revision of its order among today's orders over {settle_seconds:.0f}s"),
                (RuledOut(order.id),))
    if order.state is OrderState.UNRESOLVED and order.unseen_since is not None:
        return None, ()
    return OrderUpdate(order.id, OrderState.UNRESOLVED, unseen_since=since), ()
