"""What a schedule makes due, on the KRX calendar and an injected clock; the /schedule words; the store that
keeps schedules, offered events and the allowance's spend across processes."""
from __future__ import annotations

from datetime import datetime

import pytest

from kis.krx import KST
from rebalance.i18n import Msg
from rebalance.schedules import (Command, Kind, Schedule, ScheduleError, ScheduleStore, Watch, due, month_of,
                                 parse_command, period_label, session_of)


def kst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=KST)


CREATED = kst("2026-10-01 08:00")
DCA = Schedule(1, Kind.DCA, CREATED, day=25, amount=500_000)
CASH = Schedule(2, Kind.CASH, CREATED, amount=300_000)
QUARTERLY = Schedule(3, Kind.QUARTERLY, CREATED)


def keys(schedules, now, *, free=0, cash=0, offered=(), watches=None, rebase=False, calendar="krx"):
    found = due(schedules, now, calendar, free=free, cash=cash, offered=frozenset(offered), watches=watches or {},
                rebase=rebase)
    return [o.key for o in found.offers]


def test_a_dca_is_due_from_the_first_trading_day_on_or_after_its_day():
    # 2026-10-25 is a Sunday: Monday the 26th is the first trading day on or after it.
    assert keys([DCA], kst("2026-10-24 10:00"), free=900_000) == []
    assert keys([DCA], kst("2026-10-26 10:00"), free=900_000) == ["dca:1:2026-10"]
    assert keys([DCA], kst("2026-10-29 10:00"), free=900_000) == ["dca:1:2026-10"]  # still owed that month


def test_a_dca_waits_for_its_amount_of_free_cash_and_comes_once_a_month():
    assert keys([DCA], kst("2026-10-26 10:00"), free=499_999) == []
    assert keys([DCA], kst("2026-10-26 10:00"), free=500_000, offered={"dca:1:2026-10"}) == []
    assert keys([DCA], kst("2026-11-25 10:00"), free=500_000, offered={"dca:1:2026-10"}) == ["dca:1:2026-11"]


def test_a_dca_whose_day_is_a_holiday_at_the_end_of_the_year_belongs_to_its_month():
    # 25 Dec is Christmas, 31 Dec and 1 Jan KRX is closed: dca 31 of December comes on 4 Jan as December's.
    late = Schedule(4, Kind.DCA, CREATED, day=31, amount=100_000)
    assert keys([late], kst("2027-01-04 10:30"), free=100_000) == ["dca:4:2026-12"]
    assert keys([DCA], kst("2026-12-28 10:00"), free=600_000) == ["dca:1:2026-12"]


def test_a_schedule_added_after_this_months_day_starts_next_month():
    added = Schedule(5, Kind.DCA, kst("2026-10-27 11:00"), day=25, amount=500_000)
    assert keys([added], kst("2026-10-28 10:00"), free=900_000) == []
    assert keys([added], kst("2026-11-25 10:00"), free=900_000) == ["dca:5:2026-11"]


def test_nothing_is_due_outside_a_session():
    for moment in ("2026-10-26 08:59", "2026-10-26 15:30", "2026-10-31 10:00", "2026-12-25 10:00",
                   "2026-10-05 10:00"):  # before the open, at the close, a Saturday, Christmas, a substitute holiday
        assert session_of(kst(moment), "krx") is None, moment
        assert keys([DCA, CASH, QUARTERLY], kst(moment), free=9_000_000, cash=9_000_000) == [], moment
    assert session_of(kst("2026-10-31 03:00"), "always") is not None


def test_cash_arriving_above_the_threshold_is_offered_once_per_arrival():
    now = kst("2026-10-26 10:00")
    below = {2: Watch(free=10_000, cash=100_000)}
    assert keys([CASH], now, free=310_000, cash=400_000, watches=below) == ["cash:2:1"]
    seen = {2: Watch(free=310_000, cash=400_000, arrivals=1)}
    assert keys([CASH], now, free=310_000, cash=400_000, watches=seen) == []  # the same cash: no second offer
    assert keys([CASH], now, free=500_000, cash=590_000, watches=seen) == []  # a rise smaller than the threshold
    assert keys([CASH], now, free=610_000, cash=700_000, watches=seen) == ["cash:2:2"]  # a new deposit on top
    assert keys([CASH], now, free=300_000, cash=390_000, watches=seen) == []  # not above it


def test_cash_that_falls_below_and_rises_again_is_a_new_arrival():
    now = kst("2026-11-02 10:00")
    found = due([CASH], now, "krx", free=5_000, cash=95_000, offered=frozenset(),
                watches={2: Watch(400_000, 490_000, 1)})
    assert found.offers == () and found.watches[2] == Watch(5_000, 95_000, 1)
    assert keys([CASH], now, free=305_000, cash=395_000, watches=found.watches) == ["cash:2:2"]


def test_cash_that_kisbots_own_run_moved_is_no_arrival():
    now = kst("2026-11-02 10:00")
    assert keys([CASH], now, free=900_000, cash=990_000, watches={2: Watch(5_000, 95_000)}, rebase=True) == []


def test_a_cash_schedule_added_with_cash_already_free_offers_it():
    assert keys([CASH], kst("2026-10-01 09:30"), free=800_000, cash=900_000) == ["cash:2:1"]


