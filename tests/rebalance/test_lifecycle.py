"""The order lifecycle: what each state means for the run, and the only moves between them."""
from __future__ import annotations

import pytest

from rebalance.lifecycle import TRANSITIONS, BadTransition, OrderState, check_transition, owed_change

S = OrderState


def test_an_order_that_may_be_at_kis_unseen_counts_in_full_and_may_still_show_up():
    assert {s for s in S if s.unsettled} == {S.INTENT, S.UNRESOLVED, S.AMBIGUOUS}
    assert {s for s in S if s.may_show_up} == {S.INTENT, S.UNRESOLVED, S.AMBIGUOUS, S.ABSENT}
    assert {s for s in S if s.done} == {S.CLOSED, S.REJECTED, S.NOT_SENT, S.EXPIRED}
    assert not any(s.done and s.may_show_up for s in S)


def test_nothing_leaves_a_final_state_and_a_known_order_is_never_ruled_out():
    for state in (S.REJECTED, S.NOT_SENT, S.EXPIRED):
        assert TRANSITIONS[state] == frozenset()
    assert TRANSITIONS[S.CLOSED] == {S.CLOSED}
    for known in (S.OPEN, S.CLOSED):
        with pytest.raises(BadTransition):
            check_transition(known, S.ABSENT)
    with pytest.raises(BadTransition):
        check_transition(S.UNRESOLVED, S.NOT_SENT)  # once it may have left, "not sent" is never proven


def test_shares_are_owed_again_only_when_the_order_surely_is_not_at_kis():
    assert owed_change(S.INTENT, S.NOT_SENT, 5) == 5
    assert owed_change(S.UNRESOLVED, S.ABSENT, 5) == 5
    assert owed_change(S.ABSENT, S.OPEN, 5) == -5  # it showed up after all
    assert owed_change(S.INTENT, S.REJECTED, 5) == 0
    assert owed_change(S.INTENT, S.REJECTED, 5, owe_again=True) == 5  # refused for cash: retried
    assert owed_change(S.INTENT, S.UNRESOLVED, 5) == 0
    assert owed_change(S.UNRESOLVED, S.EXPIRED, 5) == 0
