"""A plan shown to a person, as data: titled sections of narrow monospace rows and plain text (its chart: charts.py).

No markup and no message limits here: front ends (`bot/format.py` for chat) render the sections.
"""
from __future__ import annotations

from dataclasses import dataclass


from decimal import Decimal

from rebalance.i18n import t
from rebalance.model import Plan, PlanLine
from rebalance.text import fit, pad, width

NAME_COLUMNS = 18  # display columns for a name; Hangul takes two each


def plan_text(plan: Plan) -> str:
    """The plan as plain text, for a terminal."""
    parts = []
    for section in plan_sections(plan):
        if section.title:
            parts.append(section.title)
        parts.append("\n".join(section.units))
    return "\n\n".join(parts)


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
    summary = PlanSection(t("plan_table.title", id=plan.id), (
        t("plan_table.options", options="; ".join(plan.options) if plan.options else t("plan_table.full")),
        *((t(f"passive.header_{plan.execution}"),) if plan.execution and not plan.manual else ()),
        _pair(t("plan_table.total_value"), f"{plan.total_value:,}"),
        _pair(t("plan_table.investable"), f"{plan.investable:,}") + f" {share:.0f}%",
        _pair(t("plan_table.cash"), f"{plan.cash:,}"),
        t("plan_table.prices", priced=priced, expires=expires),
    ))
    table = PlanSection(t("plan_table.stocks"), (_legend(), *(_row(line) for line in plan.lines)))
    totals = PlanSection(t("plan_table.totals"), (
        _pair(t("plan_table.sells", n=len(plan.sells)), f"{plan.sell_value:,}"),
        _pair(t("plan_table.buys", n=len(plan.buys)), f"{plan.buy_value:,}"),
        _pair(t("plan_table.costs"), f"{plan.est_costs:,}"),
        _pair(t("plan_table.cash_after"), f"{plan.cash_after:,}"),
    ))
    if plan.us_lines:
        totals = PlanSection(totals.title, (*totals.units, *_usd_totals(plan)))
    sections = [summary, table, totals]
    if plan.dropped:
        count = len(plan.dropped)
        sections.insert(0, PlanSection("", (
            t("plan_table.dropped_one" if count == 1 else "plan_table.dropped_many", n=count,
              codes=", ".join(plan.dropped)),), pre=False))
    if plan.notes:
        sections.append(PlanSection(t("plan_table.notes"), tuple(f"• {note}" for note in plan.notes), pre=False))
    return sections


def _pair(label: str, value: str, width: int = 30) -> str:
    return pad(label, width - len(value)) + value


def _legend() -> str:
    first = t("plan_table.who")
    word = {key: t(f"plan_table.{key}") for key in ("price", "now", "goal", "order", "value", "weights")}
    second = (f"{pad(word['price'], 9, right=True)} {pad(word['now'], 5, right=True)}→{pad(word['goal'], 5)} "
              f"{pad(word['order'], 5, right=True)} {pad(word['value'], 11, right=True)}")
    return f"{first}{pad(word['weights'], width(second) - width(first), right=True)}\n{second}"


def _row(line: PlanLine) -> str:
    """Two lines per stock: who and weights; then price, quantities, the order and its value."""
    weights = f"{100 * line.current_weight:.1f}→{100 * line.target_weight:.1f}"
    first = f"{line.code} {fit(line.name, NAME_COLUMNS)} {weights:>13}"
    order = f"{line.order_qty:+,}" if line.order_qty else "0"
    value = f"{line.order_value:,}" if line.order_qty else "-"
    # Single spaces between fields even when a number outgrows its column.
    second = f"{price_text(line):>9} {line.current_qty:>5,}→{line.target_qty:<5,} {order:>5} {value:>11}"
    if line.in_band and line.model_weight is not None:  # goal% is where it is: say where the model wants it
        return f"{first}\n{second}\n" + t("model.in_band_row", model=100 * line.model_weight, band=100 * line.band)
    return f"{first}\n{second}"


def price_text(line: PlanLine) -> str:
    """A line's price in its own currency: `71,000` won; `$233.12` (four places below $1) for a US line."""
    if not line.is_us:
        return f"{int(line.price):,}"
    return "$" + money_text(line.price)


def money_text(price: Decimal) -> str:
    """A dollar price as KIS's US grid writes it: two places at $1 and above, four below (`233.12`, `0.8735`)."""
    places = Decimal("0.01") if abs(price) >= 1 or price == 0 else Decimal("0.0001")
    return f"{Decimal(price).quantize(places):,}"


def cents_text(cents: int) -> str:
    """Cents as dollars: `$1,234.56`."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}${whole:,}.{part:02d}"


def _usd_totals(plan: Plan) -> tuple[str, ...]:
    """The dollar side of a mixed plan: cash before and after its US legs, their costs, KIS's rate; what is missing."""
    units = [t("usplan.total_usd", cash=cents_text(plan.usd_cash), after=cents_text(plan.usd_cash_after),
               costs=cents_text(plan.usd_costs), rate=f"{plan.rate:,}" if plan.rate is not None else "-")]
    if plan.us_legs:
        units.append(t("usexec.us_window_note", tickers=", ".join(line.code for line in plan.us_legs)))
    return tuple(units)
