"""When a TWAP run trades: the execution window in a KRX session, and the TWAP settings.

The settings are plain values (`bot.settings` reads them from the environment). Calendar `krx` follows exchange_calendars' XKRX (holidays, late opens, early closes);
`always` treats every day as a session, for the simulator and tests.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Callable, Sequence

import pandas as pd

from kis.krx import KST, xkrx
from kis.models import OrderType
from kis.venues import KRX_AFTER, NXT_AFTER, krx_trading_day, without_quote_free
from rebalance.i18n import Msg, t

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
    # The duration asked (`/confirm 2h`), None for the session's default window: a run's other markets take
    # the same ask in their own sessions (the executor's legs). Not part of a window's identity.
    asked: timedelta | None = field(default=None, compare=False)

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
        window = _always_window(now, settings, duration)
    else:
        window = _krx_window(now, settings, duration)
    return replace(window, asked=duration)


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
        start, end = without_quote_free(start, end) or (start, start)  # never in the market makers' quote-free minutes
        if end - start >= shortest:
            return Window(start, end)
        session = cal.next_session(session)
    raise ValueError(t("window_errors.no_session"))


def session_window(market, now: datetime, settings: TwapSettings, duration: timedelta | None = None) -> Window:
    """The window of `market`'s regular session (a `kis.markets.Market`: its calendar, local hours and early
    closes) open now, or of its next one: the session less the open and close margins; with `duration` it
    starts now (or at that open) and is clipped to the session. Calendar `always`: as for KRX, any hour.
    Both ends are KST, as every window is."""
    if now.tzinfo is None:
        raise ValueError("session_window needs an aware datetime")
    if duration is not None and duration <= timedelta(0):
        raise ValueError("the duration must be positive")
    if settings.calendar == "always":
        return _always_window(now.astimezone(KST), settings, duration)
    day = now.astimezone(market.tz).date()
    for _ in range(30):
        hours = market.session(day)
        day += timedelta(days=1)
        if hours is None:
            continue
        earliest = hours[0] + settings.open_margin
        latest = hours[1] - settings.close_margin
        start = max(now, earliest)
        end = latest if duration is None else min(start + duration, latest)
        if end - start >= (MIN_WINDOW if duration is None else min(duration, MIN_WINDOW)):
            return Window(start.astimezone(KST), end.astimezone(KST))
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


# ---- after work: KRX's after-market and NXT's (kis/venues.py) -----------------------------------------------

AFTER_WORDS = frozenset({"after", "장후", "퇴근후", "애프터"})  # `/confirm after`
AFTER_GUARD_FACTOR = 2  # after hours the guard is this many times the day's (at least AFTER_GUARD_FLOOR)
AFTER_GUARD_FLOOR = 0.02
AFTER_CLOSE_MARGIN = timedelta(minutes=10)  # before 20:00, when both after-markets end


def is_after_word(word: str) -> bool:
    return word.strip().lower() in AFTER_WORDS


@dataclass(frozen=True)
class AfterWindow:
    """An after-work run: its window, the stocks on KRX's after-market and on NXT's (through SOR), its guard."""

    window: Window
    krx: tuple[str, ...]
    nxt: tuple[str, ...]
    guard: float


class AfterRefused(ValueError):
    """`/confirm after` cannot run this plan; `msg` says why in one sentence."""

    def __init__(self, msg: Msg) -> None:
        self.msg = msg
        super().__init__(str(msg))

    def __str__(self) -> str:
        return str(self.msg).rstrip(".")  # shown inside a sentence that adds its own period


def after_guard(settings: TwapSettings) -> float:
    """The wider guard of an after-work run: few trade after hours, so a marketable limit needs more room."""
    return min(0.29, max(settings.price_guard * AFTER_GUARD_FACTOR, AFTER_GUARD_FLOOR))


def after_window(now: datetime, codes: Sequence[str], settings: TwapSettings, *, via_nxt: Callable[[str], bool],
                 etp: Callable[[str], bool], krx_after_off: Msg | None,
                 trading_day: Callable[[date], bool] = krx_trading_day) -> AfterWindow:
    """The after-work window for `codes`: KRX's after-market (16:00-20:00) for each stock, NXT's (15:40-20:00) for
    those SOR may send there (`via_nxt`: on today's list, SOR checked); the run starts at 15:40 only when every
    stock goes through NXT. AfterRefused when an ETF/ETN has neither market (KRX's after-market takes no ETF as far
    as KIS lists, and NXT lists none), or a stock needs KRX's after-market and the doctor has not checked it
    (`krx_after_off`: its sentence). Ends AFTER_CLOSE_MARGIN before 20:00; never in a quote-free minute."""
    if now.tzinfo is None:
        raise ValueError("after_window needs an aware datetime")
    now = now.astimezone(KST)
    nxt = tuple(c for c in codes if via_nxt(c))
    krx = tuple(c for c in codes if c not in nxt)
    funds = [c for c in krx if etp(c)]
    if funds:
        raise AfterRefused(Msg("nxt.after_etf", codes=", ".join(funds)))
    if krx and krx_after_off is not None:
        raise AfterRefused(Msg("nxt.after_needs", why=krx_after_off))
    span = KRX_AFTER if krx else NXT_AFTER
    day = now.date()
    for _ in range(30):
        if trading_day(day):
            open_, close = span.on(day)
            start, end = max(now, open_), close - AFTER_CLOSE_MARGIN
            piece = without_quote_free(start, end) if end > start else None
            if piece is not None and piece[1] - piece[0] >= MIN_WINDOW:
                return AfterWindow(Window(*piece), krx, nxt, after_guard(settings))
        day += timedelta(days=1)
    raise AfterRefused(Msg("nxt.after_no_day"))
