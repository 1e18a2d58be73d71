"""One paper exchange serving several accounts: each with its own keys, cash, holdings, orders, pace, token and
notices; a request routed by its app key and refused for another account's number, as KIS refuses it."""
from __future__ import annotations

import io
import json
import time

import pytest
import requests

from kis import endpoints as ep
from kis.auth import ApprovalKeys
from kis.config import SIM_APP_KEY, SIM_APP_SECRET, Source, sim_credentials
from kis.errors import ConfigError, KisError
from kis.models import OrderSide, OrderType
from kis.notices import Backoff, NoticeStream, StreamState
from kis.sim import SimServer
from kis.sim.cli import _accounts_banner, sim_accounts
from kis.sim.clients import client_for, sim_config
from kis.sim.desks import SimAccountSpec
from kis.sim.discover import find_or_start

PENSION_KEY, PENSION_SECRET = sim_credentials("pension")
IRP_KEY, IRP_SECRET = sim_credentials("irp")
ACCOUNTS = (SimAccountSpec("50000000-01", SIM_APP_KEY, SIM_APP_SECRET, label="main"),
            SimAccountSpec("50000001-22", PENSION_KEY, PENSION_SECRET, label="pension", cash=30_000_000),
            SimAccountSpec("50000002-29", IRP_KEY, IRP_SECRET, label="irp", cash=10_000_000))


def several(clock=None, **options) -> SimServer:
    options.setdefault("rate_limit", 500.0)
    return SimServer(0, seed=7, clock=clock, always_open=True, accounts=ACCOUNTS, **options)


@pytest.fixture
def house_sim(sim_clock):
    server = several(sim_clock).start()
    try:
        yield server
    finally:
        server.stop()


def token(sim, key, secret) -> str:
    body = {"grant_type": "client_credentials", "appkey": key, "appsecret": secret}
    reply = requests.post(sim.url + ep.TOKEN, data=json.dumps(body), timeout=5)
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"]


def balance(sim, bearer, key, secret, cano, product) -> requests.Response:
    headers = {"authorization": f"Bearer {bearer}", "appkey": key, "appsecret": secret, "tr_id": "VTTC8434R",
               "custtype": "P"}
    params = {"CANO": cano, "ACNT_PRDT_CD": product, "AFHR_FLPR_YN": "N", "OFL_YN": "", "INQR_DVSN": "01",
              "UNPR_DVSN": "01", "FUND_STTL_ICLD_YN": "N", "FNCG_AMT_AUTO_RDPT_YN": "N", "PRCS_DVSN": "00",
              "CTX_AREA_FK100": "", "CTX_AREA_NK100": ""}
    return requests.get(sim.url + ep.BALANCE, headers=headers, params=params, timeout=5)


def test_each_account_has_its_own_cash_and_holdings_and_an_order_in_one_leaves_the_others_alone(house_sim, tmp_path):
    main = client_for(house_sim, tmp_path / "main")
    pension = client_for(house_sim, tmp_path / "pension", account="pension")
    before = main.balance()
    assert before.holdings and pension.balance().holdings == ()
    assert pension.balance().cash_d2 == 30_000_000
    pension.order("069500", OrderSide.BUY, 10, OrderType.MARKET)
    assert pension.balance().holdings[0].code == "069500"
    after = main.balance()
    assert after.cash_d2 == before.cash_d2
    assert [(h.code, h.qty) for h in after.holdings] == [(h.code, h.qty) for h in before.holdings]
    assert house_sim.desk("main").exchange.orders == []
    assert len(house_sim.desk("pension").exchange.orders) == 1


def test_both_accounts_see_one_market(house_sim, tmp_path):
    main = client_for(house_sim, tmp_path / "main")
    pension = client_for(house_sim, tmp_path / "pension", account="pension")
    assert main.price("069500").price == pension.price("069500").price


def test_a_key_used_with_another_accounts_number_is_refused_and_trades_nothing(house_sim):
    bearer = token(house_sim, PENSION_KEY, PENSION_SECRET)
    refused = balance(house_sim, bearer, PENSION_KEY, PENSION_SECRET, "50000000", "01").json()
    assert (refused["rt_cd"], refused["msg_cd"]) == ("1", "OPSQ0013")
    assert balance(house_sim, bearer, PENSION_KEY, PENSION_SECRET, "50000001", "22").json()["rt_cd"] == "0"
    # an order for main's number, sent with the pension key
    headers = {"authorization": f"Bearer {bearer}", "appkey": PENSION_KEY, "appsecret": PENSION_SECRET,
               "tr_id": "VTTC0012U", "custtype": "P", "content-type": "application/json"}
    body = {"CANO": "50000000", "ACNT_PRDT_CD": "01", "PDNO": "005930", "ORD_DVSN": "01", "ORD_QTY": "1",
            "ORD_UNPR": "0"}
    reply = requests.post(house_sim.url + ep.ORDER_CASH, headers=headers, data=json.dumps(body), timeout=5).json()
    assert reply["msg_cd"] == "OPSQ0013"
    assert all(d.exchange.orders == [] for d in house_sim.desks.values())


