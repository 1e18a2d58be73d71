"""The life of one TWAP order and of its run, as the journal records them: states, their meaning, and the
allowed moves of an order.

Every state change goes through `check_transition`, so a state can only be reached the ways listed in
`TRANSITIONS`; what a state means for the run (does it count against the target, may it still show up
at KIS, is it over) is a one-line predicate here and nowhere else.
"""
from __future__ import annotations

from enum import Enum, StrEnum


class RunState(StrEnum):
    """A run trades while ACTIVE; the other three are how it ended."""

    ACTIVE = "active"
    FINISHED = "finished"  # the window ended
    CANCELLED = "cancelled"  # the user stopped it
    FAILED = "failed"  # an error stopped it; resting orders were cancelled

    @property
    def active(self) -> bool:
        return self is RunState.ACTIVE


class OrderKind(StrEnum):
    """Why an order was placed."""

    SLICE = "slice"  # a scheduled slice came due
    RETRY = "retry"  # a poll placed what a stock still owed (cash came, a re-price, a refusal for pace)
    CATCH_UP = "catch_up"  # the pass before the end placed whatever was still missing
    REVISION = "revision"  # a resting order's rest moved to a new price by order-rvsecncl (re-pricing a passive slice)
    TWIN = "twin"  # journal migration: the first send of an order an old version sent twice


class OrderState(str, Enum):
    INTENT = "intent"  # journaled, about to be sent (or sent, and the process died before the answer)
    UNRESOLVED = "unresolved"  # sent, no answer (lost, EGW00215): may have reached KIS
    AMBIGUOUS = "ambiguous"  # unresolved, and two or more of today's orders could be it: the user decides
    OPEN = "open"  # KIS knows it (order number): may still fill
    CLOSED = "closed"  # KIS shows nothing left to fill (filled, cancelled or refused in full)
    REJECTED = "rejected"  # KIS refused it with a business error
    NOT_SENT = "not_sent"  # certainly never reached KIS (no connection, refused at the gateway)
    ABSENT = "absent"  # lookups spanning the settle horizon all worked and found nothing: owed again
    EXPIRED = "expired"  # unresolved at the end of its day: a day order, it can no longer trade

    @property
    def unsettled(self) -> bool:
        """Not known to KIS by number yet, but may be working there: counts in full against the target."""
        return self in (OrderState.INTENT, OrderState.UNRESOLVED, OrderState.AMBIGUOUS)

    @property
    def may_show_up(self) -> bool:
        """Today's orders may still list it: every poll looks for it."""
        return self.unsettled or self is OrderState.ABSENT

    @property
    def done(self) -> bool:
        """Nothing more can happen to it."""
        return self in (OrderState.CLOSED, OrderState.REJECTED, OrderState.NOT_SENT, OrderState.EXPIRED)


S = OrderState
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.INTENT: frozenset({S.OPEN, S.CLOSED, S.UNRESOLVED, S.AMBIGUOUS, S.REJECTED, S.NOT_SENT, S.ABSENT, S.EXPIRED}),
    S.UNRESOLVED: frozenset({S.UNRESOLVED, S.OPEN, S.CLOSED, S.AMBIGUOUS, S.ABSENT, S.EXPIRED}),
    S.AMBIGUOUS: frozenset({S.AMBIGUOUS, S.OPEN, S.CLOSED, S.UNRESOLVED, S.EXPIRED}),
    S.ABSENT: frozenset({S.ABSENT, S.OPEN, S.CLOSED}),  # it showed up after all: its shares stop being owed
    S.OPEN: frozenset({S.OPEN, S.CLOSED}),  # OPEN -> OPEN: more fills
    S.CLOSED: frozenset({S.CLOSED}),  # a later page may still add fills it already counted
    S.REJECTED: frozenset(),
    S.NOT_SENT: frozenset(),
    S.EXPIRED: frozenset(),
}
# Moves that give the order's shares back to what its stock owes, and moves that take them again.
OWES_AGAIN = frozenset({(S.INTENT, S.NOT_SENT), (S.INTENT, S.ABSENT), (S.UNRESOLVED, S.ABSENT)})
OWED_NO_MORE = frozenset({(S.ABSENT, S.OPEN), (S.ABSENT, S.CLOSED)})


class BadTransition(ValueError):
    """A state change the lifecycle does not allow: a bug, never an exchange event."""


def check_transition(old: OrderState, new: OrderState) -> None:
    """Raise BadTransition unless `old` -> `new` is an allowed move."""
    if new not in TRANSITIONS[old]:
        raise BadTransition(f"an order cannot go from {old.value} to {new.value}")


def owed_change(old: OrderState, new: OrderState, qty: int, *, owe_again: bool = False) -> int:
    """How the stock's owed shares change with this move (`owe_again`: a refusal for cash is retried)."""
    if (old, new) in OWES_AGAIN or (owe_again and new is S.REJECTED):
        return qty
    if (old, new) in OWED_NO_MORE:
        return -qty
    return 0
