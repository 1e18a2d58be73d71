"""Three months of schedules on an injected clock: one offer per deposit on the next trading day, none on
weekends or holidays, no order without a tap while the allowance is off, and with it on never more than the
cap in a calendar month, across restarts; the /schedule command."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from rebalance.i18n import using
from rebalance.testing import FakeClock
from schedule_harness import FillingExecutor, PaperAccount, Sent, kst, open_bot, simulate, trading

START, END = kst("2026-10-01 08:00"), kst("2027-01-01 00:00")
STEP = timedelta(minutes=15)
MONTHS = ((2026, 10), (2026, 11), (2026, 12))


def first_trading_on_or_after(day: date) -> date:
    while not trading(day):
        day += timedelta(days=1)
    return day


def in_session(sent: Sent) -> bool:
    return trading(sent.at.date()) and sent.at.hour >= 9 and (sent.at.hour, sent.at.minute) < (15, 30)


def test_each_deposit_on_the_25th_is_offered_once_on_the_next_trading_day_and_nothing_is_ordered_without_a_tap(
        tmp_path):
    result = simulate(tmp_path, start=START, end=END, schedules=[["cash", "30만"]], deposits={25: 500_000},
                      step=STEP)
    expected = [first_trading_on_or_after(date(y, m, 25)) for y, m in MONTHS]
    assert expected == [date(2026, 10, 26), date(2026, 11, 25), date(2026, 12, 28)]  # a Sunday, a Wednesday, Christmas
    assert [s.at.date() for s in result.offers] == expected
    assert all(in_session(s) for s in result.sent if not s.reply.silent)
    assert result.runs == [] and result.orders == 0
    assert result.expired == 3  # each offer ended with its session


def test_a_dca_is_offered_once_a_month_even_when_the_bot_restarts_after_it(tmp_path):
    result = simulate(tmp_path, start=START, end=END, schedules=[["dca", "25", "40만"]], deposits={25: 450_000},
                      step=STEP, restart_days=(26, 27, 28))
    assert [s.at.date() for s in result.offers] == [date(2026, 10, 26), date(2026, 11, 25), date(2026, 12, 28)]
    assert result.orders == 0


def test_monthly_band_plans_come_on_the_first_trading_day_of_each_month(tmp_path):
    result = simulate(tmp_path, start=START, end=END, schedules=[["monthly"]], deposits={}, step=STEP,
                      holdings={"069500": 100, "360750": 10, "148070": 2})  # far from the model: it sells
    assert [s.at.date() for s in result.offers] == [date(2026, 10, 1), date(2026, 11, 2), date(2026, 12, 1)]
    assert result.orders == 0


def test_with_an_allowance_spend_stays_under_the_cap_in_every_month_across_restarts(tmp_path):
    cap = 1_000_000
    result = simulate(tmp_path, start=START, end=END, allowance="100만/month",
                      schedules=[["dca", "5", "40만"], ["dca", "15", "40만"], ["dca", "25", "40만"]],
                      deposits={5: 450_000, 15: 450_000, 25: 450_000}, step=STEP, restart_days=(10, 20))
    assert set(result.spend) == {"2026-10", "2026-11", "2026-12"}
    assert all(0 < won <= cap for won in result.spend.values()), result.spend
    assert result.recorded == result.spend  # recorded before each run started, at what the run cost
    # Two 40만 buys fit under 100만 a month; the third waits for a tap (and gets none).
    assert len(result.autos) == 6 and len(result.runs) == 6
    assert [s.at.date() for s in result.offers] == [date(2026, 10, 26), date(2026, 11, 25), date(2026, 12, 28)]
    assert all(not plan.sells for _, plan, _ in result.runs)


def test_a_band_plan_never_starts_without_a_tap_even_with_an_allowance(tmp_path):
    result = simulate(tmp_path, start=START, end=END, schedules=[["quarterly"]], allowance="1억/month",
                      deposits={}, step=STEP, holdings={"069500": 100, "360750": 10, "148070": 2})
    assert len(result.offers) == 1 and result.runs == [] and result.autos == []


@pytest.fixture
def bot(tmp_path):
    clock = FakeClock(kst("2026-10-26 10:00"))
    account = PaperAccount(tmp_path, 100_000, {"069500": 40, "360750": 70, "148070": 13})
    sent: list[Sent] = []
    made = open_bot(tmp_path, account, FillingExecutor(account, clock), clock, sent)
    from schedule_harness import MODEL
    made.service.models.save(MODEL, clock.now())
    made.clock, made.account, made.sent = clock, account, sent
    yield made
    made.store.close()


def text(replies) -> str:
    return "\n".join(r.plain for r in replies)


def test_schedule_lists_adds_and_removes_by_number(bot):
    assert "No schedules" in text(bot.desk.command([]))
    assert "1. dca" in text(bot.desk.command(["dca", "25", "50만"]))
    bot.desk.command(["quarterly"])
    listed = text(bot.desk.command(["list"]))
    assert "1. dca" in listed and "2. quarterly" in listed and "Allowance" not in listed
    assert "Removed: 1. dca" in text(bot.desk.command(["rm", "1"]))
    assert "no schedule 1" in text(bot.desk.command(["rm", "1"]))
    assert "1. dca" not in text(bot.desk.command([]))


def test_allow_off_ends_the_allowance_at_once_and_the_list_then_shows_none(bot):
    bot.desk.command(["dca", "25", "40만"])
    assert "1,000,000" in text(bot.desk.command(["allow", "100만/month"]))
    assert "Allowance" in text(bot.desk.command([]))
    assert "off" in text(bot.desk.command(["allow", "off"]))
    assert "Allowance" not in text(bot.desk.command([]))
    bot.account.cash += 500_000
    assert bot.desk.tick() == ["dca:1:2026-10"]
    assert bot.service.executor.runs == []  # offered with Confirm, not started
    assert [s.reply.offers for s in bot.sent if s.reply.offers] == [bot.service.offered_plan(1).id]


def test_an_allowance_run_is_announced_with_cancel_and_a_tapped_offer_is_not_counted(bot):
    bot.desk.command(["dca", "25", "40만"])
    bot.desk.command(["allow", "100만/month"])
    bot.account.cash += 500_000
    assert bot.desk.tick() == ["dca:1:2026-10"]
    announce = [s.reply for s in bot.sent if any(b.data.startswith("stop:") for b in s.reply.buttons)]
    assert len(announce) == 1 and announce[0].buttons[0].label == "Cancel"
    assert not any(s.reply.offers for s in bot.sent)  # no Confirm: it runs
    assert 0 < bot.store.spent("2026-10") <= 1_000_000
    assert bot.desk.tick() == []  # the same event is never offered twice


def test_schedule_speaks_korean_and_bad_words_are_one_sentence(bot):
    with using("ko"):
        assert "예약" in text(bot.desk.command([]))
        assert "적립" in text(bot.desk.command(["dca", "25", "50만"]))
        refusal = text(bot.desk.command(["dca", "40", "50만"]))
    assert "\n" not in refusal and "1~31" in refusal


def test_nothing_is_checked_on_a_weekend(bot):
    bot.desk.command(["cash", "10만"])
    bot.clock.advance((kst("2026-10-31 10:00") - bot.clock.now()).total_seconds())  # a Saturday
    bot.account.cash += 5_000_000
    assert bot.desk.tick() == [] and bot.sent == []


def test_an_offer_kis_could_not_plan_stays_owed_and_comes_at_a_later_check(bot):
    bot.desk.command(["dca", "25", "40만"])
    bot.account.cash += 500_000
    bot.account.quotes_down = True
    assert bot.desk.tick() == [] and bot.sent == []  # quietly tried again later
    bot.account.quotes_down = False
    bot.clock.advance(300)
    assert bot.desk.tick() == ["dca:1:2026-10"]
    assert [s.reply.offers for s in bot.sent if s.reply.offers]


def test_an_offer_kis_never_plans_is_said_once_after_a_few_checks(bot):
    from bot.schedules import MAX_TRIES
    bot.desk.command(["dca", "25", "40만"])
    bot.account.cash += 500_000
    bot.account.quotes_down = True
    for _ in range(MAX_TRIES + 3):
        bot.desk.tick()
        bot.clock.advance(300)
    said = [s.reply.plain for s in bot.sent]
    assert len(said) == 2 and "Schedule 1 (dca, day 25)" in said[0] and "KIS" in said[1]


def test_two_processes_on_one_data_dir_offer_an_event_once(bot, tmp_path, monkeypatch):
    other_sent: list[Sent] = []
    other = open_bot(tmp_path, bot.account, FillingExecutor(bot.account, bot.clock), bot.clock, other_sent)
    try:
        bot.desk.command(["dca", "25", "40만"])
        bot.account.cash += 500_000
        assert bot.desk.tick() == ["dca:1:2026-10"]
        # The other process read the offered events just before this one claimed its event: its claim fails.
        monkeypatch.setattr(other.store, "offered", lambda: frozenset())
        assert other.desk.tick() == [] and other_sent == []
        assert len([s for s in bot.sent if s.reply.offers]) == 1
    finally:
        other.store.close()
