"""`/confirm after` and SOR in the chat: refused until the doctor checked them, then the after-markets' window with
a wider guard and a low-liquidity warning; the plan says when SOR is on but refused."""
from __future__ import annotations

from datetime import time


from kis.krx import KST
from kis.venues import NxtList
from rebalance.venues import AFTER_CHECK, SOR_CHECK, VenueChecks, VenuePolicy, VenueSettings, doctor_check
from rebalance.window import after_guard
from tests.bot.bot_fakes import FakeExecutor, make_service
from tests.bot.test_service import offer, texts

ANSWERS = {"005930": {"cptt_trad_tr_psbl_yn": "Y", "scty_grp_id_cd": "ST"},
           "000660": {"cptt_trad_tr_psbl_yn": "N", "scty_grp_id_cd": "ST"}}


class GuardedExecutor(FakeExecutor):
    def __init__(self):
        super().__init__()
        self.guards = []

    def start(self, plan, window, guard=None):
        self.guards.append(guard)
        return super().start(plan, window)


def service_with(tmp_path, *, sor=False, checked=(), failed=()):
    executor = GuardedExecutor()
    service, client, _, planner, clock = make_service(executor=executor)
    checks = VenueChecks(tmp_path / "venues.json")
    for name in checked:
        checks.record(doctor_check(name, True))
    for name in failed:
        checks.record(doctor_check(name, False, "40580000 모의투자 장종료 입니다."))
    service.venues = VenuePolicy(VenueSettings(sor=sor), checks,
                                 NxtList(tmp_path / "nxt.json", ANSWERS.get, now=lambda: clock()))
    return service, executor


def test_confirm_after_is_refused_until_the_doctor_checked_krxs_after_market(tmp_path):
    service, executor = service_with(tmp_path)
    offer(service)
    said = texts(service.confirm(["after"]))
    assert "doctor --orders" in said and "16:00" in said
    assert executor.started == []
    assert service.pending_plan() is not None  # still offered: /confirm works once the doctor ran


def test_a_failed_doctor_check_refuses_confirm_after_with_what_kis_said(tmp_path):
    service, executor = service_with(tmp_path, failed=(AFTER_CHECK,))
    offer(service)
    said = texts(service.confirm(["after"]))
    assert "40580000" in said and executor.started == []


def test_a_checked_after_market_starts_at_four_with_a_wider_guard_and_a_warning(tmp_path):
    service, executor = service_with(tmp_path, checked=(AFTER_CHECK,))
    offer(service)
    said = texts(service.confirm(["after"]))
    (_, window), = executor.started
    assert window.start.astimezone(KST).time() == time(16, 0) and window.end.astimezone(KST).time() == time(19, 50)
    assert executor.guards == [after_guard(service.twap_settings)]
    assert "Few trade after hours" in said and "started" in said


def test_with_a_checked_sor_the_nxt_stock_goes_through_nxts_after_market(tmp_path):
    service, executor = service_with(tmp_path, sor=True, checked=(AFTER_CHECK, SOR_CHECK))
    offer(service, "005930")
    said = texts(service.confirm(["after"]))
    (_, window), = executor.started
    assert window.start.astimezone(KST).time() == time(15, 40)
    assert "005930 on NXT" in said


def test_a_plan_says_sor_is_unchecked_when_it_is_on_and_the_doctor_has_not_run(tmp_path):
    service, _ = service_with(tmp_path, sor=True)
    replies, _ = offer(service)
    assert "has not checked it on this account" in texts(replies)


def test_a_plan_names_the_stock_sor_is_refused_for(tmp_path):
    service, _ = service_with(tmp_path, sor=True, checked=(SOR_CHECK,))
    replies, _ = offer(service)
    said = texts(replies)
    assert "SOR refused for 000660" in said and "SOR refused for 005930" not in said


def test_with_sor_off_a_plan_says_nothing_of_venues(tmp_path):
    service, _ = service_with(tmp_path)
    replies, _ = offer(service)
    assert "SOR" not in texts(replies)


def test_a_plain_confirm_still_runs_in_the_day_window_with_the_days_guard(tmp_path):
    service, executor = service_with(tmp_path, checked=(AFTER_CHECK,))
    offer(service)
    service.confirm(["45m"])
    assert executor.guards == [None]


def test_the_refusal_reads_as_one_sentence_with_one_period(tmp_path):
    service, _ = service_with(tmp_path)
    offer(service)
    said = texts(service.confirm(["after"]))
    assert ".." not in said and said.endswith(".")
