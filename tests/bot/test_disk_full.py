"""A disk that fills up is named with the data directory, never "Something went wrong"."""
from __future__ import annotations

import pytest

from bot_fakes import make_service
from kis.files import DiskFull
from rebalance.i18n import using
from rebalance.journal import Journal
from rebalance.slicing import slice_plan
from rebalance.window import TwapSettings, Window
from tests.rebalance.twap_fakes import T0, line, make_plan


def disk_full_from_a_real_journal(data_dir) -> DiskFull:
    """What the journal raises when SQLite finds no room for a run's rows (SQLITE_FULL)."""
    journal = Journal.in_dir(data_dir)
    journal._db.execute(f"PRAGMA max_page_count={journal._db.execute('PRAGMA page_count').fetchone()[0]}")
    plan = make_plan(*(line(f"{i:06d}", 1_000, 0, 10) for i in range(1, 200)), cash=10_000_000)
    window = Window(T0, T0.replace(hour=T0.hour + 1))
    schedule = slice_plan(plan.lines, window, TwapSettings(calendar="always"), 2.0)
    with pytest.raises(DiskFull) as caught:
        journal.create_run("r1", "50000000-01", plan, window, schedule, TwapSettings().order_type, T0)
    return caught.value


def confirm_on_a_full_disk(tmp_path, lang="en") -> str:
    service, _, executor, _, _ = make_service()
    executor.start_error = disk_full_from_a_real_journal(tmp_path)
    with using(lang):
        replies = service.plan_file(b"005930 000660", "model.xlsx")
        service.shown(replies[-1].offers)
        text = "\n".join(r.text for r in service.confirm())
    assert not executor.started
    return text


def test_confirm_on_a_full_disk_names_the_disk_and_the_data_dir_and_says_no_order_was_sent(tmp_path):
    text = confirm_on_a_full_disk(tmp_path)
    assert "Something went wrong" not in text
    assert f"data directory {tmp_path}" in text and "is full" in text and "no order was sent" in text
    assert "KISBOT_DATA_DIR" in text and "The plan is still pending" in text


def test_the_full_disk_sentence_is_korean_in_a_korean_chat(tmp_path):
    text = confirm_on_a_full_disk(tmp_path, "ko")
    assert str(tmp_path) in text and "디스크" in text and "가득 찼습니다" in text
