"""Chat text stays escaped and within Telegram's 4096 characters."""
from __future__ import annotations

from hypothesis import given, strategies as st

from bot.format import plain, split_message
from rebalance.text import clip, width


@given(st.lists(st.text(alphabet="ab<>&가 ", max_size=300), max_size=60), st.integers(min_value=200, max_value=4096))
def test_split_keeps_every_part_under_the_limit_and_pre_balanced(lines, limit):
    import html

    text = "<b>head</b>\n<pre>" + "\n".join(html.escape(l) for l in lines) + "</pre>\ntail"
    parts = split_message(text, limit)
    assert all(len(p) <= limit for p in parts)
    assert all(p.count("<pre>") == p.count("</pre>") for p in parts)
    assert plain("".join(parts)).replace("\n", "") == plain(text).replace("\n", "")


def test_width_counts_hangul_double_and_clip_respects_it():
    assert width("삼성전자") == 8 and width("NAVER") == 5
    assert clip("삼성바이오로직스", 10) == "삼성바이…" and width(clip("삼성바이오로직스", 10)) <= 10


def test_a_newline_in_a_stock_name_never_breaks_a_table_row():
    from datetime import datetime, timedelta
    from types import SimpleNamespace

    from bot.format import balance_text, fills_text, quotes_text, results_table, status_text
    from bot.cli_account import holdings_table
    from kis.models import Balance, Holding, OrderSide, Quote
    from rebalance.events import Filled, StockResult

    def tables(name):
        balance = Balance((Holding("005930", name, 10, 10, 70_000, 71_000, 710_000, 700_000, 10_000, 1.43),),
                          cash=1_000, cash_d2=1_000, stock_value=710_000, total_value=711_000, pnl=10_000)
        status = SimpleNamespace(run_id="r1", progress=0.5, end=datetime(2030, 1, 2, 10, 0), stocks=[
            SimpleNamespace(code="005930", name=name, side=OrderSide.BUY, done_qty=1, target_qty=2)])
        return [
            balance_text(balance),
            quotes_text([Quote("005930", 71_000, 500, 0.71, name=name)]),
            fills_text([Filled("r1", "005930", name, OrderSide.BUY, 1, 71_000, 1, 2, 0.5)]),
            results_table([StockResult("005930", name, 0, 2, 2)]),
            status_text(status, datetime(2030, 1, 2, 9, 55)),
            holdings_table(balance).to_string(index=False),
        ]

    plain_tables = tables("삼성전자")
    for name in ("삼성\n전자", "삼성\r\n전자", "삼성\t전자", "삼성\u2028전자", "삼성\x1b[31m전자", "\n"):
        for table, reference in zip(tables(name), plain_tables):
            assert table.count("\n") == reference.count("\n"), repr(table)
            assert "\x1b" not in table and "\t" not in table and "\r" not in table
    assert "삼성 전자" in tables("삼성\n전자")[0]
