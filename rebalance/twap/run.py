"""What the parts of one TWAP run share: its journal records, broker, clock, cancel event, notices and events."""
from __future__ import annotations

import logging
import threading
from datetime import date, datetime
from typing import Callable, Protocol

from kis.errors import KisError, KisTransportError
from kis.krx import KST
from kis.models import OrderType
from rebalance.broker import Broker
from rebalance.clock import Clock
from rebalance.events import Event, UnresolvedOrder
from rebalance.journal import Journal, LegWindow, OrderRecord, RunRecord, StockRecord
from rebalance.notices import NoticeConsumer, NoticeFeed, PriceFeed
from rebalance.twap.legs import Leg, Legs, day_of, plan_legs
from rebalance.window import TwapSettings

log = logging.getLogger(__name__)

READ_ERRORS = (KisError, KisTransportError)  # kis raises nothing else for a failed call


class Owner(Protocol):
    """What a run takes from the `TwapExecutor` that starts it."""

    client: Broker
    journal: Journal
    settings: TwapSettings
    clock: Clock
    rate: float  # calls per second the account allows
    notices: NoticeFeed | None
    on_event: Callable[[Event], None]


class Run:
    """One run's records and shared parts, read fresh from the journal; every part of the run works through it."""

    def __init__(self, owner: Owner, run_id: str, cancel: threading.Event, alarm: threading.Event):
        self.id = run_id
        self.client = owner.client
        self.journal = owner.journal
        self.settings = owner.settings
        self.clock = owner.clock
        self.cancel = cancel  # set by /cancel: no new orders
        self._on_event = owner.on_event
        self.record: RunRecord = self.journal.run(run_id)
        self.lines = {line.code: line for line in self.record.plan.lines}
        self.order_type = self.record.order_type
        self.guard = self.record.price_guard
        feed = owner.notices
        self.prices: PriceFeed | None = feed if isinstance(feed, PriceFeed) and self.order_type is OrderType.LIMIT \
            else None
        self.markets = Legs(self.client)
        self.legs: tuple[Leg, ...] = tuple(plan_legs(self.markets, self.record.plan))  # the markets it trades
        self.closed: set[str] = set()  # legs whose window's end job ran (Worker.close_leg): no new orders there
        # the notices of the markets it trades (KRX's, the US's); None: polling only
        self.notes = NoticeConsumer(feed, alarm, {leg.notices for leg in self.legs}) if feed is not None else None
        kept = {w.leg: w for w in self.journal.windows(run_id)}
        # A run journaled with one window (before issue 22, or of one market) trades every leg in it.
        self.windows: dict[str, LegWindow] = {
            leg.key: kept.get(leg.key) or LegWindow(leg.key, self.record.window, self.record.catch_up_at,
                                                    self.record.caught_up) for leg in self.legs}

    # markets ------------------------------------------------------------------------------------------
    def leg(self, code: str) -> Leg:
        """The leg (market) a stock of the run trades on."""
        return self.markets.of(self.lines[code].market)

    def leg_of(self, order: OrderRecord) -> Leg:
        return self.markets.of(order.market)

    def window_of(self, code: str) -> LegWindow:
        return self.windows[self.leg(code).key]

    def trading(self, code: str, now: datetime | None = None) -> bool:
        """The stock's market window has opened and is not closed: orders for it may go out.

        A slice or catch-up the rate limit made late still goes out after its window's end, as before markets
        had windows of their own; a window is closed by its end job (`Worker.close_leg`, the run's end)."""
        window = self.window_of(code).window
        now = now or self.clock.now()
        return window.start <= now and self.leg(code).key not in self.closed

    def today(self) -> date:
        """Today in KST, by the run's clock."""
        return self.clock.now().astimezone(KST).date()

    def orders(self) -> list[OrderRecord]:
        return self.journal.orders(self.id)

    def orders_of(self, code: str) -> list[OrderRecord]:
        return [o for o in self.journal.orders(self.id) if o.code == code]

    def todays_orders(self, at: datetime | None = None) -> list[OrderRecord]:
        """The run's orders sent on the trading day of `at` (now) in their market: another day's expired at its
        close, its number may be reused. A US order's day is New York's (its session spans KST midnight)."""
        at = at or self.clock.now()
        return [o for o in self.journal.orders(self.id) if day_of(self.leg_of(o), o.sent_at) == day_of(self.leg_of(o), at)]

    def stocks(self) -> list[StockRecord]:
        return self.journal.stocks(self.id)

    def stock(self, code: str) -> StockRecord:
        return next(s for s in self.journal.stocks(self.id) if s.code == code)

    def known_today(self, leg: Leg | None = None) -> set[str]:
        """Every order number the journal knows from today, of any run: of KRX's orders, or of `leg`'s."""
        leg = leg or self.markets.of("")
        return self.journal.known_order_nos(day_of(leg, self.clock.now()), self.legs_markets(leg), leg.tz)

    def legs_markets(self, leg: Leg) -> set[str]:
        """The market codes whose orders `leg` sends (KRX; NASD, NYSE, AMEX)."""
        from kis.markets import MARKETS

        return {m.code for m in MARKETS if self.markets.of(m.code) is leg}

    def unresolved(self, order: OrderRecord, candidates: int = 0) -> UnresolvedOrder:
        """An order for the user to check, as the events name it."""
        return UnresolvedOrder(order.code, self.lines[order.code].name, order.side, order.qty,
                               order.sent_at.astimezone(KST), candidates)

    def emit(self, event: Event) -> None:
        """Tell the listener; its bug must not stop trading."""
        try:
            self._on_event(event)
        except Exception:
            log.exception("on_event failed for %s", type(event).__name__)
