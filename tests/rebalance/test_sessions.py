"""When the daily report is due: KRX trading days at KISBOT_REPORT_AT, once a day, late but not twice."""
from __future__ import annotations

from datetime import date, datetime, time

import pytest

from kis.krx import KST
from rebalance.sessions import is_trading_day, next_report_at, session_day

AT = time(15, 40)


def kst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=KST)


@pytest.mark.parametrize("now, last, due", [
    ("2026-11-24 09:00", None, "2026-11-24 15:40"),  # a Tuesday: today at 15:40
    ("2026-11-24 15:41", None, "2026-11-24 15:41"),  # down at 15:40: owed, so now
    ("2026-11-24 15:41", "2026-11-24", "2026-11-25 15:40"),  # restarted after the report: tomorrow
    ("2026-11-27 16:00", "2026-11-27", "2026-11-30 15:40"),  # Friday reported: Monday
    ("2026-12-24 16:00", "2026-12-24", "2026-12-28 15:40"),  # Christmas (Fri) is a KRX holiday
    ("2026-12-30 16:00", "2026-12-30", "2027-01-04 15:40"),  # year-end closing day, then New Year
])
def test_the_next_report_is_on_the_next_krx_trading_day(now, last, due):
    reported = date.fromisoformat(last) if last else None
    assert next_report_at(kst(now), AT, "krx", reported) == kst(due)


def test_every_day_is_a_trading_day_on_the_always_calendar():
    assert next_report_at(kst("2026-11-28 16:00"), AT, "always", date(2026, 11, 28)) == kst("2026-11-29 15:40")
    assert is_trading_day(date(2026, 12, 25), "always") and not is_trading_day(date(2026, 12, 25), "krx")


def test_a_value_seen_on_a_holiday_belongs_to_the_last_session():
    assert session_day(kst("2026-11-29 12:00"), "krx") == date(2026, 11, 27)  # Sunday -> Friday
    assert session_day(kst("2026-11-24 08:00"), "krx") == date(2026, 11, 24)
