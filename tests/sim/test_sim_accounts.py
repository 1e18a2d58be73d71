"""The paper exchange's accounts of each kind: an IRP account takes no orders; the pension ETFs are listed."""
from __future__ import annotations

import pytest

from kis.accounts import AccountKind, kind_of
from kis.errors import KisError
from kis.models import OrderSide, OrderType
from kis.sim.clients import client_for
from kis.sim.market import load_seed
from kis.sim.server import SimServer
from rebalance.accounts import PRODUCTS


@pytest.fixture
def irp_sim(sim_clock):
    server = SimServer(0, account="50000000-29", seed=7, clock=sim_clock, always_open=True).start()
    try:
        yield server
    finally:
        server.stop()


def test_an_irp_account_on_the_simulator_refuses_orders_with_opsq0002(irp_sim, tmp_path):
    client = client_for(irp_sim, tmp_path / "kisbot")
    assert kind_of(client.config.account) is AccountKind.IRP
    assert client.balance().cash_d2 > 0  # inquiries work
    with pytest.raises(KisError) as refused:
        client.order("005930", OrderSide.BUY, 1, OrderType.LIMIT, 90_000)
    assert refused.value.msg_cd == "OPSQ0002"
    assert irp_sim.exchange.orders == []


def test_the_simulator_lists_the_pension_etfs_with_the_kind_the_planner_gives_them():
    listed = {s["code"]: s for s in load_seed()["stocks"] if s.get("product")}
    assert set(listed) == {"069500", "360750", "148070", "132030", "122630", "252670"}
    assert {c: s["product"] for c, s in listed.items()} == {c: PRODUCTS[c].value for c in listed}
    assert all(s["kind"] == "etf" for s in listed.values())
