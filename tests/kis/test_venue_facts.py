"""The venue facts: NXT's sessions, KRX's after-market, the market makers' quote-free minutes, the kept NXT list."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone

import pytest

from kis.krx import KST
from kis.venues import (NXT_AFTER, NXT_MAIN, NXT_PRE, NxtList, Venue, entry_from, filled_on, free_pieces,
                        krx_after_market, notice_code, nxt_after_market, nxt_session, quote_free, without_quote_free)

WEEKDAYS = lambda day: day.weekday() < 5  # noqa: E731  a calendar of the test's own: no holiday table, no date constant


def a_weekday(offset: int = 0) -> date:
    day = date.today() + timedelta(days=offset)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), KST)


@pytest.mark.parametrize("hhmmss, session", [
    ((7, 59, 59), None), ((8, 0, 0), NXT_PRE), ((8, 49, 59), NXT_PRE), ((8, 50, 0), None),
    ((9, 0, 29), None), ((9, 0, 30), NXT_MAIN), ((15, 19, 59), NXT_MAIN), ((15, 20, 0), None),
    ((15, 39, 59), None), ((15, 40, 0), NXT_AFTER), ((19, 59, 59), NXT_AFTER), ((20, 0, 0), None),
])
def test_nxt_sessions_start_and_end_on_the_second_nextrade_states(hhmmss, session):
    assert nxt_session(at(a_weekday(), *hhmmss), WEEKDAYS) == session


def test_nxt_does_not_trade_on_a_day_krx_is_closed():
    saturday = a_weekday() + timedelta(days=(5 - a_weekday().weekday()) % 7)
    assert saturday.weekday() == 5
    assert nxt_session(at(saturday, 10, 0), WEEKDAYS) is None
    assert krx_after_market(saturday, WEEKDAYS) is None
    assert nxt_after_market(saturday, WEEKDAYS) is None


def test_the_after_markets_are_krx_four_to_eight_and_nxt_three_forty_to_eight():
    day = a_weekday(3)
    assert krx_after_market(day, WEEKDAYS) == (at(day, 16, 0), at(day, 20, 0))
    assert nxt_after_market(day, WEEKDAYS) == (at(day, 15, 40), at(day, 20, 0))


def test_a_time_in_another_zone_is_read_in_kst():
    day = a_weekday()
    utc = at(day, 15, 45).astimezone(timezone.utc)
    assert utc.hour == 6 and nxt_session(utc, WEEKDAYS) == NXT_AFTER


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError):
        nxt_session(datetime(2000, 1, 3, 10, 0), WEEKDAYS)


@pytest.mark.parametrize("hhmm, free", [((8, 29), False), ((8, 30), True), ((9, 4), True), ((9, 5), False),
                                        ((15, 19), False), ((15, 20), True), ((15, 29), True), ((15, 30), False)])
def test_the_market_makers_quote_free_minutes_are_eight_thirty_to_nine_five_and_fifteen_twenty_to_thirty(hhmm, free):
    assert (quote_free(at(a_weekday(), *hhmm)) is not None) is free


def test_a_span_across_the_closing_quote_free_minutes_is_cut_around_them():
    day = a_weekday()
    assert free_pieces(at(day, 15, 0), at(day, 16, 0)) == [(at(day, 15, 0), at(day, 15, 20)),
                                                           (at(day, 15, 30), at(day, 16, 0))]


def test_a_window_keeps_its_longest_part_without_quote_free_minutes():
    day = a_weekday()
    assert without_quote_free(at(day, 8, 0), at(day, 10, 0)) == (at(day, 9, 5), at(day, 10, 0))
    assert without_quote_free(at(day, 15, 0), at(day, 15, 25)) == (at(day, 15, 0), at(day, 15, 20))
    assert without_quote_free(at(day, 8, 40), at(day, 9, 0)) is None


def test_a_window_over_midnight_loses_the_next_mornings_quote_free_minutes_too():
    day = a_weekday()
    pieces = free_pieces(at(day, 16, 0), at(day, 16, 0) + timedelta(hours=18))
    assert pieces == [(at(day, 16, 0), at(day + timedelta(days=1), 8, 30)),
                      (at(day + timedelta(days=1), 9, 5), at(day, 16, 0) + timedelta(hours=18))]


@pytest.mark.parametrize("code, venue", [("1", Venue.KRX), ("2", Venue.NXT), ("3", Venue.KRX), ("4", Venue.NXT),
                                         ("", None), ("9", None)])
def test_a_notices_order_exchange_field_names_where_it_filled(code, venue):
    assert filled_on(code) == venue


def test_the_notice_code_of_a_routed_fill_is_three_or_four():
    assert [notice_code(Venue.KRX, False), notice_code(Venue.NXT, False),
            notice_code(Venue.KRX, True), notice_code(Venue.NXT, True)] == ["1", "2", "3", "4"]


def test_a_stock_is_on_nxts_list_when_kis_says_so_and_nxt_has_not_halted_it():
    assert entry_from({"cptt_trad_tr_psbl_yn": "Y", "nxt_tr_stop_yn": "N", "scty_grp_id_cd": "ST"}, "d").listed
    assert not entry_from({"cptt_trad_tr_psbl_yn": "Y", "nxt_tr_stop_yn": "Y"}, "d").listed
    assert not entry_from({"cptt_trad_tr_psbl_yn": "N"}, "d").listed
    assert not entry_from({}, "d").listed
    assert entry_from({"scty_grp_id_cd": "EF"}, "d").etp
    assert not entry_from({"scty_grp_id_cd": "ST", "etf_dvsn_cd": "0"}, "d").etp


def test_the_kept_nxt_list_asks_each_code_once_a_day_and_again_the_next(tmp_path):
    asked = []
    clock = [at(a_weekday(), 10, 0)]

    def ask(code):
        asked.append(code)
        return {"cptt_trad_tr_psbl_yn": "Y", "scty_grp_id_cd": "ST"}

    kept = NxtList(tmp_path / "nxt.json", ask, now=lambda: clock[0])
    assert kept.entry("005930").listed
    assert kept.entry("005930").listed
    assert asked == ["005930"]
    again = NxtList(tmp_path / "nxt.json", ask, now=lambda: clock[0])  # a restart reads the kept list
    assert again.entry("005930").listed and asked == ["005930"]
    clock[0] += timedelta(days=1)
    again.entry("005930")
    assert asked == ["005930", "005930"]


def test_a_stock_kis_will_not_describe_counts_as_off_nxts_list(tmp_path):
    kept = NxtList(tmp_path / "nxt.json", lambda code: None, now=lambda: at(a_weekday(), 10, 0))
    assert not kept.entry("005930").listed


def test_an_unreadable_kept_list_is_asked_again(tmp_path):
    path = tmp_path / "nxt.json"
    path.write_text("{not json", encoding="utf-8")
    kept = NxtList(path, lambda code: {"cptt_trad_tr_psbl_yn": "Y"}, now=lambda: at(a_weekday(), 10, 0))
    assert kept.entry("000660").listed
    assert json.loads(path.read_text(encoding="utf-8"))["000660"]["listed"] is True


def test_a_notice_record_keeps_its_order_exchange_field_as_the_venue():
    from kis.notices import NOTICE_FIELDS, notice_from, records

    values = {name: "" for name in NOTICE_FIELDS}
    values.update(ACNT_NO="5000000001", ODER_NO="0000000117", SELN_BYOV_CLS="02", RCTF_CLS="0", ODER_KIND="00",
                  STCK_SHRN_ISCD="005930", CNTG_QTY="3", CNTG_UNPR="97000", STCK_CNTG_HOUR="171500", RFUS_YN="0",
                  CNTG_YN="2", ODER_QTY="3", ORD_EXG_GB="2")
    notice = notice_from(records("^".join(values[n] for n in NOTICE_FIELDS), 1)[0])
    assert notice.venue == "2" and filled_on(notice.venue) is Venue.NXT
