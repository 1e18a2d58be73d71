"""Trading days for the daily report: which days are KRX sessions, and when the next report is due.

The report time is read by `bot.settings.load_report_at`. The calendar is the execution window's (`MARKET_CALENDAR`: KRX sessions from `kis.krx`, or `always`).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from kis.krx import KST, session_hours
from rebalance.window import CALENDARS

DEFAULT_REPORT_AT = time(15, 40)  # after the 15:30 close, when the day's fills and prices are final
MAX_DAYS_AHEAD = 30  # no calendar has a month without a session


def is_trading_day(day: date, calendar: str) -> bool:
    """True on a session of `calendar` (beyond exchange_calendars' reach KRX counts weekdays)."""
    if calendar not in CALENDARS:
        raise ValueError(f"calendar '{calendar}' is not one of {', '.join(CALENDARS)}")
    return calendar == "always" or session_hours(day) is not None


def session_day(now: datetime, calendar: str) -> date:
    """The trading day a value seen at `now` belongs to: today on a session day, else the last session."""
    day = now.astimezone(KST).date()
    for _ in range(MAX_DAYS_AHEAD):
        if is_trading_day(day, calendar):
            return day
        day -= timedelta(days=1)
    raise ValueError(f"no trading day in the {MAX_DAYS_AHEAD} days before {now:%Y-%m-%d}")


def next_report_at(now: datetime, at: time, calendar: str, last_reported: date | None) -> datetime:
    """When the next daily report is due: today at `at` (now, if that has passed and today's report is
    still owed), else `at` on the next trading day. Never a second report for a day already reported."""
    now = now.astimezone(KST)
    day = now.date()
    for _ in range(MAX_DAYS_AHEAD):
        if day != last_reported and is_trading_day(day, calendar):
            due = datetime.combine(day, at, KST)
            if day > now.date() or due > now:
                return due
            if day == now.date():
                return now  # owed today and past due (the bot was down at `at`): send it now
        day += timedelta(days=1)
    raise ValueError(f"no trading day in the {MAX_DAYS_AHEAD} days after {now:%Y-%m-%d}")
