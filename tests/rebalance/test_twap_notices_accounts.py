"""A notice for another account arriving during a run changes nothing in it (issue 21).

One paper exchange serves two accounts under one HTS ID: its websocket sends every account's notices to every
session, each record naming its account in ACNT_NO, as KIS keys notices by HTS ID. Each account's orders are
numbered from 1, so account B's notices carry the very order numbers of account A's run, with other quantities;
applied to A, they would overfill its orders. The notice stream keeps its own account's; A's run ends exactly at
its target and tells each share once.
"""
from __future__ import annotations

import time
from collections import Counter

import pytest

from kis import endpoints as ep
from kis.auth import ApprovalKeys
from kis.config import SIM_APP_KEY, SIM_APP_SECRET, sim_credentials
from kis.notices import Backoff, NoticeStream, StreamState
from kis.sim import ManualClock, SimServer
from kis.sim.clients import client_for, sim_config
from kis.sim.desks import SimAccountSpec
from rebalance.events import Filled, Finished
from rebalance.journal import Journal
from rebalance.twap import TwapExecutor
from rebalance.window import Window
from tests.conftest import SIM_START
from tests.rebalance.test_twap_e2e import SETTINGS, WINDOW, assert_targets_without_doubles, sim_plan
from tests.rebalance.test_twap_notices_e2e import NoticeTime
from tests.rebalance.twap_fakes import Recorder

OTHER = "50000001-01"


@pytest.fixture
def shared():
    accounts = (SimAccountSpec("50000000-01", SIM_APP_KEY, SIM_APP_SECRET, label="main"),
                SimAccountSpec(OTHER, *sim_credentials("other"), label="other", cash=900_000_000))
    server = SimServer(0, rate_limit=500.0, seed=7, clock=ManualClock(SIM_START), always_open=True,
                       accounts=accounts).start()
    try:
        yield server
    finally:
        server.stop()


def live_stream(sim, data_dir, account):
    config = sim_config(sim, data_dir, account=account)
    stream = NoticeStream(sim.ws_url, ep.NOTICE_TR_IDS[config.env], sim.hts_id, config.account,
                          ApprovalKeys(config).key, backoff=Backoff(base=0.05, cap=0.2, floor=0.05)).start()
    end = time.monotonic() + 5
    while stream.state is not StreamState.LIVE and time.monotonic() < end:
        time.sleep(0.01)
    assert stream.state is StreamState.LIVE
    return stream


def test_another_accounts_notices_with_the_same_order_numbers_change_nothing_in_a_run(shared, tmp_path):
    main, other = shared.desk("main"), shared.desk("other")
    mirrored = []

    def mirror(kind, order, qty, price):  # each order of A's run brings an order of B with its very number
        if kind == "accepted":
            mirrored.append(other.exchange.place(order.code, "02", "01", 2 * order.qty + 1, 0, "VTTC0012U"))

    main.exchange.listeners.append(mirror)
    stream = live_stream(shared, tmp_path / "main", "main")
    heard = []  # every notice the stream hands its listeners: what the run may apply
    stream.add_listener(heard.append)
    try:
        client = client_for(shared, tmp_path / "main", sleep=lambda seconds: None)
        plan = sim_plan(shared, cash=2_000_000)
        rec = Recorder()
        executor = TwapExecutor(client, Journal(tmp_path / "journal.sqlite3"), SETTINGS, rec,
                                NoticeTime(shared.clock), notices=stream)
        now = shared.clock.now()
        executor.start(plan, Window(now, now + WINDOW))
        assert executor.wait(60)
    finally:
        stream.stop()

    assert mirrored and {o.order_no for o in mirrored} <= {o.order_no for o in other.exchange.orders}
    assert {o.order_no for o in mirrored} & {o.order_no for o in main.exchange.orders}  # the same numbers
    assert_targets_without_doubles(shared, plan)
    told = Counter()
    for event in rec.of(Filled):
        told[event.code] += event.qty
    assert told == Counter({ln.code: abs(ln.order_qty) for ln in plan.lines})
    assert rec.of(Finished) and all(r.difference == 0 for r in rec.of(Finished)[0].results)
    assert stream.reader.skipped.get("other account", 0) > 0  # B's notices reached A's session and were kept out
    assert heard and {n.account for n in heard} == {"5000000001"}
    assert executor.notice_stats.fills > 0  # A's own notices did the work
