"""Windows and venues: no window includes the ETF market makers' quote-free minutes."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from kis.krx import KST, session_hours
from kis.venues import free_pieces
from rebalance.i18n import Msg
from rebalance.window import (AfterRefused, TwapSettings, after_guard, after_window, execution_window,
                              is_after_word)


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


# ---- /confirm after ---------------------------------------------------------------------------------------

WEEKDAYS = lambda day: day.weekday() < 5  # noqa: E731
NXT = {"005930", "000660"}
ETFS = {"069500"}


def weekday(after: int = 1) -> date:
    day = date.today() + timedelta(days=after)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def after(now, codes, *, sor=True, checked=True, settings=TwapSettings()):
    return after_window(now, codes, settings, via_nxt=lambda c: sor and c in NXT, etp=lambda c: c in ETFS,
                        krx_after_off=None if checked else Msg("nxt.after_unchecked"), trading_day=WEEKDAYS)


@pytest.mark.parametrize("word", ["after", "AFTER", "장후", "퇴근후"])
def test_after_words_are_read_in_both_languages(word):
    assert is_after_word(word)


def test_a_plan_with_a_krx_only_stock_trades_on_krxs_after_market_from_four_to_seven_fifty():
    day = weekday()
    found = after(at(day, 12, 0), ["005930", "035720"])
    assert (found.window.start, found.window.end) == (at(day, 16, 0), at(day, 19, 50))
    assert found.krx == ("035720",) and found.nxt == ("005930",)


def test_a_plan_of_nxt_stocks_only_starts_at_nxts_after_market_at_three_forty():
    day = weekday()
    found = after(at(day, 12, 0), ["005930", "000660"])
    assert found.window.start == at(day, 15, 40) and found.krx == ()


def test_without_sor_every_stock_waits_for_krxs_after_market():
    day = weekday()
    found = after(at(day, 12, 0), ["005930"], sor=False)
    assert found.window.start == at(day, 16, 0) and found.nxt == ()


def test_confirmed_during_the_after_market_the_window_starts_now():
    day = weekday()
    found = after(at(day, 17, 30), ["035720"])
    assert (found.window.start, found.window.end) == (at(day, 17, 30), at(day, 19, 50))


def test_confirmed_after_seven_fifty_the_window_is_the_next_trading_days():
    friday = weekday()
    while friday.weekday() != 4:
        friday += timedelta(days=1)
    found = after(at(friday, 19, 55), ["035720"])
    monday = friday + timedelta(days=3)
    assert found.window.start == at(monday, 16, 0)


def test_an_etf_is_refused_after_work_since_no_after_market_lists_it():
    with pytest.raises(AfterRefused) as refused:
        after(at(weekday(), 12, 0), ["005930", "069500"])
    assert refused.value.msg == Msg("nxt.after_etf", codes="069500")


def test_a_krx_only_stock_is_refused_until_the_doctor_checked_krxs_after_market():
    with pytest.raises(AfterRefused) as refused:
        after(at(weekday(), 12, 0), ["035720"], checked=False)
    assert refused.value.msg == Msg("nxt.after_needs", why=Msg("nxt.after_unchecked"))
    assert "doctor --orders" in str(refused.value)


def test_nxt_stocks_through_a_checked_sor_need_no_krx_after_market_check():
    assert after(at(weekday(), 12, 0), ["005930"], checked=False).krx == ()


def test_the_after_work_guard_is_wider_than_the_days():
    assert after_guard(TwapSettings(price_guard=0.01)) == 0.02
    assert after_guard(TwapSettings(price_guard=0.015)) == 0.03
    assert after(at(weekday(), 12, 0), ["035720"]).guard > TwapSettings().price_guard


def test_no_after_work_window_includes_a_quote_free_minute():
    day = weekday()
    for now in (at(day, 8, 0), at(day, 15, 25), at(day, 16, 30)):
        found = after(now, ["005930", "035720"]).window
        assert free_pieces(found.start, found.end) == [(found.start, found.end)]
