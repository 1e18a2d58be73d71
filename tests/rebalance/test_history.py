"""Value history: one row per trading day, kept across restarts; each day's report claimed once."""
from __future__ import annotations

from datetime import date, datetime

from kis.models import Balance, Holding
from kis.krx import KST
from rebalance.history import ValueHistory

ACCOUNT = "50000000-01"


def balance(total: int, cash: int = 100_000) -> Balance:
    holding = Holding("005930", "삼성전자", 10, 10, 70_000, 71_000, total - cash, 700_000, 10_000, 1.4)
    return Balance((holding,), cash=cash, cash_d2=cash, stock_value=total - cash, total_value=total, pnl=10_000)


def at(day: str, hour: int = 15) -> datetime:
    return datetime.fromisoformat(f"{day} {hour:02d}:40").replace(tzinfo=KST)


def test_one_row_per_day_the_latest_snapshot_wins_and_survives_a_restart(tmp_path):
    history = ValueHistory.in_dir(tmp_path)
    history.record(ACCOUNT, date(2026, 11, 23), balance(1_000_000), at("2026-11-23"))
    history.record(ACCOUNT, date(2026, 11, 24), balance(1_050_000), at("2026-11-24", 10))
    history.record(ACCOUNT, date(2026, 11, 24), balance(1_100_000), at("2026-11-24"))
    history.close()

    reopened = ValueHistory.in_dir(tmp_path)
    rows = reopened.recent(ACCOUNT)
    assert [(r.day, r.total_value) for r in rows] == [(date(2026, 11, 23), 1_000_000), (date(2026, 11, 24), 1_100_000)]
    assert rows[-1].holdings[0].name == "삼성전자"
    assert reopened.before(ACCOUNT, date(2026, 11, 24)).total_value == 1_000_000
    assert reopened.recent("other-01") == []


def test_recent_keeps_the_last_sessions_only(tmp_path):
    history = ValueHistory.in_dir(tmp_path)
    for d in range(1, 31):
        history.record(ACCOUNT, date(2026, 11, d), balance(1_000_000 + d), at(f"2026-11-{d:02d}"))
    rows = history.recent(ACCOUNT, 5)
    assert [r.day.day for r in rows] == [26, 27, 28, 29, 30]


def test_a_day_is_reported_once_even_by_two_processes(tmp_path):
    first, second = ValueHistory.in_dir(tmp_path), ValueHistory.in_dir(tmp_path)
    assert first.claim_report(ACCOUNT, date(2026, 11, 24), at("2026-11-24"))
    assert not second.claim_report(ACCOUNT, date(2026, 11, 24), at("2026-11-24", 16))
    assert second.last_report(ACCOUNT) == date(2026, 11, 24)


def test_the_history_is_private_like_the_journal_even_when_it_creates_the_data_dir(tmp_path):
    data = tmp_path / "fresh"
    history = ValueHistory.in_dir(data)
    history.record(ACCOUNT, date(2026, 11, 23), balance(1_000_000), at("2026-11-23"))
    assert data.stat().st_mode & 0o777 == 0o700
    files = [p for p in data.iterdir() if p.name.startswith("history.sqlite3")]
    assert files and all(p.stat().st_mode & 0o777 == 0o600 for p in files)
    history.close()


def test_a_damaged_history_is_kept_aside_and_a_new_one_starts(tmp_path, caplog):
    (tmp_path / "history.sqlite3").write_bytes(b"not a database at all" * 100)
    history = ValueHistory.in_dir(tmp_path)
    history.record(ACCOUNT, date(2026, 11, 23), balance(1_000_000), at("2026-11-23"))
    assert [r.total_value for r in history.recent(ACCOUNT)] == [1_000_000]
    history.close()
    assert (tmp_path / "history.sqlite3.broken").read_bytes() == b"not a database at all" * 100  # nothing lost
    assert "moved to history.sqlite3.broken" in caplog.text
