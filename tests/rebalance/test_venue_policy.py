"""Per stock, SOR only when it is on, the doctor passed it, and NXT lists the stock today (no ETF); else KRX."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kis.krx import KST
from kis.models import OrderAck, OrderSide, OrderType
from kis.venues import NxtList, Venue
from rebalance.i18n import Msg
from rebalance.venues import (AFTER_CHECK, SOR_CHECK, VenueCheck, VenueChecks, VenuePolicy, VenueRouter,
                              VenueSettings, checks_path, doctor_check, unchecked)

NOW = datetime.now(KST).replace(hour=10, minute=0, second=0, microsecond=0)
ANSWERS = {
    "005930": {"cptt_trad_tr_psbl_yn": "Y", "scty_grp_id_cd": "ST"},
    "069500": {"cptt_trad_tr_psbl_yn": "N", "scty_grp_id_cd": "EF", "etf_dvsn_cd": "1"},
    "0013V0": {"cptt_trad_tr_psbl_yn": "N", "scty_grp_id_cd": "ST"},
    "091990": {"cptt_trad_tr_psbl_yn": "Y", "scty_grp_id_cd": "EN"},  # an ETN said listed: still refused
}


@pytest.fixture
def checks(tmp_path):
    return VenueChecks(checks_path(tmp_path, "mock", "https://openapivts.koreainvestment.com:29443"))


def policy(tmp_path, checks, *, sor=True, clock=None):
    clock = clock or [NOW]
    asked = []

    def ask(code):
        asked.append(code)
        return ANSWERS.get(code)

    kept = NxtList(tmp_path / "nxt.json", ask, now=lambda: clock[0])
    return VenuePolicy(VenueSettings(sor=sor), checks, kept), asked


def passed(checks, name=SOR_CHECK):
    checks.record(doctor_check(name, True, now=lambda: NOW))


def test_sor_is_off_by_default():
    assert VenueSettings().sor is False


def test_with_the_setting_off_every_stock_goes_to_krx_and_nxt_is_not_asked(tmp_path, checks):
    passed(checks)
    p, asked = policy(tmp_path, checks, sor=False)
    assert p.choose("005930").venue is Venue.KRX and p.venue("005930") is Venue.KRX
    assert p.notes(["005930"]) == [] and asked == []


def test_with_the_setting_on_but_no_doctor_check_every_stock_goes_to_krx_and_the_plan_says_why(tmp_path, checks):
    p, asked = policy(tmp_path, checks)
    assert p.choose("005930").venue is Venue.KRX
    assert p.notes(["005930", "000660"]) == [Msg("nxt.sor_unchecked")]
    assert asked == []


def test_a_failed_doctor_check_keeps_sor_off_and_says_what_kis_said(tmp_path, checks):
    checks.record(doctor_check(SOR_CHECK, False, "APBK1744 NXT 거래 대상 종목이 아닙니다", now=lambda: NOW))
    p, _ = policy(tmp_path, checks)
    note = p.notes(["005930"])[0]
    assert note.key == "nxt.sor_failed" and "APBK1744" in note.params["said"]
    assert p.venue("005930") is Venue.KRX


def test_a_checked_sor_routes_a_stock_on_nxts_list(tmp_path, checks):
    passed(checks)
    p, _ = policy(tmp_path, checks)
    assert p.choose("005930").venue is Venue.SOR and p.venue("005930") is Venue.SOR


@pytest.mark.parametrize("code, key", [("069500", "nxt.sor_etf"), ("091990", "nxt.sor_etf"),
                                       ("0013V0", "nxt.sor_off_list"), ("000660", "nxt.sor_off_list")])
def test_sor_is_refused_in_one_sentence_for_an_etf_or_a_stock_off_the_list(tmp_path, checks, code, key):
    passed(checks)
    p, _ = policy(tmp_path, checks)
    choice = p.choose(code)
    assert choice.venue is Venue.KRX and choice.refusal == Msg(key, code=code)
    assert p.notes([code]) == [Msg(key, code=code)]
    assert str(choice.refusal).count(".") == 1  # one sentence
    assert p.venue(code) is Venue.KRX


def test_at_order_time_only_todays_kept_answer_counts_and_kis_is_not_asked(tmp_path, checks):
    passed(checks)
    clock = [NOW]
    p, asked = policy(tmp_path, checks, clock=clock)
    assert p.venue("005930") is Venue.KRX and asked == []  # never asked at plan time: KRX
    p.choose("005930")
    assert p.venue("005930") is Venue.SOR
    clock[0] += timedelta(days=1)
    assert p.venue("005930") is Venue.KRX and asked == ["005930"]  # yesterday's answer is stale


def test_the_doctors_record_survives_a_restart_and_an_unreadable_one_checks_nothing(tmp_path, checks):
    passed(checks, AFTER_CHECK)
    assert VenueChecks(checks.path).passed(AFTER_CHECK) and not VenueChecks(checks.path).passed(SOR_CHECK)
    assert unchecked(AFTER_CHECK, checks) is None and unchecked(SOR_CHECK, checks) == Msg("nxt.sor_unchecked")
    checks.path.write_text("[{]", encoding="utf-8")
    assert not checks.passed(AFTER_CHECK)
    checks.record(VenueCheck(SOR_CHECK, True, NOW.isoformat()))
    assert checks.passed(SOR_CHECK) and not checks.passed(AFTER_CHECK)


class Broker:
    def __init__(self):
        self.sent = []
        self.orders_venue = "KRX"

    def order(self, code, side, qty, order_type=OrderType.LIMIT, price=0, *, venue=Venue.KRX):
        self.sent.append((code, venue))
        return OrderAck("1", "06010", code, side, qty, order_type, price, venue=Venue(venue).value)

    def price(self, code, *, market="J"):
        return ("price", code, market)


def test_the_router_sends_each_stock_to_its_venue_and_passes_every_other_call(tmp_path, checks):
    passed(checks)
    p, _ = policy(tmp_path, checks)
    for code in ("005930", "069500"):
        p.choose(code)
    broker = Broker()
    router = VenueRouter(broker, p)
    assert broker.orders_venue == "ALL"  # a restart's lookups find an earlier run's SOR orders
    router.order("005930", OrderSide.BUY, 3, OrderType.LIMIT, 97_000)
    router.order("069500", OrderSide.SELL, 1, OrderType.LIMIT, 40_000)
    assert broker.sent == [("005930", Venue.SOR), ("069500", Venue.KRX)]
    assert router.price("005930") == ("price", "005930", "UN")  # a SOR stock is quoted across both venues
    assert router.price("069500") == ("price", "069500", "J")

