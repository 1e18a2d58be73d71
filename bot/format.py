"""Chat text for prices, balance, plans, run status and executor events, phone-narrow.

Text is a `Rich` value (plain, bold and monospace spans) that renders as escaped Telegram HTML or as
terminal text; tables sit in monospace blocks, padded by display width because Hangul takes two columns.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from decimal import Decimal

from kis.krx import KST
from kis.models import Balance, OrderSide, Quote, UsBalance, UsQuote
from rebalance.events import Filled, StockResult
from rebalance.i18n import t
from rebalance.model import Plan
from rebalance.receipt import Receipt
from rebalance.render import PlanSection, plan_sections
from rebalance.text import clip, pad, width
from rebalance.twap import RunStatus

TELEGRAM_LIMIT = 4096  # characters in one Telegram text message


BOLD, MONO = "b", "pre"  # span styles; "" is plain text


@dataclass(frozen=True)
class Rich:
    """Chat text as data: spans of plain, bold (`b`) and monospace (`pre`) text, never markup.

    One value renders as Telegram HTML (`html`, everything escaped) and as terminal text (`plain`).
    `+` joins values; a `str` joins as plain text.
    """

    spans: tuple[tuple[str, str], ...] = ()  # (style, text)

    @classmethod
    def of(cls, text: str, style: str = "") -> Rich:
        return cls(((style, text),)) if text else cls()

    def __add__(self, other: Rich | str) -> Rich:
        other = other if isinstance(other, Rich) else Rich.of(other)
        return Rich(self.spans + other.spans)

    def __radd__(self, other: str) -> Rich:
        return Rich.of(other) + self

    def __bool__(self) -> bool:
        return any(text for _, text in self.spans)

    def html(self) -> str:
        return "".join(_span_html(style, text) for style, text in self.spans)

    def plain(self) -> str:
        return "".join(text for _, text in self.spans)

    def split(self, limit: int = TELEGRAM_LIMIT) -> list[Rich]:
        """Parts whose HTML is at most `limit` characters, cut at line ends (a `pre` block closes in one
        part and goes on in the next); a line longer than a part is cut where it must."""
        if len(self.html()) <= limit:
            return [self]
        parts: list[Rich] = []
        spans: list[tuple[str, str]] = []
        size = 0  # len(html) of `spans`
        for style, text in self.spans:
            lines = text.split("\n")
            for i, line in enumerate(lines):
                piece = line if i == len(lines) - 1 else line + "\n"
                while piece:
                    room = limit - size - _tags(style, spans)
                    if len(esc(piece)) <= room:
                        spans, size = _append(spans, style, piece), size + len(esc(piece)) + _tags(style, spans)
                        break
                    if spans and len(esc(piece)) <= limit - _tags(style, []):  # the line fits a part of its own
                        parts.append(_finish(spans))
                        spans, size = [], 0
                        continue
                    head = _cut_to(piece, room if spans else limit - _tags(style, []))
                    if not head:  # no room left in this part for even one character
                        if not spans:
                            raise ValueError(f"a limit of {limit} leaves no room for text")
                        parts.append(_finish(spans))
                        spans, size = [], 0
                        continue
                    spans = _append(spans, style, head)
                    parts.append(_finish(spans))
                    spans, size, piece = [], 0, piece[len(head):]
        if spans:
            parts.append(_finish(spans))
        return [p for p in parts if p] or [Rich()]


def _span_html(style: str, text: str) -> str:
    return f"<{style}>{esc(text)}</{style}>" if style else esc(text)


def _tags(style: str, spans: list[tuple[str, str]]) -> int:
    """Markup a piece of `style` adds after `spans`: none when it continues the last span's style."""
    if not style or (spans and spans[-1][0] == style):
        return 0
    return len(style) * 2 + 5


def _append(spans: list[tuple[str, str]], style: str, text: str) -> list[tuple[str, str]]:
    if spans and spans[-1][0] == style:
        return spans[:-1] + [(style, spans[-1][1] + text)]
    return spans + [(style, text)]


def _finish(spans: list[tuple[str, str]]) -> Rich:
    """A part ends at a line end: the newline that separated it from the next part is dropped."""
    if spans and spans[-1][1].endswith("\n"):
        style, text = spans[-1]
        spans = spans[:-1] + ([(style, text[:-1])] if text[:-1] else [])
    return Rich(tuple(spans))


def _cut_to(text: str, room: int) -> str:
    """The longest head of `text` whose escaped form takes at most `room` characters."""
    used = 0
    for i, ch in enumerate(text):
        used += len(esc(ch))  # escaping is per character
        if used > room:
            return text[:i]
    return text


