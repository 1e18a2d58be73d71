"""The daily report across markets: US holdings and dollars in won at KIS's rate of the day in the total, the
value row and the drift; an account with no US side reports as before; a US side KIS does not answer for is left
out in one sentence, the KRX side standing."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.reports import Reports, report_replies
from kis.errors import KisTransportError, OverseasNotEnabled
from kis.krx import KST
from kis.models import UsQuote
from rebalance.history import ValueHistory
from rebalance.i18n import Lang, using
from rebalance.model import Portfolio, Target
from rebalance.saved_model import SavedModel
from rebalance.testing import FakeClock
from test_reports import FakeKis, kst
from tests.rebalance.test_plan_markets import us_balance

MIXED = SavedModel(Portfolio((Target("005930", 0.4, "삼성전자", band=0.05), Target("AAPL", 0.3, band=0.05),
                              Target("SPY", 0.2, band=0.05, market="AMEX")), "mixed.xlsx"),
                   "mixed.xlsx", datetime(2026, 11, 1, tzinfo=KST))
KRX_ONLY = SavedModel(Portfolio((Target("005930", 0.5, "삼성전자", band=0.05),)), "model.xlsx",
                      datetime(2026, 11, 1, tzinfo=KST))


class UsKis(FakeKis):
    """The fake account with a US side: $1,000 cash and 10 AAPL at $100, at 1,400 won a dollar."""

    def __init__(self, data_dir: Path):
        super().__init__(data_dir)
        self.us = us_balance(100_000, AAPL=(10, "100.00"))
        self.us_fail: Exception | None = None
        self.asked: list[str] = []

    def us_balance(self):
        if self.us_fail is not None:
            raise self.us_fail
        return self.us

    def overseas_prices(self, symbols):
        self.asked += list(symbols)
        return {s.rpartition(":")[2]: UsQuote(s.rpartition(":")[2], "AMEX", Decimal("500.00"), Decimal("500"),
                                              Decimal(0), Decimal(0)) for s in symbols}


def build(tmp_path, kis, model):
    reports = Reports(kis, ValueHistory.in_dir(tmp_path), calendar="krx", now=FakeClock(kst("2026-11-23 15:40")).now,
                      load_model=lambda: model)
    return reports, reports.build()


def test_the_total_counts_us_holdings_and_dollars_in_won_at_kis_rate(tmp_path):
    kis = UsKis(tmp_path)
    _, report = build(tmp_path, kis, MIXED)
    # KRX: 900,000 in stocks + 100,000 cash; US: 10 x $100 and $1,000 cash at 1,400 = 2,800,000 won
    assert report.snapshot.total_value == 1_000_000 + 2_800_000
    assert report.snapshot.stock_value == 900_000 + 1_400_000 and report.snapshot.cash == 100_000
    assert {h.code: h.value for h in report.snapshot.holdings}["AAPL"] == 1_400_000


def test_the_value_row_keeps_the_us_holding_for_the_history(tmp_path):
    kis = UsKis(tmp_path)
    reports, _ = build(tmp_path, kis, MIXED)
    [row] = reports.history.recent(str(kis.config.account))
    assert row.total_value == 3_800_000 and "AAPL" in {h.code for h in row.holdings}


def test_drift_spans_markets_with_each_us_weight_of_the_whole_account_in_won(tmp_path):
    kis = UsKis(tmp_path)
    _, report = build(tmp_path, kis, MIXED)
    by = {d.code: d for d in report.drift}
    investable = (3_800_000 * 98) // 100  # the planner's 2 % buffer
    assert by["AAPL"].now == pytest.approx(1_400_000 / investable)
    assert by["SPY"].now == 0 and by["SPY"].outside  # not held: priced on its exchange from the file
    assert kis.asked == ["AMEX:SPY"]
    assert report.deposit is None  # the deposit figure is the KRX planner's: not for a mixed model


def test_the_report_shows_us_stocks_dollar_cash_and_the_rate_it_used(tmp_path):
    _, report = build(tmp_path, UsKis(tmp_path), MIXED)
    text = "\n".join(r.plain for r in report_replies(report) if r.plain)
    assert "US stocks" in text and "1,400,000" in text and "$1,000.00" in text
    assert "₩1,400.00 a dollar" in text and "AAPL" in text
    with using(Lang.KO):
        text = "\n".join(r.plain for r in report_replies(report) if r.plain)
    assert "미국 주식" in text and "달러 예수금" in text and "1달러당 1,400.00원" in text


def test_an_account_with_nothing_on_the_us_side_and_a_krx_model_reports_as_before(tmp_path):
    kis = UsKis(tmp_path)
    kis.us = us_balance(0)
    _, report = build(tmp_path, kis, KRX_ONLY)
    assert report.us is None and report.snapshot.total_value == 1_000_000 and report.deposit is not None
    assert "US stocks" not in "\n".join(r.plain for r in report_replies(report) if r.plain)


def test_an_account_without_overseas_trading_reports_its_krx_side_quietly(tmp_path):
    kis = UsKis(tmp_path)
    kis.us_fail = OverseasNotEnabled("SIMOVRS0", "해외주식 서비스 신청 후 이용 가능합니다.")
    _, report = build(tmp_path, kis, KRX_ONLY)
    assert report.us is None and report.us_note == "" and report.snapshot.total_value == 1_000_000


def test_with_a_mixed_model_the_overseas_refusal_is_named_and_drift_left_out(tmp_path):
    kis = UsKis(tmp_path)
    kis.us_fail = OverseasNotEnabled("SIMOVRS0", "해외주식 서비스 신청 후 이용 가능합니다.")
    _, report = build(tmp_path, kis, MIXED)
    assert "no overseas trading enabled" in report.us_note and report.drift is None
    assert report.snapshot.total_value == 1_000_000


def test_a_us_side_kis_does_not_answer_for_is_left_out_in_one_sentence_and_the_krx_side_stands(tmp_path):
    kis = UsKis(tmp_path)
    kis.us_fail = KisTransportError("no answer")
    _, report = build(tmp_path, kis, MIXED)
    text = "\n".join(r.plain for r in report_replies(report) if r.plain)
    assert "The US side was left out of this report" in text and report.snapshot.total_value == 1_000_000
    assert report.drift is None  # a mixed model's drift is not measured without its US side


def test_a_us_side_unanswered_is_said_once_it_was_held_and_kept_quiet_for_an_account_that_never_had_one(tmp_path):
    kis = UsKis(tmp_path)
    kis.us_fail = KisTransportError("no answer")
    _, quiet = build(tmp_path / "a", kis, KRX_ONLY)
    assert quiet.us_note == "" and quiet.drift is not None
    held = UsKis(tmp_path)
    reports = Reports(held, ValueHistory.in_dir(tmp_path / "b"), calendar="krx",
                      now=FakeClock(kst("2026-11-20 15:40")).now, load_model=lambda: KRX_ONLY)
    reports.build()  # Friday: AAPL held
    held.us_fail = KisTransportError("no answer")
    reports.now = FakeClock(kst("2026-11-23 15:40")).now
    assert "The US side was left out" in reports.build().us_note


def test_a_mixed_model_on_the_paper_exchange_reports_drift_in_both_markets(sim_client, tmp_path):
    from rebalance.portfolio import read_portfolio

    portfolio = read_portfolio(Path(__file__).resolve().parents[2] / "examples" / "mixed.xlsx")
    model = SavedModel(portfolio, "mixed.xlsx", datetime(2026, 11, 1, tzinfo=KST))
    reports = Reports(sim_client, ValueHistory.in_dir(tmp_path), calendar="always", now=lambda: datetime.now(KST),
                      load_model=lambda: model)
    report = reports.build()
    codes = {d.code for d in report.drift}
    assert {"005930", "AAPL", "KO"} <= codes and report.us is not None
    assert report.snapshot.total_value >= report.us.cash_krw  # the $20,000 deposit in won is in the total