def test_a_token_of_one_accounts_key_is_refused_with_another_key(house_sim):
    bearer = token(house_sim, SIM_APP_KEY, SIM_APP_SECRET)
    refused = balance(house_sim, bearer, PENSION_KEY, PENSION_SECRET, "50000001", "22").json()
    assert refused["msg_cd"] == "EGW00121"


def test_an_unknown_key_is_refused_as_kis_refuses_it(house_sim):
    body = {"grant_type": "client_credentials", "appkey": "PSnobodys" + "0" * 27, "appsecret": SIM_APP_SECRET}
    reply = requests.post(house_sim.url + ep.TOKEN, data=json.dumps(body), timeout=5)
    assert (reply.status_code, reply.json()["error_code"]) == (403, "EGW00103")


def test_the_call_limit_is_per_app_key_so_one_account_at_its_limit_never_slows_another(sim_clock):
    now = [0.0]
    with several(sim_clock, rate_limit=1.0, monotonic=lambda: now[0]) as sim:
        main_token = token(sim, SIM_APP_KEY, SIM_APP_SECRET)
        pension_token = token(sim, PENSION_KEY, PENSION_SECRET)
        first = balance(sim, main_token, SIM_APP_KEY, SIM_APP_SECRET, "50000000", "01").json()
        second = balance(sim, main_token, SIM_APP_KEY, SIM_APP_SECRET, "50000000", "01").json()
        other = balance(sim, pension_token, PENSION_KEY, PENSION_SECRET, "50000001", "22").json()
        assert (first["rt_cd"], second["msg_cd"], other["rt_cd"]) == ("0", "EGW00201", "0")
        assert sim.limiter.refused_by == {SIM_APP_KEY: 1}


def test_the_irp_account_of_a_sim_of_several_refuses_orders_and_the_others_take_them(house_sim, tmp_path):
    irp = client_for(house_sim, tmp_path / "irp", account="irp")
    with pytest.raises(KisError) as refused:
        irp.order("148070", OrderSide.BUY, 1, OrderType.MARKET)
    assert refused.value.msg_cd == "OPSQ0002"
    client_for(house_sim, tmp_path / "main").order("005930", OrderSide.BUY, 1, OrderType.MARKET)
    assert house_sim.desk("irp").exchange.orders == [] and len(house_sim.desk("main").exchange.orders) == 1


def test_a_deposit_names_its_account(house_sim):
    assert house_sim.deposit(1_000_000, "pension") == 31_000_000
    reply = requests.post(house_sim.url + "/sim/deposit", json={"amount": 5, "account": "50000002-29"}, timeout=5)
    assert reply.json()["cash"] == 10_000_005
    with pytest.raises(KeyError):
        house_sim.deposit(5, "isa")


def test_the_state_file_keeps_every_account_across_a_restart(sim_clock, tmp_path):
    state = tmp_path / "sim-state.json"
    with several(sim_clock, state_path=state) as sim:
        client_for(sim, tmp_path / "p", account="pension").order("069500", OrderSide.BUY, 7, OrderType.MARKET)
    with several(sim_clock, state_path=state) as again:
        assert again.desk("pension").exchange.holding_qty("069500") == 7
        assert again.desk("main").exchange.holding_qty("069500") == 0


def test_the_health_answer_lists_every_account_and_a_client_of_any_of_them_uses_the_running_sim(house_sim, tmp_path):
    listed = requests.get(house_sim.url + "/sim/health", timeout=5).json()["accounts"]
    assert [a["account"] for a in listed] == ["50000000-01", "50000001-22", "50000002-29"]
    config = sim_config(house_sim, tmp_path / "pension", account="pension")
    assert find_or_start(config, port=house_sim.port) == house_sim.url


def test_one_account_per_key_the_sim_refuses_two_accounts_with_one_key(sim_clock):
    twice = (ACCOUNTS[0], SimAccountSpec("50000001-22", SIM_APP_KEY, SIM_APP_SECRET, label="pension"))
    with pytest.raises(ValueError, match="served twice"):
        SimServer(0, clock=sim_clock, accounts=twice)


