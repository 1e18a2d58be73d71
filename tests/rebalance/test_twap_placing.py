"""The never-past-target rule where orders are sent (rebalance/twap/placing.py `Placer.send`)."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from rebalance.journal import Journal
from rebalance.lifecycle import OrderKind, OrderState
from rebalance.slicing import slice_plan
from rebalance.testing import FakeClock
from rebalance.twap import PastTarget, TwapExecutor
from rebalance.twap.scheduling import Worker
from rebalance.window import TwapSettings, Window
from tests.rebalance.twap_fakes import T0, FakeBroker, line, make_plan

SETTINGS = TwapSettings(calendar="always", poll_seconds=5, catch_up_seconds=60, call_rate=10, settle_seconds=60,
                        max_slices=4)
SELL = "000010"
PLAN = make_plan(line(SELL, 10_000, 50, 40), cash=0, plan_id="guard")  # sell 10 shares


@pytest.fixture
def placing(tmp_path):
    clock = FakeClock(T0)
    broker = FakeBroker(clock, prices={SELL: 10_000}, holdings={SELL: 50}, fill="rest")
    journal = Journal(tmp_path / "journal.sqlite3")
    window = Window(T0, T0 + timedelta(hours=1))
    journal.create_run("guard-run", "50000000-01", PLAN, window, slice_plan(PLAN.lines, window, SETTINGS, 10),
                       SETTINGS.order_type, T0, SETTINGS.price_guard)
    executor = TwapExecutor(broker, journal, SETTINGS, lambda event: None, clock, account="50000000-01")
    worker = Worker(executor, "guard-run", False, threading.Event())
    yield worker.placing, broker, journal
    journal.close()


def test_an_order_past_the_target_counting_filled_open_and_unanswered_shares_is_never_sent(placing):
    placer, broker, journal = placing
    stock = placer.run.stock(SELL)
    placer.send(stock, 6, 9_900, OrderKind.SLICE)  # 6 rest at the exchange
    broker._fill(broker.orders[0], 4)  # 4 of them fill: 4 filled + 2 open
    placer.reading.poll()
    broker.lose_answer = lambda order: True
    placer.send(stock, 3, 9_900, OrderKind.SLICE)  # reaches KIS, its answer is lost: 3 unresolved
    broker.lose_answer = None
    assert [o.state for o in journal.orders("guard-run")] == [OrderState.OPEN, OrderState.UNRESOLVED]

    with pytest.raises(PastTarget):
        placer.send(stock, 2, 9_900, OrderKind.RETRY)  # 4 + 2 + 3 + 2 = 11 > 10
    assert len(broker.orders) == 2 and len(journal.orders("guard-run")) == 2  # neither sent nor journaled

    placer.send(stock, 1, 9_900, OrderKind.RETRY)  # 4 + 2 + 3 + 1 = 10: up to the target is allowed
    assert len(broker.orders) == 3
    assert sum(o.filled + o.remaining for o in broker.orders) == 10


def test_a_us_order_past_the_target_is_refused_at_the_same_place_and_never_sent(tmp_path):
    from tests.rebalance.test_twap_invariant_us import MixedBroker, us

    clock = FakeClock(T0)
    broker = MixedBroker(FakeBroker(clock, prices={"KO": 7_000}, holdings={"KO": 40}, fill="rest"))
    plan = make_plan(us("KO", 7_000, 40, 30), plan_id="guard-us")  # sell 10 US shares
    journal = Journal(tmp_path / "journal.sqlite3")
    window = Window(T0, T0 + timedelta(hours=1))
    journal.create_run("guard-us", "50000000-01", plan, window, slice_plan(plan.lines, window, SETTINGS, 10),
                       SETTINGS.order_type, T0, SETTINGS.price_guard)
    executor = TwapExecutor(broker, journal, SETTINGS, lambda event: None, clock, account="50000000-01")
    placer = Worker(executor, "guard-us", False, threading.Event()).placing
    stock = placer.run.stock("KO")
    broker.lose_answer = lambda order: True
    placer.send(stock, 7, 6_930, OrderKind.SLICE)  # reaches KIS, its answer is lost: 7 unresolved
    broker.lose_answer = None
    with pytest.raises(PastTarget):
        placer.send(stock, 4, 6_930, OrderKind.RETRY)  # 7 + 4 > 10
    assert len(broker.orders) == 1 and [o.market for o in journal.orders("guard-us")] == ["NASD"]
    placer.send(stock, 3, 6_930, OrderKind.RETRY)
    assert sum(o.filled + o.remaining for o in broker.orders) == 10
    journal.close()
