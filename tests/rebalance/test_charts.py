"""The plan chart shows the trade (won per order, buys and sells apart, no cash bar) and the value chart
needs two sessions; both 1080 px wide, labelled in the chat's language."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from kis.krx import KST
from rebalance import Plan, PlanLine, plan_chart
from rebalance.charts import BUY_COLOUR, SELL_COLOUR, cjk_font, plan_figure, short_won, value_chart
from rebalance.history import Snapshot
from rebalance.i18n import using
from matplotlib.colors import to_hex

NOW = datetime(2026, 11, 24, 9, 30, 5, tzinfo=KST)


def line(code, current, target, price=70_000, name="삼성전자"):
    return PlanLine(code=code, name=name, price=price, current_qty=current, target_qty=target,
                    current_weight=current * price / 10**8, target_weight=target * price / 10**8)


def make_plan(lines):
    return Plan(id="abcd1234", lines=tuple(lines), cash=75_000_000, total_value=10**8, investable=98_000_000,
                est_costs=1_234, priced_at=NOW, expires_at=NOW + timedelta(minutes=5))


def png_size(png):
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


PLAN = make_plan([line("005930", 10, 14), line("035720", 50, 0, 40_000, "카카오"), line("000660", 3, 3),
                  line("373220", 0, 20, 381_000, "LG에너지솔루션")])


def test_bars_are_order_values_largest_first_with_buys_and_sells_in_their_own_colours():
    axes = plan_figure(PLAN).axes[0]
    widths = [bar.get_width() for bar in axes.patches]
    colours = [to_hex(bar.get_facecolor()).upper() for bar in axes.patches]
    assert widths == [20 * 381_000, 50 * 40_000, 4 * 70_000]
    assert colours == [BUY_COLOUR, SELL_COLOUR, BUY_COLOUR]


def test_no_cash_bar_and_no_untraded_stock_on_the_stock_axis_and_cash_is_a_line_under_the_title():
    with using("ko"):
        axes = plan_figure(PLAN).axes[0]
    labels = [label.get_text() for label in axes.get_yticklabels()]
    assert labels == ["LG에너지솔루션", "카카오", "삼성전자"]
    assert "현금 7,500만 →" in axes.get_title(loc="left")


def test_labels_follow_the_language_with_values_written_the_korean_way_in_korean():
    with using("ko"):
        korean = plan_figure(PLAN)
    with using("en"):
        english = plan_figure(PLAN)
    ko_texts = [text.get_text() for text in korean.axes[0].texts]
    en_texts = [text.get_text() for text in english.axes[0].texts]
    assert "매수 762만" in ko_texts and "매도 200만" in ko_texts
    assert "Buy 7,620,000" in en_texts and "Sell 2,000,000" in en_texts
    assert korean.get_suptitle().startswith("계획 abcd1234") and english.get_suptitle().startswith("Plan abcd1234")


def test_korean_amounts_round_to_man_and_show_eok():
    with using("ko"):
        assert [short_won(v) for v in (9_999, 12_345_678, 123_456_789, 100_000_000)] == \
            ["9,999원", "1,235만", "1억 2,346만", "1억"]


def test_a_hangul_font_is_found_on_this_install():
    assert cjk_font() is not None


def test_without_a_hangul_font_the_chart_is_drawn_in_english_with_codes(monkeypatch):
    monkeypatch.setattr("rebalance.charts.cjk_font", lambda: None)
    with using("ko"):
        axes = plan_figure(PLAN).axes[0]
    assert [label.get_text() for label in axes.get_yticklabels()] == ["373220", "035720", "005930"]


def test_the_plan_chart_is_1080_px_wide_and_grows_with_the_orders():
    small = png_size(plan_chart(make_plan([line("005930", 1, 2)])))
    bigger = png_size(plan_chart(make_plan([line(f"{i:06d}", i, i + 1, 1_000) for i in range(1, 31)])))
    assert bigger[1] > small[1] and bigger[0] == small[0] == 1080


@pytest.mark.parametrize("stocks", [203, 1_200])
def test_a_chart_of_many_stocks_stays_within_telegram_photo_limits(stocks):
    width, height = png_size(plan_chart(make_plan([line(f"{i:06d}", i, i + 1, 1_000) for i in range(1, stocks + 1)])))
    assert width + height <= 10_000 and height / width <= 20


def test_chart_of_an_empty_account_does_not_divide_by_zero():
    plan = Plan(id="x", lines=(), cash=0, total_value=0, investable=0, est_costs=0, priced_at=NOW, expires_at=NOW)
    assert plan_chart(plan).startswith(b"\x89PNG")


def snap(day, value):
    return Snapshot(day=day, at=NOW, total_value=value, cash=0, stock_value=value, pnl=0)


def test_the_value_chart_is_absent_with_one_session_and_present_with_two():
    assert value_chart([snap(date(2026, 11, 23), 10**8)]) is None
    png = value_chart([snap(date(2026, 11, 23), 10**8), snap(date(2026, 11, 24), 101_000_000)])
    assert png_size(png)[0] == 1080
