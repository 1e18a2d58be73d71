"""The daily report on an injected clock: once per trading day, skipped on holidays, never doubled by a
restart, sent late the same day when the bot was down; its content; drift first with a Plan button."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from bot.reports import Reports, ReportScheduler, report_replies
from kis.errors import KisTransportError
from kis.models import Account, Balance, Holding, OrderSide, OrderStatus, Quote
from kis.krx import KST
from rebalance.testing import FakeClock
from rebalance.history import ValueHistory
from rebalance.model import Portfolio, Target
from rebalance.saved_model import SavedModel

AT = time(15, 40)
# Bands of ±5 percentage points, from the file; 035720 is in the model but not held.
MODEL = SavedModel(Portfolio((Target("005930", 0.5, "삼성전자", band=0.05), Target("000660", 0.4, "SK하이닉스", band=0.05),
                              Target("035720", 0.05, "카카오")), "model.xlsx"),
                   "model.xlsx", datetime(2026, 11, 1, tzinfo=KST))


def kst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=KST)


@dataclass
class Config:
    account: Account
    data_dir: Path


class FakeKis:
    """A balance and today's orders; `down` makes every call fail as if KIS did not answer."""

    def __init__(self, data_dir: Path):
        self.config = Config(Account.parse("50087375-01"), data_dir)
        self.value = {"005930": 500_000, "000660": 400_000}
        self.cash = 100_000
        self.orders: list[OrderStatus] = []
        self.down = False
        self.calls = 0

    def balance(self) -> Balance:
        self.calls += 1
        if self.down:
            raise KisTransportError("no answer from KIS")
        holdings = tuple(Holding(c, n, 10, 10, v // 10, v // 10, v, v, 1_000, 0.1)  # 10 shares at value / 10
                         for (c, n), v in zip((("005930", "삼성전자"), ("000660", "SK하이닉스")), self.value.values()))
        stocks = sum(self.value.values())
        return Balance(holdings, cash=self.cash, cash_d2=self.cash, stock_value=stocks,
                       total_value=stocks + self.cash, pnl=2_000)

    def orders_today(self):
        return list(self.orders)

    def prices(self, codes):
        return {c: Quote(c, 40_000, 0, 0.0) for c in codes}


def order(code, side, filled, amount, name="삼성전자"):
    return OrderStatus("1", "9", "", code, name, side, None, filled, 0, filled, 0, amount // max(filled, 1),
                       amount, False)


class Bot:
    """One "process": its own history connection and scheduler on the shared fake clock."""

    def __init__(self, tmp_path, clock, kis, *, calendar="krx", at=AT, model=MODEL):
        self.history = ValueHistory.in_dir(tmp_path)
        self.reports = Reports(kis, self.history, calendar=calendar, now=clock.now, load_model=lambda: model)
        self.pushed = []
        self.scheduler = ReportScheduler(self.reports, at, clock, self.pushed.append)
        self.clock = clock

    def run_until(self, until: datetime) -> list[datetime]:
        """Let the worker run to `until` as its thread would: tick, sleep until the next job."""
        sent_at = []
        for _ in range(1000):
            before = len(self.pushed)
            idle = self.scheduler.tick()
            if len(self.pushed) > before:
                sent_at.append(self.clock.now())
            if idle is None or self.clock.now() + timedelta(seconds=max(idle, 0)) > until:
                break
            self.clock.advance(max(idle, 0.0))
        return sent_at


@pytest.fixture
def kis(tmp_path):
    return FakeKis(tmp_path)


def test_the_report_goes_once_per_trading_day_at_report_time(tmp_path, kis):
    clock = FakeClock(kst("2026-11-23 09:00"))  # a Monday
    bot = Bot(tmp_path, clock, kis)
    sent = bot.run_until(kst("2026-11-25 23:00"))
    assert sent == [kst("2026-11-23 15:40"), kst("2026-11-24 15:40"), kst("2026-11-25 15:40")]
    assert all(r.kind == "report" for r in bot.pushed)
    assert [s.day.isoformat() for s in bot.history.recent(str(kis.config.account))] == \
        ["2026-11-23", "2026-11-24", "2026-11-25"]


def test_weekends_and_holidays_get_no_report(tmp_path, kis):
    clock = FakeClock(kst("2026-12-23 16:00"))
    bot = Bot(tmp_path, clock, kis)
    bot.history.claim_report(str(kis.config.account), clock.now().date(), clock.now())  # the 23rd went out
    sent = bot.run_until(kst("2027-01-05 00:00"))
    # Christmas (Fri 25), the weekends, and 31 Dec - 1 Jan (KRX closed) have none.
    assert [s.date().isoformat() for s in sent] == ["2026-12-24", "2026-12-28", "2026-12-29", "2026-12-30",
                                                     "2027-01-04"]


def test_a_restart_after_the_report_does_not_send_it_again(tmp_path, kis):
    clock = FakeClock(kst("2026-11-24 15:00"))
    first = Bot(tmp_path, clock, kis)
    assert first.run_until(kst("2026-11-24 15:40:30")) == [kst("2026-11-24 15:40")]
    clock.advance(30)  # the bot restarts at 15:41
    second = Bot(tmp_path, clock, kis)
    assert second.run_until(kst("2026-11-24 23:59")) == []
    assert second.scheduler.scheduler.next_run == kst("2026-11-25 15:40").replace(tzinfo=None)


def test_a_bot_down_at_report_time_sends_it_when_it_comes_back_that_day(tmp_path, kis):
    clock = FakeClock(kst("2026-11-24 17:05"))
    bot = Bot(tmp_path, clock, kis)
    assert bot.run_until(kst("2026-11-24 23:00")) == [kst("2026-11-24 17:05")]


def test_two_processes_at_once_send_one_report(tmp_path, kis):
    clock = FakeClock(kst("2026-11-24 15:40"))
    one, two = Bot(tmp_path, clock, kis), Bot(tmp_path, clock, kis)
    for _ in range(2):  # the first tick plans the job (due now), the second runs it
        one.scheduler.tick(), two.scheduler.tick()
    assert len(one.pushed) + len(two.pushed) == 1  # one report: its text (no chart on the first session)


def test_kis_down_at_report_time_is_tried_again_and_sent_once(tmp_path, kis):
    clock = FakeClock(kst("2026-11-24 15:00"))
    bot = Bot(tmp_path, clock, kis)
    kis.down = True
    assert bot.run_until(kst("2026-11-24 15:47")) == []  # tried at 15:40 and 15:45
    kis.down = False
    assert bot.run_until(kst("2026-11-24 23:00")) == [kst("2026-11-24 15:50")]


def test_reports_off_keeps_the_value_row_but_sends_nothing(tmp_path, kis):
    clock = FakeClock(kst("2026-11-24 15:00"))
    bot = Bot(tmp_path, clock, kis, at=None)
    assert bot.run_until(kst("2026-11-25 23:00")) == []
    assert len(bot.history.recent(str(kis.config.account))) == 2


def test_the_report_shows_value_change_pnl_cash_fills_and_drift(tmp_path, kis):
    clock = FakeClock(kst("2026-11-23 15:40"))
    bot = Bot(tmp_path, clock, kis)
    bot.reports.build()  # Monday: 1,000,000
    clock.advance(24 * 3600)
    kis.value["005930"] = 550_000
    kis.orders = [order("005930", OrderSide.BUY, 3, 213_000), order("005930", OrderSide.BUY, 2, 142_000),
                  order("000660", OrderSide.SELL, 0, 0, "SK하이닉스")]
    replies = report_replies(bot.reports.build())
    text = "\n".join(r.text for r in replies)
    assert "1,050,000" in text and "+50,000 (+5.00%)" in text  # total value and the day's change
    assert "+2,000" in text and "100,000" in text  # P/L and cash
    assert "삼성전자" in text and "5 sh" in text and "355,000" in text  # the two buys as one line
    assert "000660 SK하이닉스" not in text.split("Fills today")[1].split("Drift")[0]  # nothing filled
    # weight now (of the investable value 1,050,000 x 0.98, as the planner counts), target, band
    assert "53.4%  50.0%    ±5" in text and "035720 카카오" in text
    assert replies[-1].photo.startswith(b"\x89PNG") and "2 sessions" in replies[-1].text
    assert not any(r.buttons for r in replies)  # inside its band: no Plan button


def test_a_stock_outside_its_band_starts_the_report_with_a_plan_button(tmp_path, kis):
    kis.value = {"005930": 620_000, "000660": 280_000}
    clock = FakeClock(kst("2026-11-24 15:40"))
    replies = report_replies(Bot(tmp_path, clock, kis).reports.build(), kind="report")
    first = replies[0]
    assert first.text.startswith("<b>Drift: 2 stocks outside the band</b>")
    assert "005930 삼성전자 63.3% vs target 50.0% ± 5" in first.text  # 620,000 of 980,000 investable
    assert "nothing is ordered until you Confirm" in first.text
    assert [(b.label, b.data) for b in first.buttons] == [("Plan", "bandplan:20261124")]


def test_without_a_saved_model_the_report_says_how_to_get_drift(tmp_path, kis):
    clock = FakeClock(kst("2026-11-24 15:40"))
    text = report_replies(Bot(tmp_path, clock, kis, model=None).reports.build())[0].text
    assert "No saved model" in text and "/plan" in text


def test_a_day_beyond_the_calendar_still_gets_its_report_on_demand(tmp_path, kis):
    clock = FakeClock(kst("2026-11-24 15:40") + timedelta(days=3650))  # exchange_calendars stops long before
    replies = Bot(tmp_path, clock, kis).reports.on_demand()
    assert "Daily report" in replies[0].text