def test_a_quarterly_band_plan_is_due_from_the_first_trading_day_of_the_quarter():
    # 1 Jan 2027 is a holiday and the 2nd, 3rd a weekend: the quarter's first trading day is Monday the 4th.
    assert keys([QUARTERLY], kst("2026-10-01 09:30")) == ["quarterly:3:2026-Q4"]
    assert keys([QUARTERLY], kst("2026-11-02 10:00"), offered={"quarterly:3:2026-Q4"}) == []
    # The year's first session opens late (10:00): not before.
    assert keys([QUARTERLY], kst("2027-01-04 09:30"), offered={"quarterly:3:2026-Q4"}) == []
    assert keys([QUARTERLY], kst("2027-01-04 10:00"), offered={"quarterly:3:2026-Q4"}) == ["quarterly:3:2027-Q1"]
    assert period_label(Kind.HALF, kst("2026-10-01 00:00").date())[1] == "2026-H2"
    assert period_label(Kind.MONTHLY, kst("2026-10-01 00:00").date())[1] == "2026-10"


def test_a_period_begun_before_the_schedule_was_added_is_not_offered():
    added = Schedule(6, Kind.MONTHLY, kst("2026-10-02 12:00"))
    assert keys([added], kst("2026-10-05 10:00")) == []
    assert keys([added], kst("2026-11-02 09:00")) == ["monthly:6:2026-11"]


@pytest.mark.parametrize("words, command", [
    ([], Command("list")),
    (["dca", "25", "50만"], Command("add", Kind.DCA, day=25, amount=500_000)),
    (["dca", "25일", "1억", "2천만"], Command("add", Kind.DCA, day=25, amount=120_000_000)),
    (["cash", "300,000원"], Command("add", Kind.CASH, amount=300_000)),
    (["현금", "３０만"], Command("add", Kind.CASH, amount=300_000)),
    (["quarterly"], Command("add", Kind.QUARTERLY)),
    (["반기"], Command("add", Kind.HALF)),
    (["rm", "2"], Command("rm", number=2)),
    (["allow", "1000000/month"], Command("allow", amount=1_000_000)),
    (["allow", "100만/month"], Command("allow", amount=1_000_000)),
    (["allow", "100만", "/", "월"], Command("allow", amount=1_000_000)),
    (["allow", "off"], Command("allow", amount=None)),
])
def test_schedule_words_are_read(words, command):
    assert parse_command(words) == command


@pytest.mark.parametrize("words, key", [
    (["dca", "32", "50만"], "schedule.day_range"),
    (["dca", "25"], "schedule.dca_usage"),
    (["cash"], "schedule.cash_usage"),
    (["cash", "5m"], "input.amount_letters"),
    (["cash", "0"], "schedule.amount_positive"),
    (["monthly", "25"], "schedule.period_usage"),
    (["rm", "two"], "schedule.rm_usage"),
    (["allow", "lots/month"], "input.amount_unclear"),
    (["weekly"], "schedule.usage"),
])
def test_schedule_words_not_understood_are_one_sentence(words, key):
    with pytest.raises(ScheduleError) as caught:
        parse_command(words)
    assert isinstance(caught.value.msg, Msg) and caught.value.msg.key == key
    assert "\n" not in str(caught.value) and str(caught.value) != key


def test_a_schedules_number_is_never_reused(tmp_path):
    store = ScheduleStore.in_dir(tmp_path, "acct")
    first = store.add(Kind.MONTHLY, CREATED)
    assert store.remove(first.id) == first and store.remove(first.id) is None
    second = store.add(Kind.DCA, CREATED, day=25, amount=500_000)
    assert second.id == first.id + 1 and store.schedules() == (second,)
    assert ScheduleStore.in_dir(tmp_path, "other").schedules() == ()


def test_an_event_is_claimed_by_one_process_only(tmp_path):
    one, two = ScheduleStore.in_dir(tmp_path, "acct"), ScheduleStore.in_dir(tmp_path, "acct")
    assert one.claim("dca:1:2026-10", CREATED) is True
    assert two.claim("dca:1:2026-10", CREATED) is False
    assert two.offered() == {"dca:1:2026-10"}
    two.release("dca:1:2026-10")
    assert one.claim("dca:1:2026-10", CREATED) is True


def test_the_allowance_never_records_more_than_its_cap_in_a_calendar_month(tmp_path):
    one, two = ScheduleStore.in_dir(tmp_path, "acct"), ScheduleStore.in_dir(tmp_path, "acct")
    assert one.reserve("a", 100, CREATED) is None  # off by default
    one.set_allowance(1_000_000, CREATED)
    assert one.reserve("a", 600_000, kst("2026-10-30 10:00")) == 400_000
    assert two.reserve("b", 400_001, kst("2026-10-30 10:05")) is None  # another process, the same cap
    assert two.reserve("b", 400_000, kst("2026-10-31 10:05")) == 0
    assert two.reserve("c", 1_000_000, kst("2026-11-02 09:05")) == 0  # a new month (KST)
    assert one.spend_by_month() == {"2026-10": 1_000_000, "2026-11": 1_000_000}
    two.unreserve("c")
    assert one.spent("2026-11") == 0
    two.set_allowance(None, CREATED)
    assert one.allowance() is None and one.reserve("d", 1, kst("2026-11-02 09:05")) is None
    assert month_of(datetime.fromisoformat("2026-10-31T15:30:00+00:00")) == "2026-11"  # already November in Seoul
