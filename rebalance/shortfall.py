"""Why a run ended short of its target: per stock, how many shares and for which reason (pure).

A run ends at its target or says exactly where it stopped: `shortfalls` splits each stock's missing
shares (its goal less what filled) into reasons, from the journal's orders and stocks at the end.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Iterable, Mapping

from kis.models import OrderSide
from rebalance.lifecycle import OrderState

CASH_SHORT_CODE = "APBK0952"  # KIS: 주문가능금액을 초과 (a wait for cash, never a refusal)
CASH_SHORT_WORDING = "주문가능금액"


class ShortReason(StrEnum):
    """Why shares of a stock were not traded; the value names the catalogue key `run.short_<value>`."""

    UNRESOLVED = "unresolved"  # sent without an answer and never listed: they may have traded
    STILL_OPEN = "still_open"  # KIS still lists them open: kisbot's cancels failed
    UNFILLED = "unfilled"  # rested unfilled at their limit until the end, then cancelled
    HALTED = "halted"  # the price ran past the guard: no more orders for the stock
    CASH = "cash"  # the buy waited for cash until the end
    REFUSED = "refused"  # KIS refused the order (its message is in `refusal`)
    RULED_OUT = "ruled_out"  # their order got no answer and was ruled out (never reached KIS) too late to place again
    CANCELLED = "cancelled"  # the user stopped the run first
    WINDOW = "window"  # the window ended before they could be placed (orders were still settling)


@dataclass(frozen=True)
class Shortfall:
    """One stock that ended short: `parts` are (reason, shares), the shares adding up to `short`."""

    code: str
    name: str
    side: OrderSide
    goal: int
    filled: int
    parts: tuple[tuple[ShortReason, int], ...]
    refusal: str = ""  # KIS's code and message when a part is REFUSED

    @property
    def short(self) -> int:
        return sum(qty for _, qty in self.parts)


def is_cash_refusal(msg_cd: str, message: str) -> bool:
    """KIS refused an order for want of cash: the buy waits and is retried, it is not refused."""
    return msg_cd == CASH_SHORT_CODE or CASH_SHORT_WORDING in message


def shortfalls(stocks: Iterable, orders: Iterable, rested_at_end: Mapping[str, int], *,
               cancelled: bool, settle_seconds: float = 0.0) -> tuple[Shortfall, ...]:
    """Every stock whose fills fall short of its goal, its missing shares split by reason.

    `stocks` and `orders` are the journal's records at the end (after the last cancels and polls);
    `rested_at_end` is the shares each stock had resting when the end's cancels went out; an order ruled
    out (settle horizon `settle_seconds`) after the stock's last order was sent was never placed again.
    """
    orders = list(orders)
    settle = timedelta(seconds=settle_seconds)
    out = []
    for stock in stocks:
        mine = [o for o in orders if o.code == stock.code]
        filled = sum(o.filled_qty for o in mine)
        left = max(0, stock.goal - filled)
        if not left:
            continue
        parts: list[tuple[ShortReason, int]] = []

        def take(reason: ShortReason, qty: int) -> None:
            nonlocal left
            qty = min(left, qty)
            if qty > 0:
                parts.append((reason, qty))
                left -= qty

        take(ShortReason.UNRESOLVED, sum(max(0, o.qty - o.filled_qty) for o in mine if o.state.unsettled))
        still_open = sum(o.open_qty for o in mine if o.state is OrderState.OPEN)
        take(ShortReason.STILL_OPEN, still_open)
        take(ShortReason.UNFILLED, rested_at_end.get(stock.code, 0) - still_open)
        refused = [o for o in mine if o.state is OrderState.REJECTED and not is_cash_refusal(o.msg_cd, o.message)]
        last_sent = max((o.sent_at for o in mine), default=None)
        ruled_out = sum(o.qty for o in mine if o.state is OrderState.ABSENT and  # ruled out after the last order
                        (o.unseen_since is None or o.unseen_since + settle >= last_sent))
        if stock.halted:
            take(ShortReason.HALTED, left)
        elif stock.waiting:
            take(ShortReason.CASH, left)
        elif refused:
            take(ShortReason.REFUSED, left)
        elif cancelled:
            take(ShortReason.CANCELLED, left)
        else:
            take(ShortReason.RULED_OUT, ruled_out)
            take(ShortReason.WINDOW, left)
        refusal = f"{refused[-1].msg_cd} {refused[-1].message}".strip() if refused else ""
        out.append(Shortfall(stock.code, stock.name, stock.side, stock.goal, filled, tuple(parts),
                             refusal if any(r is ShortReason.REFUSED for r, _ in parts) else ""))
    return tuple(out)
