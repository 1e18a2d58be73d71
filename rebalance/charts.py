"""Charts made for a phone (1080 px wide PNGs, large type): the plan's trade and the account's value.

`plan_figure` / `value_figure` build a matplotlib Figure (tests read its bars and labels);
`plan_chart` / `value_chart` return its PNG. Text comes from the `[chart]` catalogue in the current
language; Hangul needs a CJK font (`cjk_font`); without one the chart is drawn in English with codes.
Built on Figure directly (Agg canvas, no pyplot): no global state, safe off the main thread.
"""
from __future__ import annotations

import functools
import importlib.util
import io
import logging
from contextlib import nullcontext
from pathlib import Path
from typing import Sequence

from matplotlib import dates as mdates
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from rebalance.history import Snapshot
from rebalance.i18n import Lang, current, t, using
from rebalance.model import Plan, PlanLine
from rebalance.performance import Performance
from rebalance.text import fit

log = logging.getLogger(__name__)

WIDTH_PX = 1080  # a phone screen's width: Telegram shows the photo at full width without scaling text up
DPI = 100
BUY_COLOUR = "#D55E00"  # Okabe-Ito vermillion / blue: told apart with every common colour blindness;
SELL_COLOUR = "#0072B2"  # red for buying and blue for selling as Korean brokers show them
LINE_COLOUR = "#0072B2"
INVESTED_COLOUR = "#E69F00"  # Okabe-Ito orange: the money put in, beside the value line
NAME_COLUMNS = 14  # display columns for a stock's name on the axis; Hangul takes two each
# Telegram refuses a photo whose width + height exceeds 10,000 px (or whose sides differ 20-fold); 40
# bars (about 3,000 px tall) are also as many as a phone shows legibly. The table lists every stock.
MAX_CHART_STOCKS = 40
BAR_INCHES = 0.72
TITLE_SIZE, TEXT_SIZE, LABEL_SIZE = 26, 21, 20

# Fonts with Hangul, best first, as fontconfig/matplotlib name them (Debian: fonts-nanum, fonts-noto-cjk).
CJK_FAMILIES = ("NanumGothic", "Noto Sans CJK KR", "Noto Sans KR", "Source Han Sans KR", "Malgun Gothic",
                "AppleGothic", "Noto Sans CJK JP", "Noto Serif CJK KR", "UnDotum", "Baekmuk Gulim")


@functools.cache
def cjk_font() -> str | None:
    """The path of a font file with Hangul: koreanize-matplotlib's bundled NanumGothic, else an installed
    CJK font found by matplotlib's font manager; None (warned once in the log) when there is none."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "fonts" / "NanumGothic.ttf"
        if path.is_file():
            return str(path)
    installed = {entry.name: entry.fname for entry in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in installed:
            return installed[family]
    log.warning("no font with Hangul found: charts are drawn in English with stock codes "
                "(install the Debian package fonts-nanum for Korean labels)")
    return None


def _font(path: str | None, size: float, weight: str = "normal") -> FontProperties:
    if path:
        return FontProperties(fname=path, size=size, weight=weight)
    return FontProperties(family="sans-serif", size=size, weight=weight)


def short_won(value: int) -> str:
    """An amount of won short enough for a bar, in the current language: 12,340,000 -> '1,234만' or
    '12,340,000'; '1억 2,346만' from 100 million on; under 10,000 won as it is."""
    if current() is not Lang.KO:
        return f"{value:,}"
    sign, value = ("-", -value) if value < 0 else ("", value)
    if value < 10**4:
        return f"{sign}{value:,}원"
    man = (value + 5_000) // 10**4  # rounded to the nearest 만
    if man < 10**4:
        return f"{sign}{man:,}만"
    eok, rest = divmod(man, 10**4)
    return f"{sign}{eok:,}억" + (f" {rest:,}만" if rest else "")


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _language(font: str | None):
    """English while there is no Hangul font (Korean text would be boxes), else the current language."""
    return nullcontext() if font else using(Lang.EN)


# --- the plan chart --------------------------------------------------------------------------------

def plan_chart(plan: Plan) -> bytes:
    """PNG of the plan's orders: won per stock, buys and sells in two colours, 1080 px wide."""
    return _png(plan_figure(plan))


def chart_lines(plan: Plan) -> list[PlanLine]:
    """The lines that trade, largest order first; at most MAX_CHART_STOCKS of them."""
    trading = sorted((line for line in plan.lines if line.order_qty), key=lambda line: -line.order_value)
    return trading[:MAX_CHART_STOCKS]


