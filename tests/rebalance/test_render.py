"""How a plan looks in a terminal (its chart: test_charts.py)."""
from __future__ import annotations

from datetime import datetime, timedelta


from kis.krx import KST
from rebalance import Plan, PlanLine, plan_text
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
