"""How a plan looks in a terminal and as a chart."""
from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from matplotlib.image import imread

from kis.krx import KST
from rebalance import Plan, PlanLine, plan_chart, plan_text
from rebalance.text import fit, width

NOW = datetime(2026, 11, 24, 9, 30, 5, tzinfo=KST)


def line(code: str, current: int, target: int, price: int = 70_000, name: str = "삼성전자") -> PlanLine:
    return PlanLine(code=code, name=name, price=price, current_qty=current, target_qty=target,
                    current_weight=current * price / 10**8, target_weight=target * price / 10**8)


def make_plan(lines: list[PlanLine], notes: tuple[str, ...] = ()) -> Plan:
    return Plan(id="abcd1234", lines=tuple(lines), cash=5_000_000, total_value=10**8, investable=98_000_000,
                est_costs=1_234, priced_at=NOW, expires_at=NOW + timedelta(minutes=5), notes=notes)


def test_table_lines_fit_a_phone_and_long_names_are_cut_by_display_width():
    plan = make_plan([line("373220", 0, 3, 400_000, "LG에너지솔루션주식회사우선주"), line("005930", 10, 14)])
    table = plan_text(plan).split("Stocks (won, shares, % of total)\n\n", 1)[1].split("\n\nTotals", 1)[0]
    widths = [width(row) for row in table.splitlines()]
    assert max(widths) <= 40
    assert "LG에너지솔루션주…" in table
    assert width(fit("LG에너지솔루션주식회사", 18)) == 18 and width(fit("KT", 18)) == 18
    assert fit("A\nB\tC", 6) == "A B C "


def test_plain_text_has_no_html():
    text = plan_text(make_plan([line("005930", 1, 2, name="A&B")]))
    assert "<" not in text and "&amp;" not in text and "A&B" in text


def test_chart_is_a_png_with_a_bar_pair_per_stock_and_cash():
    plan = make_plan([line("005930", 10, 14), line("035720", 5, 0, 40_000, "카카오")])
    png = plan_chart(plan)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = imread(io.BytesIO(png))
    assert image.shape[0] > 200 and image.shape[1] == 800


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG header."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_chart_grows_with_the_number_of_stocks():
    small = png_size(plan_chart(make_plan([line("005930", 1, 2)])))
    bigger = png_size(plan_chart(make_plan([line(f"{i:06d}", i, i + 1, 1_000) for i in range(1, 41)])))
    assert bigger[1] > small[1] and bigger[0] == small[0] == 800


@pytest.mark.parametrize("stocks", [203, 304, 1_200])
def test_a_chart_of_many_stocks_stays_within_telegram_photo_limits(stocks):
    # Before: 203 model stocks plus held ones drew 800 x 9,888 px and more, which Telegram refuses.
    width, height = png_size(plan_chart(make_plan([line(f"{i:06d}", i, i + 1, 1_000) for i in range(1, stocks + 1)])))
    assert width + height <= 10_000 and height / width <= 20


def test_chart_of_an_empty_account_does_not_divide_by_zero():
    plan = Plan(id="x", lines=(), cash=0, total_value=0, investable=0, est_costs=0, priced_at=NOW, expires_at=NOW)
    assert plan_chart(plan).startswith(b"\x89PNG")
