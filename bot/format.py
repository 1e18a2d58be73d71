"""Chat text for prices, balance, run status and executor events: escaped HTML, phone-narrow.

Everything shown passes through `esc`; tables sit in `<pre>` so digits line up, padded by display
width because Hangul takes two columns in a monospace font.
"""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from kis.models import Balance, OrderSide, Quote
from rebalance.events import Filled, StockResult
from rebalance.text import clip, pad

TELEGRAM_LIMIT = 4096  # characters in one Telegram text message


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def won(amount: int) -> str:
    return f"{amount:,}"


def signed(amount: int) -> str:
    return f"{amount:+,}"


def percent(rate: float, *, sign: bool = True) -> str:
    return f"{rate:+.2f}%" if sign else f"{rate:.1f}%"


def pre(lines: Iterable[str]) -> str:
    return "<pre>" + esc("\n".join(lines)) + "</pre>"


def duration_text(delta: timedelta) -> str:
    """`1h 05m`, `4m 10s`, `35s`: time left as a person says it."""
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def clock_text(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S")


# --- prices and balance -------------------------------------------------------------------------

def quotes_text(quotes: Sequence[Quote]) -> str:
    lines = []
    for q in quotes:
        name = f" {clip(q.name, 16)}" if q.name else ""
        lines.append(f"{q.code}{name}")
        lines.append(f"  {won(q.price)} won  {signed(q.change)} ({percent(q.change_rate)})")
    return pre(lines)


def model_legend() -> str:
    return f"code   {pad('name', 16)} {'weight':>7} {'band':>6}"


def model_row(code: str, name: str, weight: float, band: float) -> str:
    """One stock of the saved model: code, name, weight and band in percent (band as ±%p, '-' when none)."""
    band_text = f"±{100 * band:.3g}" if band else "-"
    return f"{code} {pad(clip(name, 16), 16)} {100 * weight:>6.4g}% {band_text:>6}"


def balance_text(balance: Balance) -> str:
    total = balance.total_value
    lines: list[str] = []
    for h in balance.holdings:
        weight = h.value / total * 100 if total else 0.0
        lines.append(f"{h.code} {pad(clip(h.name, 16), 16)} {percent(weight, sign=False):>6}")
        lines.append(f"  {won(h.qty)} sh  avg {won(h.avg_price)}  now {won(h.price)}")
        lines.append(f"  value {won(h.value)}  P/L {signed(h.pnl)} ({percent(h.pnl_rate)})")
    if not balance.holdings:
        lines.append("no holdings")
    lines.append("")
    lines.append(f"stocks  {won(balance.stock_value):>15}")
    lines.append(f"cash    {won(balance.cash):>15}")
    if balance.cash_d2 != balance.cash:
        lines.append(f"cash D+2{won(balance.cash_d2):>15}")
    lines.append(f"total   {won(total):>15}")
    lines.append(f"P/L     {signed(balance.pnl):>15}")
    return "<b>Balance</b>\n" + pre(lines)


# --- executor pushes ----------------------------------------------------------------------------

def fills_text(fills: Sequence[Filled]) -> str:
    """One message for a batch of fills: per stock and side, shares and average price."""
    groups: dict[tuple[str, OrderSide], list[Filled]] = {}
    for fill in fills:
        groups.setdefault((fill.code, fill.side), []).append(fill)
    lines = []
    for (code, side), items in groups.items():
        qty = sum(f.qty for f in items)
        avg = round(sum(f.qty * f.price for f in items) / qty) if qty else 0
        last = items[-1]
        lines.append(f"{side.label:<4} {code} {pad(clip(last.name, 10), 10)} {won(qty):>5} sh @ {won(avg):>9}"
                     f"  {won(last.done_qty)}/{won(last.order_qty)}")
    return "<b>Filled</b>\n" + pre(lines)


def receipt_text(receipt: object) -> str:
    """The receipt: per stock plan price vs average fill, slippage (won, bp), costs estimated vs charged;
    then the totals and cash after vs the plan. Positive slippage cost money."""
    lines = []
    for r in receipt.lines:  # type: ignore[attr-defined]
        lines.append(f"{r.side:<4} {r.code} {pad(clip(r.name, 12), 12)} {won(r.filled_qty):>6}/{won(r.planned_qty)}")
        if r.filled_qty:
            lines.append(f"  {won(r.plan_price)}→{won(r.avg_price)}  slip {signed(r.slippage)} ({r.slippage_bp:+.1f}bp)")
        lines.append(f"  costs est {won(r.est_costs)} / charged {won(r.charged_costs)}")
    lines.append("")
    lines.append(f"slippage {signed(receipt.slippage)} won ({receipt.slippage_bp:+.1f}bp)")  # type: ignore[attr-defined]
    lines.append(f"fees+tax est {won(receipt.est_costs)} / charged {won(receipt.charged_costs)}")  # type: ignore[attr-defined]
    after = receipt.cash_after  # type: ignore[attr-defined]
    plan_after = won(receipt.cash_after_plan)  # type: ignore[attr-defined]
    lines.append(f"cash after {won(after)} (plan {plan_after})" if after is not None
                 else f"cash after: not read (plan {plan_after})")
    return (f"<b>Receipt</b> of plan {esc(receipt.plan_id)} (run {esc(receipt.run_id)})\n"  # type: ignore[attr-defined]
            + pre(lines))


def results_table(results: Sequence[StockResult]) -> str:
    """Target vs actual holding per stock and the difference (차이) still to trade."""
    lines = [f"{'code':<6} {'name':<10} {'start':>7} {'target':>7} {'actual':>7} {'diff':>5}"]
    for r in results:
        lines.append(f"{r.code:<6} {pad(clip(r.name, 10), 10)} {won(r.start_qty):>7} {won(r.target_qty):>7} "
                     f"{won(r.actual_qty):>7} {r.difference:>+5,}")
    off = [r for r in results if r.difference]
    lines.append("")
    if off:
        lines.append(f"{len(off)} stock{'s' if len(off) > 1 else ''} off target "
                     "(diff = target - actual: + still to buy, - still to sell)")
    else:
        lines.append("all on target")
    return pre(lines)


_TAG = re.compile(r"<[^>]+>")


def plain(html_text: str) -> str:
    """The text a terminal shows for a chat message: tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", html_text))


# --- splitting ----------------------------------------------------------------------------------

def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split at line ends into messages of at most `limit` chars, closing and reopening `<pre>`.

    A single line longer than a message is cut where no tag or entity is broken.
    """
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = line if not current else current + "\n" + line
        if current and len(candidate) + _closer(candidate) > limit:
            parts.append(current + ("</pre>" if _still_open(current) else ""))
            candidate = ("<pre>" if _still_open(current) else "") + line
        current = candidate
        while len(current) + _closer(current) > limit:
            head, current = _cut(current, limit - 6)
            reopen = _still_open(head)
            parts.append(head + ("</pre>" if reopen else ""))
            current = ("<pre>" if reopen else "") + current
    if current:
        parts.append(current)
    return parts


def _still_open(chunk: str) -> bool:
    return chunk.rfind("<pre>") > chunk.rfind("</pre>")


def _closer(chunk: str) -> int:
    return len("</pre>") if _still_open(chunk) else 0


def _cut(chunk: str, at: int) -> tuple[str, str]:
    """Split `chunk` near `at`, moving left so no `<tag>` or `&entity;` is split."""
    cut = at
    amp, semi = chunk.rfind("&", 0, cut), chunk.rfind(";", 0, cut)
    if amp > semi and cut - amp < 10:
        cut = amp
    lt, gt = chunk.rfind("<", 0, cut), chunk.rfind(">", 0, cut)
    if lt > gt:
        cut = lt
    cut = cut if cut > 0 else at  # never an empty head: the caller would loop
    return chunk[:cut], chunk[cut:]


# --- run status ---------------------------------------------------------------------------------

def status_is_active(status: object) -> bool:
    """True while the run trades or is stopping (a finished run's status is not 'active')."""
    active = getattr(status, "active", None)
    if active is not None:
        return bool(active)
    state = getattr(status, "state", "active")
    return str(getattr(state, "value", state)) in ("active", "running", "cancelling", "starting")


def status_text(status: object, now: datetime) -> str:
    """Per stock filled/target, percent done and time left of the active run."""
    lines = []
    for stock in getattr(status, "stocks", ()):
        side = getattr(stock, "side", None)
        label = side.label if isinstance(side, OrderSide) else ""
        name = clip(getattr(stock, "name", "") or "", 10)
        extra = "  waiting for cash" if getattr(stock, "waiting_for_cash", False) else ""
        if getattr(stock, "unresolved_qty", 0):
            extra += f"  {won(stock.unresolved_qty)} unanswered"
        if getattr(stock, "halted", False):
            extra += "  stopped: price past the guard"
        lines.append(
            f"{label:<4} {stock.code} {pad(name, 10)} {won(stock.done_qty):>6}/{won(stock.target_qty):<6}{extra}"
        )
    percent_done = float(getattr(status, "progress", 0.0)) * 100
    end = getattr(status, "end", None)
    left = getattr(status, "time_left", None) or ((end - now) if end else None)
    tail = f", {duration_text(left)} left" if left is not None else ""
    tail += f" (ends {clock_text(end)} KST)" if end else ""
    head = f"<b>Run {esc(getattr(status, 'run_id', ''))}</b>: {percent_done:.0f}% done{tail}"
    return head + "\n" + pre(lines or ["no orders"])