def plan_figure(plan: Plan) -> Figure:
    """The plan chart as a Figure: one horizontal bar per order (won), largest on top, its side and value
    printed on it; cash before → after as a line under the title, not a bar on the shared axis."""
    font = cjk_font()
    with _language(font):
        lines = chart_lines(plan)
        rows = max(1, len(lines))
        figure = Figure(figsize=(WIDTH_PX / DPI, 2.4 + BAR_INCHES * rows), dpi=DPI, layout="constrained")
        figure.get_layout_engine().set(w_pad=0.12)  # inches: the longest name keeps clear of the left edge
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        figure.suptitle(t("chart.plan_title", id=plan.id), fontproperties=_font(font, TITLE_SIZE, "bold"),
                        x=0.02, ha="left")
        subtitle = t("chart.cash", before=short_won(plan.cash), after=short_won(plan.cash_after))
        traded = sum(1 for line in plan.lines if line.order_qty)
        if len(lines) < traded:
            subtitle += "\n" + t("chart.largest", shown=len(lines), total=traded)
        axes.set_title(subtitle, fontproperties=_font(font, TEXT_SIZE), loc="left", color="#333333")
        for spine in axes.spines.values():
            spine.set_visible(False)
        axes.xaxis.set_visible(False)
        if not lines:
            axes.set_yticks([])
            axes.text(0.5, 0.5, t("chart.no_orders"), transform=axes.transAxes, ha="center", va="center",
                      fontproperties=_font(font, TEXT_SIZE))
            return figure
        positions = list(range(len(lines)))
        values = [line.order_value for line in lines]
        colours = [BUY_COLOUR if line.order_qty > 0 else SELL_COLOUR for line in lines]
        bars = axes.barh(positions, values, height=0.7, color=colours)
        longest = max(values)
        for bar, line in zip(bars, lines):
            side = t("chart.buy") if line.order_qty > 0 else t("chart.sell")
            text = f"{side} {short_won(line.order_value)}"
            inside = bar.get_width() > 0.6 * longest  # long bars carry their text inside, in white
            x = bar.get_width() - 0.02 * longest if inside else bar.get_width() + 0.02 * longest
            axes.text(x, bar.get_y() + bar.get_height() / 2, text, va="center", ha="right" if inside else "left",
                      color="white" if inside else "#222222", fontproperties=_font(font, LABEL_SIZE, "bold"))
        labels = [_stock_label(line, font) for line in lines]
        axes.set_yticks(positions, labels=labels)
        for label in axes.get_yticklabels():
            label.set_fontproperties(_font(font, LABEL_SIZE))
        axes.tick_params(axis="y", length=0, pad=8)
        axes.invert_yaxis()
        axes.set_xlim(0, longest * 1.45)  # room for the value after the shorter bars
        handles = [bars[colours.index(c)] for c in (BUY_COLOUR, SELL_COLOUR) if c in colours]
        names = [t("chart.buy") if c == BUY_COLOUR else t("chart.sell") for c in (BUY_COLOUR, SELL_COLOUR)
                 if c in colours]
        axes.legend(handles, names, loc="lower right", prop=_font(font, LABEL_SIZE), frameon=False)
        return figure


def _stock_label(line: PlanLine, font: str | None) -> str:
    """The stock's name (cut to NAME_COLUMNS) when a Hangul font can draw it, else its code."""
    name = fit(line.name, NAME_COLUMNS).rstrip() if line.name else ""
    return name if font and name else line.code


# --- the value chart -------------------------------------------------------------------------------

def value_chart(history: Sequence[Snapshot]) -> bytes | None:
    """PNG of total value per session (won), oldest left; None with fewer than two sessions."""
    figure = value_figure(history)
    return _png(figure) if figure is not None else None


def value_figure(history: Sequence[Snapshot]) -> Figure | None:
    """The value chart as a Figure, its last value printed; None before there are two sessions to join."""
    if len(history) < 2:
        return None
    font = cjk_font()
    with _language(font):
        figure = Figure(figsize=(WIDTH_PX / DPI, 7.2), dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        values = [s.total_value for s in history]
        labels = [s.day.strftime("%m-%d") for s in history]
        axes.plot(range(len(values)), values, marker="o", markersize=9, linewidth=3.5, color=LINE_COLOUR)
        axes.annotate(short_won(values[-1]), (len(values) - 1, values[-1]), xytext=(0, 14),
                      textcoords="offset points", ha="right", fontproperties=_font(font, LABEL_SIZE, "bold"))
        step = max(1, -(-len(labels) // 6))
        axes.set_xticks(range(0, len(labels), step), labels=labels[::step])
        axes.margins(x=0.05, y=0.2)
        low, high = axes.get_ylim()
        ticks = [v for v in axes.get_yticks() if low <= v <= high]
        axes.set_yticks(ticks, labels=[short_won(int(v)) for v in ticks])  # fixed, so the font below stays
        axes.set_ylim(low, high)
        for label in axes.get_yticklabels():
            label.set_fontproperties(_font(font, LABEL_SIZE - 2))
        axes.tick_params(axis="x", labelsize=LABEL_SIZE - 2)
        figure.suptitle(t("chart.value_title", n=len(history)), fontproperties=_font(font, TITLE_SIZE, "bold"),
                        x=0.02, ha="left")
        axes.grid(alpha=0.3)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        return figure


# --- the performance chart -------------------------------------------------------------------------

def perf_chart(perf: Performance) -> bytes:
    """PNG for /perf: total value per session against the first value plus net deposits (won), 1080 px wide."""
    font = cjk_font()
    with _language(font):
        figure = Figure(figsize=(WIDTH_PX / DPI, 7.2), dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        days = [p.day for p in perf.series]
        axes.plot(days, [p.value for p in perf.series], color=LINE_COLOUR, linewidth=3.5,
                  label=t("perf.chart_value"))
        axes.step(days, [p.invested for p in perf.series], where="post", color=INVESTED_COLOUR, linewidth=3,
                  linestyle="--", label=t("perf.chart_invested"))
        for day, amount in perf.flows:
            axes.axvline(day, color=INVESTED_COLOUR if amount > 0 else SELL_COLOUR, alpha=0.2, linewidth=5)
        low, high = axes.get_ylim()
        ticks = [v for v in axes.get_yticks() if low <= v <= high]
        axes.set_yticks(ticks, labels=[short_won(int(v)) for v in ticks])  # fixed, so the font below stays
        axes.set_ylim(low, high)
        for label in axes.get_yticklabels():
            label.set_fontproperties(_font(font, LABEL_SIZE - 2))
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
        axes.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=6))
        axes.tick_params(axis="x", labelsize=LABEL_SIZE - 2)
        figure.suptitle(t("perf.chart_title"), fontproperties=_font(font, TITLE_SIZE, "bold"), x=0.02, ha="left")
        axes.legend(loc="upper left", prop=_font(font, LABEL_SIZE), frameon=False)
        axes.grid(alpha=0.3)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        return _png(figure)
