"""A mixed KRX and US model from chat against the paper exchange: the plan's table, exchanges and dollars."""
from __future__ import annotations

from pathlib import Path

from bot.format import plan_messages
from bot_fakes import FakePlanner, make_service
from bot_fakes import FakeClock as ServiceClock
from rebalance.charts import plan_chart
from rebalance.i18n import Lang, using
from rebalance.plan import make_plan
from rebalance.portfolio import read_portfolio

MIXED = Path(__file__).resolve().parents[2] / "examples" / "mixed.xlsx"


def _service(client):
    clock = ServiceClock()
    planner = FakePlanner(clock)
    planner.read_portfolio, planner.make_plan = read_portfolio, make_plan  # the real reader and planner
    planner.plan_messages, planner.plan_chart = plan_messages, plan_chart
    service, *_ = make_service(client=client, planner=planner, clock=clock)
    return service


def _texts(replies) -> str:
    return "\n".join(r.plain for r in replies if r.plain)


def test_the_example_mixed_model_plans_from_chat_with_each_exchange_said_and_dollars_in_the_table(sim_client):
    text = _texts(_service(sim_client).plan_file(MIXED.read_bytes(), "mixed.xlsx"))
    assert "KO NYSE (the file's exchange column)" in text
    assert "AAPL NASD (KIS's lookup)" in text and "SPY AMEX (KIS's lookup)" in text
    assert "$" in text and "Dollars: $20,000.00 cash" in text
    assert "US legs (" in text and "trade in the US regular session" in text


def test_a_korean_chat_reads_the_mixed_plan_in_korean(sim_client):
    with using(Lang.KO):
        text = _texts(_service(sim_client).plan_file(MIXED.read_bytes(), "mixed.xlsx"))
    assert "거래소:" in text and "한국투자증권 조회" in text


def test_an_unknown_ticker_in_a_file_is_refused_by_name_from_chat(sim_client):
    from openpyxl import Workbook
    import io
    book = Workbook()
    book.active.append(["종목코드", "비중"])
    book.active.append(["005930", 50])
    book.active.append(["ZZZZ", 50])
    data = io.BytesIO()
    book.save(data)
    text = _texts(_service(sim_client).plan_file(data.getvalue(), "bad.xlsx"))
    assert "'ZZZZ'" in text and "row 3" in text
