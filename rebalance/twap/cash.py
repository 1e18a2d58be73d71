"""Cash for one run's buys: what a buy may spend without 미수, asked of KIS or costed from notices."""
from __future__ import annotations

import logging

from kis.models import OrderType
from rebalance.events import WaitingForCash
from rebalance.journal import StockRecord
from rebalance.twap.legs import cash_without_credit, shares_without_credit, with_margin
from rebalance.twap.reconciling import Reconciler
from rebalance.twap.run import READ_ERRORS, Run

log = logging.getLogger(__name__)

__all__ = ["Cash", "cash_without_credit", "shares_without_credit", "with_margin"]


class Cash:
    """Sizes each buy to the cash that pays for it without 미수; a stock short of cash waits, told once."""

    def __init__(self, run: Run, reading: Reconciler):
        self.run = run
        self.reading = reading
        self.notes = run.notes

    def affordable(self, stock: StockRecord, qty: int, price: int) -> int:
        """Shares of `qty` that cash pays for without 미수, asked for this stock as KIS's docs say; 0 when unknown."""
        # The client asks a limit buy with ORD_DVSN 01 (00 does not reflect the stock's margin rate); the
        # answer's no-미수 amount (nrcvb_buy_amt), never more than the orderable cash, is costed at this
        # order's limit. A market-type buy takes nrcvb_buy_qty, which KIS computed at the upper limit it
        # costs such a buy at. Never max_buy_* (미수).
        run = self.run
        leg = run.leg(stock.code)
        order_type = run.order_type if leg.market_orders else OrderType.LIMIT
        cached = self._from_cache(stock.code, qty, price) if leg.streamed else self._from_shared(leg, qty, price)
        if cached is not None:
            return cached
        try:
            power = leg.power(stock.code, price, order_type, run.lines[stock.code].market)
        except READ_ERRORS as exc:
            log.warning("buying power of %s unavailable (%s); the buy waits", stock.code, type(exc).__name__)
            return 0
        finally:
            self.reading.take_notices()
        limit = order_type is OrderType.LIMIT and price > 0
        cash, can = power.cash, power.shares
        if self.notes is not None and limit and leg.streamed:  # the notices' cash estimate is KRX's, in won
            self.notes.cash_seen(stock.code, cash, run.clock.now())
            self.notes.spend(min(qty, can) * with_margin(price))
        elif self.notes is not None and limit and power.shared:  # one figure for all the leg's buys (US dollars)
            self.notes.shared_seen(leg.key, cash, run.clock.now())
            self.notes.spend_shared(leg.key, min(qty, can) * leg.cost(price))
        if can < qty and not stock.waiting:  # one event per wait, not per retry
            run.journal.set_waiting(run.id, stock.code, True)
            unit = price or power.unit_price or run.lines[stock.code].price
            run.emit(WaitingForCash(run.id, stock.code, qty * unit, cash, leg.currency.code))
        return max(0, min(qty, can))

    def _from_shared(self, leg, qty: int, price: int) -> int | None:
        """A limit buy of a leg whose cash is one figure for all its buys (US dollars), costed from its last answer
        less the leg's buys since, while notices are trusted; None: ask KIS (also when the estimate falls short)."""
        if self.notes is None or price <= 0:
            return None
        left = self.notes.shared_left(leg.key, self.run.clock.now())
        if left is None:
            return None
        shares = min(qty, left // leg.cost(price))
        if shares < qty:
            return None
        self.notes.spend_shared(leg.key, shares * leg.cost(price))
        return shares

    def _from_cache(self, code: str, qty: int, price: int) -> int | None:
        """A limit buy costed from notices (last answer less what buys spent since); None: ask KIS."""
        # While notices are trusted, a limit buy is costed against this stock's last buying-power answer
        # less what buys of every stock spent since (it only shrinks; KIS still checks the order).
        if self.notes is None or self.run.order_type is not OrderType.LIMIT or price <= 0:
            return None
        left = self.notes.cash_left(code, self.run.clock.now())
        if left is None:
            return None
        shares = min(qty, left // with_margin(price))
        if shares < qty:
            return None  # not enough by the estimate: KIS's own answer decides (and may say wait)
        self.notes.spend(shares * with_margin(price))
        return shares
