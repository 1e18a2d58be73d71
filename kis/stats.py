"""What the client's calls to KIS did today: calls, EGW00201 refusals, token issues, and whether KIS works.

`Transport` and `TokenManager` report each call here, the one place calls are made; `/health` reads
the counts and the bot's alert listens for the moment KIS stops (or starts again) answering.
Counts are per KST day by the client's wall clock; token issues are also appended to a small log in
the token cache's folder, so every process on the account sees how many KakaoTalk alerts went out.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Callable

from kis.krx import KST

log = logging.getLogger(__name__)

FAILURES_TO_ALERT = 3  # calls in a row without an answer before KIS counts as down
RATE_LIMIT_CODE = "EGW00201"


class KisState(str, Enum):
    """Whether KIS answers this client."""

    UP = "up"
    DOWN = "down"  # several calls in a row got no answer, or no access token could be had

    @property
    def working(self) -> bool:
        return self is KisState.UP


@dataclass(frozen=True)
class CallCounts:
    """A copy of the counters at one moment (today = the KST day of `at`)."""

    at: datetime
    calls: int
    refusals: int  # EGW00201 "초당 거래건수를 초과하였습니다"
    failures_in_a_row: int
    last_ok: datetime | None
    tokens_issued: int
    state: KisState
    reason: str  # why DOWN, '' when UP


class CallStats:
    """Thread-safe counters; listeners hear each change of `KisState` (never one per failure)."""

    def __init__(self, wall: Callable[[], datetime], issue_log: Path | None = None, *,
                 failures_to_alert: int = FAILURES_TO_ALERT):
        self._wall = wall
        self._issue_log = issue_log
        self._failures_to_alert = failures_to_alert
        self._lock = threading.Lock()
        self._day: date | None = None
        self._calls = 0
        self._refusals = 0
        self._tokens_here = 0  # issues seen by this process today, when there is no log
        self._in_a_row = 0
        self._last_ok: datetime | None = None
        self._state = KisState.UP
        self._reason = ""
        self._listeners: list[Callable[[KisState, str], None]] = []

    def add_listener(self, listener: Callable[[KisState, str], None]) -> None:
        """`listener(state, reason)` is called from the calling thread at each change of state."""
        with self._lock:
            self._listeners.append(listener)

    # --- what Transport and TokenManager report ----------------------------------------------

    def answered(self, msg_cd: str = "") -> None:
        """KIS answered a call (a refusal or business error is an answer too: KIS works)."""
        now = self._wall()
        with self._lock:
            self._roll(now)
            self._calls += 1
            if msg_cd == RATE_LIMIT_CODE:
                self._refusals += 1
            else:
                self._last_ok = now
            self._in_a_row = 0
            change = self._set(KisState.UP, "")
        self._tell(change)

    def failed(self, why: str) -> None:
        """A call got no usable answer (no connection, timeout, no JSON)."""
        now = self._wall()
        with self._lock:
            self._roll(now)
            self._calls += 1
            self._in_a_row += 1
            change = None
            if self._in_a_row >= self._failures_to_alert:
                change = self._set(KisState.DOWN, f"{self._in_a_row} KIS calls in a row got no answer ({why})")
        self._tell(change)

    def token_issued(self) -> None:
        now = self._wall()
        with self._lock:
            self._roll(now)
            self._tokens_here += 1
        if self._issue_log is not None:
            with contextlib.suppress(OSError):  # a count for /health must never stop trading
                self._issue_log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                with self._issue_log.open("a", encoding="utf-8") as f:
                    f.write(now.astimezone(KST).isoformat() + "\n")

    def token_failed(self, why: str) -> None:
        """No access token could be had: nothing works until one can."""
        with self._lock:
            change = self._set(KisState.DOWN, f"no KIS access token could be had ({why})")
        self._tell(change)

    # --- what /health reads -------------------------------------------------------------------

    def counts(self) -> CallCounts:
        now = self._wall()
        with self._lock:
            self._roll(now)
            return CallCounts(now, self._calls, self._refusals, self._in_a_row, self._last_ok,
                              self._tokens_today(now), self._state, self._reason)

    def _tokens_today(self, now: datetime) -> int:
        if self._issue_log is None:
            return self._tokens_here
        today = now.astimezone(KST).date().isoformat()
        try:
            lines = self._issue_log.read_text(encoding="utf-8").splitlines()
        except OSError:
            return self._tokens_here
        return sum(1 for line in lines if line.startswith(today))

    # --- inside ---------------------------------------------------------------------------------

    def _roll(self, now: datetime) -> None:
        day = now.astimezone(KST).date()
        if day != self._day:
            self._day, self._calls, self._refusals, self._tokens_here = day, 0, 0, 0

    def _set(self, state: KisState, reason: str) -> tuple[KisState, str] | None:
        if state is self._state:
            return None
        self._state, self._reason = state, reason
        return state, reason

    def _tell(self, change: tuple[KisState, str] | None) -> None:
        if change is None:
            return
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(*change)
            except Exception:  # an alert that fails must not fail the KIS call that caused it
                log.exception("KIS state listener failed")
