"""The client's best bid and ask (inquire-asking-price-exp-ccn) and its revision of a resting limit order
(order-rvsecncl 01): one call, a new order number, never re-sent on a lost answer."""
from __future__ import annotations

import pytest

from kis import endpoints as ep
from kis.errors import KisError, OrderUncertain
from kis.models import OrderSide, OrderType
from kis.sim import SimServer
from kis.sim.clients import client_for
from kis.sim.clock import ManualClock
from tests.conftest import SIM_START, SIM_TEST_PAGE_ROWS, SIM_TEST_RATE


@pytest.fixture
def book_sim():
    server = SimServer(0, rate_limit=SIM_TEST_RATE, page_rows=SIM_TEST_PAGE_ROWS, daily_page_rows=SIM_TEST_PAGE_ROWS,
                       seed=7, clock=ManualClock(SIM_START), always_open=True, book="liquid",
                       listing_lag=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(book_sim, tmp_path):
    return client_for(book_sim, tmp_path / "kisbot", sleep=lambda seconds: None)


def test_the_best_bid_and_ask_are_the_books_first_level(book_sim, client):
    top = client.asking_price("005930")
    snap = book_sim.book.snapshot("005930")
    assert (top.bid, top.ask, top.bid_qty, top.ask_qty) == (snap.best_bid, snap.best_ask, snap.bids[0][1],
                                                            snap.asks[0][1])
    assert top.two_sided and top.mid2 == snap.best_bid + snap.best_ask
    assert book_sim.count(ep.ASKING_PRICE, ep.ASKING_PRICE_TR) == 1


def test_a_revision_moves_the_whole_rest_to_the_new_price_under_a_new_number_in_one_call(book_sim, client):
    top = client.asking_price("005930")
    ack = client.order("005930", OrderSide.BUY, 3, OrderType.LIMIT, top.bid - 1_000)  # rests below the book
    calls = book_sim.count(ep.ORDER_REVISE_CANCEL)
    revised = client.revise(ack.order_no, ack.org_no, top.ask + 100)
    assert book_sim.count(ep.ORDER_REVISE_CANCEL) == calls + 1
    assert revised.order_no != ack.order_no and revised.price == top.ask + 100
    rows = {o.order_no: o for o in client.orders_today()}
    original, new = rows[ack.order_no], rows[revised.order_no]
    assert original.closed and original.cancelled_qty == 3 and original.filled_qty == 0
    assert new.orig_order_no == ack.order_no and not new.cancelled and new.qty == 3
    assert new.filled_qty == 3  # at the ask it crossed the book


def test_revising_an_order_that_filled_meanwhile_is_refused_and_changes_nothing(book_sim, client):
    top = client.asking_price("005930")
    ack = client.order("005930", OrderSide.BUY, 2, OrderType.LIMIT, top.ask)  # fills at once
    with pytest.raises(KisError) as refused:
        client.revise(ack.order_no, ack.org_no, top.ask + 100)
    assert refused.value.msg_cd == "APBK0344"
    assert [e.kind for e in book_sim.exchange.order_log] == ["new"]


def test_a_revision_whose_answer_is_lost_raises_order_uncertain_and_is_sent_once(book_sim, client):
    top = client.asking_price("005930")
    ack = client.order("005930", OrderSide.BUY, 2, OrderType.LIMIT, top.bid - 1_000)
    book_sim.faults.drop_after_order(1)
    with pytest.raises(OrderUncertain):
        client.revise(ack.order_no, ack.org_no, top.bid)
    assert [e.kind for e in book_sim.exchange.order_log] == ["new", "revise"]  # taken once, never again
