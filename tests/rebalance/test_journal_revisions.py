"""The journal's revisions (order-rvsecncl 01) and the book at each send: a revision moves its original's rest
and owes nothing, whatever its answer; a version-1 journal opens with the new columns."""
from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from kis.models import OrderSide, OrderStatus, OrderType
from rebalance.journal import SCHEMA_VERSION, Journal, OrderUpdate, committed
from rebalance.lifecycle import OrderState
from rebalance.reconcile import reconcile
from rebalance.slicing import slice_plan
from rebalance.window import TwapSettings, Window
from tests.rebalance.twap_fakes import T0, line, make_plan

WINDOW = Window(T0, T0 + timedelta(minutes=30))
PLAN = make_plan(line("000020", 5_000, 0, 30))


@pytest.fixture
def journal(tmp_path):
    j = Journal.in_dir(tmp_path)
    schedule = slice_plan(PLAN.lines, WINDOW, TwapSettings(calendar="always"), rate=2.0)
    j.create_run("r1", "50000000-01", PLAN, WINDOW, schedule, OrderType.LIMIT, T0, 0.01, execution="passive")
    yield j
    j.close()


def owed(journal) -> int:
    return journal.stocks("r1")[0].owed


def resting_passive(journal, qty=10, filled=0):
    order_id = journal.add_intent("r1", "000020", OrderSide.BUY, qty, OrderType.LIMIT, 4_990, "slice", T0,
                                  bid=4_990, ask=5_000, passive=True)
    journal.transition(order_id, OrderState.OPEN, order_no="0000000011", org_no="00950")
    journal.apply(OrderUpdate(order_id, OrderState.OPEN, filled_qty=filled, filled_amount=filled * 4_990,
                              remaining=qty - filled), T0)
    return journal.orders("r1")[-1]


def row(order_no, qty, filled, remaining, *, orig="", cancelled_qty=0, price=5_050):
    return OrderStatus(order_no=order_no, org_no="00950", orig_order_no=orig, code="000020", name="", side=OrderSide.BUY,
                       order_type=OrderType.LIMIT, qty=qty, price=price, filled_qty=filled, remaining_qty=remaining,
                       avg_fill_price=price if filled else 0, filled_amount=filled * price, cancelled=False,
                       cancelled_qty=cancelled_qty, time="100010")


def test_an_order_keeps_the_book_at_its_send_and_whether_it_joined_its_own_side(journal):
    order = resting_passive(journal)
    assert (order.bid, order.ask, order.passive, order.revises) == (4_990, 5_000, True, None)
    assert journal.run("r1").execution == "passive"


def test_a_revision_owes_nothing_and_its_original_rest_is_never_freed_twice(journal):
    original = resting_passive(journal, qty=10, filled=4)
    before = owed(journal)
    rev = journal.add_revision(original, 6, 5_050, T0, bid=5_000, ask=5_050)
    assert owed(journal) == before  # nothing placed from what is owed
    assert journal.orders("r1")[0].cancel_sent
    assert sum(o.committed for o in journal.orders("r1")) == 4 + 6 + 6  # counted twice until KIS shows the move
    journal.transition(rev, OrderState.OPEN, order_no="0000000012", org_no="00950")
    # today's orders: the original closed (its rest moved), the revision's row pointing at it
    statuses = [row("0000000011", 10, 4, 0, cancelled_qty=6, price=4_990), row("0000000012", 6, 2, 4,
                                                                                orig="0000000011")]
    for update in reconcile(journal.orders("r1"), statuses, now=T0, settle_seconds=60).updates:
        journal.apply(update, T0)
    orders = journal.orders("r1")
    assert [(o.state, o.committed) for o in orders] == [(OrderState.CLOSED, 4), (OrderState.OPEN, 6)]
    assert owed(journal) == before  # the original's close freed nothing: the revision holds the rest


@pytest.mark.parametrize("state", [OrderState.REJECTED, OrderState.NOT_SENT])
def test_a_revision_that_never_took_gives_the_rest_back_to_its_original_and_owes_nothing(journal, state):
    original = resting_passive(journal)
    before = owed(journal)
    rev = journal.add_revision(original, 10, 5_050, T0)
    journal.transition(rev, state, message="APBK0344 정정/취소 가능수량이 없습니다")
    assert owed(journal) == before
    assert not journal.orders("r1")[0].cancel_sent  # it may be revised (or cancelled at the end) again


