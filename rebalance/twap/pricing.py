"""Pricing one run's slices: passive first (the own side's best), moved to the guard price when it must.

With `execution` "passive" a slice joins the own side's best price, read from the asking-price inquiry
(a buy at the best bid, a sell at the best ask), so it earns the spread instead of paying it. It is moved
to today's marketable guard price (`placing.guard_price`) once it has rested `passive_seconds`, once its
stock has fallen `passive_behind` of its goal behind the schedule, and at the catch-up pass, so the run
still ends at target within its window. The move is one order-rvsecncl revision (RVSE_CNCL_DVSN_CD 01),
which saves the cancel-then-order pair and the wait for the cancel's confirmation.

A revision is an order like any other here: journaled before it is sent (`Journal.add_revision`), sent
once, never again on a timer. Its answer lost, it stays unresolved and counts as live (so does the
original's rest until today's orders show it closed); refused (the order filled meanwhile: nothing left
to revise) it changed nothing and the original keeps its rest. The never-past-target rule is asserted
before it is sent, as `Placer.send` asserts it for new orders.

Every order's best bid and ask at its send are kept in the journal, in both styles, for the receipt's
shortfall against the arrival mid and its spread paid.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from kis.errors import KisError, KisTransportError, NotSent, OrderUncertain, RateLimited
from kis.models import BookTop, OrderSide, OrderType, Quote
from rebalance.journal import OrderRecord, StockRecord, committed
from rebalance.lifecycle import OrderKind, OrderState
from rebalance.twap.placing import PastTarget, Placer, guard_price
from rebalance.twap.run import READ_ERRORS, Run

log = logging.getLogger(__name__)

PASSIVE, CROSS = "passive", "cross"
_NOT_TAKEN = (OrderState.REJECTED, OrderState.NOT_SENT, OrderState.ABSENT)


class Pricing:
    """Which limit a new order takes, and moving resting passive orders to the guard price when due."""

    def __init__(self, run: Run, placer: Placer):
        self.run = run
        self.placer = placer
        self.passive = run.record.execution == PASSIVE and run.order_type is OrderType.LIMIT
        self.counts = {"passive": 0, "cross": 0, "revised": 0, "revise_refused": 0, "revise_lost": 0}

    # the book ---------------------------------------------------------------------------------------
    def book(self, code: str) -> BookTop | None:
        """The best bid and ask now, None when the broker has no asking-price call or it failed."""
        asking = getattr(self.run.client, "asking_price", None)
        if asking is None or self.run.order_type is not OrderType.LIMIT:
            return None
        try:
            return asking(code)
        except READ_ERRORS as exc:
            log.info("asking price of %s unavailable (%s); the order is priced without it", code,
                     type(exc).__name__)
            return None
        finally:
            self.placer.reading.take_notices()

    # new orders ---------------------------------------------------------------------------------------
    def limit(self, stock: StockRecord, quote: Quote, kind: OrderKind) -> tuple[int, dict]:
        """(limit price, what the journal keeps with the order: bid, ask, passive) for a new order."""
        guard = guard_price(quote, stock.side, self.run.guard)
        top = self.book(stock.code) if self.passive or self.run.settings.record_book else None
        extra = {"bid": top.bid if top else 0, "ask": top.ask if top else 0, "passive": False}
        if (self.passive and kind is OrderKind.SLICE and top is not None and top.two_sided
                and not self.late() and not self.behind(stock)):
            own = top.bid if stock.side is OrderSide.BUY else top.ask
            inside = own <= guard if stock.side is OrderSide.BUY else own >= guard  # never past the guard
            if inside and _in_band(own, quote):
                self.counts["passive"] += 1
                return own, {**extra, "passive": True}
        self.counts["cross"] += 1
        return guard, extra

    # when a passive order must move -----------------------------------------------------------------
    def late(self) -> bool:
        """The catch-up pass is due: what is left must cross to end at target within the window."""
        return self.run.clock.now() >= self.run.record.catch_up_at

    def behind(self, stock: StockRecord) -> bool:
        """The stock's fills trail what its fired slices asked by more than `passive_behind` of its goal."""
        run = self.run
        due = sum(s.qty for s in run.journal.slices(run.id) if s.code == stock.code and s.fired)
        filled = sum(o.filled_qty for o in run.orders_of(stock.code))
        return due - filled > run.settings.passive_behind * stock.goal

    def _due(self, order: OrderRecord, stock: StockRecord, late: bool) -> bool:
        aged = self.run.clock.now() - order.sent_at >= timedelta(seconds=self.run.settings.passive_seconds)
        return late or aged or self.behind(stock)

    def _revisable(self, order: OrderRecord, orders: list[OrderRecord]) -> bool:
        """A passive order resting at KIS, with no revision that may have taken (one is never sent twice)."""
        if not (order.passive and order.resting and not order.cancel_sent and order.order_no):
            return False
        # A revision that may have taken blocks another; one refused, never sent or ruled out (lookups over
        # the settle horizon found no row pointing at the order) does not. Two revisions can never move more
        # than the order's rest: KIS revises what is left.
        return not any(o.revises == order.id and o.state not in _NOT_TAKEN for o in orders)

    # moving -------------------------------------------------------------------------------------------
    def review(self, code: str, *, late: bool = False) -> None:
        """Move each resting passive order of `code` whose time has come to the guard price (one revision)."""
        run = self.run
        if not self.passive or run.cancel.is_set():
            return
        stock = run.stock(code)
        if stock.halted:
            return
        late = late or self.late()
        orders = run.todays_orders()
        due = [o for o in orders if o.code == code and self._revisable(o, orders) and self._due(o, stock, late)]
        if not due:
            return
        quote = self.placer.quote(code)
        if quote is None:
            return
        price = guard_price(quote, stock.side, run.guard)
        top = self.book(code)
        for order in due:
            fresh = next((o for o in run.todays_orders() if o.id == order.id), None)
            if fresh is None or not self._revisable(fresh, run.todays_orders()):
                continue  # a fill told during the quote closed it
            if fresh.price == price:
                continue  # the own side's best is the guard price already: nothing to move
            self.revise(fresh, price, top)

    def review_all(self, *, late: bool = False) -> None:
        for stock in self.run.stocks():
            if not self.run.cancel.is_set():
                self.review(stock.code, late=late)

    def revise(self, order: OrderRecord, price: int, top: BookTop | None) -> None:
        """Journal, then send once, the revision moving `order`'s rest to `price`; its answer journaled."""
        run = self.run
        stock = run.stock(order.code)
        rest = order.open_qty
        if rest <= 0:
            return
        # The invariant where a revision is sent: it moves the rest, it adds none. Everything the stock's
        # orders commit (this one's rest included) stays within the goal.
        done = committed(run.orders_of(order.code))
        if done > stock.goal:
            raise PastTarget(f"{order.code}: {done} share(s) committed of a goal of {stock.goal}; "
                             f"revision not sent")
        revision = run.journal.add_revision(order, rest, price, run.clock.now(),
                                            bid=top.bid if top else 0, ask=top.ask if top else 0)
        try:
            ack = run.client.revise(order.order_no, order.org_no, price)
        except OrderUncertain as exc:
            # It may have taken: the revision counts as live until today's orders list it (a row pointing at
            # the original) or lookups over the settle horizon rule it out. Never sent again.
            self.counts["revise_lost"] += 1
            run.journal.transition(revision, OrderState.UNRESOLVED, message=str(exc))
            log.warning("revision of %s (%s) got no answer; unresolved until today's orders settle it",
                        order.order_no, order.code)
        except (RateLimited, NotSent) as exc:
            run.journal.transition(revision, OrderState.NOT_SENT, message=f"{type(exc).__name__}: {exc}")
        except KisError as exc:
            # Refused: most often the order filled meanwhile (nothing left to revise). Nothing changed at
            # KIS; the original keeps its rest and the next poll shows its fills.
            self.counts["revise_refused"] += 1
            run.journal.transition(revision, OrderState.REJECTED, msg_cd=exc.msg_cd, message=exc.msg1)
            log.info("revision of %s refused (%s %s); the order stays as it is", order.order_no, exc.msg_cd,
                     exc.msg1)
        except KisTransportError as exc:
            self.counts["revise_lost"] += 1
            run.journal.transition(revision, OrderState.UNRESOLVED, message=f"{type(exc).__name__}: {exc}")
        else:
            self.counts["revised"] += 1
            run.journal.transition(revision, OrderState.OPEN, order_no=ack.order_no, org_no=ack.org_no)
            if run.notes is not None:
                run.notes.expect(ack.order_no, run.clock.now())
        self.placer.reading.take_notices()


def _in_band(price: int, quote: Quote) -> bool:
    """Inside the day's price band (where the quote says it)."""
    if quote.upper_limit > 0 and price > quote.upper_limit:
        return False
    return not (quote.lower_limit > 0 and price < quote.lower_limit)
