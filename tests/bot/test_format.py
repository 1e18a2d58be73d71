"""Chat text stays escaped and within Telegram's 4096 characters."""
from __future__ import annotations

from datetime import timedelta

from hypothesis import given, strategies as st

from bot.format import bold, pre
from rebalance.text import clip, width


@given(st.lists(st.text(alphabet="ab<>&가 \n", max_size=300), max_size=60), st.integers(min_value=200, max_value=4096))
def test_split_keeps_every_part_under_the_limit_and_pre_balanced(lines, limit):
    text = bold("head") + "\n" + pre(lines) + "\ntail"
    parts = text.split(limit)
    assert all(len(p.html()) <= limit for p in parts)
    assert all(p.html().count("<pre>") == p.html().count("</pre>") for p in parts)
    assert "".join(p.plain() for p in parts).replace("\n", "") == text.plain().replace("\n", "")


def test_one_reply_is_html_for_a_chat_and_plain_text_for_a_terminal():
    reply = bold("Run <r1>") + ": 5 < 6 & done\n" + pre(["a&b", "<c>"])
    assert reply.html() == "<b>Run &lt;r1&gt;</b>: 5 &lt; 6 &amp; done\n<pre>a&amp;b\n&lt;c&gt;</pre>"
    assert reply.plain() == "Run <r1>: 5 < 6 & done\na&b\n<c>"


def test_width_counts_hangul_double_and_clip_respects_it():
    assert width("삼성전자") == 8 and width("NAVER") == 5
    assert clip("삼성바이오로직스", 10) == "삼성바이…" and width(clip("삼성바이오로직스", 10)) <= 10


def test_a_newline_in_a_stock_name_never_breaks_a_table_row():
    from datetime import datetime, timedelta

    from bot.format import balance_text, fills_text, quotes_text, results_table, status_text
    from bot.cli_account import holdings_table
    from kis.models import Balance, Holding, OrderSide, Quote
    from rebalance.events import Filled, StockResult
    from rebalance.lifecycle import RunState
    from rebalance.twap import RunStatus, StockProgress

    def tables(name):
        balance = Balance((Holding("005930", name, 10, 10, 70_000, 71_000, 710_000, 700_000, 10_000, 1.43),),
                          cash=1_000, cash_d2=1_000, stock_value=710_000, total_value=711_000, pnl=10_000)
        stock = StockProgress("005930", name, OrderSide.BUY, done_qty=1, order_qty=2, open_qty=0, waiting_for_cash=False)
        status = RunStatus("r1", "p1", RunState.ACTIVE, datetime(2030, 1, 2, 9, 0), datetime(2030, 1, 2, 10, 0),
                           (stock,), 0.5, timedelta(minutes=5))
        return [
            balance_text(balance).html(),
            quotes_text([Quote("005930", 71_000, 500, 0.71, name=name)]).html(),
            fills_text([Filled("r1", "005930", name, OrderSide.BUY, 1, 71_000, 1, 2, 0.5)]).html(),
            results_table([StockResult("005930", name, 0, 2, 2)]).html(),
            status_text(status).html(),
            holdings_table(balance).to_string(index=False),
        ]

    plain_tables = tables("삼성전자")
    for name in ("삼성\n전자", "삼성\r\n전자", "삼성\t전자", "삼성\u2028전자", "삼성\x1b[31m전자", "\n"):
        for table, reference in zip(tables(name), plain_tables):
            assert table.count("\n") == reference.count("\n"), repr(table)
            assert "\x1b" not in table and "\t" not in table and "\r" not in table
    assert "삼성 전자" in tables("삼성\n전자")[0]


def test_a_korean_chat_reads_its_balance_prices_and_fills_in_korean_with_the_columns_aligned():
    from bot.format import balance_text, duration_text, fills_text, quotes_text
    from kis.models import Balance, Holding, OrderSide, Quote
    from rebalance.events import Filled
    from rebalance.i18n import using

    balance = Balance((Holding("005930", "삼성전자", 10, 10, 70_000, 71_000, 710_000, 700_000, 10_000, 1.43),),
                      cash=1_000, cash_d2=2_000, stock_value=710_000, total_value=711_000, pnl=10_000)
    with using("ko"):
        text = balance_text(balance).plain()
        quote = quotes_text([Quote("005930", 71_000, 500, 0.71, name="삼성전자")]).plain()
        fills = fills_text([Filled("r1", "005930", "삼성전자", OrderSide.BUY, 1, 71_000, 1, 2, 0.5)]).plain()
        left = duration_text(timedelta(minutes=4, seconds=10))
    assert text.startswith("잔고") and "10주  평균 70,000  현재 71,000" in text and "손익 +10,000" in text
    totals = [line for line in text.split("\n") if line.endswith(("711,000", "1,000", "2,000", "710,000"))][-4:]
    assert len({width(line) for line in totals}) == 1  # 주식, 예수금, D+2 예수금, 총평가 line up on a phone
    assert "71,000원  +500 (+0.71%)" in quote and fills.startswith("체결") and "매수" in fills
    assert left == "4분 10초"
    with using("en"):
        assert balance_text(balance).plain().startswith("Balance") and duration_text(timedelta(seconds=35)) == "35s"
