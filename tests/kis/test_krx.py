"""KRX sessions: exchange_calendars' XKRX where it reaches, weekdays 09:00-15:30 beyond."""
from datetime import date, timedelta

from kis.krx import KST, session_hours, xkrx


def test_a_trading_day_opens_at_nine_and_closes_at_half_past_three_kst():
    opens, closes = session_hours(date(2026, 11, 24))
    assert (opens.tzinfo, opens.hour, closes.hour, closes.minute) == (KST, 9, 15, 30)


def test_weekends_and_holidays_have_no_session():
    assert session_hours(date(2026, 11, 28)) is None  # a Saturday
    assert session_hours(date(2026, 12, 25)) is None  # Christmas, a Friday


def test_past_the_calendar_s_reach_a_weekday_is_a_regular_session():
    last = xkrx().last_session.date()
    monday = last + timedelta(days=14 - last.weekday())
    opens, closes = session_hours(monday)
    assert (opens.hour, opens.minute, closes.hour, closes.minute) == (9, 0, 15, 30)
    assert session_hours(monday + timedelta(days=5)) is None
