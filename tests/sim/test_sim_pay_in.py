"""The paper exchange pays cash in, as a bank transfer or a dividend does, so a `cash` schedule can be shown
an arrival: by method (tests), by POST /sim/deposit and /sim/dividend, and by `kisbot sim --deposit`."""
from __future__ import annotations

import argparse
import io
import json
import urllib.error
import urllib.request

import pytest

from bot.cli import build_parser
from kis.sim.cli import main as sim_main
from kis.sim.clients import client_for
from kis.sim.server import SimServer


@pytest.fixture
def sim(sim_clock):
    server = SimServer(0, seed=7, clock=sim_clock, always_open=True).start()
    try:
        yield server
    finally:
        server.stop()


def post(sim: SimServer, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(sim.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_deposit_shows_in_the_balance_kis_reports(sim, tmp_path):
    client = client_for(sim, tmp_path / "kisbot")
    before = client.balance().cash_d2
    assert sim.deposit(500_000) == sim.cash
    assert client.balance().cash_d2 == before + 500_000


def test_a_dividend_pays_the_shares_held_less_the_tax_withheld(sim):
    held = sim.exchange.holding_qty("005930")
    assert held > 0
    before = sim.cash
    paid = sim.pay_dividend("005930", 361)
    gross = held * 361
    assert paid == gross - gross * 14 // 100 - gross * 14 // 100 // 10  # 14 % income tax + 10 % of it local
    assert sim.cash == before + paid
    assert sim.pay_dividend("000000", 361) == 0 and sim.cash == before + paid  # not held: nothing


def test_the_admin_routes_pay_in_and_refuse_bad_amounts(sim):
    before = sim.cash
    assert post(sim, "/sim/deposit", {"amount": 300_000}) == (200, {"amount": 300_000, "cash": before + 300_000})
    status, answer = post(sim, "/sim/deposit", {"amount": -5})
    assert status == 400 and sim.cash == before + 300_000
    status, answer = post(sim, "/sim/dividend", {"code": "005930", "per_share": 100})
    assert status == 200 and answer["paid"] > 0 and answer["cash"] == sim.cash


def test_kisbot_sim_deposit_pays_into_the_running_sim(sim):
    args = build_parser().parse_args(["sim", "--port", str(sim.port), "--deposit", "50만"])
    before, out = sim.cash, io.StringIO()
    assert sim_main(args, out=out) == 0
    assert sim.cash == before + 500_000 and "500,000" in out.getvalue()


def test_kisbot_sim_deposit_with_no_sim_running_is_one_sentence(capsys):
    args = argparse.Namespace(port=1, deposit=1000, dividend=None)
    assert sim_main(args) == 1
    assert "no sim answers on port 1" in capsys.readouterr().err


def test_kisbot_sim_refuses_an_amount_it_cannot_read():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sim", "--deposit", "5m"])