def text(value: object) -> Rich:
    """Plain text (escaped when rendered as HTML)."""
    return Rich.of(str(value))


def bold(value: object) -> Rich:
    return Rich.of(str(value), BOLD)


def join(parts: Iterable[Rich | str], sep: str = "") -> Rich:
    out = Rich()
    for i, part in enumerate(parts):
        out = out + (sep if i else "") + part
    return out


def sentence(key: str, /, **params: object) -> Rich:
    """The catalogue sentence `key` with its fields filled in; a `Rich` field (e.g. `bold(plan_id)`) keeps its style."""
    styled = [name for name, value in params.items() if isinstance(value, Rich)]
    marks = {name: f"\x00{i}\x00" for i, name in enumerate(styled)}
    said = t(key, **{name: marks.get(name, value) for name, value in params.items()})
    out = Rich()
    for i, part in enumerate(said.split("\x00")):
        out = out + (params[styled[int(part)]] if i % 2 else part)  # type: ignore[operator]
    return out


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def won(amount: int) -> str:
    return f"{amount:,}"


def money(amount: int, currency: str = "KRW") -> str:
    """An int of a currency's minor unit as a person reads it: won `12,300`, cents `$123.00`."""
    return "$" + cents_text(amount) if currency == "USD" else won(amount)


def signed(amount: int) -> str:
    return f"{amount:+,}"


def percent(rate: float, *, sign: bool = True) -> str:
    return f"{rate:+.2f}%" if sign else f"{rate:.1f}%"


def pre(lines: Iterable[str]) -> Rich:
    """Lines in a monospace block, so table columns line up."""
    return Rich.of("\n".join(lines), MONO)


def duration_text(delta: timedelta) -> str:
    """`1h 05m`, `4m 10s`, `35s`: time left as a person says it."""
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return t("time.hours_minutes", h=hours, m=f"{minutes:02d}")
    if minutes:
        return t("time.minutes_seconds", m=minutes, s=f"{secs:02d}")
    return t("time.seconds", s=secs)


def size_text(size: int | None) -> str:
    """Bytes for a person: 0 B, 512 KB, 3.2 GB; `?` when unknown."""
    if size is None:
        return "?"
    value, unit = float(size), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            break
        value /= 1024
    return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"


def side_text(side: OrderSide | str) -> str:
    """매수 / 매도, buy / sell: a side as the chat's language says it."""
    return t(f"side.{side.label if isinstance(side, OrderSide) else side}")


