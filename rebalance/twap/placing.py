"""Placing and re-pricing one run's orders: each sent once, journaled first, never past its stock's target.

The never-past-target rule lives here: `missing` is the one count of what a stock may still place, and
`send` refuses (`PastTarget`) any order beyond it right before the order is journaled and sent.
"""
from __future__ import annotations

import logging

from kis.errors import KisError, KisTransportError, NotSent, OrderUncertain, RateLimited
from kis.models import OrderSide, OrderType
from rebalance.events import OrderRejected, OrderSent, PriceBeyondGuard, WaitingForCash
from rebalance.journal import OrderRecord, StockRecord, committed
from rebalance.lifecycle import OrderKind, OrderState
from rebalance.notices import PRICE_FRESH_SECONDS, streamed_quote
# KIS refuses an order that needs more cash than the account has with APBK0952 "주문가능금액을 초과";
# the wording is matched too, since mock and real do not always share codes.
from rebalance.shortfall import CASH_SHORT_CODE, CASH_SHORT_WORDING
from rebalance.twap.cash import Cash
from rebalance.twap.legs import krx_guard_price
from rebalance.twap.reconciling import Reconciler
from rebalance.twap.run import READ_ERRORS, Run

log = logging.getLogger(__name__)


class PastTarget(RuntimeError):
    """An order would take a stock past its target: it is not sent, and the run fails (a bug, not the market)."""


