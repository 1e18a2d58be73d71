"""TwapExecutor with the real notice stream on the paper exchange's websocket, notices faulty or not.

The exchange's order log is the judge: the shares it accepted per stock must equal the plan's, and
the chat must have been told each filled share once, whether notices come, go missing, come twice,
or the connection drops.
"""
from __future__ import annotations

import time
from collections import Counter

import pytest

from kis import endpoints as ep
from kis.auth import ApprovalKeys
from kis.notices import Backoff, NoticeStream, StreamState
from kis.sim.clients import sim_config
from rebalance.events import Filled, Finished
from rebalance.journal import Journal
from rebalance.twap import TwapExecutor
from rebalance.window import Window
from tests.rebalance.test_twap_e2e import SETTINGS, WINDOW, SimTime, assert_targets_without_doubles, sim_plan
from tests.rebalance.twap_fakes import Recorder


class NoticeTime(SimTime):
    """The sim's manual time; each wait first gives the websocket a few real milliseconds to deliver."""

    def wait(self, seconds, cancel):
        if cancel.is_set() or cancel.wait(0.02):
            return True
        return super().wait(seconds, cancel)


@pytest.fixture
def stream(sim, tmp_path):
    config = sim_config(sim, tmp_path / "kisbot")
    s = NoticeStream(sim.ws_url, ep.NOTICE_TR_IDS[config.env], sim.hts_id, config.account,
                     ApprovalKeys(config).key, backoff=Backoff(base=0.05, cap=0.2, floor=0.05)).start()
    end = time.monotonic() + 5
    while s.state is not StreamState.LIVE and time.monotonic() < end:
        time.sleep(0.01)
    assert s.state is StreamState.LIVE
    yield s
    s.stop()


@pytest.mark.parametrize("fault", ["none", "skip", "repeat", "drop", "prices paused"])
def test_with_notices_on_dropped_or_repeated_the_run_ends_at_target_with_nothing_doubled(
        sim, sim_client_factory, stream, tmp_path, fault):
    if fault == "skip":
        sim.faults.ws_skip(4)
    elif fault == "repeat":
        sim.faults.ws_repeat(6)
    elif fault == "drop":
        sim.faults.ws_drop(1)
    elif fault == "prices paused":
        sim.faults.prices_paused = True
    client = sim_client_factory(sleep=lambda seconds: None)
    plan = sim_plan(sim, cash=2_000_000)
    if fault == "none":  # the stocks' trade prices are streaming before the first slice
        stream.watch([ln.code for ln in plan.lines])
        end = time.monotonic() + 5
        while not all(stream.price(ln.code, 5) for ln in plan.lines) and time.monotonic() < end:
            time.sleep(0.02)
    rec = Recorder()
    executor = TwapExecutor(client, Journal(tmp_path / "journal.sqlite3"), SETTINGS, rec, NoticeTime(sim.clock),
                            notices=stream)
    now = sim.clock.now()
    executor.start(plan, Window(now, now + WINDOW))
    assert executor.wait(60)

    assert_targets_without_doubles(sim, plan)
    told = Counter()
    for event in rec.of(Filled):
        told[event.code] += event.qty
    assert told == Counter({ln.code: abs(ln.order_qty) for ln in plan.lines})
    assert rec.of(Finished) and all(r.difference == 0 for r in rec.of(Finished)[0].results)
    assert stream.notices > 0
    if fault == "none":
        assert executor.notice_stats.fills > 0  # fills were journaled from notices, not only from polls
        assert executor.quote_sources["streamed"] > 0  # and orders were priced from the stream
    if fault == "prices paused":
        assert executor.quote_sources["streamed"] == 0 and executor.quote_sources["asked"] > 0
