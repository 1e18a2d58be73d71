"""Journal schema versions: a journal written by kisbot before versioning is upgraded and its run resumed.

The fixture `fixtures/journal_v0.sql` is the dump of a journal that the previous code wrote (through
`Journal` and `slice_plan` at the commit before versioning), with an active run holding every kind of
order that code could leave: filled, acked and re-sent, uncertain, lost, not sent, and a bare intent.
"""
from __future__ import annotations

import itertools
import sqlite3
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from kis.models import OrderSide, OrderType
from rebalance.testing import FakeClock
from rebalance.events import Finished
from rebalance.journal import SCHEMA_VERSION, Journal, JournalTooNew
from rebalance.lifecycle import OrderState
from rebalance.twap import TwapExecutor
from rebalance.window import TwapSettings
from tests.rebalance.twap_fakes import T0, BrokerOrder, FakeBroker, Recorder

FIXTURE = Path(__file__).parent / "fixtures" / "journal_v0.sql"
RUN = "20261124-100000-abc123"
ACCOUNT = "50000000-01"


@pytest.fixture
def old_journal(tmp_path) -> Path:
    path = tmp_path / "journal.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(FIXTURE.read_text(encoding="utf-8"))
    db.close()
    return path


def test_an_unversioned_journal_is_upgraded_in_place_and_keeps_every_order(old_journal):
    journal = Journal(old_journal)
    assert journal._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    orders = journal.orders(RUN)
    assert [(o.id, o.state) for o in orders] == [
        (1, OrderState.CLOSED),  # acked and closed
        (2, OrderState.OPEN),  # acked, message "re-sent after a lost answer"
        (3, OrderState.UNRESOLVED),  # uncertain
        (4, OrderState.ABSENT),  # lost: not among today's orders
        (5, OrderState.NOT_SENT),  # lost: "not sent: ..."
        (6, OrderState.INTENT),
        (7, OrderState.ABSENT),  # the first send of order 2, which may still show up
    ]
    assert orders[6].kind == "twin" and (orders[6].code, orders[6].qty) == ("005930", 10)
    assert (orders[0].filled_qty, orders[0].filled_amount) == (10, 700_000)
    assert journal.run(RUN).state == "active" and journal.run(RUN).price_guard == 0.0
    assert journal._db.execute("PRAGMA foreign_key_check").fetchall() == []
    journal.close()
    assert Journal(old_journal).orders(RUN) == orders  # a second open changes nothing


def test_the_upgraded_run_resumes_settles_what_the_old_code_left_and_ends_on_target(old_journal):
    # The exchange holds what the old run did: the filled sell (1), the re-sent sell (3) and its
    # first send (2), the uncertain buy (4), and nothing for the lost, not-sent and intent orders.
    clock = FakeClock(T0 + timedelta(minutes=3))
    broker = FakeBroker(clock, prices={"005930": 70_000, "000660": 150_000, "035720": 40_000},
                        holdings={"005930": 70, "000660": 5}, cash=10_000_000)
    at = lambda s: (T0 + timedelta(seconds=s)).strftime("%H%M%S")  # noqa: E731
    broker.orders += [
        BrokerOrder("0000000001", "005930", OrderSide.SELL, 10, OrderType.BEST_LIMIT, 0, at(1), filled=10,
                    amount=700_000),
        BrokerOrder("0000000002", "005930", OrderSide.SELL, 10, OrderType.BEST_LIMIT, 0, at(59), filled=10,
                    amount=700_000),
        BrokerOrder("0000000003", "005930", OrderSide.SELL, 10, OrderType.BEST_LIMIT, 0, at(60), filled=10,
                    amount=700_000),
        BrokerOrder("0000000004", "000660", OrderSide.BUY, 5, OrderType.BEST_LIMIT, 0, at(120), filled=5,
                    amount=750_000),
    ]
    broker._numbers = itertools.count(5)
    rec = Recorder()
    settings = TwapSettings(calendar="always", poll_seconds=5, catch_up_seconds=60, call_rate=10, settle_seconds=30)
    executor = TwapExecutor(broker, Journal(old_journal), settings, rec, clock, account=ACCOUNT)
    assert executor.resume().run_id == RUN
    assert executor.wait(10)

    (done,) = rec.of(Finished)
    assert {r.code: r.difference for r in done.results} == {"005930": 0, "000660": 0, "035720": 0}
    journal = Journal(old_journal)
    states = Counter(o.state for o in journal.orders(RUN))
    assert states[OrderState.INTENT] == states[OrderState.UNRESOLVED] == 0
    twin = journal.orders(RUN)[6]
    assert twin.state is OrderState.CLOSED and twin.order_no == "0000000002"  # the first send, counted
    # 100 held, target 40: 60 to sell; 30 were sold before the upgrade, 30 after, nothing beyond.
    sold = sum(o.qty for o in broker.sent("005930", OrderSide.SELL) if not o.cancelled)
    assert sold == 60 and broker.holdings["005930"] == 40


def test_a_journal_from_a_newer_kisbot_is_refused_not_misread(tmp_path):
    path = tmp_path / "journal.sqlite3"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(JournalTooNew, match="newer kisbot"):
        Journal(path)


def _as_version_1(path: Path) -> None:
    """Turn a current journal back into what schema 1 wrote: no order market, no per-market windows."""
    db = sqlite3.connect(path)
    db.execute("DROP TABLE run_windows")
    db.execute("ALTER TABLE orders DROP COLUMN market")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()


def test_a_version_1_journal_opens_with_every_order_sent_to_krx_and_its_run_in_one_window(old_journal):
    Journal(old_journal).close()  # v0 -> current
    _as_version_1(old_journal)
    journal = Journal(old_journal)
    assert journal._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert {o.market for o in journal.orders(RUN)} == {"KRX"}
    assert journal.windows(RUN) == []
    journal.close()


def test_a_journal_upgraded_straight_from_version_0_keeps_orders_markets_and_takes_windows(old_journal):
    journal = Journal(old_journal)
    columns = [row[1] for row in journal._db.execute("PRAGMA table_info(orders)")]
    assert columns.count("market") == 1
    oid = journal.add_intent(RUN, "AAPL", OrderSide.BUY, 3, OrderType.LIMIT, 23_312, "retry", T0, "NASD")
    assert next(o for o in journal.orders(RUN) if o.id == oid).market == "NASD"
