"""Where the deposit that rebalances without selling is said: under every plan, `/plan buy`, the daily report."""
from __future__ import annotations

from datetime import datetime

from bot.reports import Reports, report_replies
from bot_fakes import FakeClient, FakePlanner, make_service
from bot_fakes import FakeClock as ServiceClock
from kis.krx import KST
from kis.models import Balance, Holding
from rebalance.history import ValueHistory
from rebalance.i18n import Lang, using
from rebalance.plan import make_plan
from rebalance.testing import FakeClock

from test_reports import MODEL, FakeKis


def _texts(replies) -> str:
    return "\n".join(r.plain for r in replies)


def _service(cash: int):
    client = FakeClient()
    # 005930 is 10 shares of 71,000 (710,000 won); a 005930/000660 half-and-half model wants 000660 bought.
    client.balance_value = Balance(
        holdings=(Holding("005930", "삼성전자", 10, 10, 70_000, 71_000, 710_000, 700_000, 10_000, 1.43),),
        cash=cash, cash_d2=cash, stock_value=710_000, total_value=710_000 + cash, pnl=10_000)
    clock = ServiceClock()
    planner = FakePlanner(clock)
    planner.make_plan = make_plan  # the real planner: the figure is said under a real plan
    service, *_ = make_service(client=client, planner=planner, clock=clock)
    return service


def test_plan_buy_without_an_amount_says_how_much_to_deposit_when_the_free_cash_is_short():
    service = _service(cash=100_000)
    text = _texts(service.plan_file(b"005930 000660", "m.xlsx", args=["buy"]))
    # Free: 100,000 less the 2 % buffer of 810,000. 000660 (50 %, ±5 %p) is bought in whole 180,000-won shares:
    # 4 of them (720,000) need an investable value of 1,440,000 to be its 50 %, which also brings 005930
    # (710,000) under its 55 %: a base of 1,469,388 (÷ 0.98) less today's 810,000.
    assert "The free cash (83,800 won) is short: deposit 659,388 won, then /plan buy again" in text
    assert "This plan invests the free cash you have now." in text


def test_plan_buy_without_an_amount_says_the_cash_is_enough_when_it_is():
    service = _service(cash=2_000_000)
    text = _texts(service.plan_file(b"005930 000660", "m.xlsx", args=["buy"]))
    assert "is enough to bring every stock inside its band" in text


def test_a_full_plan_says_the_deposit_figure_in_one_line_in_korean_too():
    service = _service(cash=100_000)
    english = [line for line in _texts(service.plan_file(b"005930 000660", "m.xlsx")).splitlines()
               if line.startswith("Deposit to rebalance")]
    assert len(english) == 1 and "won brings every stock inside its band" in english[0]
    with using(Lang.KO):
        korean = _texts(service.plan_file(b"005930 000660", "m.xlsx"))
    assert "매도 없이 리밸런싱할 입금액" in korean


def test_the_daily_report_says_the_deposit_figure(tmp_path):
    kis = FakeKis(tmp_path)
    kis.value = {"005930": 620_000, "000660": 280_000}
    reports = Reports(kis, ValueHistory.in_dir(tmp_path), calendar="krx",
                      now=FakeClock(datetime(2026, 11, 24, 15, 40, tzinfo=KST)).now, load_model=lambda: MODEL)
    report = reports.build()
    assert report.deposit is not None and report.deposit.amount > 0
    text = _texts(report_replies(report))
    assert f"Deposit to rebalance without selling: {report.deposit.amount:,} won" in text
