"""A plan shown to a person: a narrow monospace table for a phone chat or a terminal, and a PNG chart.

Chat text is Telegram HTML: everything from data is escaped, and a long plan is split into messages
of at most 4096 characters without ever cutting a `<pre>` block in two.
"""
from __future__ import annotations

import functools
import html
import importlib.util
import io
from dataclasses import dataclass, field

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from pathlib import Path

from rebalance.model import Plan, PlanLine
from rebalance.text import fit

MAX_MESSAGE_CHARS = 4096  # Telegram's limit for one text message
NAME_COLUMNS = 18  # display columns for a name; Hangul takes two each
# Telegram refuses a photo whose width + height exceeds 10,000 px (or whose sides differ 20-fold); 60
# bar pairs (about 2,100 px tall) are also as many as a phone shows legibly. The table lists every stock.
MAX_CHART_STOCKS = 60
CONTINUED = "(continued)"


def plan_messages(plan: Plan) -> list[str]:
    """The plan as Telegram HTML messages, each at most 4096 characters."""
    return _pack(_sections(plan), MAX_MESSAGE_CHARS)


def plan_text(plan: Plan) -> str:
    """The same plan as plain text, for a terminal."""
    parts = []
    for section in _sections(plan):
        if section.title:
            parts.append(section.title)
        parts.append("\n".join(section.units))
    return "\n\n".join(parts)


def plan_chart(plan: Plan) -> bytes:
    """PNG of current vs target weight per stock and cash, in % of total value, 800 px wide.

    Over MAX_CHART_STOCKS stocks, only those whose weight changes most are drawn (in plan order), so the
    picture stays within Telegram's photo limits. Labels are code and name, in the Hangul font bundled with
    koreanize-matplotlib (codes alone without it).
    """
    lines = _chart_lines(plan)
    font = _hangul_font()
    labels = [f"{line.code} {fit(line.name, NAME_COLUMNS).rstrip()}".rstrip() if font else line.code
              for line in lines] + ["현금 cash" if font else "cash"]
    total = plan.total_value
    current = [100 * line.current_weight for line in lines]
    target = [100 * line.target_weight for line in lines]
    current.append(100 * plan.cash / total if total > 0 else 0.0)
    target.append(100 * plan.cash_after / total if total > 0 else 0.0)

    rows = len(labels)
    # Built on Figure directly (Agg canvas, no pyplot): no global state, safe off the main thread.
    figure = Figure(figsize=(8, 1.6 + 0.32 * rows), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(rows))
    height = 0.4
    axes.barh([p - height / 2 for p in positions], current, height=height, label="current", color="#9aa5b1")
    axes.barh([p + height / 2 for p in positions], target, height=height, label="target", color="#2b6cb0")
    if font:
        axes.set_yticks(positions, labels=labels, fontproperties=font)
    else:
        axes.set_yticks(positions, labels=labels, fontfamily="monospace")
    axes.invert_yaxis()
    axes.set_xlabel("% of total value")
    shown = "" if len(lines) == len(plan.lines) else \
        f"\n{len(lines)} of {len(plan.lines)} stocks: the largest changes (the table lists all)"
    axes.set_title(f"Plan {plan.id}: current vs target weights{shown}", pad=24)
    axes.grid(axis="x", alpha=0.3)
    # Above the bars, so it never hides the longest one.
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


@functools.cache
def _hangul_font() -> FontProperties | None:
    """NanumGothic from the koreanize-matplotlib package, found without importing it (its import
    changes matplotlib's global settings); None when it is not installed."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "fonts" / "NanumGothic.ttf"
        if path.is_file():
            return FontProperties(fname=str(path))
    return None


def _chart_lines(plan: Plan) -> list[PlanLine]:
    """The plan's lines, or the MAX_CHART_STOCKS whose weight changes most, in plan order."""
    if len(plan.lines) <= MAX_CHART_STOCKS:
        return list(plan.lines)
    ranked = sorted(range(len(plan.lines)),
                    key=lambda i: abs(plan.lines[i].target_weight - plan.lines[i].current_weight), reverse=True)
    return [plan.lines[i] for i in sorted(ranked[:MAX_CHART_STOCKS])]


@dataclass
class _Section:
    """A titled run of units; `pre` units are table rows (one stock may be two lines, never split)."""

    title: str
    units: list[str] = field(default_factory=list)
    pre: bool = True


