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
    assert "Deposit to rebalance" in out  # the deposit that rebalances without selling, in one line
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


def test_plan_without_a_file_uses_the_saved_model_and_prints_json(sim_env, capsys):
    import json

    assert main(["plan"]) == 1
    assert "no model is saved for this account yet" in capsys.readouterr().err
    assert main(["plan", str(EXAMPLES / "multifactor.xlsx")]) == 0
    capsys.readouterr()
    assert main(["plan", "--json", "--buy-only", "--keep-others"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "multifactor.xlsx"
    assert data["options"]["buy_only"] is True and data["options"]["keep_others"] is True
    assert len(data["lines"]) == 22 and all(line["order"] >= 0 for line in data["lines"])
    first = data["lines"][0]
    assert set(first) >= {"code", "name", "price", "now", "target", "order"}
    assert data["totals"]["cash_after"] >= 0 and data["sold_outside_model"] == []
    assert all(line["name"] for line in data["lines"])


@pytest.mark.parametrize("flags, says", [
    (["--buy-only", "--sell-amount", "100000"], "--buy-only and --sell-amount contradict each other"),
    (["--band", "-1"], "not a band between 0 and 50"),
    (["--amount", "5000"], "--amount goes with --buy-only"),
    (["--sell-amount", "lots"], "'lots' after --sell-amount is not an amount of won"),
    (["--buy-only", "--amount", "9" * 5000], "the amount after --amount is more than any account holds"),
    (["--min-trade", "9" * 5000], "the amount after --min-trade is more than any account holds"),
    (["--buy-only", "--amount", "5m"], "'5m' after --amount is not read"),
])
def test_bad_plan_flags_are_one_line_and_exit_1(sim_env, capsys, flags, says):
    assert main(["plan", str(EXAMPLES / "multifactor.xlsx"), *flags]) == 1
    captured = capsys.readouterr()
    assert says in captured.err and captured.err.count("\n") == 1 and captured.out == ""


def test_the_plan_header_names_the_options_and_the_stocks_sold_outside_the_model(sim_env, capsys):
    assert main(["plan", str(EXAMPLES / "multifactor.xlsx"), "--band", "2"]) == 0
    out = capsys.readouterr().out
    assert "Options: band ±2 %p" in out
    assert "Sells 2 stocks not in the model: 035720 카카오, 011200 HMM (add keep to leave them alone)." == \
        out.split("\n\n", 1)[1].split("\n")[0]  # the plan's first line


def test_an_etf_held_is_named_and_its_sell_carries_no_tax(sim_env, capsys):
    import json

    from kis.sim.market import StockSpec

    sim_env.market.add(StockSpec("069500", "KODEX 200", 40_000, kind="etf"))
    sim_env.exchange.set_holding("069500", 100)
    assert main(["plan", str(EXAMPLES / "multifactor.xlsx"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    etf = next(line for line in data["lines"] if line["code"] == "069500")
    assert etf["name"] == "KODEX 200" and etf["tax_free"] is True and etf["order"] == -100
    taxed = [line for line in data["lines"] if line["order"] < 0 and not line["tax_free"]]
    assert taxed  # 035720 카카오 and 011200 HMM are stocks: taxed
    assert all(line["name"] for line in data["lines"])


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


def test_a_damaged_saved_model_is_one_line_that_says_to_give_the_file_again(sim_env, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "model-50000000-01.json").write_text("{garbage", encoding="utf-8")
    assert main(["plan"]) == 1
    err = capsys.readouterr().err
    assert "model-50000000-01.json cannot be read: give the .xlsx file again" in err
    assert "Traceback" not in err
    assert sim_env.count(ep.BALANCE) == 0


def test_an_account_kis_refuses_is_named_as_a_refusal_not_as_silence(sim_env, monkeypatch, capsys):
    monkeypatch.setenv("KIS_ACCOUNT", "12345678-01")  # not the simulator's account
    assert main(["plan", str(EXAMPLES / "model.xlsx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kisbot: KIS refused the request: ") and "(OPSQ0013)" in err
    assert "try again in a minute" not in err  # waiting does not fix a wrong account number



def test_a_data_dir_that_is_a_file_is_named_rather_than_called_an_empty_model(sim_env, tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("KISBOT_DATA_DIR", str(tmp_path / "afile"))
    assert main(["plan"]) == 2
    err = capsys.readouterr().err
    assert "afile cannot be used (it is a file, not a directory): set KISBOT_DATA_DIR" in err
    assert "no model is saved" not in err


def test_kisbot_plan_json_of_the_mixed_example_gives_every_row_its_market_and_currency(sim_env, capsys):
    import json
    assert main(["plan", str(EXAMPLES / "mixed.xlsx"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {r["code"]: r for r in data["lines"]}
    assert {rows[c]["market"] for c in ("005930", "069500", "0013V0")} == {"KRX"}
    assert (rows["AAPL"]["market"], rows["KO"]["market"], rows["SPY"]["market"]) == ("NASD", "NYSE", "AMEX")
    assert {rows[c]["currency"] for c in ("AAPL", "SPY", "TLT", "KO")} == {"USD"}
    assert all(isinstance(rows[c]["price"], str) and rows[c]["price"].count(".") == 1 for c in ("AAPL", "KO"))
    assert isinstance(data["totals"]["usd_missing"], int) and data["totals"]["usd_cash"] == 2_000_000


def test_kisbot_plan_loc_on_the_sim_is_refused_in_one_line_before_any_call(sim_env, capsys):
    assert main(["plan", str(EXAMPLES / "mixed.xlsx"), "--loc"]) == 1
    err = capsys.readouterr().err
    assert "LOC" in err and "real accounts only" in err and len(err.strip().splitlines()) == 1


def test_kisbot_plan_daytime_on_the_sim_is_refused_in_one_line(sim_env, capsys):
    assert main(["plan", str(EXAMPLES / "mixed.xlsx"), "--daytime"]) == 1
    assert "주간거래" in capsys.readouterr().err


def test_kisbot_plan_of_a_mixed_model_on_an_account_without_overseas_trading_names_the_refusal(sim_env, capsys):
    sim_env.us_exchange.overseas_trading = False
    assert main(["plan", str(EXAMPLES / "mixed.xlsx")]) == 1
    err = capsys.readouterr().err
    assert "no overseas trading enabled" in err and len(err.strip().splitlines()) == 1
