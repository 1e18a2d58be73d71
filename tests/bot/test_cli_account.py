"""`kisbot price`, `balance`, `secrets set` as a user runs them: tables, one-line failures, exit codes."""
import argparse

import pytest
import responses

from bot import cli_account
from bot.cli import main
from kis import endpoints as ep
from kis_fakes import APP_KEY, APP_SECRET, REAL_URL, SUMMARY, FakeClock, FakeKis, fail, holding_row, ok


@pytest.fixture
def fake():
    """KIS real's gateway faked over `responses`, as tests/kis has it."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeKis(rsps, REAL_URL, FakeClock()).install()


@pytest.fixture
def real_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    for name, value in {"KIS_ENV": "real", "KIS_APP_KEY": APP_KEY, "KIS_APP_SECRET": APP_SECRET,
                        "KIS_ACCOUNT": "50087375-01", "KIS_BASE_URL": REAL_URL, "KIS_RATE_LIMIT": "1000",
                        "KISBOT_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(name, value)


def multi(code, name, price):
    return {"inter_shrn_iscd": code, "inter_kor_isnm": name, "inter2_prpr": price, "inter2_prdy_vrss": "500",
            "prdy_vrss_sign": "5", "prdy_ctrt": "-0.70", "acml_vol": "13817290"}


def test_price_prints_a_table(real_env, fake, capsys):
    fake.rsps.add(responses.GET, REAL_URL + ep.MULTI_PRICE,
                  json=ok(output=[multi("005930", "삼성전자", "71000"), multi("000660", "SK하이닉스", "180000")]))
    assert main(["price", "005930", "000660"]) == 0
    out = capsys.readouterr().out
    assert "삼성전자" in out and "71,000" in out and "-500" in out and "-0.70%" in out
    assert out.index("005930") < out.index("000660")


def test_price_of_an_unknown_code_is_one_line_and_exit_1(real_env, fake, capsys):
    fake.rsps.add(responses.GET, REAL_URL + ep.MULTI_PRICE, json=ok(output=[multi("005930", "삼성전자", "71000")]))
    assert main(["price", "005930", "999999"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "kisbot: the exchange does not know 999999; check the stock code"


def test_known_prices_are_shown_beside_an_unknown_code(real_env, fake, capsys):
    fake.rsps.add(responses.GET, REAL_URL + ep.MULTI_PRICE, json=ok(output=[multi("005930", "삼성전자", "71000")]))
    assert main(["price", "005930", "999999"]) == 1
    captured = capsys.readouterr()
    assert "삼성전자" in captured.out and "71,000" in captured.out


def test_a_malformed_code_is_named_before_any_call(real_env, fake, capsys):
    assert main(["price", "005930", "59A"]) == 1
    assert capsys.readouterr().err.strip() == "kisbot: '59A' is not a 6-character stock code such as 005930 or 0013V0"
    assert fake.paths(ep.MULTI_PRICE) == []


def test_korean_names_line_up_in_the_price_table(real_env, fake, capsys):
    fake.rsps.add(responses.GET, REAL_URL + ep.MULTI_PRICE,
                  json=ok(output=[multi("005930", "삼성전자", "71000"), multi("373220", "LG에너지솔루션", "380000")]))
    assert main(["price", "005930", "373220"]) == 0
    from rebalance.text import width
    lines = capsys.readouterr().out.splitlines()
    assert len({width(line) for line in lines}) == 1  # every row as wide on screen as the header


@pytest.mark.parametrize("argv", [["sim", "--port", "99999"], ["demo", "--speed", "-1"], ["sim", "--port", "x"]])
def test_bad_numbers_on_the_command_line_are_one_usage_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and "error: argument" in capsys.readouterr().err


def test_balance_prints_holdings_and_cash(real_env, fake, capsys):
    fake.rsps.add(responses.GET, REAL_URL + ep.BALANCE,
                  json=ok(output1=[holding_row("005930", 12, name="삼성전자")], output2=[SUMMARY],
                          ctx_area_fk100="", ctx_area_nk100=""))
    assert main(["balance"]) == 0
    out = capsys.readouterr().out
    assert "50087375-01" in out and "삼성전자" in out and "864,000" in out and "5,170,000" in out


def test_a_kis_refusal_is_one_line(real_env, fake, capsys):
    fake.rsps.add(responses.GET, REAL_URL + ep.BALANCE, json=fail("OPSQ2001", "조회구분 입력값이 올바르지 않습니다.   "))
    assert main(["balance"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "OPSQ2001" in err and "Traceback" not in err


def test_a_missing_secret_names_the_variable_and_the_secrets_command(real_env, monkeypatch, capsys):
    monkeypatch.delenv("KIS_APP_SECRET")
    assert main(["balance"]) == 2
    err = capsys.readouterr().err
    assert "KIS_APP_SECRET" in err and "kisbot secrets set" in err


def test_secrets_set_stores_what_was_typed(capsys):
    answers = iter(["my-key", "my-secret", ""])
    stored = {}
    code = cli_account.secrets(argparse.Namespace(action="set", env="real"), prompt=lambda q: next(answers),
                               store=stored.__setitem__, available=lambda: True)
    assert code == 0
    assert stored == {"real_app_key": "my-key", "real_app_secret": "my-secret"}
    out = capsys.readouterr().out
    assert "my-key" not in out and "my-secret" not in out


def test_secrets_set_for_a_labelled_account_stores_that_accounts_keys(capsys):
    answers = iter(["pension-key", "pension-secret", ""])
    stored = {}
    code = cli_account.secrets(argparse.Namespace(action="set", env="real", account="Pension"),
                               prompt=lambda q: next(answers), store=stored.__setitem__, available=lambda: True)
    assert code == 0
    assert stored == {"real_pension_app_key": "pension-key", "real_pension_app_secret": "pension-secret"}


def test_a_labelled_accounts_keys_are_read_back_from_the_keyring(tmp_path, monkeypatch):
    from kis import config

    keys = {"real_pension_app_key": "pk", "real_pension_app_secret": "ps"}
    monkeypatch.setattr(config, "keyring_get", lambda name: keys.get(name, ""))
    environ = {"KIS_ENV": "real", "KIS_APP_KEY": "mk", "KIS_APP_SECRET": "ms", "KIS_ACCOUNT": "50087375-01",
               "KIS_ACCOUNTS": "main,pension", "KIS_PENSION_ACCOUNT": "50087376-22"}
    source = config.Source(environ=environ, dotenv_path=tmp_path / "none.env")
    assert config.load_kis_config(source, label="pension").app_key == "pk"


def test_secrets_set_refuses_a_label_that_is_not_ascii(capsys):
    code = cli_account.secrets(argparse.Namespace(action="set", env="real", account="연금"),
                               prompt=lambda q: "x", store=lambda *a: None, available=lambda: True)
    assert code == 2 and "--account: account label '연금'" in capsys.readouterr().err


def test_secrets_set_without_a_keyring_says_how_to_use_the_environment(capsys):
    def never(question):
        raise AssertionError("must not prompt when nothing can be stored")

    code = cli_account.secrets(argparse.Namespace(action="set", env="mock"), prompt=never,
                               store=lambda n, v: None, available=lambda: False)
    assert code == 2
    err = capsys.readouterr().err
    assert "KIS_APP_KEY" in err and "environment" in err


def test_secrets_set_without_a_keyring_backend_is_one_line_and_exit_2(capsys, monkeypatch):
    import keyring
    from keyring.backends import fail as no_backend

    previous = keyring.get_keyring()
    keyring.set_keyring(no_backend.Keyring())
    try:
        assert main(["secrets", "set", "--env", "real"]) == 2
    finally:
        keyring.set_keyring(previous)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "KIS_APP_KEY" in err and "KIS_ENV=real" in err


def test_secrets_set_without_a_terminal_says_what_to_do(capsys):
    def no_tty(question):
        raise EOFError

    code = cli_account.secrets(argparse.Namespace(action="set", env="mock"), prompt=no_tty,
                               store=lambda n, v: None, available=lambda: True)
    assert code == 2 and "environment" in capsys.readouterr().err


def test_ctrl_c_while_kisbot_is_still_starting_exits_130_without_a_traceback(monkeypatch, capsys):
    import bot.cli

    def interrupted_while_importing():
        raise KeyboardInterrupt  # Ctrl-C lands while pandas and openpyxl are being imported

    monkeypatch.setattr(bot.cli, "build_parser", interrupted_while_importing)
    assert main(["balance"]) == 130
    assert capsys.readouterr().err == ""


# --- US tickers ------------------------------------------------------------------------------------

@pytest.fixture
def sim_env(tmp_path, monkeypatch):
    from kis.sim import SimServer

    with SimServer(rate_limit=200, always_open=True, notices=False) as server:
        monkeypatch.setenv("KIS_ENV", "sim")
        monkeypatch.setenv("KIS_BASE_URL", server.url)
        monkeypatch.setenv("KIS_RATE_LIMIT", "100")
        monkeypatch.setenv("KISBOT_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.chdir(tmp_path)
        yield server


def test_price_prints_us_tickers_in_dollars_in_a_table_of_their_own(sim_env, capsys):
    sim_env.us_market.set_price("AAPL", "240.55")
    assert main(["price", "005930", "AAPL", "NYSE:KO"]) == 0
    out = capsys.readouterr().out
    assert "삼성전자" in out and "ticker" in out and "240.55" in out and "+7.43" in out and "+3.19%" in out
    assert "NASD" in out and "NYSE" in out and out.index("005930") < out.index("AAPL")


def test_price_names_a_ticker_no_us_exchange_lists_and_exits_1(sim_env, capsys):
    assert main(["price", "QQQ", "ZZZZ", "AMEX:AAPL"]) == 1
    captured = capsys.readouterr()
    assert "QQQ" in captured.out
    assert captured.err.strip() == ("kisbot: no US exchange lists ZZZZ, AMEX:AAPL; check the ticker or write its "
                                    "exchange first (NASD:, NYSE:, AMEX:)")


def test_a_word_that_is_neither_a_code_nor_a_ticker_is_named_before_any_call(real_env, fake, capsys):
    assert main(["price", "ABCDEF"]) == 1
    assert capsys.readouterr().err.strip() == ("kisbot: 'ABCDEF' is not a 6-character stock code such as 005930 or "
                                               "0013V0 or a US ticker such as AAPL or BRK.B")
    assert fake.paths(ep.MULTI_PRICE) == []


def test_a_word_that_is_neither_a_code_nor_a_ticker_is_named_in_korean_when_the_language_is_korean(
        real_env, fake, capsys, monkeypatch):
    monkeypatch.setenv("KISBOT_LANG", "ko")
    assert main(["price", "ABCDEFG"]) == 1
    assert capsys.readouterr().err.strip() == ("kisbot: 'ABCDEFG'은(는) 005930, 0013V0 같은 6자리 종목코드도, "
                                               "AAPL, BRK.B 같은 미국 티커도 아닙니다")
    assert fake.paths(ep.MULTI_PRICE) == []


def test_a_prefix_that_names_no_us_exchange_is_said_in_the_terminals_language(real_env, fake, capsys, monkeypatch):
    assert main(["price", "LSE:VOD"]) == 1
    assert capsys.readouterr().err.strip() == ("kisbot: 'LSE' in 'LSE:VOD' is not a US exchange: write NASD:, NYSE: "
                                               "or AMEX: before the ticker")
    monkeypatch.setenv("KISBOT_LANG", "ko")
    assert main(["price", "LSE:VOD"]) == 1
    assert capsys.readouterr().err.strip() == ("kisbot: 'LSE:VOD'의 'LSE'은(는) 미국 거래소가 아닙니다. 티커 앞에 "
                                               "NASD:, NYSE:, AMEX: 중 하나를 적어 주세요")
    assert fake.paths(ep.MULTI_PRICE) == []
