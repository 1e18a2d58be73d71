"""The journal: intents before sends, one active run per account, state that survives a reopen."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from kis.models import OrderSide, OrderType
from rebalance.journal import Journal, OrderUpdate, RunActive, plan_from_json, plan_to_json
from rebalance.lifecycle import BadTransition, OrderState
from rebalance.slicing import slice_plan
from rebalance.window import TwapSettings, Window
from tests.rebalance.twap_fakes import T0, line, make_plan

SETTINGS = TwapSettings(calendar="always")
WINDOW = Window(T0, T0 + timedelta(minutes=30))
PLAN = make_plan(line("000010", 10_000, 100, 40), line("000020", 5_000, 0, 30), line("000030", 1_000, 5, 5))


@pytest.fixture
def journal(tmp_path):
    j = Journal.in_dir(tmp_path)
    yield j
    j.close()


def create(journal, run_id="r1", account="50000000-01"):
    schedule = slice_plan(PLAN.lines, WINDOW, SETTINGS, rate=2.0)
    journal.create_run(run_id, account, PLAN, WINDOW, schedule, OrderType.BEST_LIMIT, T0)
    return schedule


def test_a_run_keeps_its_plan_window_stocks_and_slices(journal, tmp_path):
    schedule = create(journal)
    reopened = Journal.in_dir(tmp_path)
    run = reopened.active_run("50000000-01")
    assert run.plan == PLAN and run.window == WINDOW and run.state == "active"
    assert run.catch_up_at == schedule.catch_up_at and run.order_type is OrderType.BEST_LIMIT
    assert [(s.code, s.side, s.goal, s.owed) for s in reopened.stocks("r1")] == [
        ("000010", OrderSide.SELL, 60, 0), ("000020", OrderSide.BUY, 30, 0)]  # 000030 trades nothing
    assert [(s.seq, s.qty, s.at) for s in reopened.slices("r1")] == [(s.seq, s.qty, s.at) for s in schedule.slices]
    assert reopened._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_only_one_active_run_per_account(journal):
    create(journal, "r1")
    with pytest.raises(RunActive, match="r1 is still executing"):
        create(journal, "r2")
    create(journal, "r3", account="50000001-01")  # another account may run
    journal.end_run("r1", "finished", T0)
    create(journal, "r4")


def test_a_slice_fires_once_and_adds_to_what_its_stock_owes(journal):
    schedule = create(journal)
    first = schedule.slices[0]
    assert journal.fire_slice("r1", first.seq) is True
    assert journal.fire_slice("r1", first.seq) is False  # a restart cannot fire it twice
    owed = {s.code: s.owed for s in journal.stocks("r1")}
    assert owed[first.code] == first.qty


def test_an_intent_takes_its_shares_off_what_is_owed_and_is_committed_before_any_send(journal, tmp_path):
    schedule = create(journal)
    first = schedule.slices[0]
    journal.fire_slice("r1", first.seq)
    order_id = journal.add_intent("r1", first.code, first.side, first.qty, OrderType.BEST_LIMIT, 0, "slice", T0)
    # Another connection (a restarted process) already sees the intent.
    seen = Journal.in_dir(tmp_path).orders("r1")
    assert [(o.id, o.state, o.qty) for o in seen] == [(order_id, OrderState.INTENT, first.qty)]
    assert seen[0].committed == first.qty  # an unresolved intent may be working: it counts
    assert {s.code: s.owed for s in journal.stocks("r1")}[first.code] == 0


def test_orders_that_never_reached_kis_and_cash_short_orders_are_owed_again_but_plain_rejections_are_not(journal):
    create(journal)
    a = journal.add_intent("r1", "000020", OrderSide.BUY, 5, OrderType.BEST_LIMIT, 0, "slice", T0)
    b = journal.add_intent("r1", "000020", OrderSide.BUY, 4, OrderType.BEST_LIMIT, 0, "slice", T0)
    c = journal.add_intent("r1", "000020", OrderSide.BUY, 3, OrderType.BEST_LIMIT, 0, "slice", T0)
    journal.transition(a, OrderState.NOT_SENT)
    journal.transition(b, OrderState.REJECTED, msg_cd="APBK0952", message="주문가능금액을 초과 했습니다", owe_again=True)
    journal.transition(c, OrderState.REJECTED, msg_cd="APBK0400", message="매매정지")
    with pytest.raises(BadTransition):
        journal.transition(a, OrderState.NOT_SENT)  # a second time would owe its shares twice
    assert {s.code: s.owed for s in journal.stocks("r1")}["000020"] == 9
    assert [o.committed for o in journal.orders("r1")] == [0, 0, 0]


def test_an_unresolved_order_counts_in_full_until_ruled_out_and_is_taken_back_if_it_shows_up(journal):
    create(journal)
    a = journal.add_intent("r1", "000020", OrderSide.BUY, 5, OrderType.BEST_LIMIT, 0, "slice", T0)
    owed_before = {s.code: s.owed for s in journal.stocks("r1")}["000020"]
    journal.transition(a, OrderState.UNRESOLVED, message="no answer")
    assert journal.orders("r1")[0].committed == 5
    journal.transition(a, OrderState.ABSENT)
    assert journal.orders("r1")[0].committed == 0
    assert {s.code: s.owed for s in journal.stocks("r1")}["000020"] == owed_before + 5
    journal.apply(OrderUpdate(a, OrderState.OPEN, order_no="0000000077", org_no="06010", filled_qty=0,
                              filled_amount=0, remaining=5), T0)
    order = journal.orders("r1")[0]
    assert (order.state, order.order_no, order.committed) == (OrderState.OPEN, "0000000077", 5)
    assert {s.code: s.owed for s in journal.stocks("r1")}["000020"] == owed_before
    with pytest.raises(BadTransition):
        journal.transition(a, OrderState.ABSENT)  # known by number: it can never be ruled out again


def test_fills_are_recorded_as_increments_and_never_go_backwards(journal):
    create(journal)
    oid = journal.add_intent("r1", "000010", OrderSide.SELL, 10, OrderType.BEST_LIMIT, 0, "slice", T0)
    journal.transition(oid, OrderState.OPEN, order_no="0000000042", org_no="00950")

    def seen(filled, amount, remaining, closed=False):
        state = OrderState.CLOSED if closed else OrderState.OPEN
        return journal.apply(OrderUpdate(oid, state, filled_qty=filled, filled_amount=amount, remaining=remaining), T0)

    assert seen(4, 40_000, 6) == (4, 40_000)
    assert seen(4, 40_000, 6) == (0, 0)
    assert seen(3, 30_000, 7) == (0, 0)  # a stale page
    assert seen(10, 100_500, 0, closed=True) == (6, 60_500)
    (order,) = journal.orders("r1")
    assert (order.filled_qty, order.committed, order.resting) == (10, 10, False)
    assert journal.known_order_nos(T0.date()) == {"0000000042"}
    assert journal.known_order_nos(T0.date() + timedelta(days=1)) == set()  # KIS numbers restart each day


def test_an_open_order_counts_in_full_until_the_exchange_shows_it(journal):
    create(journal)
    oid = journal.add_intent("r1", "000010", OrderSide.SELL, 10, OrderType.BEST_LIMIT, 0, "slice", T0)
    journal.transition(oid, OrderState.OPEN, order_no="7", org_no="00950")
    assert journal.orders("r1")[0].committed == 10 and journal.orders("r1")[0].resting
    journal.apply(OrderUpdate(oid, OrderState.CLOSED, filled_qty=2, filled_amount=20_000, remaining=0), T0)
    assert journal.orders("r1")[0].committed == 2  # cancelled after 2 filled


def test_states_live_in_their_column_and_the_message_is_only_for_people(journal):
    create(journal)
    oid = journal.add_intent("r1", "000010", OrderSide.SELL, 10, OrderType.BEST_LIMIT, 0, "slice", T0)
    journal.transition(oid, OrderState.UNRESOLVED, message="not sent")  # a misleading text changes nothing
    order = journal.orders("r1")[0]
    assert order.state is OrderState.UNRESOLVED and order.committed == 10


def test_the_plan_survives_a_json_round_trip():
    assert plan_from_json(plan_to_json(PLAN)) == PLAN


def test_threads_can_write_at_once(journal):
    create(journal)

    def write(n):
        for _ in range(20):
            journal.add_intent("r1", "000020", OrderSide.BUY, 1, OrderType.BEST_LIMIT, 0, "slice", T0)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(journal.orders("r1")) == 80
