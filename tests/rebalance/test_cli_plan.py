"""`kisbot plan FILE` end to end against the simulator: the table, the chart, and one line on a bad file."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from kis import endpoints as ep
from kis.sim import SimServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def sim_env(tmp_path, monkeypatch):
    with SimServer(rate_limit=200, always_open=True) as server:
        monkeypatch.setenv("KIS_ENV", "sim")
        monkeypatch.setenv("KIS_BASE_URL", server.url)
        monkeypatch.setenv("KIS_RATE_LIMIT", "100")
        monkeypatch.setenv("KISBOT_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.chdir(tmp_path)  # no stray .env
        yield server


def test_plan_prints_the_table_and_writes_the_chart(sim_env, tmp_path, capsys):
    chart = tmp_path / "weights.png"
    assert main(["plan", str(EXAMPLES / "multifactor.xlsx"), "--chart", str(chart)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sim account 50000000-01, 20 stocks in multifactor.xlsx\n"
                          "Read 20 stocks; weights from column C '비중', read as percent (the numbers add up to "
                          "more than 1.5).\n")
    assert "Rebalance plan " in out and "Cash after" in out
    # The sim's seed account holds 035720 (카카오), which the multi-factor model does not: sold to zero.
    assert "035720 카카오" in out and "250→0" in out
    assert chart.read_bytes().startswith(b"\x89PNG")
    # One balance inquiry and one multi-stock quote for 20 model + 2 held-only codes.
    assert sim_env.count(ep.BALANCE) == 1
    assert sim_env.count(ep.MULTI_PRICE) == 1 and sim_env.count(ep.PRICE) == 0


def test_a_bad_file_is_one_line_and_exit_1(sim_env, capsys):
    assert main(["plan", str(EXAMPLES / "broken" / "duplicate.xlsx")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "kisbot: duplicate.xlsx: 종목코드 '005930' appears 2 times (rows 2 and 4): keep one row\n"
    assert sim_env.count(ep.BALANCE) == 0  # nothing asked of the broker for a file that cannot be used


def test_a_code_the_broker_does_not_know_names_its_row(sim_env, tmp_path, capsys):
    from openpyxl import Workbook

    book = Workbook()
    for row in (["종목코드", "비중"], ["005930", 50], ["999999", 50]):
        book.active.append(row)
    book.save(tmp_path / "unknown.xlsx")
    assert main(["plan", str(tmp_path / "unknown.xlsx")]) == 1
    assert capsys.readouterr().err == ("kisbot: unknown.xlsx: 종목코드 '999999' is not a stock the broker knows "
                                       "(row 3): check the code or remove the row\n")


def test_codes_with_letters_are_priced_planned_and_shown_held_through_the_sim(sim_env, tmp_path, capsys):
    from openpyxl import Workbook

    # KRX has issued codes with letters since 2024; the sim lists a stock (0013V0) and an ETF (0126Z0).
    assert main(["price", "0013v0", "0126Z0"]) == 0
    out = capsys.readouterr().out
    assert "0013V0" in out and "모의신규상장" in out and "0126Z0" in out

    book = Workbook()
    for row in (["종목코드", "비중"], ["0013V0", 0.3], ["0126z0", 0.2], [5930, 0.3]):
        book.active.append(row)
    book.save(tmp_path / "letters.xlsx")
    assert main(["plan", str(tmp_path / "letters.xlsx")]) == 0
    plan = capsys.readouterr().out
    assert "3 stocks in letters.xlsx" in plan
    assert "0013V0 모의신규상장" in plan and "0126Z0 모의200 ETF" in plan and "005930 삼성전자" in plan

    sim_env.exchange.set_holding("0013V0", 12)
    assert main(["balance"]) == 0
    assert "0013V0" in capsys.readouterr().out
