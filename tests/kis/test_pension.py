"""The IRP (퇴직연금) inquiries as KIS documents them (examples_llm/domestic_stock/pension_*): an IRP client reads its
balance, buying power and orders through them, on the simulator's IRP account."""
from __future__ import annotations

import pytest
import requests

from kis import endpoints as ep
from kis import pension
from kis.accounts import AccountKind
from kis.config import SIM_APP_KEY, SIM_APP_SECRET
from kis.models import OrderSide
from kis.sim.clients import client_for
from kis.sim.server import SimServer


@pytest.fixture
def irp_sim(sim_clock):
    server = SimServer(0, account="50000000-29", seed=7, clock=sim_clock, always_open=True, rate_limit=500.0,
                       page_rows=2).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def irp(irp_sim, tmp_path):
    client = client_for(irp_sim, tmp_path / "irp")
    assert client.config.kind is AccountKind.IRP
    return client


def test_an_irp_balance_reads_every_page_of_the_pension_balance_and_never_the_general_one(irp_sim, irp):
    got = irp.balance()
    ex = irp_sim.exchange
    assert len(ex.positions) > 2  # more than one page of two rows
    assert {h.code: h.qty for h in got.holdings} == {c: p.qty for c, p in ex.positions.items()}
    assert got.cash_d2 == ex.cash and got.total_value == got.stock_value + ex.cash
    assert got.pnl == sum(h.pnl for h in got.holdings)
    assert irp_sim.count(pension.BALANCE, "TTTC2208R") == (len(ex.positions) + 1) // 2
    assert irp_sim.count(ep.BALANCE) == 0


def test_an_irp_buying_power_asks_the_pension_inquiry(irp_sim, irp):
    power = irp.buying_power("148070", 0)
    assert irp_sim.count(pension.BUYABLE, "TTTC0503R") == 1 and irp_sim.count(ep.BUYABLE) == 0
    assert power.cash == irp_sim.exchange.cash
    assert 0 < power.max_qty and power.max_qty == power.margin_qty  # no 미수 in a pension account


def test_an_irp_accounts_orders_placed_in_the_kis_app_are_read_from_the_pension_order_list(irp_sim, irp):
    placed = irp_sim.exchange.place("148070", "02", "00", 3, 80_500, "app")  # as the user does in the KIS app
    (status,) = irp.orders_today()
    assert irp_sim.count(pension.ORDERS, "TTTC2201R") == 1 and irp_sim.count(ep.DAILY_ORDERS) == 0
    assert (status.order_no, status.code, status.side, status.qty) == (placed.order_no, "148070", OrderSide.BUY, 3)
    assert status.remaining_qty == 3 - status.filled_qty
    assert irp.orders_today("005930") == []


def test_the_pension_deposit_and_present_balance_answer_as_their_samples_read_them(irp_sim, irp):
    deposit = pension.deposit(irp)
    assert deposit.cash == irp_sim.exchange.ledger.cash_at_open and deposit.next_day == irp_sim.exchange.cash
    rows = pension.present_balance(irp)
    assert {r["pdno"] for r in rows} == set(irp_sim.exchange.positions)
    assert {"cblc_dvsn_name", "slpsb_qty", "cblc_weit", "evlu_pfls_rt"} <= set(rows[0])


def raw_get(sim, path, tr_id, params):
    body = {"grant_type": "client_credentials", "appkey": SIM_APP_KEY, "appsecret": SIM_APP_SECRET}
    bearer = requests.post(sim.url + ep.TOKEN, json=body, timeout=5).json()["access_token"]
    headers = {"authorization": f"Bearer {bearer}", "appkey": SIM_APP_KEY, "appsecret": SIM_APP_SECRET,
               "tr_id": tr_id, "custtype": "P"}
    return requests.get(sim.url + path, headers=headers, params=params, timeout=5).json()


def test_a_general_account_is_refused_the_pension_inquiries(sim, sim_client):
    reply = raw_get(sim, pension.DEPOSIT, "TTTC0506R", {"CANO": "50000000", "ACNT_PRDT_CD": "01",
                                                        "ACCA_DVSN_CD": "00"})
    assert (reply["rt_cd"], reply["msg_cd"]) == ("1", "OPSQ0013")
    sim_client.balance()
    assert sim.count(pension.BALANCE) == 0 and sim.count(ep.BALANCE) > 0


def test_a_missing_pension_field_is_refused_by_name(irp_sim):
    reply = raw_get(irp_sim, pension.BALANCE, "TTTC2208R", {"CANO": "50000000", "ACNT_PRDT_CD": "29",
                                                            "INQR_DVSN": "00", "CTX_AREA_FK100": "",
                                                            "CTX_AREA_NK100": ""})
    assert reply["rt_cd"] == "1" and "ACCA_DVSN_CD" in reply["msg1"]
