"""`/status` after a run in three lines, the full receipt on request, Refresh buttons, and `/version`.

The summary says how the last run ended and when, how many of its stocks filled and for how much, and
what it cost; its buttons bring the full receipt (`bot/format.receipt_text`) and ask `/status` again.
Telegram-free and reply-free: the service's methods (`status`, `receipt`, `version`) make replies of these
texts and (label, data) buttons, each front end renders them.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot import format as fmt
from bot.shortcuts import receipt_data, refresh_data
from kis.krx import KST
from rebalance.i18n import t

if TYPE_CHECKING:
    from rebalance.receipt import Receipt, ReceiptStore


def refresh_button(command: str) -> tuple[str, str]:
    """The button under `/status` or `/balance` that asks it again, answered in the same message: (label, data)."""
    return t("shortstatus.refresh"), refresh_data(command)


def stocks_short(receipt: Receipt) -> int:
    """How many stocks of the run ended short of their target (by its shortfalls, else by its fills)."""
    if receipt.shortfalls:
        return len({(s.code, s.side) for s in receipt.shortfalls})
    return sum(1 for line in receipt.lines if line.filled_qty < line.planned_qty)


def when_text(kept_at: datetime | None, now: datetime) -> str:
    """' (today 14:02 KST)' or ' (2026-12-05 14:02 KST)' for when the run's receipt was kept; '' when unknown."""
    if kept_at is None:
        return ""
    if kept_at.tzinfo is None:
        kept_at = kept_at.replace(tzinfo=KST)
    local = kept_at.astimezone(KST)
    today = (now.astimezone(KST) if now.tzinfo else now).date()
    if local.date() == today:
        return t("shortstatus.when_today", time=f"{local:%H:%M}")
    return t("shortstatus.when_day", day=f"{local:%Y-%m-%d}", time=f"{local:%H:%M}")


def summary_lines(receipt: Receipt, kept_at: datetime | None, now: datetime) -> list[str]:
    """The last run in three lines: how it ended and when; stocks filled, bought and sold; costs and slippage."""
    short, when = stocks_short(receipt), when_text(kept_at, now)
    if receipt.state == "cancelled":
        head = t("shortstatus.head_cancelled", run=receipt.run_id, when=when)
    elif short:
        head = t("shortstatus.head_short", run=receipt.run_id, n=short, when=when)
    else:
        head = t("shortstatus.head_target", run=receipt.run_id, when=when)
    filled = sum(1 for line in receipt.lines if line.filled_qty and line.filled_qty >= line.planned_qty)
    bought = sum(line.filled_krw for line in receipt.lines if line.side == "buy")  # a US line's in won
    sold = sum(line.filled_krw for line in receipt.lines if line.side == "sell")
    trades = t("shortstatus.fills", filled=filled, stocks=len(receipt.lines), bought=fmt.won(bought),
               sold=fmt.won(sold))
    slip = receipt.slippage
    slip_text = (t("shortstatus.slip_against", amount=fmt.won(slip)) if slip > 0 else
                 t("shortstatus.slip_favour", amount=fmt.won(-slip)) if slip < 0 else t("shortstatus.slip_none"))
    costs = t("shortstatus.costs", charged=fmt.won(receipt.charged_costs), est=fmt.won(receipt.est_costs),
              slip=slip_text)
    return [head, trades, costs]


def after_run_buttons(run_id: str) -> tuple[tuple[str, str], ...]:
    """The summary's buttons as (label, data): the full receipt of `run_id`, and Refresh."""
    return (t("shortstatus.full_receipt"), receipt_data(run_id)), refresh_button("status")


def summary_text(receipt: Receipt, kept_at: datetime | None, now: datetime, pending: str | None = None) -> str:
    """`/status` when no run is active and `receipt` is the last: the three lines, and the plan pending here."""
    lines = summary_lines(receipt, kept_at, now)
    if pending:
        lines.append(t("shortstatus.pending", plan=pending))
    return "\n".join(lines)


def receipt_body(store: ReceiptStore | None, run_id: str | None = None) -> fmt.Rich:
    """The full receipt of `run_id` (the last run when None) with where it ended short; or one sentence."""
    receipt = None
    if store is not None:
        receipt = store.last() if run_id is None else store.find(run_id)
    if receipt is None:
        return fmt.text(t("shortstatus.no_receipt") if run_id is None else t("shortstatus.no_receipt_of", run=run_id))
    body = fmt.receipt_text(receipt)
    if receipt.shortfalls:
        body = body + "\n" + fmt.shortfall_text(receipt.shortfalls)
    return body


def help_more() -> str:
    """The /help lines of /receipt, /version and the shortcut keyboard."""
    return t("shortstatus.help_more")


def version_text() -> str:
    """`/version`: the installed package's version, as `kisbot --version` prints it."""
    from bot import version

    return t("shortstatus.version", version=version())
