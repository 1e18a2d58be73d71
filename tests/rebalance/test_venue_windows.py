"""Windows and venues: no window includes the ETF market makers' quote-free minutes."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from kis.krx import KST, session_hours
from rebalance.window import TwapSettings, execution_window


def a_session_day(after: int = 1) -> date:
    """A KRX trading day with a 09:00 open, found from today (no date constant)."""
    day = date.today() + timedelta(days=after)
    while True:
        hours = session_hours(day)
        if hours is not None and hours[0].time() == time(9, 0) and hours[1].time() == time(15, 30):
            return day
        day += timedelta(days=1)


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), KST)


def test_a_window_without_an_open_margin_starts_after_the_market_makers_quote_free_minutes():
    day = a_session_day()
    window = execution_window(at(day, 9, 0), TwapSettings(open_margin=timedelta(0)), timedelta(minutes=30))
    assert window.start == at(day, 9, 5)


def test_a_window_without_a_close_margin_ends_before_the_closing_quote_free_minutes():
    day = a_session_day()
    window = execution_window(at(day, 15, 0), TwapSettings(close_margin=timedelta(0)), timedelta(hours=1))
    assert (window.start, window.end) == (at(day, 15, 0), at(day, 15, 20))


def test_a_default_day_window_that_would_reach_the_closing_auction_stops_at_fifteen_twenty():
    day = a_session_day()
    settings = TwapSettings(start=time(9, 0), end=time(15, 30), open_margin=timedelta(0), close_margin=timedelta(0))
    window = execution_window(at(day, 8, 0), settings)
    assert (window.start, window.end) == (at(day, 9, 5), at(day, 15, 20))