def open_stream(sim, tmp_path, account):
    config = sim_config(sim, tmp_path / account, account=account)
    got = []
    stream = NoticeStream(sim.ws_url, ep.NOTICE_TR_IDS[config.env], sim.hts_id, config.account,
                          ApprovalKeys(config).key, on_message=lambda news: None,
                          backoff=Backoff(base=0.05, cap=0.2, floor=0.05))
    stream.add_listener(got.append)
    return stream.start(), got


def wait_for(condition, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_each_account_has_its_own_notice_session_and_hears_only_its_own_orders(tmp_path):
    with several() as sim:  # the real clock: the websocket's matching runs on it
        main, main_got = open_stream(sim, tmp_path, "main")
        pension, pension_got = open_stream(sim, tmp_path, "pension")
        try:
            assert wait_for(lambda: main.state is StreamState.LIVE and pension.state is StreamState.LIVE)
            ack = client_for(sim, tmp_path / "pc", account="pension").order("069500", OrderSide.BUY, 3,
                                                                            OrderType.MARKET)
            assert wait_for(lambda: len(pension_got) >= 2)
            assert {n.order_no for n in pension_got} == {ack.order_no}
            assert {n.account for n in pension_got} == {"5000000122"}
            # the other session got the same records under the one HTS ID and kept none (ACNT_NO tells)
            assert wait_for(lambda: main.reader.skipped.get("other account", 0) >= 2)
            assert main_got == []
        finally:
            main.stop()
            pension.stop()


def test_kisbot_sim_reads_the_bots_account_settings_with_each_labels_own_keys(tmp_path):
    environ = {"KIS_ACCOUNTS": "main,pension,irp", "KIS_PENSION_ACCOUNT": "50000001-22",
               "KIS_IRP_ACCOUNT": "50000002-29", "KIS_IRP_APP_KEY": "PSirpOWNkey" + "1" * 25,
               "KIS_IRP_APP_SECRET": "irpsecret" + "2" * 171}
    specs = sim_accounts(Source(environ=environ, dotenv_path=tmp_path / "none.env", use_keyring=False))
    assert [(s.label, s.number) for s in specs] == [("main", "50000000-01"), ("pension", "50000001-22"),
                                                    ("irp", "50000002-29")]
    assert specs[0].app_key == SIM_APP_KEY and specs[1].app_key == PENSION_KEY
    assert specs[2].app_key == environ["KIS_IRP_APP_KEY"]
    out = io.StringIO()
    _accounts_banner(out, specs)
    text = out.getvalue()
    assert "pension    50000001-22  pension" in text and "irp        50000002-29  irp" in text
    assert environ["KIS_IRP_APP_KEY"] not in text and environ["KIS_IRP_APP_SECRET"] not in text


def test_kisbot_sim_takes_the_accounts_as_a_flag_and_keeps_one_account_without_either(tmp_path):
    source = Source(environ={}, dotenv_path=tmp_path / "none.env", use_keyring=False)
    assert sim_accounts(source) == ()
    specs = sim_accounts(source, "main,isa=50000003-01")
    assert [(s.label, s.number) for s in specs] == [("main", "50000000-01"), ("isa", "50000003-01")]
    with pytest.raises(ConfigError, match="KIS_ISA_ACCOUNT"):
        sim_accounts(source, "main,isa")


def test_kisbot_sim_serves_the_accounts_it_was_given(tmp_path, monkeypatch):
    import argparse

    from kis.sim import cli

    started = {}

    def serve_briefly(self):  # as if Ctrl-C came at once
        started["sim"] = self
        raise KeyboardInterrupt

    monkeypatch.setattr(SimServer, "serve_forever", serve_briefly)
    monkeypatch.setenv("KIS_ACCOUNTS", "main,pension")
    monkeypatch.setenv("KIS_PENSION_ACCOUNT", "50000001-22")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert cli.main(argparse.Namespace(port=0, state=None, rate_limit=1.0, always_open=True, deposit=None,
                                       dividend=None, usd_cash=None, market="listed", no_book=False,
                                       accounts=None, synthetic=0), out=out) == 0
    sim = started["sim"]
    assert [str(d.account) for d in sim.desks.values()] == ["50000000-01", "50000001-22"]
    assert sim.desk("pension").app_key == PENSION_KEY
    assert "2 on this one exchange" in out.getvalue()