def clock_text(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S")


# --- prices and balance -------------------------------------------------------------------------

def quotes_text(quotes: Sequence[Quote]) -> Rich:
    lines = []
    for q in quotes:
        name = f" {clip(q.name, 16)}" if q.name else ""
        lines.append(f"{q.code}{name}")
        lines.append("  " + t("price.line", price=won(q.price), change=signed(q.change), rate=percent(q.change_rate)))
    return pre(lines)


def dollars(amount: Decimal) -> str:
    """A US price as it trades: `233.12`, `0.8735`, `1,234.50` (no sign, no $)."""
    return f"{amount:,}"


def cents_text(cents: int) -> str:
    """An amount of cents in dollars: `2,500.00`."""
    return f"{Decimal(int(cents)).scaleb(-2):,.2f}"


def signed_cents(cents: int) -> str:
    return ("+" if cents >= 0 else "-") + "$" + cents_text(abs(cents))


def signed_dollars(amount: Decimal) -> str:
    return f"{amount:+,}"


def us_quote_lines(q: UsQuote) -> list[str]:
    """Two lines of one US quote: ticker, name and exchange; the price in dollars, change and rate."""
    name = f" {clip(q.name, 16)}" if q.name else ""
    return [t("markets.us_line", symbol=q.symbol, name=name, market=q.market),
            "  " + t("markets.us_price", price=dollars(q.price), change=signed_dollars(q.change),
                     rate=percent(float(q.change_rate)))]


def mixed_quotes_text(quotes: Sequence[Quote | UsQuote]) -> Rich:
    """KRX quotes in won and US quotes in dollars, in the order asked."""
    lines: list[str] = []
    for q in quotes:
        if isinstance(q, UsQuote):
            lines += us_quote_lines(q)
        else:
            name = f" {clip(q.name, 16)}" if q.name else ""
            lines += [f"{q.code}{name}", "  " + t("price.line", price=won(q.price), change=signed(q.change),
                                                   rate=percent(q.change_rate))]
    return pre(lines)


def us_balance_text(krx: Balance, us: UsBalance) -> Rich:
    """The US side of /balance: holdings in dollars with their won value, dollar cash and what is orderable,
    KIS's rate with its time, and the account's total in won (KRX + US stocks + dollar cash at the rate)."""
    lines: list[str] = []
    for h in us.holdings:
        lines.append(f"{h.symbol} {pad(clip(h.name, 16), 16)} {h.market}")
        lines.append("  " + t("markets.us_holding", qty=won(h.qty), avg=dollars(h.avg_price), price=dollars(h.price)))
        lines.append("  " + t("markets.us_value", value=cents_text(h.value), krw=won(h.value_krw),
                              pnl=signed_cents(h.pnl), rate=percent(float(h.pnl_rate))))
    if us.holdings:
        lines.append("")
    usd = us.usd()
    total = krx.total_value + us.value_krw + us.cash_krw
    at = f"{us.rate_at.astimezone(KST):%Y-%m-%d %H:%M}" if us.rate_at else "-"
    rows = [("markets.us_stocks", f"${cents_text(us.value)}"), ("markets.usd_cash", f"${cents_text(usd.deposit)}"),
            ("markets.usd_orderable", f"${cents_text(usd.orderable)}"), ("markets.total_krw", won(total))]
    label = max(width(t(key)) for key, _ in rows) + 1
    lines += [f"{pad(t(key), label)}{value:>15}" for key, value in rows]
    lines.append(t("markets.rate") + ": " + t("markets.rate_line", rate=f"{us.rate:,}", at=at))
    lines.append(t("markets.total_note", krx=won(krx.total_value), stocks=won(us.value_krw), cash=won(us.cash_krw)))
    return bold(t("markets.us_title")) + "\n" + pre(lines)


def model_legend() -> str:
    return f"{pad(t('table.code'), 6)} {pad(t('table.name'), 16)} {pad(t('table.weight'), 7, right=True)} {pad(t('table.band'), 6, right=True)}"


def model_row(code: str, name: str, weight: float, band: float) -> str:
    """One stock of the saved model: code, name, weight and band in percent (band as ±%p, '-' when none)."""
    band_text = f"±{100 * band:.3g}" if band else "-"
    return f"{code} {pad(clip(name, 16), 16)} {100 * weight:>6.1f}% {band_text:>6}"


def balance_text(balance: Balance) -> Rich:
    total = balance.total_value
    lines: list[str] = []
    for h in balance.holdings:
        weight = h.value / total * 100 if total else 0.0
        lines.append(f"{h.code} {pad(clip(h.name, 16), 16)} {percent(weight, sign=False):>6}")
        lines.append("  " + t("balance.holding", qty=won(h.qty), avg=won(h.avg_price), price=won(h.price)))
        lines.append("  " + t("balance.value", value=won(h.value), pnl=signed(h.pnl), rate=percent(h.pnl_rate)))
    if not balance.holdings:
        lines.append(t("balance.no_holdings"))
    lines.append("")
    rows = [("balance.stocks", won(balance.stock_value)), ("balance.cash", won(balance.cash))]
    if balance.cash_d2 != balance.cash:
        rows.append(("balance.cash_d2", won(balance.cash_d2)))
    rows += [("balance.total", won(total)), ("balance.pnl", signed(balance.pnl))]
    label = max(width(t(key)) for key, _ in rows) + 1  # Hangul labels take two columns a character
    lines += [f"{pad(t(key), label)}{value:>15}" for key, value in rows]
    return bold(t("balance.title")) + "\n" + pre(lines)


# --- executor pushes ----------------------------------------------------------------------------

def fills_text(fills: Sequence[Filled]) -> Rich:
    """One message for a batch of fills: per stock and side, shares and average price."""
    groups: dict[tuple[str, OrderSide], list[Filled]] = {}
    for fill in fills:
        groups.setdefault((fill.code, fill.side), []).append(fill)
    lines = []
    for (code, side), items in groups.items():
        qty = sum(f.qty for f in items)
        avg = round(sum(f.qty * f.price for f in items) / qty) if qty else 0
        last = items[-1]
        price = "$" + cents_text(avg) if last.currency == "USD" else won(avg)  # a US fill's price is in cents
        lines.append(f"{pad(side_text(side), 4)} {code} {pad(clip(last.name, 10), 10)} "
                     + t("fills.line", qty=f"{won(qty):>5}", price=f"{price:>9}")
                     + f"  {won(last.done_qty)}/{won(last.order_qty)}")
    return bold(t("fills.title")) + "\n" + pre(lines)


def receipt_text(receipt: Receipt) -> Rich:
    """The receipt: per stock that traded, plan price vs average fill, slippage (won, bp), costs estimated vs
    charged; then the totals, cash after vs the plan, the stocks that never traded, and the sign said once."""
    lines = []
    traded = [r for r in receipt.lines if r.filled_qty]
    for r in traded:
        lines.append(f"{pad(side_text(r.side), 4)} {r.code} {pad(clip(r.name, 12), 12)} "
                     f"{won(r.filled_qty):>6}/{won(r.planned_qty)}")
        if r.is_us:  # dollars as traded, and what they are in won at the plan's rate
            lines.append("  " + t("shortstatus.row_slip", plan="$" + cents_text(r.plan_price),
                                  avg="$" + cents_text(r.avg_price),
                                  slip=signed_cents(r.slippage) if r.slippage else "0",
                                  bp=f"{r.slippage_bp:+.1f}" if r.slippage else "0.0"))
            lines.append("  " + t("shortstatus.row_costs", est="$" + cents_text(r.est_costs),
                                  charged="$" + cents_text(r.charged_costs)))
            lines.append("  " + t("usexec.receipt_krw", filled="$" + cents_text(r.filled_amount),
                                  krw=won(r.filled_krw), rate=r.rate or "-"))
            continue
        lines.append("  " + t("shortstatus.row_slip", plan=won(r.plan_price), avg=won(r.avg_price),
                              slip=signed(r.slippage) if r.slippage else "0",
                              bp=f"{r.slippage_bp:+.1f}" if r.slippage else "0.0"))
        lines.append("  " + t("shortstatus.row_costs", est=won(r.est_costs), charged=won(r.charged_costs)))
        if r.arrival_mid2:  # the book was read at the sends (issue 25)
            lines.append("  " + t("passive.row_book", shortfall=signed(r.shortfall) if r.shortfall else "0",
                                  bp=f"{r.shortfall_bp:+.1f}", spread=signed(r.spread_paid) if r.spread_paid else "0",
                                  spread_bp=f"{r.spread_bp:+.1f}", passive=f"{100 * r.passive_share:.0f}"))
    if not traded:
        lines.append(t("shortstatus.none_traded"))
    lines.append("")
    lines.append(t("shortstatus.total_slip", slip=signed(receipt.slippage), bp=f"{receipt.slippage_bp:+.1f}"))
    lines.append(t("shortstatus.total_costs", est=won(receipt.est_costs), charged=won(receipt.charged_costs)))
    if receipt.booked:
        lines.append(t("passive.total_book", shortfall=signed(receipt.shortfall) if receipt.shortfall else "0",
                       bp=f"{receipt.shortfall_bp:+.1f}",
                       spread=signed(receipt.spread_paid) if receipt.spread_paid else "0",
                       spread_bp=f"{receipt.spread_bp:+.1f}", passive=f"{100 * receipt.passive_share:.0f}"))
    after, plan_after = receipt.cash_after, won(receipt.cash_after_plan)
    lines.append(t("shortstatus.cash_after", after=won(after), plan=plan_after) if after is not None
                 else t("shortstatus.cash_unread", plan=plan_after))
    untraded = [r.code for r in receipt.lines if not r.filled_qty]
    tail = ""
    if untraded:
        codes = ", ".join(untraded[:8]) + (", …" if len(untraded) > 8 else "")
        tail += "\n" + t("shortstatus.not_traded", n=len(untraded), codes=codes)
    if traded:
        tail += "\n" + t("shortstatus.sign")
    if traded and receipt.booked:
        tail += "\n" + t("passive.sign_book")
    return (bold(t("shortstatus.receipt_title", plan=receipt.plan_id, run=receipt.run_id)) + "\n"
            + pre(lines) + tail)


def results_table(results: Sequence[StockResult]) -> Rich:
    """Target vs actual holding per stock and the difference (차이) still to trade."""
    heads = [pad(t(f"results.{key}"), 7, right=True) for key in ("start", "target", "actual")]
    lines = [f"{pad(t('table.code'), 6)} {pad(t('table.name'), 10)} {' '.join(heads)} {pad(t('results.diff'), 5, right=True)}"]
    for r in results:
        lines.append(f"{r.code:<6} {pad(clip(r.name, 10), 10)} {won(r.start_qty):>7} {won(r.target_qty):>7} "
                     f"{won(r.actual_qty):>7} {r.difference:>+5,}")
    off = [r for r in results if r.difference]
    lines.append("")
    if off:
        lines.append(t("results.off_target", n=len(off)))
    else:
        lines.append(t("results.on_target"))
    return pre(lines)


def shortfall_text(shortfalls: Sequence) -> Rich:
    """Where a run that ended short stopped: per stock, its missing shares and why (empty when none)."""
    if not shortfalls:
        return Rich()
    lines = []
    for s in shortfalls:
        lines.append(t("run.short_line", side=side_text(s.side), code=s.code, name=s.name, short=won(s.short),
                       goal=won(s.goal), filled=won(s.filled)))
        lines += ["• " + t(f"run.short_{reason.value}", qty=won(qty), code=s.code, refusal=s.refusal)
                  for reason, qty in s.parts]
    lines.append(t("run.short_next"))
    return text("\n".join(lines))


# --- plans -------------------------------------------------------------------------------------

def plan_messages(plan: Plan, limit: int = TELEGRAM_LIMIT) -> list[Rich]:
    """The plan as chat messages of at most `limit` characters; a `<pre>` block is never cut in two."""
    return _pack(plan_sections(plan), limit)


def _render(parts: list[tuple[PlanSection, list[str]]]) -> Rich:
    out = []
    for section, units in parts:
        title = bold(section.title) + "\n" if section.title else Rich()
        out.append(title + (pre(units) if section.pre else text("\n".join(units))))
    return join(out, "\n\n")


def _pack(sections: list[PlanSection], limit: int) -> list[Rich]:
    """Fill messages greedily; a section that does not fit goes on in the next message, re-titled."""
    messages: list[Rich] = []
    current: list[tuple[PlanSection, list[str]]] = []
    for section in sections:
        block, started = section, False
        for unit in section.units:
            unit = _clip_unit(unit, section, limit)
            if current and current[-1][0] is block:
                candidate = current[:-1] + [(block, current[-1][1] + [unit])]
            else:
                candidate = current + [(block, [unit])]
            if not current or len(_render(candidate).html()) <= limit:
                current, started = candidate, True
                continue
            messages.append(_render(current))
            if started:
                block = PlanSection(f"{section.title} {t('format_lines.continued')}", pre=section.pre)
            current, started = [(block, [unit])], True
    if current:
        messages.append(_render(current))
    return messages


def _clip_unit(unit: str, section: PlanSection, limit: int) -> str:
    """A single unit longer than a whole message (a huge note) is cut to fit, marked with …."""
    room = limit - len(_render([(PlanSection(f"{section.title} {t('format_lines.continued')}", pre=section.pre), ["x"])]).html()) + 1
    if len(esc(unit)) <= room:
        return unit
    while len(esc(unit)) > room - 1:
        unit = unit[: len(unit) - max(1, (len(esc(unit)) - room + 1) // 6)]
    return unit + "…"


# --- run status ---------------------------------------------------------------------------------

def status_text(status: RunStatus) -> Rich:
    """Per stock filled/to trade, percent done and time left of the active run."""
    lines = []
    for stock in status.stocks:
        extra = t("format_lines.waiting") if stock.waiting_for_cash else ""
        if stock.unresolved_qty:
            extra += t("format_lines.unanswered", qty=won(stock.unresolved_qty))
        if stock.halted:
            extra += t("format_lines.halted")
        lines.append(f"{pad(side_text(stock.side), 4)} {stock.code} {pad(clip(stock.name, 10), 10)} "
                     f"{won(stock.done_qty):>6}/{won(stock.order_qty):<6}{extra}")
    head = bold(t("format_lines.run", run=status.run_id)) + t(
        "format_lines.done", pct=status.progress * 100, left=duration_text(status.time_left), end=clock_text(status.end))
    markets = [market_line(part, status.now) for part in status.markets]
    if markets:
        head += "\n" + text("\n".join(markets))
    return head + "\n" + pre(lines or [t("format_lines.no_orders")])


def market_line(part, now: datetime | None) -> str:
    """One market's part of a run: its progress and its window, or when the window opens (KST)."""
    shape = "%H:%M" if part.start.second == part.end.second == 0 else "%H:%M:%S"  # a demo's windows are seconds
    window = f"{part.start.strftime(shape)}–{part.end.strftime(shape)}"
    name = t(f"usexec.leg_{part.leg.lower()}")
    if now is not None and part.start > now:
        return t("usexec.market_waits", market=name, window=window, opens=duration_text(part.start - now),
                 pct=part.progress * 100)
    if now is not None and part.end <= now:
        return t("usexec.market_closed", market=name, window=window, pct=part.progress * 100)
    return t("usexec.market_open", market=name, window=window, pct=part.progress * 100)