def _sections(plan: Plan) -> list[_Section]:
    priced = plan.priced_at.strftime("%H:%M:%S %Z").strip()
    expires = plan.expires_at.strftime("%H:%M:%S")
    share = 100 * plan.investable / plan.total_value if plan.total_value > 0 else 0.0
    summary = _Section(f"Rebalance plan {plan.id}", [
        "Options: " + ("; ".join(plan.options) if plan.options else "full rebalance"),
        _pair("Total value", f"{plan.total_value:,}"),
        _pair("Investable", f"{plan.investable:,}") + f" {share:.0f}%",
        _pair("Cash (D+2)", f"{plan.cash:,}"),
        f"Prices of {priced}, good to {expires}",
    ])
    table = _Section("Stocks (won, shares, % of total)", [_legend()] + [_row(line) for line in plan.lines])
    totals = _Section("Totals", [
        _pair(f"Sells ({len(plan.sells)})", f"{plan.sell_value:,}"),
        _pair(f"Buys ({len(plan.buys)})", f"{plan.buy_value:,}"),
        _pair("Est. costs", f"{plan.est_costs:,}"),
        _pair("Cash after", f"{plan.cash_after:,}"),
    ])
    sections = [summary, table, totals]
    if plan.dropped:
        count = len(plan.dropped)
        sections.insert(0, _Section("", [
            f"Sells {count} stock{'s' if count != 1 else ''} not in the model: {', '.join(plan.dropped)} "
            "(add keep to leave them alone)."], pre=False))
    if plan.notes:
        sections.append(_Section("Notes", [f"• {note}" for note in plan.notes], pre=False))
    return sections


def _pair(label: str, value: str, width: int = 30) -> str:
    return f"{label}{value.rjust(width - len(label))}"


def _legend() -> str:
    first = "code   name"
    second = f"{'price':>9} {'now':>5}→{'goal':<5} {'order':>5} {'value':>11}"
    return f"{first}{'now%→goal%'.rjust(len(second) - len(first))}\n{second}"


def _row(line: PlanLine) -> str:
    """Two lines per stock: who and weights; then price, quantities, the order and its value."""
    weights = f"{100 * line.current_weight:.1f}→{100 * line.target_weight:.1f}"
    first = f"{line.code} {fit(line.name, NAME_COLUMNS)} {weights:>13}"
    order = f"{line.order_qty:+,}" if line.order_qty else "0"
    value = f"{line.order_value:,}" if line.order_qty else "-"
    # Single spaces between fields even when a number outgrows its column.
    second = f"{line.price:>9,} {line.current_qty:>5,}→{line.target_qty:<5,} {order:>5} {value:>11}"
    return f"{first}\n{second}"


def _render(parts: list[tuple[_Section, list[str]]]) -> str:
    out = []
    for section, units in parts:
        title = f"<b>{html.escape(section.title)}</b>\n" if section.title else ""
        body = "\n".join(html.escape(u) for u in units)
        out.append(f"{title}<pre>{body}</pre>" if section.pre else f"{title}{body}")
    return "\n\n".join(out)


def _pack(sections: list[_Section], limit: int) -> list[str]:
    """Fill messages greedily; a section that does not fit goes on in the next message, re-titled."""
    messages: list[str] = []
    current: list[tuple[_Section, list[str]]] = []
    for section in sections:
        block, started = section, False
        for unit in section.units:
            unit = _clip(unit, section, limit)
            if current and current[-1][0] is block:
                candidate = current[:-1] + [(block, current[-1][1] + [unit])]
            else:
                candidate = current + [(block, [unit])]
            if not current or len(_render(candidate)) <= limit:
                current, started = candidate, True
                continue
            messages.append(_render(current))
            if started:
                block = _Section(f"{section.title} {CONTINUED}", pre=section.pre)
            current, started = [(block, [unit])], True
    if current:
        messages.append(_render(current))
    return messages


def _clip(unit: str, section: _Section, limit: int) -> str:
    """A single unit longer than a whole message (a huge note) is cut to fit, marked with …."""
    room = limit - len(_render([(_Section(f"{section.title} {CONTINUED}", pre=section.pre), [""])]))
    if len(html.escape(unit)) <= room:
        return unit
    while len(html.escape(unit)) > room - 1:
        unit = unit[: len(unit) - max(1, (len(html.escape(unit)) - room + 1) // 6)]
    return unit + "…"
