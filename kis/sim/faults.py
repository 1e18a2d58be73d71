"""Fault switches of the paper exchange, for tests and chaos runs.

Off by default except the listing lag and the cancel-confirmation delay, which are KIS's own behaviour:
`SimServer` sets them (a few seconds with jitter; half a second) unless told otherwise.
"""
from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Callable


class Faults:
    """What to break, and how often. Counters are consumed one request at a time, thread-safely."""

    def __init__(self, seed: int = 7, on_expire_tokens: Callable[[], None] | None = None):
        self._lock = threading.Lock()
        self._on_expire_tokens = on_expire_tokens
        self._rng = random.Random(seed)
        self.latency = 0.0  # seconds added before every answer (after the work is done)
        self.error_rate = 0.0  # share of /uapi requests answered 5xx with an HTML or empty body, untouched
        # Seconds of sim time a new order stays out of inquire-daily-ccld (KIS lists same-day orders late),
        # each order's lag spread by +/- `listing_jitter` of it.
        self.listing_lag = 0.0
        self.listing_jitter = 0.0
        # Seconds of sim time a cancel KIS took stays unconfirmed in inquire-daily-ccld: the original order
        # still lists the shares as resting (rmn_qty) and the cancel row confirms none (cnc_cfrm_qty 0).
        self.cancel_confirm_delay = 0.0
        self.lost_answer_rate = 0.0  # share of accepted orders whose answer is lost (connection dropped)
        self.list_as_limit = False  # daily orders show every ord_dvsn_cd as "00" (unverified on KIS)
        # the daily orders' cancel-confirmed column: the samples' mapping says cnc_cfrm_qty, KIS's response
        # example cncl_cfrm_qty; the client reads both, and a test serves each
        self.cancel_qty_key = "cnc_cfrm_qty"
        self.answers_lost = 0  # accepted orders whose answer was dropped so far (benchmarks count them)
        self._expire_requested = False
        # Faults armed for the next n requests, by name (`_arm`, consumed by `_take`): orders (rate_limited,
        # drop_after_order, drop_before_order, ledger_busy_after_order) and websocket notices: drop every
        # session at the next notice, skip or repeat it, an error frame, a '²' count, OPSP0002 (ws_*).
        self._armed: Counter[str] = Counter()
        # Refuse a second subscribed session of the app key (KIS allows one).
        self.refuse_second_session = False
        self.prices_paused = False  # the session stays up but sends no trade prices (a quiet or stuck feed)

    def force_rate_limit(self, n: int = 1) -> None:
        """The next `n` calls are refused with EGW00201 whatever the pace."""
        self._arm("rate_limited", n)

    def drop_after_order(self, n: int = 1) -> None:
        """The next `n` accepted orders get no answer: the connection closes after the exchange took them."""
        self._arm("drop_after_order", n)

    def ledger_busy_after_order(self, n: int = 1) -> None:
        """The next `n` accepted orders are answered EGW00215 (the ledger's per-second limit)."""
        self._arm("ledger_busy_after_order", n)

    def drop_before_order(self, n: int = 1) -> None:
        """The next `n` order POSTs are dropped before the exchange sees them (nothing is placed)."""
        self._arm("drop_before_order", n)

    def expire_tokens(self) -> None:
        """Every token issued so far expires now: the next call gets EGW00123 (as after 24 h)."""
        if self._on_expire_tokens:
            self._on_expire_tokens()

    def ws_drop(self, n: int = 1) -> None:
        """At the next `n` notices the websocket sessions are cut (the notice is lost with them)."""
        self._arm("ws_drop", n)

    def ws_skip(self, n: int = 1) -> None:
        """The next `n` notices are never sent."""
        self._arm("ws_skip", n)

    def ws_repeat(self, n: int = 1) -> None:
        """The next `n` notices are sent twice."""
        self._arm("ws_repeat", n)

    def ws_error(self, n: int = 1) -> None:
        """At the next `n` notices every subscribed session gets an rt_cd 1 error frame instead (the
        notice is lost and the session subscribes nothing more until the client reconnects)."""
        self._arm("ws_error", n)

    def ws_odd_count(self, n: int = 1) -> None:
        """The next `n` notices are each preceded by a copy whose count field is '²' (not an ASCII digit)."""
        self._arm("ws_odd_count", n)

    def ws_already(self, n: int = 1) -> None:
        """The next `n` notice subscriptions find the HTS ID's registration still held: answered
        OPSP0002 ALREADY IN SUBSCRIBE (rt_cd 1, no key) while the last key and iv stay in use."""
        self._arm("ws_already", n)

    def take_ws(self, what: str) -> bool:
        """Consume one `drop`, `skip`, `repeat`, `error`, `odd_count` or `already` websocket fault."""
        return self._take(f"ws_{what}")

    def take_rate_limit(self) -> bool:
        return self._take("rate_limited")

    def take_drop_after_order(self) -> bool:
        lost = self._take("drop_after_order")
        with self._lock:
            lost = lost or (self.lost_answer_rate > 0 and self._rng.random() < self.lost_answer_rate)
            self.answers_lost += lost
        return lost

    def take_ledger_busy_after_order(self) -> bool:
        return self._take("ledger_busy_after_order")

    def lag_of(self, order_no: str) -> float:
        """Seconds this order stays out of today's orders: the lag, spread by the jitter, fixed per order."""
        if self.listing_lag <= 0:
            return 0.0
        spread = (int(order_no or "0") * 2654435761 % 1000) / 999 * 2 - 1  # in [-1, 1], same every time
        return max(0.0, self.listing_lag * (1 + self.listing_jitter * spread))

    def take_drop_before_order(self) -> bool:
        return self._take("drop_before_order")

    def roll_server_error(self) -> bool:
        with self._lock:
            return self.error_rate > 0 and self._rng.random() < self.error_rate

    def clear(self) -> None:
        with self._lock:
            self.latency = self.error_rate = self.listing_lag = self.listing_jitter = self.lost_answer_rate = 0.0
            self.cancel_confirm_delay = 0.0
            self.list_as_limit = False
            self.cancel_qty_key = "cnc_cfrm_qty"
            self._armed.clear()
            self.refuse_second_session = False

    def _arm(self, name: str, n: int) -> None:
        """The fault `name` strikes the next `n` times it is asked for."""
        with self._lock:
            self._armed[name] += n

    def _take(self, name: str) -> bool:
        """Consume one armed `name` fault: True if one was armed."""
        with self._lock:
            if self._armed[name] > 0:
                self._armed[name] -= 1
                return True
            return False
