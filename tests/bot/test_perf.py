"""`/perf` and `kisbot perf`: the figures, the chart, the costs from the receipts, and one sentence when the
history is too short or the period is not one."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "rebalance"))

from bot.perf import perf, perf_replies  # noqa: E402
from kis.krx import KST  # noqa: E402
from kis.models import Account, Balance, Holding  # noqa: E402
from rebalance.history import ValueHistory  # noqa: E402
from rebalance.i18n import Lang, using  # noqa: E402
from rebalance.receipt import Receipt, ReceiptLine, ReceiptStore  # noqa: E402
from test_performance import synthetic  # noqa: E402

ACCOUNT = "50087375-01"


def _history(tmp_path, rows) -> ValueHistory:
    history = ValueHistory.in_dir(tmp_path)
    for r in rows:
        balance = Balance(tuple(Holding(h.code, h.name, h.qty, h.qty, 0, h.value // h.qty, h.value, 0, 0, 0.0)
                                for h in r.holdings), r.cash, r.cash, r.stock_value, r.total_value, 0)
        history.record(ACCOUNT, r.day, balance, r.at, (r.bought, r.sold))
    return history


def _receipt(run_id: str, costs: int) -> Receipt:
    return Receipt(run_id, "p1", "finished", (ReceiptLine("005930", "삼성전자", "buy", 1, 1, 1, 1, costs, costs),), 0, 0)


def test_perf_shows_both_returns_the_flows_source_contributions_costs_and_a_chart(tmp_path):
    rows, _ = synthetic()
    history = _history(tmp_path, rows)
    receipts = ReceiptStore(tmp_path / "journal.sqlite3", ACCOUNT)
    receipts.save(_receipt("r1", 1_234), at=datetime.combine(rows[10].day, datetime.min.time(), KST))
    receipts.save(_receipt("r2", 766), at=datetime.combine(rows[80].day, datetime.min.time(), KST))
    now = rows[-1].at
    replies = perf_replies(history, ACCOUNT, [], now, receipts.costs)
    text = replies[0].plain
    assert "Performance over all the history" in text and "90 sessions" in text
    assert "time-weighted   -4.29%" in text and "money-weighted  -1.75%" in text
    assert "net deposits    +6,000,000 won (8,000,000 in, 2,000,000 out)" in text
    assert "costs paid      2,000 won" in text
    assert "3 inferred from cash changes" in text
    assert "005930" in text and "%p" in text
    assert replies[-1].photo.startswith(b"\x89PNG")
    (tmp_path / "perf.png").write_bytes(replies[-1].photo)
    month = perf_replies(history, ACCOUNT, ["month"], now, receipts.costs)[0].plain
    assert "costs paid      766 won" in month and "the last month" in month


def test_perf_with_one_session_says_so_in_one_sentence_in_either_language(tmp_path):
    rows, _ = synthetic()
    history = _history(tmp_path, rows[:1])
    replies = perf_replies(history, ACCOUNT, [], rows[0].at)
    assert len(replies) == 1 and replies[0].plain.startswith("Performance needs at least two sessions")
    with using(Lang.KO):
        assert "두 거래일 이상" in perf_replies(history, ACCOUNT, [], rows[0].at)[0].plain


def test_a_word_that_is_not_a_period_gets_one_sentence(tmp_path):
    replies = perf_replies(ValueHistory.in_dir(tmp_path), ACCOUNT, ["weekly"], datetime(2026, 12, 1, tzinfo=KST))
    assert [r.plain for r in replies] == ["'weekly' is not a period: type /perf month, /perf quarter, /perf year or "
                                          "/perf all (all is the default)."]


@dataclass
class Config:
    account: Account
    data_dir: Path


def test_kisbot_perf_prints_the_figures_and_writes_the_chart(tmp_path, capsys):
    rows, _ = synthetic()
    # Shifted to end yesterday: the command reads the wall clock, and the period runs up to today.
    shift = datetime.now(KST).date() - timedelta(days=1) - rows[-1].day
    from dataclasses import replace

    _history(tmp_path, [replace(r, day=r.day + shift, at=r.at + shift) for r in rows])
    chart = tmp_path / "out.png"
    code = perf(argparse.Namespace(period=["all"], chart=str(chart)), config=Config(Account.parse(ACCOUNT), tmp_path))
    out = capsys.readouterr().out
    assert code == 0 and "time-weighted   -4.29%" in out and chart.read_bytes().startswith(b"\x89PNG")
    assert perf(argparse.Namespace(period=["weekly"], chart=None), config=Config(Account.parse(ACCOUNT), tmp_path)) == 2
