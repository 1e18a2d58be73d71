"""What the paper exchange's KRX and US order books keep alike: today's orders, which are open, the session check,
matching before an answer, and telling listeners and the state file of a change.

A book subclasses `OrderKeeping` and gives `orders`, `lock`, `listeners`, `on_change`, `always_open`, `clock`,
`_session(now)` (the regular session around `now`, or None), `_roll_day()` and `_match_all()`.
"""
from __future__ import annotations

import logging
from datetime import datetime

BEFORE_OPEN = ("40570000", "모의투자 장시작전 입니다.")
AFTER_CLOSE = ("40580000", "모의투자 장종료 입니다.")


class Rejected(Exception):
    """The exchange refuses a request with a KIS business error (rt_cd "1")."""

    def __init__(self, msg_cd: str, msg1: str, http_status: int = 200):
        super().__init__(f"{msg_cd}: {msg1}")
        self.msg_cd, self.msg1, self.http_status = msg_cd, msg1, http_status


class OrderKeeping:
    """Order book-keeping shared by `kis.sim.exchange.Exchange` and `kis.sim.us_exchange.UsExchange`."""

    listener_failed = "exchange listener failed"  # logged when a listener raises

    def open_orders(self) -> list:
        return [o for o in self.orders if o.remaining > 0]

    def match(self) -> None:
        """Fill what the prices and time allow now (called before every request is answered)."""
        with self.lock:
            self._roll_day()
            if self._match_all():
                self._changed()

    def _session(self, now: datetime) -> tuple[datetime, datetime] | None:  # pragma: no cover - each book's own
        raise NotImplementedError

    def _check_session(self) -> None:
        """Rejected (KIS's before-open / after-close answers) outside the book's regular session, unless always open."""
        if self.always_open:
            return
        now = self.clock()
        hours = self._session(now)
        if hours is None or now >= hours[1]:
            raise Rejected(*AFTER_CLOSE)
        if now < hours[0]:
            raise Rejected(*BEFORE_OPEN)

    def _notify(self, kind: str, order, qty: int, price: int) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, order, qty, price)
            except Exception:  # a listener's bug must not break the book
                logging.getLogger(type(self).__module__).exception(self.listener_failed)

    def _changed(self) -> None:
        if self.on_change:
            self.on_change()
