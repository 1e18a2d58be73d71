"""One window per market: the US legs' window is XNYS's regular session open now or next (winter and US
daylight time, early closes, holidays), the KRX legs keep the window they are given; the clock is injected."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from kis.krx import KST
from kis.markets import NASD
from rebalance.model import Plan, PlanLine
from rebalance.twap.legs import Legs, leg_windows
from rebalance.window import TwapSettings, Window, execution_window, session_window

SETTINGS = TwapSettings()


def kst(*args) -> datetime:
    return datetime(*args, tzinfo=KST)


@pytest.mark.parametrize("now, start, end", [
    # winter (EST): 09:30-16:00 New York is 23:30-06:00 KST, less 10 min after the open and 20 before the close
    (kst(2026, 12, 8, 10, 0), kst(2026, 12, 8, 23, 40), kst(2026, 12, 9, 5, 40)),
    # US daylight time (EDT): 22:30-05:00 KST
    (kst(2026, 7, 7, 12, 0), kst(2026, 7, 7, 22, 40), kst(2026, 7, 8, 4, 40)),
    # the day after Thanksgiving closes at 13:00 New York: 03:00 KST
    (kst(2026, 11, 27, 12, 0), kst(2026, 11, 27, 23, 40), kst(2026, 11, 28, 2, 40)),
    # inside the session: from now to the close's margin
    (kst(2026, 12, 9, 1, 15), kst(2026, 12, 9, 1, 15), kst(2026, 12, 9, 5, 40)),
    # Christmas Eve closes early, Christmas and the weekend are shut: Monday the 28th
    (kst(2026, 12, 25, 12, 0), kst(2026, 12, 28, 23, 40), kst(2026, 12, 29, 5, 40)),
])
def test_the_us_window_is_the_xnys_regular_session_open_now_or_next(now, start, end):
    assert session_window(NASD, now, SETTINGS) == Window(start, end)


def test_a_duration_starts_now_in_an_open_us_session_and_is_clipped_to_its_close():
    assert session_window(NASD, kst(2026, 12, 9, 0, 30), SETTINGS, timedelta(hours=2)) == Window(
        kst(2026, 12, 9, 0, 30), kst(2026, 12, 9, 2, 30))
    assert session_window(NASD, kst(2026, 12, 9, 5, 0), SETTINGS, timedelta(hours=2)) == Window(
        kst(2026, 12, 9, 5, 0), kst(2026, 12, 9, 5, 40))


def test_a_duration_asked_while_the_us_market_is_shut_starts_at_its_next_opening():
    assert session_window(NASD, kst(2026, 12, 8, 14, 0), SETTINGS, timedelta(hours=2)) == Window(
        kst(2026, 12, 8, 23, 40), kst(2026, 12, 9, 1, 40))


def test_on_the_always_open_calendar_the_us_window_starts_now():
    now = kst(2026, 12, 8, 14, 0)
    assert session_window(NASD, now, TwapSettings(calendar="always"), timedelta(seconds=30)) == Window(
        now, now + timedelta(seconds=30))


def _plan() -> Plan:
    lines = (PlanLine("005930", "Samsung", 70_000, 10, 0, 0.0, 0.0),
             PlanLine("AAPL", "Apple", Decimal("233.12"), 0, 3, 0.0, 0.0, market="NASD", currency="USD",
                      rate=Decimal("1380.50")))
    now = kst(2026, 12, 8, 10, 0)
    return Plan("p1", lines, 0, 700_000, 700_000, 0, now, now + timedelta(minutes=10))


def test_a_mixed_confirm_2h_spans_krx_now_and_the_us_market_at_its_next_opening():
    now = kst(2026, 12, 8, 10, 0)
    given = execution_window(now, SETTINGS, timedelta(hours=2))
    windows = leg_windows(Legs(None), _plan(), given, now, SETTINGS)
    assert windows == {"KRX": Window(now, kst(2026, 12, 8, 12, 0)),
                       "US": Window(kst(2026, 12, 8, 23, 40), kst(2026, 12, 9, 1, 40))}


def test_on_the_always_open_calendar_every_market_trades_in_the_given_window():
    now = kst(2026, 12, 8, 10, 0)
    settings = TwapSettings(calendar="always")
    given = execution_window(now, settings, timedelta(seconds=30))
    assert leg_windows(Legs(None), _plan(), given, now, settings) == {"KRX": given, "US": given}
