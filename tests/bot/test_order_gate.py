"""Fail closed: a 연금저축 account's orders stay off until `kisbot doctor --orders --account LABEL` has passed on it;
the plan says so and offers no Confirm, a Confirm is refused in one sentence, and nothing is ordered."""
from __future__ import annotations

import argparse
import json
from dataclasses import replace

import pytest

from bot import order_gate
from bot.cli_doctor import doctor
from kis.config import SIM_APP_KEY, SIM_APP_SECRET, Source, load_kis_config, sim_credentials
from kis.models import Env
from kis.sim import SimServer
from kis.sim.desks import SimAccountSpec
from rebalance.i18n import using
from test_household import CHAT, PENSION_MODEL, ask, make_house, send_file, text
from test_household import sims  # noqa: F401 (a fixture)

GATE_CONFIRM = "Orders stay off for @pension (연금저축) until `kisbot doctor --orders --account pension` has passed on it"


def buttons(replies):
    return [b.data for r in replies for b in r.buttons]


def test_a_pension_plan_before_the_doctors_pass_says_orders_are_off_and_offers_no_confirm(sims, tmp_path):
    house = make_house(sims, tmp_path, doctor_passed=False)
    replies = send_file(house, CHAT, PENSION_MODEL, "@pension")
    said = text(replies)
    assert "Rebalance plan" in said
    assert "Orders are off for @pension (연금저축) until `kisbot doctor --orders --account pension` has passed" in said
    assert not [b for b in buttons(replies) if b.startswith("confirm:")]
    refused = text(ask(house, CHAT, "confirm", "@pension"))
    assert GATE_CONFIRM in refused and refused.count(".") == 1  # one sentence
    assert not sims["pension"].exchange.order_log and house.active_run() is None


def test_a_pending_plans_confirm_is_refused_when_the_pass_is_gone(sims, tmp_path):
    house = make_house(sims, tmp_path)  # the doctor passed: the plan is offered
    replies = send_file(house, CHAT, PENSION_MODEL, "@pension")
    data = next(b for b in buttons(replies) if b.startswith("confirm:"))
    order_gate.pass_path(house.desk("pension").service.client.config).unlink()  # e.g. the data dir restored
    from test_household import press

    assert GATE_CONFIRM in text(press(house, CHAT, data))
    assert not sims["pension"].exchange.order_log and house.active_run() is None


def test_once_the_doctor_has_passed_the_pension_plan_is_confirmable(sims, tmp_path):
    house = make_house(sims, tmp_path, doctor_passed=False)
    send_file(house, CHAT, PENSION_MODEL, "@pension")
    order_gate.record_pass(house.desk("pension").service.client.config, sims["pension"].clock())
    replies = send_file(house, CHAT, PENSION_MODEL, "@pension")
    assert [b for b in buttons(replies) if b.startswith("confirm:")]
    assert "Orders are off" not in text(replies)


def test_a_general_account_is_never_gated(sims, tmp_path):
    house = make_house(sims, tmp_path, doctor_passed=False)
    config = house.desk("main").service.client.config
    assert not order_gate.gated(config) and not order_gate.has_passed(config)


def test_a_pass_of_another_key_account_or_environment_leaves_the_gate_shut(sims, tmp_path):
    house = make_house(sims, tmp_path, doctor_passed=False)
    config = house.desk("pension").service.client.config
    order_gate.record_pass(replace(config, app_key="PSanotherKEY" + "0" * 24), sims["pension"].clock())
    assert order_gate.gated(config)
    order_gate.record_pass(replace(config, env=Env.MOCK), sims["pension"].clock())
    assert order_gate.gated(config)  # a mock pass is kept apart from the sim's
    order_gate.pass_path(config).write_text("{not json", encoding="utf-8")
    assert order_gate.gated(config)
    order_gate.record_pass(config, sims["pension"].clock())
    assert not order_gate.gated(config)


def test_the_gate_sentences_are_korean_too(sims, tmp_path):
    house = make_house(sims, tmp_path, doctor_passed=False)
    with using("ko"):
        send_file(house, CHAT, PENSION_MODEL, "@pension")
        refused = text(ask(house, CHAT, "confirm", "@pension"))
    assert "주문이 꺼져 있습니다" in refused


@pytest.fixture
def house_sim():
    # the real clock: the doctor times its test order's listing as seconds pass
    accounts = (SimAccountSpec("50000000-01", SIM_APP_KEY, SIM_APP_SECRET, label="main"),
                SimAccountSpec("50000001-22", *sim_credentials("pension"), label="pension", cash=30_000_000))
    server = SimServer(0, rate_limit=20.0, always_open=True, accounts=accounts, listing_lag=0.2,
                       listing_jitter=0.0, cancel_confirm_delay=0.1).start()
    try:
        yield server
    finally:
        server.stop()


def doctor_source(sim, tmp_path) -> Source:
    environ = {"KIS_ENV": "sim", "KIS_BASE_URL": sim.url, "KIS_ACCOUNTS": "main,pension",
               "KIS_PENSION_ACCOUNT": "50000001-22", "KIS_RATE_LIMIT": "20", "KISBOT_DATA_DIR": str(tmp_path / "data"),
               "KIS_HTS_ID": ""}
    return Source(environ=environ, dotenv_path=tmp_path / "no.env", use_keyring=False)


def doctor_args(**options):
    return argparse.Namespace(**{"orders": True, "json": True, "real": False, "code": "069500", "account": "pension",
                                 **options})


def test_kisbot_doctor_orders_on_the_pension_account_turns_its_orders_on(house_sim, tmp_path, capsys):
    source = doctor_source(house_sim, tmp_path)
    config = load_kis_config(source, "pension")
    assert order_gate.gated(config)
    assert doctor(doctor_args(), source=source) == 0
    report = json.loads(capsys.readouterr().out)
    gate = next(c for c in report["checks"] if c["name"] == "order gate")
    assert gate["status"] == "ok" and "@pension" in gate["text"]
    assert not order_gate.gated(config)
    assert [o.kind for o in house_sim.desk("pension").exchange.orders][:1] == ["new"]
    assert house_sim.desk("main").exchange.orders == []  # the doctor tested the account it was told to


def test_a_refused_test_order_leaves_the_pension_accounts_orders_off(house_sim, tmp_path, capsys, monkeypatch):
    from kis.sim.protocol import NO_SUCH_TR
    from kis.sim.refusals import Refusal

    def refuse():
        raise Refusal(NO_SUCH_TR, 500)

    monkeypatch.setattr(house_sim.desk("pension").protocol, "_refuse_irp_orders", refuse)
    source = doctor_source(house_sim, tmp_path)
    assert doctor(doctor_args(), source=source) == 1
    report = json.loads(capsys.readouterr().out)
    gate = next(c for c in report["checks"] if c["name"] == "order gate")
    assert gate["status"] == "warn" and "stay off" in gate["text"]
    assert order_gate.gated(load_kis_config(source, "pension"))


def test_accounts_says_the_pension_accounts_orders_are_off_until_the_doctor_passes(sims, tmp_path):
    house = make_house(sims, tmp_path, doctor_passed=False)
    with using("en"):
        before = text(ask(house, CHAT, "accounts"))
        order_gate.record_pass(house.desk("pension").service.client.config, sims["pension"].clock())
        after = text(ask(house, CHAT, "accounts"))
    off = "orders off until `kisbot doctor --orders --account pension` has passed on it"
    assert before.count(off) == 1 and before.index("@pension") < before.index(off)
    assert off not in after