class Placer:
    """Places what each stock owes and re-prices what rests; every order is journaled before it is sent."""

    def __init__(self, run: Run, reading: Reconciler, cash: Cash):
        self.run = run
        self.reading = reading
        self.cash = cash
        self.notes = run.notes
        self.quotes = {"streamed": 0, "asked": 0}  # where the run's prices came from (benches, tests)
        self.pricing = None  # rebalance.twap.pricing.Pricing, set by the worker: the limit of a new order

    # the target ---------------------------------------------------------------------------------------
    def missing(self, stock: StockRecord) -> int:
        """Shares still to place: the goal less what is filled, open, or maybe working (exchange truth)."""
        return max(0, stock.goal - committed(self.run.orders_of(stock.code)))

    def owable(self, stock: StockRecord) -> int:
        """The most a stock may owe: what is missing now plus the rests whose cancel KIS took (re-pricing)."""
        # Those rests are owed already and placed once today's orders show them closed.
        cancelling = sum(o.open_qty for o in self.run.todays_orders() if o.code == stock.code and o.cancel_sent)
        return self.missing(stock) + cancelling

    # prices -------------------------------------------------------------------------------------------
    def quote(self, code: str):
        """The latest known price in the stock's minor unit: the stream's when fresh (a fill notice's price
        counts), else its market's quote (inquire-price; the overseas price)."""
        run = self.run
        leg = run.leg(code)
        if run.prices is not None and leg.streamed:
            trade = run.prices.price(code, PRICE_FRESH_SECONDS)
            quote = streamed_quote(trade, run.guard) if trade is not None else None
            if quote is not None:
                self.quotes["streamed"] += 1
                return quote
        try:
            self.quotes["asked"] += 1
            return leg.quote(code, run.lines[code].market)
        except READ_ERRORS as exc:
            log.warning("price of %s unavailable (%s); its order waits for the next tick", code, type(exc).__name__)
            return None
        finally:
            self.reading.take_notices()  # a fill that came during the call is told now, not after the slice

    def reprice(self, code: str) -> None:
        """Cancel the stock's resting limit orders so their rest goes out at a fresh guard price; halt a runaway."""
        # If the price ran past the guard of a resting order, the stock stops instead: no chasing.
        run = self.run
        limits = run.order_type is OrderType.LIMIT or not run.leg(code).market_orders  # US orders are all limits
        if not limits or run.cancel.is_set():
            return
        today = run.clock.now()

        def resting_now() -> list[OrderRecord]:  # a passive order moves by its own rules (twap/pricing.py)
            return [o for o in run.todays_orders(today) if o.code == code and o.resting and o.remaining is not None
                    and not o.cancel_sent and not o.passive]

        if not resting_now() or run.stock(code).halted:
            return
        quote = self.quote(code)
        resting = resting_now()  # fills told during the quote may have closed some
        if quote is None or not resting:
            return
        side = resting[0].side
        runaway = next((o for o in resting if beyond_guard(o.price, quote.price, side, run.guard)), None)
        if runaway is not None:
            run.journal.halt(run.id, code)
            log.warning("%s: price %d ran past the guard of limit %d; no more orders for it", code, quote.price,
                        runaway.price)
            run.emit(PriceBeyondGuard(run.id, code, run.lines[code].name, side, runaway.price, quote.price,
                                      run.guard, run.leg(code).currency.code))
        for order in resting:
            try:
                run.leg_of(order).cancel(order.order_no, order.org_no, order.code)
            except READ_ERRORS as exc:  # e.g. filled meanwhile; a lost answer leaves it counted as open
                log.info("re-pricing: cancel of %s not done (%s)", order.order_no, exc)
                continue
            run.journal.cancel_accepted(order.id, owe_rest=runaway is None)

    # orders -------------------------------------------------------------------------------------------
    def place(self, code: str, *, kind: OrderKind) -> None:
        """Place what the stock owes, never beyond its goal; a buy only with the cash to pay for it."""
        run = self.run
        stock = run.stock(code)
        if stock.halted or not run.trading(code):  # its market's window is not open: it waits for it
            return
        missing = self.missing(stock)
        owable = self.owable(stock)
        if stock.owed > owable:  # the goal is nearer than the schedule thinks: never overshoot
            run.journal.set_owed(run.id, code, owable)
        qty = min(stock.owed, missing)
        if qty <= 0:
            if stock.waiting:
                run.journal.set_waiting(run.id, code, False)
            return
        price, extra = 0, {}
        leg = run.leg(code)
        if run.order_type is OrderType.LIMIT or not leg.market_orders:
            quote = self.quote(code)
            if quote is None:
                return
            price = leg.guard_price(quote, stock.side, run.guard)
            if self.pricing is not None and leg.books:  # passive first, and the book at the send for the receipt
                price, extra = self.pricing.limit(stock, quote, kind)
        if stock.side is OrderSide.BUY:
            qty = self.cash.affordable(stock, qty, price)
        # Notices applied during the quote or buying-power call never raise what may be placed, but an
        # acceptance can revive a ruled-out order: the goal is checked again right before sending.
        qty = min(qty, self.missing(run.stock(code)))
        if qty <= 0:
            return
        self.send(stock, qty, price, kind, **extra)
        # Only once the order's own outcome is journaled: an acceptance notice applied between the
        # intent and its answer would settle the order twice.
        self.reading.take_notices()

    def send(self, stock: StockRecord, qty: int, price: int, kind: OrderKind, *, bid: int = 0, ask: int = 0,
             passive: bool = False) -> None:
        """Journal the intent, send the order once, journal what its answer says; PastTarget beyond the goal."""
        run = self.run
        # The invariant, asserted at the one place an order is sent: filled + open + unresolved + this
        # order <= |target - start|. `place` keeps to it; a breach is a bug, so nothing is sent.
        missing = self.missing(stock)
        if qty > missing:
            raise PastTarget(f"{stock.code}: {qty} share(s) more would pass the target ({missing} missing of "
                             f"{stock.goal}); not sent")
        leg, market = run.leg(stock.code), run.lines[stock.code].market
        order_type = run.order_type if leg.market_orders else OrderType.LIMIT
        order_id = run.journal.add_intent(run.id, stock.code, stock.side, qty, order_type, price, kind,
                                          run.clock.now(), market, bid=bid, ask=ask, passive=passive)
        try:
            ack = leg.order(stock.code, market, stock.side, qty, order_type, price)
        except OrderUncertain as exc:
            # It may be at KIS: it counts as live until today's orders list it or working lookups
            # over the settle horizon rule it out. Never sent again on a timer.
            run.journal.transition(order_id, OrderState.UNRESOLVED, message=str(exc))
            log.warning("order %s for %s got no answer; unresolved until today's orders settle it", order_id,
                        stock.code)
        except (RateLimited, NotSent) as exc:
            # refused at the gateway or never connected: surely not at the exchange, owed again
            run.journal.transition(order_id, OrderState.NOT_SENT, message=f"{type(exc).__name__}: {exc}")
        except KisError as exc:
            short_of_cash = exc.msg_cd == CASH_SHORT_CODE or CASH_SHORT_WORDING in exc.msg1
            if short_of_cash and self.notes is not None:
                self.notes.forget_cash()
            # Short of cash is a wait, not a refusal: owed again, retried when cash is there.
            run.journal.transition(order_id, OrderState.REJECTED, msg_cd=exc.msg_cd, message=exc.msg1,
                                   owe_again=short_of_cash)
            if not short_of_cash:
                run.emit(OrderRejected(run.id, stock.code, stock.side, qty, exc.msg_cd, exc.msg1))
            elif not run.stock(stock.code).waiting:
                run.journal.set_waiting(run.id, stock.code, True)
                run.emit(WaitingForCash(run.id, stock.code, qty * (price or run.lines[stock.code].price), 0,
                                        leg.currency.code))
        except KisTransportError as exc:
            run.journal.transition(order_id, OrderState.UNRESOLVED, message=f"{type(exc).__name__}: {exc}")
        else:
            run.journal.transition(order_id, OrderState.OPEN, order_no=ack.order_no, org_no=ack.org_no)
            if self.notes is not None and self.notes.serves(leg.notices):  # its market's notices tell its acceptance
                self.notes.expect(ack.order_no, run.clock.now(), leg.notices)
            run.emit(OrderSent(run.id, stock.code, stock.side, qty, ack.order_no))
            after = run.stock(stock.code)
            if after.waiting and after.owed == 0:  # the wait is over only once everything owed is placed
                run.journal.set_waiting(run.id, stock.code, False)


guard_price = krx_guard_price  # the KRX guard price; each leg has its own (`rebalance.twap.legs`)


def beyond_guard(limit: int, price: int, side: OrderSide, guard: float) -> bool:
    """The price has run more than the guard past a resting order's limit: re-pricing would chase it."""
    if side is OrderSide.BUY:
        return price > limit * (1 + guard)
    return price < limit * (1 - guard)
