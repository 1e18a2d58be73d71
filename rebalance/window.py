"""When a TWAP run trades: the execution window in a KRX session, and the TWAP settings.

The settings are plain values (`bot.settings` reads them from the environment). Calendar `krx` follows exchange_calendars' XKRX (holidays, late opens, early closes);
`always` treats every day as a session, for the simulator and tests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pandas as pd

from kis.krx import KST, xkrx
from kis.models import OrderType
from rebalance.i18n import t

CALENDARS = ("krx", "always")
MIN_WINDOW = timedelta(seconds=60)  # a default window shorter than this moves to the next session


EXECUTIONS = ("passive", "cross")  # how slices are priced (KISBOT_EXECUTION, the plan word `cross`)


@dataclass(frozen=True)
class TwapSettings:
    """How a plan is executed: by default a TWAP of guard-priced limit orders from 09:10 to 15:00 KST."""

    start: time = time(9, 10)
    end: time = time(15, 0)
    calendar: str = "krx"
    # Marketable limit orders at a guard price: they reserve cash at the limit, not at the upper limit
    # as market-type buys do, and never pay more than `price_guard` past the latest price.
    order_type: OrderType = OrderType.LIMIT
    price_guard: float = 0.01  # KISBOT_PRICE_GUARD (percent there): how far past the latest price a limit goes
    max_slices: int = 20  # per stock: large quantities get larger slices, not more orders
    order_share: float = 0.5  # of the call budget, for orders and their cash checks
    poll_share: float = 0.2  # of the call budget, for fill polls; the rest stays free for the bot
    poll_seconds: float = 5.0  # fill poll interval, raised when the call budget needs it
    sell_share: float = 0.4  # sells run in this first part of the window, buys after
    catch_up_seconds: float = 300.0  # the catch-up pass runs this long before the end (<= 10 % of it)
    call_rate: float | None = None  # calls per second; None: the client's KIS_RATE_LIMIT
    open_margin: timedelta = timedelta(minutes=10)  # after the opening auction
    close_margin: timedelta = timedelta(minutes=20)  # before the closing auction (15:20-15:30)
    # KISBOT_SETTLE_SECONDS: an unanswered order counts as live until working lookups spanning this
    # long have not listed it (KIS lists same-day orders late, by an unmeasured delay).
    settle_seconds: float = 120.0
    # KISBOT_EXECUTION: "cross" sends each slice at the guard price (it pays the spread); "passive" first joins
    # the own side's best (bid for a buy, ask for a sell) and moves it to the guard price after
    # `passive_seconds`, when the stock falls `passive_behind` of its goal behind the schedule, or at the
    # catch-up pass (rebalance/twap/pricing.py). The bot's default is passive; this one stays cross.
    execution: str = "cross"
    passive_seconds: float = 60.0
    passive_behind: float = 0.2
    # Read the best bid and ask before each send (one asking-price call) for the receipt's spread figures, in
    # either style; passive runs always read it. The bot turns it on; plain runs in code leave it off.
    record_book: bool = False

    def __post_init__(self) -> None:
        if self.calendar not in CALENDARS:
            raise ValueError(f"calendar '{self.calendar}' is not one of {', '.join(CALENDARS)}")
        if self.start >= self.end:
            raise ValueError(f"TWAP start {self.start:%H:%M} is not before the end {self.end:%H:%M}")
        if self.max_slices < 1:
            raise ValueError("max_slices must be at least 1")
        if not 0 <= self.price_guard < 0.3:
            raise ValueError(f"price guard {self.price_guard:.2%} is not between 0 and 30 %")
        if self.settle_seconds < 0:
            raise ValueError("settle_seconds must not be negative")
        if self.execution not in EXECUTIONS:
            raise ValueError(f"execution '{self.execution}' is not one of {', '.join(EXECUTIONS)}")
        if self.passive_seconds < 0 or not 0 <= self.passive_behind <= 1:
            raise ValueError("passive_seconds must not be negative and passive_behind must be within 0..1")


@dataclass(frozen=True)
class Window:
    """The span a run trades in, both ends tz-aware KST."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def execution_window(now: datetime, settings: TwapSettings, duration: timedelta | None = None) -> Window:
    """The window of the current session, or the next one when today's is over or closed.

    With `duration` the window starts now (or at the next session's open) and is clipped to the session.
    """
    if now.tzinfo is None:
        raise ValueError("execution_window needs an aware datetime")
    now = now.astimezone(KST)
    if duration is not None and duration <= timedelta(0):
        raise ValueError("the duration must be positive")
    if settings.calendar == "always":
        return _always_window(now, settings, duration)
    return _krx_window(now, settings, duration)


def _always_window(now: datetime, settings: TwapSettings, duration: timedelta | None) -> Window:
    if duration is not None:
        return Window(now, now + duration)  # no session to clip to: the simulator trades all day
    day = now.date()
    for _ in range(2):
        start = max(now, datetime.combine(day, settings.start, KST))
        end = datetime.combine(day, settings.end, KST)
        if end - start >= MIN_WINDOW:
            return Window(start, end)
        day += timedelta(days=1)
    raise AssertionError("unreachable: tomorrow's window is never empty")  # pragma: no cover


def _krx_window(now: datetime, settings: TwapSettings, duration: timedelta | None) -> Window:
    cal = xkrx()
    day = pd.Timestamp(now.date())
    if day > cal.last_session:
        raise ValueError(t("window_errors.calendar_end", day=f"{now:%Y-%m-%d}"))
    session = cal.date_to_session(day, direction="next")
    for _ in range(30):
        open_ = cal.session_open(session).tz_convert(KST).to_pydatetime()
        close = cal.session_close(session).tz_convert(KST).to_pydatetime()
        earliest = open_ + settings.open_margin
        latest = close - settings.close_margin
        if duration is not None:
            start = max(now, earliest)
            end = min(start + duration, latest)
            shortest = min(duration, MIN_WINDOW)
        else:
            start = max(now, earliest, datetime.combine(open_.date(), settings.start, KST))
            end = min(latest, datetime.combine(open_.date(), settings.end, KST))
            shortest = MIN_WINDOW
        if end - start >= shortest:
            return Window(start, end)
        session = cal.next_session(session)
    raise ValueError(t("window_errors.no_session"))


_DURATION = re.compile(r"(\d+)\s*(sec|min|hr|s|m|h)", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}


def parse_duration(text: str) -> timedelta:
    """`90s`, `45m`, `2h`, `1h30m` -> timedelta; ValueError with the accepted forms otherwise."""
    cleaned = text.strip().lower()
    parts = list(_DURATION.finditer(cleaned))
    if not parts or "".join(p.group(0) for p in parts).replace(" ", "") != cleaned.replace(" ", ""):
        raise ValueError(t("misc_replies.not_duration", text=text))
    if any(len(p[1]) > 9 for p in parts):  # a 5,000-digit paste: a sentence, not int()'s digit-limit error
        raise ValueError(t("misc_replies.too_long_duration", text=text[:24]))
    seconds = sum(int(p[1]) * _UNIT_SECONDS[p[2].lower()] for p in parts)
    if seconds <= 0:
        raise ValueError(t("misc_replies.not_positive_duration", text=text))
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # more days than a timedelta holds
        raise ValueError(t("misc_replies.too_long_duration", text=text)) from None
