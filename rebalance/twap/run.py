"""What the parts of one TWAP run share: its journal records, broker, clock, cancel event, notices and events."""
from __future__ import annotations

import logging
import threading
from datetime import date
from typing import Callable, Protocol

from kis.errors import KisError, KisTransportError
from kis.krx import KST
from kis.models import OrderType
from rebalance.broker import Broker
from rebalance.clock import Clock
from rebalance.events import Event, UnresolvedOrder
from rebalance.journal import Journal, OrderRecord, RunRecord, StockRecord
from rebalance.notices import NoticeConsumer, NoticeFeed, PriceFeed
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
        self.notes = NoticeConsumer(feed, alarm) if feed is not None else None  # None: polling only
        self.prices: PriceFeed | None = feed if isinstance(feed, PriceFeed) and self.order_type is OrderType.LIMIT \
            else None

    def today(self) -> date:
        """Today in KST, by the run's clock."""
        return self.clock.now().astimezone(KST).date()

    def orders(self) -> list[OrderRecord]:
        return self.journal.orders(self.id)

    def orders_of(self, code: str) -> list[OrderRecord]:
        return [o for o in self.journal.orders(self.id) if o.code == code]

    def todays_orders(self, day: date | None = None) -> list[OrderRecord]:
        """The run's orders sent today (or on `day`): another day's expired at its close, its number may be reused."""
        day = day or self.today()
        return [o for o in self.journal.orders(self.id) if o.sent_at.astimezone(KST).date() == day]

    def stocks(self) -> list[StockRecord]:
        return self.journal.stocks(self.id)

    def stock(self, code: str) -> StockRecord:
        return next(s for s in self.journal.stocks(self.id) if s.code == code)

    def known_today(self) -> set[str]:
        """Every order number the journal knows from today, of any run."""
        return self.journal.known_order_nos(self.today())

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
