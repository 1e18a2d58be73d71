"""A plan shown to a person, as data: titled sections of narrow monospace rows, plain text, and a PNG chart.

No markup and no message limits here: front ends (`bot/format.py` for chat) render the sections.
"""
from __future__ import annotations

import functools
import importlib.util
import io
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from pathlib import Path

from rebalance.i18n import t
from rebalance.model import Plan, PlanLine
from rebalance.text import fit

NAME_COLUMNS = 18  # display columns for a name; Hangul takes two each
# Telegram refuses a photo whose width + height exceeds 10,000 px (or whose sides differ 20-fold); 60
# bar pairs (about 2,100 px tall) are also as many as a phone shows legibly. The table lists every stock.
MAX_CHART_STOCKS = 60


def plan_text(plan: Plan) -> str:
    """The plan as plain text, for a terminal."""
    parts = []
    for section in plan_sections(plan):
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


@dataclass(frozen=True)
class PlanSection:
    """A titled run of units; `pre` units are monospace table rows (one stock may be two lines, never split)."""

    title: str
    units: tuple[str, ...] = ()
    pre: bool = True


def plan_sections(plan: Plan) -> list[PlanSection]:
    """The plan as sections in reading order: dropped stocks, summary, the table, totals, notes."""
    priced = plan.priced_at.strftime("%H:%M:%S %Z").strip()
    expires = plan.expires_at.strftime("%H:%M:%S")
    share = 100 * plan.investable / plan.total_value if plan.total_value > 0 else 0.0
    summary = PlanSection(f"Rebalance plan {plan.id}", (
        "Options: " + ("; ".join(plan.options) if plan.options else "full rebalance"),
        _pair("Total value", f"{plan.total_value:,}"),
        _pair("Investable", f"{plan.investable:,}") + f" {share:.0f}%",
        _pair("Cash (D+2)", f"{plan.cash:,}"),
        f"Prices of {priced}, good to {expires}",
    ))
    table = PlanSection("Stocks (won, shares, % of total)", (_legend(), *(_row(line) for line in plan.lines)))
    totals = PlanSection("Totals", (
        _pair(f"Sells ({len(plan.sells)})", f"{plan.sell_value:,}"),
        _pair(f"Buys ({len(plan.buys)})", f"{plan.buy_value:,}"),
        _pair("Est. costs", f"{plan.est_costs:,}"),
        _pair("Cash after", f"{plan.cash_after:,}"),
    ))
    sections = [summary, table, totals]
    if plan.dropped:
        count = len(plan.dropped)
        sections.insert(0, PlanSection("", (
            f"Sells {count} stock{'s' if count != 1 else ''} not in the model: {', '.join(plan.dropped)} "
            "(add keep to leave them alone).",), pre=False))
    if plan.notes:
        sections.append(PlanSection("Notes", tuple(f"• {note}" for note in plan.notes), pre=False))
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
    if line.in_band and line.model_weight is not None:  # goal% is where it is: say where the model wants it
        return f"{first}\n{second}\n" + t("model.in_band_row", model=100 * line.model_weight, band=100 * line.band)
    return f"{first}\n{second}"
