"""`kisbot doctor`'s buying-power section: inquire-psbl-order asked with ORD_DVSN 00 and 01 side by side,
and whether the account looks like one that takes 미수 (issue 19: a 40 %-margin account)."""
import json

from bot.cli_doctor import doctor
from bot.doctor_buy import ask_buying_power, buying_power_text
from rebalance.i18n import Lang, using
from tests.bot.test_cli_doctor import args, sim, sim_source  # noqa: F401 - sim is a fixture
from kis.sim.clients import client_for

FIELDS = {"ord_psbl_cash", "nrcvb_buy_amt", "nrcvb_buy_qty", "max_buy_amt", "max_buy_qty", "psbl_qty_calc_unpr"}


def rest_a_buy(sim, qty=40):
    """A buy resting below the price: on a 미수 account it holds only its margin of ord_psbl_cash."""
    price = sim.market.price("005930")
    sim.exchange.place("005930", "02", "00", qty, price * 9 // 10 // 100 * 100)


def test_the_doctor_shows_the_00_and_01_answers_and_a_cash_account_is_not_called_margin(sim, tmp_path, capsys):
    assert doctor(args(json=True), source=sim_source(sim, tmp_path)) == 0
    power = json.loads(capsys.readouterr().out)["buying_power"]
    assert set(power["00"]) == set(power["01"]) == FIELDS
    assert power["margin_account"] is False and power["over_by_00"] is False
    assert power["01"]["max_buy_qty"] == power["01"]["nrcvb_buy_qty"] > 0  # nothing offered beyond cash
    doctor(args(), source=sim_source(sim, tmp_path))
    out = capsys.readouterr().out
    assert "ok   buying power:" in out and "does not look like a margin account" in out
    assert all(name in out for name in FIELDS) and "00 limit" in out and "01 market" in out


def test_on_a_40_percent_margin_account_the_doctor_warns_and_shows_what_00_overstates(sim, tmp_path, capsys):
    sim.exchange.margin_percent = 40
    rest_a_buy(sim)
    assert doctor(args(json=True), source=sim_source(sim, tmp_path)) == 0  # a warning, not a failure
    report = json.loads(capsys.readouterr().out)
    power = report["buying_power"]
    assert power["margin_account"] is True and power["over_by_00"] is True
    assert power["01"]["max_buy_amt"] > power["01"]["nrcvb_buy_amt"]
    assert power["00"]["nrcvb_buy_qty"] * power["price"] > power["01"]["nrcvb_buy_amt"]
    assert power["kisbot_limit_buy_max_qty"] * power["price"] <= power["01"]["nrcvb_buy_amt"]
    [check] = [c for c in report["checks"] if c["name"] == "buying power"]
    assert check["status"] == "warn"
    doctor(args(), source=sim_source(sim, tmp_path))
    out = capsys.readouterr().out
    assert "WARN buying power:" in out and "looks like a margin (미수) account" in out
    assert "does not reflect the stock's margin rate" in out


def test_the_buying_power_section_reads_in_korean(sim, tmp_path):
    sim.exchange.margin_percent = 40
    rest_a_buy(sim)
    client = client_for(sim, tmp_path / "kisbot")
    check = ask_buying_power(client, "005930", sim.market.price("005930"))
    with using(Lang.KO):
        text = buying_power_text(check)
    assert "증거금(미수) 계좌로 보입니다" in text and "00 지정가" in text and "01 시장가" in text
    assert "종목증거금율을 반영하지 않기 때문입니다" in text
