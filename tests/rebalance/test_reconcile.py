"""Reconciliation as pure functions: journal orders and exchange rows in, updates and findings out."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from kis.models import OrderSide, OrderStatus, OrderType
from kis.orders import look_up
from rebalance.journal import OrderRecord
from rebalance.lifecycle import OrderState
from rebalance.reconcile import Ambiguous, Found, NewFill, RuledOut, observe, reconcile
from tests.rebalance.twap_fakes import T0

SETTLE = 120.0


def order(id=1, state=OrderState.UNRESOLVED, qty=10, sent=T0, order_no="", price=70_000,
          order_type=OrderType.LIMIT, side=OrderSide.BUY, code="005930", **kw) -> OrderRecord:
    return OrderRecord(id=id, run_id="r", code=code, side=side, qty=qty, order_type=order_type, price=price,
                       kind="slice", state=state, order_no=order_no, org_no="", sent_at=sent, filled_qty=0,
                       filled_amount=0, remaining=None, msg_cd="", message="", **kw)


def row(order_no="0000000007", qty=10, at=T0, filled=0, remaining=None, price=70_000, order_type=OrderType.LIMIT,
        side=OrderSide.BUY, code="005930", cancelled_qty=0, rejected_qty=0) -> OrderStatus:
    remaining = qty - filled - cancelled_qty - rejected_qty if remaining is None else remaining
    return OrderStatus(order_no, "06010", "", code, "삼성전자", side, order_type, qty, price, filled, remaining,
                       70_000 if filled else 0, filled * 70_000, False, rejected_qty, cancelled_qty,
                       at.strftime("%H%M%S"))


def run(orders, rows, *, at=T0 + timedelta(seconds=5), known=()):
    return reconcile(orders, rows, now=at, settle_seconds=SETTLE, known_order_nos=known)


def test_an_unresolved_order_listed_by_kis_is_tracked_by_its_number_with_its_fills():
    result = run([order()], [row(filled=4)])
    (update,) = result.updates
    assert (update.state, update.order_no, update.filled_qty, update.remaining) == (OrderState.OPEN, "0000000007", 4, 6)
    assert result.findings == (Found(1, "0000000007", OrderState.UNRESOLVED), NewFill(1, 4, 280_000))


def test_an_unlisted_order_is_ruled_out_only_after_working_lookups_span_the_horizon():
    first = run([order()], [], at=T0 + timedelta(seconds=5))
    (update,) = first.updates
    assert update.state is OrderState.UNRESOLVED and update.unseen_since == T0 + timedelta(seconds=5)
    watched = order(unseen_since=T0 + timedelta(seconds=5))
    assert run([watched], [], at=T0 + timedelta(seconds=124)).updates == ()  # 119 s of lookups: still live
    late = run([watched], [], at=T0 + timedelta(seconds=125))
    assert late.updates[0].state is OrderState.ABSENT and late.findings == (RuledOut(1),)


def test_a_failed_lookup_restarts_the_horizon():
    watched = order(unseen_since=T0 + timedelta(seconds=5))
    broken = run([watched], None, at=T0 + timedelta(seconds=100))
    assert broken.updates[0].clear_unseen and broken.updates[0].state is OrderState.UNRESOLVED
    restarted = run([order()], [], at=T0 + timedelta(seconds=130))  # what the journal holds after the failure
    assert restarted.updates[0].state is OrderState.UNRESOLVED  # not ruled out: the clock starts again


def test_matching_ignores_the_type_kis_lists_but_type_and_price_break_ties():
    # KIS may list a best-limit order as "00": code, side, quantity and time still find it.
    listed = row(order_type=OrderType.LIMIT, price=0)
    assert look_up([listed], "005930", OrderSide.BUY, 10, OrderType.BEST_LIMIT, 0, T0).found == listed
    # two rows match; only one carries the type and price sent: that one
    other = row("0000000008", price=69_000)
    assert look_up([row(), other], "005930", OrderSide.BUY, 10, OrderType.LIMIT, 69_000, T0).found == other


def test_two_candidates_make_the_order_ambiguous_it_keeps_counting_and_the_user_is_asked():
    result = run([order()], [row("0000000007"), row("0000000008")])
    (update,) = result.updates
    assert update.state is OrderState.AMBIGUOUS and OrderState.AMBIGUOUS.unsettled
    assert result.findings == (Ambiguous(1, 2),)
    again = run([order(state=OrderState.AMBIGUOUS)], [row("0000000007"), row("0000000008")],
                at=T0 + timedelta(seconds=500))
    assert again.updates == () and again.findings == ()  # never ruled out, asked once


def test_rows_outside_the_time_window_or_already_known_are_not_taken_for_it():
    before = row("0000000005", at=T0 - timedelta(minutes=5))
    after = row("0000000009", at=T0 + timedelta(minutes=5))
    known = row("0000000006")
    result = run([order()], [before, after, known], known=["6"])
    assert result.updates[0].state is OrderState.UNRESOLVED and not result.findings


def test_two_interchangeable_unresolved_orders_take_the_two_rows_that_can_only_be_theirs():
    twins = [order(1), order(2, sent=T0 + timedelta(seconds=1))]
    result = run(twins, [row("0000000007"), row("0000000008", at=T0 + timedelta(seconds=1))])
    assert {u.order_id: u.order_no for u in result.updates} == {1: "0000000007", 2: "0000000008"}
    assert not any(isinstance(f, Ambiguous) for f in result.findings)
    # a third row means someone else placed the same order: ask
    three = run(twins, [row("0000000007"), row("0000000008"), row("0000000009")])
    assert [u.state for u in three.updates] == [OrderState.AMBIGUOUS] * 2


def test_an_order_ruled_out_that_shows_up_later_is_taken_back():
    result = run([order(state=OrderState.ABSENT)], [row(filled=10)])
    assert result.updates[0].state is OrderState.CLOSED
    assert Found(1, "0000000007", OrderState.ABSENT) in result.findings


def test_an_order_is_closed_when_fills_and_cancels_cover_it_even_if_rmn_qty_lags():
    known = order(state=OrderState.OPEN, order_no="0000000007")
    # rmn_qty still says 4, but 6 filled and 4 were cancel-confirmed (cnc_cfrm_qty)
    update, _ = observe(known, row(filled=6, cancelled_qty=4, remaining=4))
    assert update.state is OrderState.CLOSED and update.remaining == 0
    refused, _ = observe(known, row(filled=6, rejected_qty=4, remaining=4))
    assert refused.state is OrderState.CLOSED


def test_a_cancel_listed_as_its_own_row_closes_the_original_even_if_its_row_lags():
    known = order(state=OrderState.OPEN, order_no="0000000007")
    original = row(filled=6, remaining=4)  # its own row not yet updated
    cancel = replace(row("0000000009", qty=4, remaining=0, cancelled_qty=4), orig_order_no="0000000007",
                     cancelled=True)
    (update,) = run([known], [original, cancel]).updates
    assert update.state is OrderState.CLOSED and update.filled_qty == 6
    (partial,) = run([known], [row(filled=2, remaining=8), replace(cancel, cancelled_qty=4)]).updates
    assert partial.state is OrderState.OPEN  # 2 filled + 4 cancelled of 10: 4 may still fill


def test_a_stale_page_never_takes_fills_back_or_reopens_an_order():
    closed = replace(order(state=OrderState.CLOSED, order_no="0000000007"), filled_qty=10, filled_amount=700_000)
    update, findings = observe(closed, row(filled=8))
    assert update.state is OrderState.CLOSED and update.filled_qty == 10 and findings == ()


def test_an_unanswered_order_of_another_day_expires_and_matches_nothing_today():
    result = run([order(sent=T0 - timedelta(days=1))], [row()])
    assert [u.state for u in result.updates] == [OrderState.EXPIRED] and not result.findings


def test_a_cancel_kis_has_not_confirmed_yet_leaves_the_order_open_since_it_may_still_fill():
    # KIS lists the cancel at once, with cnc_cfrm_qty 0 until the exchange confirms it: a fill can still
    # win the race, so the original keeps counting in full until the cancel is confirmed.
    known = order(state=OrderState.OPEN, order_no="0000000007")
    unconfirmed = replace(row("0000000009", qty=10, remaining=0, cancelled_qty=0), orig_order_no="0000000007",
                          cancelled=True)
    (update,) = run([known], [row(), unconfirmed]).updates
    assert update.state is OrderState.OPEN and update.remaining == 10


def test_a_us_order_unanswered_before_kst_midnight_is_found_after_it_by_its_new_york_day_and_clock():
    # The US session spans KST midnight: an order sent at 23:59:50 KST (09:59:50 in New York) is still
    # today's at 00:00:40 KST, and KIS stamps its row in New York time.
    from datetime import datetime

    from kis.krx import KST
    from kis.markets.us import NEW_YORK

    sent = datetime(2026, 12, 8, 23, 59, 50, tzinfo=KST)
    now = sent + timedelta(seconds=50)
    mine = order(sent=sent, code="AAPL", price=23_312, market="NASD")
    listed = row(code="AAPL", price=23_312, at=sent.astimezone(NEW_YORK))
    result = reconcile([mine], [listed], now=now, settle_seconds=SETTLE, tz=NEW_YORK)
    assert [f.__class__ for f in result.findings] == [Found]
    assert result.updates[0].state is OrderState.OPEN and result.updates[0].order_no == listed.order_no
    # Read in KST, the same order would be another day's: expired, its row never matched.
    in_kst = reconcile([mine], [listed], now=now, settle_seconds=SETTLE)
    assert in_kst.updates[0].state is OrderState.EXPIRED and not in_kst.findings
