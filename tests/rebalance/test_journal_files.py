"""The journal's files: private to the user, never silently replaced, and a damaged one refused clearly."""
from __future__ import annotations

import errno
import os
import stat
import threading

import pytest

from kis.errors import ConfigError
from kis.files import DiskFull, disk_full, mount_point
from rebalance.journal import JOURNAL_FILE, Journal, JournalUnusable
from kis.models import OrderType
from rebalance.slicing import slice_plan
from rebalance.window import TwapSettings
from tests.rebalance.test_journal import SETTINGS, T0, WINDOW, create
from tests.rebalance.twap_fakes import line, make_plan


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_data_dir_is_0700_and_the_journal_and_its_wal_are_0600(tmp_path):
    data = tmp_path / "new" / "kisbot"
    journal = Journal.in_dir(data)
    create(journal)  # a write: the WAL and its index exist now
    try:
        assert mode(data) == 0o700
        for name in (JOURNAL_FILE, JOURNAL_FILE + "-wal", JOURNAL_FILE + "-shm"):
            assert mode(data / name) == 0o600, name
    finally:
        journal.close()


def test_a_journal_left_readable_by_others_is_made_private(tmp_path):
    Journal.in_dir(tmp_path).close()
    os.chmod(tmp_path / JOURNAL_FILE, 0o644)
    Journal.in_dir(tmp_path).close()
    assert mode(tmp_path / JOURNAL_FILE) == 0o600


def test_a_corrupt_journal_is_refused_naming_the_file_and_what_to_do(tmp_path):
    path = tmp_path / JOURNAL_FILE
    garbage = b"not a database, but someone's run history once" * 100
    path.write_bytes(garbage)
    with pytest.raises(JournalUnusable) as caught:
        Journal.in_dir(tmp_path)
    said = str(caught.value)
    assert str(path) in said and "Move it aside" in said and "\n" not in said
    assert isinstance(caught.value, ConfigError)  # the command line prints it as one line, no traceback
    assert path.read_bytes() == garbage  # untouched


def test_a_damaged_page_in_a_readable_journal_is_refused_too(tmp_path):
    journal = Journal.in_dir(tmp_path)
    for n in range(40):  # a few pages of rows
        create(journal, run_id=f"r{n}", account=f"acct-{n}")
    journal.close()
    path = tmp_path / JOURNAL_FILE
    data = bytearray(path.read_bytes())
    data[4096 * 2:4096 * 3] = b"\xff" * 4096  # one table page scrambled; the header still says SQLite
    path.write_bytes(bytes(data))
    with pytest.raises(JournalUnusable, match="cannot be read"):
        Journal.in_dir(tmp_path)


def test_an_empty_journal_is_never_replaced_silently(tmp_path):
    path = tmp_path / JOURNAL_FILE
    path.write_bytes(b"")
    with pytest.raises(JournalUnusable) as caught:
        Journal.in_dir(tmp_path)
    assert str(path) in str(caught.value) and "empty" in str(caught.value)
    assert path.stat().st_size == 0  # still the user's file to inspect, not a fresh journal over it


def test_a_new_journal_is_never_an_empty_file_even_while_it_is_being_made(tmp_path):
    seen: list[int] = []
    stop = threading.Event()
    path = tmp_path / JOURNAL_FILE

    def watch():
        while not stop.is_set():
            try:
                seen.append(path.stat().st_size)
            except FileNotFoundError:
                pass

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        Journal.in_dir(tmp_path).close()
    finally:
        stop.set()
        watcher.join()
    assert 0 not in seen
    assert Journal.in_dir(tmp_path).active_run("x") is None  # and it opens again as a journal


def test_a_data_dir_that_is_a_file_is_one_sentence(tmp_path):
    not_a_dir = tmp_path / "kisbot"
    not_a_dir.write_text("oops")
    with pytest.raises(ConfigError, match="data directory .* cannot be used .*KISBOT_DATA_DIR"):
        Journal.in_dir(not_a_dir)


def full_journal(tmp_path) -> Journal:
    """A journal whose disk is full: SQLite may not grow the file by a single page (SQLITE_FULL)."""
    journal = Journal.in_dir(tmp_path)
    pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
    journal._db.execute(f"PRAGMA max_page_count={pages}")
    return journal


def test_a_full_disk_is_a_disk_full_error_naming_the_data_dir_and_its_disk_and_nothing_is_written(tmp_path):
    journal = full_journal(tmp_path)
    plan = make_plan(*(line(f"{i:06d}", 1_000, 0, 10) for i in range(1, 200)), cash=10_000_000)
    schedule = slice_plan(plan.lines, WINDOW, SETTINGS, rate=2.0)
    with pytest.raises(DiskFull) as caught:  # the run's rows need new pages
        journal.create_run("r1", "50000000-01", plan, WINDOW, schedule, OrderType.LIMIT, T0)
    assert caught.value.data_dir == tmp_path and caught.value.disk == mount_point(tmp_path)
    assert os.path.ismount(caught.value.disk) and str(tmp_path).startswith(str(caught.value.disk))
    assert journal.active_run("50000000-01") is None  # the run was not half written
    journal._db.execute("PRAGMA max_page_count=1000000")  # space again: the journal works on
    create(journal)
    assert journal.active_run("50000000-01") is not None


def test_an_enospc_os_error_reads_as_disk_full_and_other_errors_do_not(tmp_path):
    assert isinstance(disk_full(OSError(errno.ENOSPC, "No space left on device"), tmp_path), DiskFull)
    assert disk_full(OSError(errno.EACCES, "Permission denied"), tmp_path) is None
    assert disk_full(ValueError("no"), tmp_path) is None


def test_a_run_confirmed_on_a_full_disk_sends_no_order_and_can_start_once_there_is_space(tmp_path):
    from rebalance.twap import TwapExecutor
    from tests.rebalance.twap_fakes import FakeBroker
    from rebalance.testing import FakeClock

    journal = full_journal(tmp_path)
    plan = make_plan(*(line(f"{i:06d}", 1_000, 0, 10) for i in range(1, 200)), cash=10_000_000)
    clock = FakeClock(T0)
    broker = FakeBroker(clock, prices={ln.code: 1_000 for ln in plan.lines}, cash=10_000_000)
    executor = TwapExecutor(broker, journal, TwapSettings(calendar="always"), lambda event: None, clock)
    with pytest.raises(DiskFull):
        executor.start(plan, WINDOW)
    assert broker.calls == [] and broker.orders == []
    journal._db.execute("PRAGMA max_page_count=1000000")
    executor.start(plan, WINDOW)  # the account's run lock was released: nothing is stuck
    executor.cancel()
    assert executor.wait(10)