def test_an_unanswered_revision_is_found_only_by_the_row_pointing_at_its_original(journal):
    original = resting_passive(journal)
    rev = journal.add_revision(original, 10, 5_050, T0)
    journal.transition(rev, OrderState.UNRESOLVED, message="no answer")
    # a new order of the same size and price (someone else's) is not it
    lookalike = row("0000000013", 10, 0, 10)
    result = reconcile(journal.orders("r1"), [row("0000000011", 10, 0, 10, price=4_990), lookalike], now=T0,
                       settle_seconds=60)
    assert not [u for u in result.updates if u.order_id == rev and u.order_no]
    statuses = [row("0000000011", 10, 0, 0, cancelled_qty=10, price=4_990), lookalike,
                row("0000000014", 10, 3, 7, orig="0000000011")]
    result = reconcile(journal.orders("r1"), statuses, now=T0 + timedelta(seconds=5), settle_seconds=60)
    (found,) = [u for u in result.updates if u.order_id == rev]
    assert (found.state, found.order_no, found.remaining) == (OrderState.OPEN, "0000000014", 7)


def test_an_unanswered_revision_no_row_points_at_is_ruled_out_after_the_horizon_owing_nothing(journal):
    original = resting_passive(journal)
    before = owed(journal)
    rev = journal.add_revision(original, 10, 5_050, T0)
    journal.transition(rev, OrderState.UNRESOLVED, message="no answer")
    still_open = [row("0000000011", 10, 0, 10, price=4_990)]
    for seconds in (0, 30, 61):
        for update in reconcile(journal.orders("r1"), still_open, now=T0 + timedelta(seconds=seconds),
                                settle_seconds=60).updates:
            journal.apply(update, T0 + timedelta(seconds=seconds))
    orders = journal.orders("r1")
    assert orders[1].state is OrderState.ABSENT and orders[1].committed == 0
    assert not orders[0].cancel_sent and orders[0].committed == 10  # the original holds its rest again
    assert owed(journal) == before


def test_a_version_2_journal_opens_with_the_book_columns_and_keeps_its_orders(tmp_path):
    path = tmp_path / "journal.sqlite3"
    j = Journal(path)
    schedule = slice_plan(PLAN.lines, WINDOW, TwapSettings(calendar="always"), rate=2.0)
    j.create_run("r1", "50000000-01", PLAN, WINDOW, schedule, OrderType.LIMIT, T0, 0.01)
    j.add_intent("r1", "000020", OrderSide.BUY, 5, OrderType.LIMIT, 5_000, "slice", T0)
    j.close()
    db = sqlite3.connect(path)  # back to what version 2 (orders with their market) wrote
    for table, column in (("runs", "execution"), ("orders", "bid"), ("orders", "ask"), ("orders", "passive"),
                          ("orders", "revises")):
        db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()

    j = Journal(path)
    assert j._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    (order,) = j.orders("r1")
    assert (order.qty, order.bid, order.ask, order.passive, order.revises) == (5, 0, 0, False, None)
    assert j.run("r1").execution == "cross"


def test_an_original_and_its_filled_revision_commit_the_original_quantity_once_before_any_poll(journal):
    # The stream told the revision's fills; no poll has shown the original closed yet. A plain sum of the
    # two rows would count the moved shares twice and stall the stock (or fail its run's check).
    order_id = journal.add_intent("r1", "000020", OrderSide.BUY, 10, OrderType.LIMIT, 4_990, "slice", T0,
                                  bid=4_990, ask=5_000, passive=True)
    journal.transition(order_id, OrderState.OPEN, order_no="0000000011", org_no="00950")
    original = journal.orders("r1")[0]
    rev = journal.add_revision(original, 10, 5_000, T0)
    journal.transition(rev, OrderState.OPEN, order_no="0000000012", org_no="00950")
    journal.apply(OrderUpdate(rev, OrderState.CLOSED, filled_qty=10, filled_amount=50_000, remaining=0), T0)
    orders = journal.orders("r1")
    assert sum(o.committed for o in orders) == 20
    assert committed(orders) == 10


def test_a_revision_never_lowers_what_its_original_and_it_commit_below_the_original_quantity_while_either_may_work(
        journal):
    # The original may have filled shares no poll has shown before KIS moved the rest: until the original
    # is seen closed the pair counts its whole quantity, never the revision's fills alone.
    order_id = journal.add_intent("r1", "000020", OrderSide.BUY, 10, OrderType.LIMIT, 4_990, "slice", T0)
    journal.transition(order_id, OrderState.OPEN, order_no="0000000011", org_no="00950")
    rev = journal.add_revision(journal.orders("r1")[0], 10, 5_000, T0)
    journal.transition(rev, OrderState.OPEN, order_no="0000000012", org_no="00950")
    journal.apply(OrderUpdate(rev, OrderState.CLOSED, filled_qty=6, filled_amount=30_000, remaining=0), T0)
    assert committed(journal.orders("r1")) == 10  # 4 more may have filled on the original
    journal.apply(OrderUpdate(order_id, OrderState.CLOSED, filled_qty=4, filled_amount=19_960, remaining=0), T0)
    assert committed(journal.orders("r1")) == 10
