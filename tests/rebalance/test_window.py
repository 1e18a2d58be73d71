"""The execution window: TWAP_START-TWAP_END of the current or next KRX session, or a duration from now."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kis.krx import KST
from rebalance.window import TwapSettings, execution_window, parse_duration

KRX = TwapSettings()
ALWAYS = TwapSettings(calendar="always")


def kst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=KST)


@pytest.mark.parametrize("now, start, end", [
    ("2026-11-24 08:00", "2026-11-24 09:10", "2026-11-24 15:00"),  # before the session: today's window
    ("2026-11-24 11:30", "2026-11-24 11:30", "2026-11-24 15:00"),  # during it: from now
    ("2026-11-24 15:00", "2026-11-25 09:10", "2026-11-25 15:00"),  # after today's end: next session
    ("2026-11-21 11:00", "2026-11-23 09:10", "2026-11-23 15:00"),  # Saturday: Monday
    ("2026-12-31 10:00", "2027-01-04 10:10", "2027-01-04 15:00"),  # year-end holiday, then a 10:00 open
])
def test_the_default_window_follows_the_krx_calendar(now, start, end):
    window = execution_window(kst(now), KRX)
    assert (window.start, window.end) == (kst(start), kst(end))
    assert window.start.utcoffset() == timedelta(hours=9)


def test_a_duration_starts_now_and_is_clipped_to_the_session():
    assert execution_window(kst("2026-11-24 10:00"), KRX, timedelta(minutes=45)).end == kst("2026-11-24 10:45")
    clipped = execution_window(kst("2026-11-24 14:50"), KRX, timedelta(hours=2))
    assert (clipped.start, clipped.end) == (kst("2026-11-24 14:50"), kst("2026-11-24 15:10"))  # close 15:30 - 20 min


def test_a_duration_asked_outside_the_session_starts_at_the_next_open():
    window = execution_window(kst("2026-11-21 20:00"), KRX, timedelta(minutes=30))
    assert (window.start, window.end) == (kst("2026-11-23 09:10"), kst("2026-11-23 09:40"))


def test_a_session_that_closes_early_clips_the_window_before_its_close(monkeypatch):
    import pandas as pd

    from kis.krx import xkrx

    cal = xkrx()
    real_close = cal.session_close

    def early_close(session):  # a half day: the market closes at 13:00 KST
        if pd.Timestamp(session) == pd.Timestamp("2026-11-24"):
            return pd.Timestamp("2026-11-24 04:00", tz="UTC")
        return real_close(session)

    monkeypatch.setattr(cal, "session_close", early_close)
    window = execution_window(kst("2026-11-24 09:00"), KRX)
    assert (window.start, window.end) == (kst("2026-11-24 09:10"), kst("2026-11-24 12:40"))


def test_the_always_calendar_trades_every_day_and_takes_any_duration():
    assert execution_window(kst("2026-11-21 10:00"), ALWAYS).start == kst("2026-11-21 10:00")  # a Saturday
    assert execution_window(kst("2026-11-21 16:00"), ALWAYS).start == kst("2026-11-22 09:10")
    late = execution_window(kst("2026-11-21 23:59"), ALWAYS, timedelta(seconds=90))
    assert late.seconds == 90


def test_naive_times_and_empty_durations_are_refused():
    with pytest.raises(ValueError):
        execution_window(datetime(2026, 11, 24, 10), KRX)
    with pytest.raises(ValueError, match="positive"):
        execution_window(kst("2026-11-24 10:00"), KRX, timedelta(0))


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("45m", 2700), ("2h", 7200), ("1h30m", 5400), ("10 min", 600)])
def test_durations_parse(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "45", "0m", "5x", "1h-30m"])
def test_bad_durations_say_how_to_write_them(text):
    with pytest.raises(ValueError, match="90s, 45m or 2h"):
        parse_duration(text)


def test_a_5000_digit_duration_is_one_short_sentence_not_the_int_digit_limit_error():
    with pytest.raises(ValueError) as caught:
        parse_duration("9" * 5000 + "s")
    assert "far too long a duration: write it as 90s, 45m or 2h" in str(caught.value)
    assert len(str(caught.value)) < 120
