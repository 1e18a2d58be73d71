"""Passive-first slices on the simulator's book: a slice joins the own side's best, is moved to the guard
price by one revision (order-rvsecncl 01) when it has waited, fallen behind or the end nears, and the run
still ends on target with nothing past a goal at any moment, through lost and refused revisions."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from kis.errors import OrderUncertain
from kis.sim import SimServer
from kis.sim.clients import client_for
from kis.sim.clock import ManualClock
from rebalance.events import Finished
from rebalance.journal import Journal
from rebalance.lifecycle import OrderKind, OrderState
from tests.conftest import SIM_START, SIM_TEST_PAGE_ROWS, SIM_TEST_RATE
from tests.rebalance.test_twap_book import watch_goals
from tests.rebalance.test_twap_e2e import SETTINGS, assert_targets_without_doubles, sim_plan, start

PASSIVE = replace(SETTINGS, execution="passive", passive_seconds=20.0)


def book_server(book: str) -> SimServer:
    return SimServer(0, rate_limit=SIM_TEST_RATE, page_rows=SIM_TEST_PAGE_ROWS, daily_page_rows=SIM_TEST_PAGE_ROWS,
                     seed=7, clock=ManualClock(SIM_START), always_open=True, book=book).start()


@pytest.fixture(params=["liquid", "thin"])
def book_sim(request):
    server = book_server(request.param)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def liquid_sim():
    server = book_server("liquid")
    try:
        yield server
    finally:
        server.stop()


class Wrapped:
    """The real client, with a hook around each revision."""

    def __init__(self, client, on_revise):
        self.client, self.on_revise = client, on_revise
        self.revisions = 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def revise(self, order_no, org_no, price, **kwargs):
        self.revisions += 1
        return self.on_revise(self.revisions, lambda: self.client.revise(order_no, org_no, price, **kwargs),
                              order_no)


def revisions_per_original(sim) -> Counter:
    return Counter(e.orig_order_no for e in sim.exchange.order_log if e.kind == "revise")


def run_to_end(client, sim, plan, tmp_path, settings=PASSIVE):
    breaches = watch_goals(sim, plan)
    executor, rec, run_id = start(client, sim, plan, tmp_path / "journal.sqlite3", settings=settings)
    assert executor.wait(60)
    return executor, rec, run_id, breaches


def test_a_passive_run_on_the_book_joins_the_best_prices_and_still_ends_on_target(book_sim, tmp_path):
    client = client_for(book_sim, tmp_path / "kisbot", sleep=lambda seconds: None)
    plan = sim_plan(book_sim, cash=2_000_000)
    executor, rec, run_id, breaches = run_to_end(client, book_sim, plan, tmp_path)

    assert breaches == []
    assert_targets_without_doubles(book_sim, plan)
    (done,) = rec.of(Finished)
    assert all(r.difference == 0 for r in done.results)
    orders = Journal(tmp_path / "journal.sqlite3").orders(run_id)
    passive = [o for o in orders if o.passive]
    assert passive and all(o.kind is OrderKind.SLICE for o in passive)
    for o in passive:  # each joined its own side's best as the book showed it at the send
        assert o.price == (o.bid if o.side.value == "02" else o.ask)
        assert 0 < o.bid < o.ask
    assert executor.pricing_counts["passive"] == len(passive)
    receipt = done.receipt  # the book at every send: the receipt says what the spread cost and earned
    assert receipt.booked and 0 <= receipt.passive_share <= 1
    if book_sim.book.mode == "liquid":  # a thin book may fill none of a 5-minute run's slices at the bid
        assert receipt.passive_share > 0
    assert all(line.arrival_mid2 for line in receipt.lines)
    assert all(n == 1 for n in revisions_per_original(book_sim).values())  # one revision per order at most


def test_a_passive_slice_left_unfilled_is_revised_once_to_the_guard_price(liquid_sim, tmp_path):
    client = client_for(liquid_sim, tmp_path / "kisbot", sleep=lambda seconds: None)
    plan = sim_plan(liquid_sim, cash=2_000_000)
    executor, rec, run_id, breaches = run_to_end(client, liquid_sim, plan, tmp_path)

    assert breaches == []
    assert_targets_without_doubles(liquid_sim, plan)
    orders = Journal(tmp_path / "journal.sqlite3").orders(run_id)
    revisions = [o for o in orders if o.kind is OrderKind.REVISION]
    assert revisions, "some passive slice waited long enough to be revised"
    by_id = {o.id: o for o in orders}
    for r in revisions:
        original = by_id[r.revises]
        assert original.passive and not r.passive and r.state is OrderState.CLOSED
        assert (r.price > original.price) if r.side.value == "02" else (r.price < original.price)
    assert executor.pricing_counts["revised"] == len(revisions)
    # the revision saved the cancel: no cancel row for an order that was revised
    revised_nos = {by_id[r.revises].order_no for r in revisions}
    assert not [e for e in liquid_sim.exchange.order_log if e.kind == "cancel" and e.orig_order_no in revised_nos]


def test_a_revision_whose_answer_is_lost_counts_as_live_is_never_sent_again_and_is_found_by_its_row(
        liquid_sim, tmp_path):
    client = client_for(liquid_sim, tmp_path / "kisbot", sleep=lambda seconds: None)

    def lose_the_first(n, send, order_no):
        if n == 1:
            liquid_sim.faults.drop_after_order(1)  # the exchange revises; the answer never comes back
        return send()

    wrapped = Wrapped(client, lose_the_first)
    plan = sim_plan(liquid_sim, cash=2_000_000)
    executor, rec, run_id, breaches = run_to_end(wrapped, liquid_sim, plan, tmp_path)

    assert breaches == []
    assert_targets_without_doubles(liquid_sim, plan)
    assert executor.pricing_counts["revise_lost"] == 1
    assert all(n == 1 for n in revisions_per_original(liquid_sim).values())  # never re-sent
    orders = Journal(tmp_path / "journal.sqlite3").orders(run_id)
    lost = next(o for o in orders if o.kind is OrderKind.REVISION and "no answer" in o.message)
    assert lost.state is OrderState.CLOSED and lost.order_no  # found by the row pointing at its original
    assert not [o for o in orders if o.state.unsettled]


def test_a_revision_lost_before_it_reached_kis_is_ruled_out_and_the_original_keeps_its_rest(liquid_sim, tmp_path):
    client = client_for(liquid_sim, tmp_path / "kisbot", sleep=lambda seconds: None)

    def never_arrives(n, send, order_no):
        if n == 1:
            raise OrderUncertain("the revision got no answer (connection reset)")
        return send()

    wrapped = Wrapped(client, never_arrives)
    plan = sim_plan(liquid_sim, cash=2_000_000)
    executor, rec, run_id, breaches = run_to_end(wrapped, liquid_sim, plan, tmp_path)

    assert breaches == []
    assert_targets_without_doubles(liquid_sim, plan)
    orders = Journal(tmp_path / "journal.sqlite3").orders(run_id)
    ruled_out = next(o for o in orders if o.kind is OrderKind.REVISION and o.state is OrderState.ABSENT)
    original = next(o for o in orders if o.id == ruled_out.revises)
    assert original.state is OrderState.CLOSED
    # Ruled out, the revision gave the rest back to its order, which a later revision could then move: one
    # revision row at the exchange, since the lost one never arrived.
    later = [o for o in orders if o.revises == original.id and o.id != ruled_out.id]
    assert [o.state for o in later] in ([], [OrderState.CLOSED])
    assert revisions_per_original(liquid_sim)[original.order_no] == len(later)
    assert original.cancel_sent == bool(later)


def test_a_revision_refused_because_the_order_filled_meanwhile_changes_nothing(liquid_sim, tmp_path):
    client = client_for(liquid_sim, tmp_path / "kisbot", sleep=lambda seconds: None)
    ex = liquid_sim.exchange

    def fill_first(n, send, order_no):
        if n == 1:  # the crowd takes the whole rest just before the revision arrives
            with ex.lock:
                order = ex.find(order_no)
                ex._execute(order, order.remaining, order.price)
        return send()

    wrapped = Wrapped(client, fill_first)
    plan = sim_plan(liquid_sim, cash=2_000_000)
    executor, rec, run_id, breaches = run_to_end(wrapped, liquid_sim, plan, tmp_path)

    assert breaches == []
    assert_targets_without_doubles(liquid_sim, plan)
    assert executor.pricing_counts["revise_refused"] >= 1
    orders = Journal(tmp_path / "journal.sqlite3").orders(run_id)
    refused = next(o for o in orders if o.kind is OrderKind.REVISION and o.state is OrderState.REJECTED)
    original = next(o for o in orders if o.id == refused.revises)
    assert original.state is OrderState.CLOSED and original.filled_qty == original.qty and not original.cancel_sent


def test_a_cross_run_sends_no_passive_order_and_no_revision(liquid_sim, tmp_path):
    client = client_for(liquid_sim, tmp_path / "kisbot", sleep=lambda seconds: None)
    plan = sim_plan(liquid_sim, cash=2_000_000)
    settings = replace(SETTINGS, record_book=True)
    executor, rec, run_id, breaches = run_to_end(client, liquid_sim, plan, tmp_path, settings=settings)

    assert breaches == []
    assert_targets_without_doubles(liquid_sim, plan)
    orders = Journal(tmp_path / "journal.sqlite3").orders(run_id)
    assert not [o for o in orders if o.passive or o.kind is OrderKind.REVISION]
    assert all(0 < o.bid < o.ask for o in orders)  # the book at each send, for the receipt


def test_the_run_keeps_the_style_it_started_with(liquid_sim, tmp_path):
    client = client_for(liquid_sim, tmp_path / "kisbot", sleep=lambda seconds: None)
    plan = sim_plan(liquid_sim, cash=2_000_000)
    executor, rec, run_id = start(client, liquid_sim, plan, tmp_path / "journal.sqlite3", settings=PASSIVE)
    assert executor.wait(60)
    assert Journal(tmp_path / "journal.sqlite3").run(run_id).execution == "passive"


def test_a_passive_run_through_server_errors_and_lost_answers_ends_on_target_and_never_passes_a_goal(
        book_sim, tmp_path):
    client = client_for(book_sim, tmp_path / "kisbot", sleep=lambda seconds: None)
    book_sim.faults.error_rate = 0.1
    lost = []

    def lose_some(n, send, order_no):  # every third revision's answer is lost after KIS took it
        if n % 3 == 1:
            book_sim.faults.drop_after_order(1)
            lost.append(order_no)
        return send()

    book_sim.faults.drop_after_order(1)  # and the first new order's
    plan = sim_plan(book_sim, cash=2_000_000)
    executor, rec, run_id, breaches = run_to_end(Wrapped(client, lose_some), book_sim, plan, tmp_path)

    assert breaches == []
    assert_targets_without_doubles(book_sim, plan)
    (done,) = rec.of(Finished)
    assert all(r.difference == 0 for r in done.results)
    assert all(n == 1 for n in revisions_per_original(book_sim).values())
    assert lost  # some revision's answer was lost on each book
