"""US fill notices in a mixed run: applied to the US order of their number (cents, whole shares), never to a KRX
order sharing the number, under the KRX notices' rules (a notice never frees shares; polls stay the truth; a
refusal or cancel only asks for a poll), and polled at the slow pace while the stream carries them."""
from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from kis import Correction, Notice, NoticeKind
from kis.models import OrderSide, OrderType
from rebalance.journal import Journal, OrderKind, OrderState
from rebalance.testing import FakeClock
from rebalance.twap.legs import slice_legs
from rebalance.twap.reconciling import Reconciler
from rebalance.twap.run import Run
from rebalance.window import Window
from tests.rebalance.test_twap_invariant import SETTINGS
from tests.rebalance.test_twap_invariant_us import PLAN, US_BUY
from tests.rebalance.test_twap_invariant_us import BUY as KRX_BUY
from tests.rebalance.test_us_notice_routing import FakeFeed
from tests.rebalance.twap_fakes import T0, line, make_plan

NUMBER = "0000000200"  # KRX and US number their orders apart: one number, two orders


def notice(market: str = "US", kind: NoticeKind = NoticeKind.FILLED, **kw) -> Notice:
    us = market == "US"
    base = dict(kind=kind, account="5000000001", order_no=NUMBER, orig_order_no="",
                code=US_BUY if us else KRX_BUY, side=OrderSide.BUY, correction=Correction.NEW,
                order_type="00", qty=3, price=Decimal("233.12") if us else 5_000, order_qty=12 if us else 30,
                time="100001", market=market)
    base.update(kw)
    return Notice(**base)


@pytest.fixture
def world(tmp_path):
    clock = FakeClock(T0)
    journal = Journal(tmp_path / "journal.sqlite3")
    windows = {"KRX": Window(T0, T0 + timedelta(hours=2)), "US": Window(T0, T0 + timedelta(hours=2))}
    schedule, kept = slice_legs(PLAN, windows, SETTINGS, SETTINGS.call_rate)
    journal.create_run("r", "50000000-01", PLAN, Window(T0, T0 + timedelta(hours=2)), schedule, OrderType.LIMIT,
                       T0, SETTINGS.price_guard, kept)
    feed = FakeFeed()
    owner = SimpleNamespace(client=None, journal=journal, settings=SETTINGS, clock=clock, rate=10.0,
                            notices=feed, on_event=lambda event: None)
    run = Run(owner, "r", threading.Event(), threading.Event())
    yield SimpleNamespace(run=run, journal=journal, feed=feed, reading=Reconciler(run, 10.0), clock=clock)
    run.notes.close()
    journal.close()


def place(world, code: str, qty: int, price: int, market: str, order_no: str = NUMBER) -> int:
    order_id = world.journal.add_intent("r", code, OrderSide.BUY, qty, OrderType.LIMIT, price, OrderKind.SLICE,
                                        world.clock.now(), market)
    if order_no:
        world.journal.transition(order_id, OrderState.OPEN, order_no=order_no, org_no="01790")
    return order_id


def order(world, order_id: int):
    return next(o for o in world.journal.orders("r") if o.id == order_id)


def test_a_mixed_runs_notices_are_those_of_both_its_markets_and_a_krx_runs_only_krxs(world, tmp_path):
    assert world.run.notes.markets == {"KRX", "US"}
    journal = Journal(tmp_path / "krx.sqlite3")
    plan = make_plan(line(KRX_BUY, 5_000, 0, 30), cash=1_000_000)
    window = Window(T0, T0 + timedelta(hours=1))
    schedule, kept = slice_legs(plan, {"KRX": window}, SETTINGS, SETTINGS.call_rate)
    journal.create_run("k", "50000000-02", plan, window, schedule, OrderType.LIMIT, T0, 0.01, kept)
    owner = SimpleNamespace(client=None, journal=journal, settings=SETTINGS, clock=world.clock, rate=10.0,
                            notices=FakeFeed(), on_event=lambda event: None)
    assert Run(owner, "k", threading.Event(), threading.Event()).notes.markets == {"KRX"}
    journal.close()


def test_a_us_fill_notice_fills_the_us_order_of_its_number_in_cents_and_never_the_krx_order_sharing_it(world):
    krx = place(world, KRX_BUY, 30, 5_000, "KRX")
    us = place(world, US_BUY, 12, 23_350, "NASD")
    world.feed.emit(notice("US", qty=3, price=Decimal("233.12")))
    world.reading.take_notices()
    assert (order(world, us).filled_qty, order(world, us).filled_amount) == (3, 69_936)  # 3 x $233.12 in cents
    assert order(world, us).state is OrderState.OPEN and order(world, us).remaining == 9
    assert (order(world, krx).filled_qty, order(world, krx).filled_amount) == (0, 0)
    world.feed.emit(notice("KRX", qty=5, price=5_000))
    world.reading.take_notices()
    assert (order(world, krx).filled_qty, order(world, krx).filled_amount) == (5, 25_000)
    assert order(world, us).filled_qty == 3


def test_a_us_notice_with_only_a_krx_order_of_its_number_is_parked_until_the_us_order_is_known(world):
    krx = place(world, KRX_BUY, 30, 5_000, "KRX")
    world.feed.emit(notice("US", qty=2))
    world.reading.take_notices()
    assert order(world, krx).filled_qty == 0 and order(world, krx).state is OrderState.OPEN
    assert world.run.notes.parked
    us = place(world, US_BUY, 12, 23_350, "NASD")
    world.reading.take_notices()
    assert order(world, us).filled_qty == 2 and order(world, us).filled_amount == 46_624
    assert order(world, krx).filled_qty == 0 and not world.run.notes.parked


def test_a_krx_notice_with_only_a_us_order_of_its_number_never_touches_the_us_order(world):
    us = place(world, US_BUY, 12, 23_350, "NASD")
    world.feed.emit(notice("KRX", qty=5, price=5_000))
    world.reading.take_notices()
    assert order(world, us).filled_qty == 0 and order(world, us).filled_amount == 0


def test_a_us_notice_fill_asks_a_poll_of_the_us_orders_only_and_a_krx_one_of_krxs(world):
    notes = world.run.notes
    place(world, KRX_BUY, 30, 5_000, "KRX", order_no="0000000300")
    place(world, US_BUY, 12, 23_350, "NASD")
    world.feed.emit(notice("US", qty=3))
    world.reading.take_notices()
    assert notes.unconfirmed_in("US") and not notes.unconfirmed_in("KRX")
    world.feed.emit(notice("KRX", order_no="0000000300", qty=5, price=5_000))
    world.reading.take_notices()
    assert notes.unconfirmed_in("KRX")
    notes.poll_saw("0000000300", 5)
    assert notes.unconfirmed_in("US") and not notes.unconfirmed_in("KRX")
    notes.poll_saw(NUMBER, 3, "US")
    assert not notes.unconfirmed_in("US")


def test_repeated_us_fill_notices_count_once_and_never_past_the_orders_quantity(world):
    us = place(world, US_BUY, 12, 23_350, "NASD")
    fill = notice("US", qty=5)
    for _ in range(3):
        world.feed.emit(fill)
    world.reading.take_notices()
    assert order(world, us).filled_qty == 5
    world.feed.emit(notice("US", qty=20, time="100002"))  # more than the order: capped at its 12
    world.reading.take_notices()
    assert order(world, us).filled_qty == 12 and order(world, us).committed == 12


def test_a_us_refusal_notice_frees_no_shares_and_only_asks_for_a_poll(world):
    us = place(world, US_BUY, 12, 23_350, "NASD")
    notes = world.run.notes
    notes.expect(NUMBER, world.clock.now(), "US")
    world.feed.emit(notice("US", kind=NoticeKind.ACCEPTED, qty=12, price=Decimal("233.50")))
    world.reading.take_notices()
    assert notes.trusted(world.clock.now())
    world.feed.emit(notice("US", kind=NoticeKind.REFUSED, qty=12, time="100005"))
    world.reading.take_notices()
    assert order(world, us).state is OrderState.OPEN and order(world, us).committed == 12
    assert not notes.trusted(world.clock.now()) and notes.poll_due(world.clock.now())


@pytest.mark.parametrize("number", ["0000000207", NUMBER])
def test_a_us_cancel_notice_frees_no_shares_until_a_poll_shows_the_order_closed(world, number):
    us = place(world, US_BUY, 12, 23_350, "NASD")
    world.journal.cancel_accepted(us, owe_rest=True)  # re-pricing: KIS took the cancel of its rest
    world.feed.emit(notice("US", kind=NoticeKind.ACCEPTED, order_no=number, orig_order_no=NUMBER,
                           correction=Correction.CANCEL, qty=12, price=Decimal("0")))
    world.reading.take_notices()
    assert order(world, us).state is OrderState.OPEN and order(world, us).committed == 12
    assert order(world, us).filled_qty == 0
    assert world.reading.cancels_unconfirmed()  # polls keep their full pace until one shows it closed


def test_a_us_acceptance_trusts_the_stream_and_its_absence_polls_at_full_pace(world):
    notes = world.run.notes
    place(world, US_BUY, 12, 23_350, "NASD")
    notes.expect(NUMBER, world.clock.now(), "US")
    world.feed.emit(notice("US", kind=NoticeKind.ACCEPTED, qty=12))
    world.reading.take_notices()
    assert notes.trusted(world.clock.now()) and not notes.poll_due(world.clock.now())
    notes.expect("0000000201", world.clock.now(), "US")  # acked, its acceptance never comes
    world.clock.advance(5)
    assert not notes.trusted(world.clock.now())


def test_us_notices_are_not_counted_on_while_kis_does_not_carry_them_so_us_orders_poll_at_full_pace(world):
    notes = world.run.notes
    world.feed.us_live = False  # KIS refused H0GSCNI0/9 on this session; KRX notices carry on
    assert notes.serves("KRX") and not notes.serves("US")
    place(world, US_BUY, 12, 23_350, "NASD")
    assert world.reading.unnoticed_unsettled()
    world.feed.us_live = True
    assert notes.serves("US") and not world.reading.unnoticed_unsettled()


# ---- one dollar figure for the US buys ---------------------------------------------------------------------

def test_a_us_dollar_figure_serves_the_next_us_buys_only_shrinking_and_only_while_notices_are_trusted(world):
    notes = world.run.notes
    now = world.clock.now()
    notes.expect(NUMBER, now, "US")
    place(world, US_BUY, 12, 23_350, "NASD")
    world.feed.emit(notice("US", kind=NoticeKind.ACCEPTED, qty=12))
    world.reading.take_notices()
    assert notes.trusted(now)
    notes.shared_seen("US", 100_000, now)  # $1,000.00 orderable
    notes.spend_shared("US", 30_000)
    assert notes.shared_left("US", now) == 70_000
    notes.spend(5_000_000)  # a KRX buy's won are not the dollars
    assert notes.shared_left("US", now) == 70_000 and notes.cash_left(KRX_BUY, now) is None
    notes.spend_shared("US", 90_000)
    assert notes.shared_left("US", now) == 0  # never below nothing; a buy then asks KIS
    notes.shared_seen("US", 100_000, now)
    notes.forget_cash()  # a sell's proceeds came in (or KIS said short of cash): ask KIS again
    assert notes.shared_left("US", now) is None
    notes.shared_seen("US", 100_000, now)
    world.feed.generation += 1  # the stream reconnected: not trusted, KIS is asked
    assert notes.shared_left("US", now) is None


def test_a_us_buying_power_answer_is_one_figure_for_all_us_buys_only_without_integrated_margin():
    from kis.models import UsBuyingPower
    from rebalance.twap.legs import UsLeg, us_with_margin
    from kis.markets import market_named

    class Client:
        def __init__(self, integrated):
            self.integrated = integrated

        def us_psamount(self, symbol, price):
            return UsBuyingPower("AAPL", "NASD", price, 100_000, 4, self.integrated, 0, Decimal("1380.50"))

    leg = UsLeg(Client(0), market_named("NASD"))
    assert leg.power("AAPL", 23_300, OrderType.LIMIT, "NASD").shared
    assert UsLeg(Client(4), market_named("NASD")).power("AAPL", 23_300, OrderType.LIMIT, "NASD").shared  # = dollars'
    assert not UsLeg(Client(9), market_named("NASD")).power("AAPL", 23_300, OrderType.LIMIT, "NASD").shared
    assert us_with_margin(23_300) == 23_300 + 116 + 1  # 0.5 % room for KIS's 0.25 % commission
    assert leg.cost(23_300) == us_with_margin(23_300)


# ---- on the paper exchange's websocket (H0GSCNI9) ------------------------------------------------------------

def _stream(sim, tmp_path, *, us: bool):
    import time

    from kis import endpoints as ep
    from kis.auth import ApprovalKeys
    from kis.notices import Backoff, NoticeStream, StreamState
    from kis.sim.clients import sim_config

    config = sim_config(sim, tmp_path / "kisbot")
    stream = NoticeStream(sim.ws_url, ep.NOTICE_TR_IDS[config.env], sim.hts_id, config.account,
                          ApprovalKeys(config).key, backoff=Backoff(base=0.05, cap=0.2, floor=0.05),
                          us_tr_id=ep.US_NOTICE_TR_IDS[config.env] if us else "").start()
    end = time.monotonic() + 5
    while (stream.state is not StreamState.LIVE or (us and not stream.us_live)) and time.monotonic() < end:
        time.sleep(0.01)
    assert stream.state is StreamState.LIVE and stream.us_live is us
    return stream


def _mixed_run(sim, sim_client_factory, tmp_path, *, us: bool):
    from collections import Counter

    from rebalance.events import Filled, Finished
    from rebalance.twap import TwapExecutor
    from tests.rebalance.test_twap_e2e import SETTINGS as E2E, WINDOW
    from tests.rebalance.test_twap_notices_e2e import NoticeTime
    from tests.rebalance.test_twap_us import assert_us_on_target, mixed_plan
    from tests.rebalance.twap_fakes import Recorder

    stream = _stream(sim, tmp_path, us=us)
    try:
        client = sim_client_factory(sleep=lambda seconds: None)
        plan = mixed_plan(sim)
        rec = Recorder()
        executor = TwapExecutor(client, Journal(tmp_path / "journal.sqlite3"), E2E, rec, NoticeTime(sim.clock),
                                notices=stream)
        sim.calls.clear()
        now = sim.clock.now()
        executor.start(plan, Window(now, now + WINDOW))
        assert executor.wait(60)
    finally:
        stream.stop()
    assert rec.of(Finished) and all(r.difference == 0 for r in rec.of(Finished)[0].results)
    assert_us_on_target(sim, plan)
    told = Counter()
    for event in rec.of(Filled):
        told[event.code] += event.qty
    assert told == Counter({ln.code: abs(ln.order_qty) for ln in plan.lines})  # each share told once
    calls = Counter(c.path.rsplit("/", 1)[-1] for c in list(sim.calls) if "overseas" in c.path)
    return calls, executor


def test_with_us_notices_a_mixed_run_ends_at_target_each_us_share_told_once_and_never_asks_search_info(
        sim, sim_client_factory, tmp_path):
    calls, executor = _mixed_run(sim, sim_client_factory, tmp_path, us=True)
    assert calls["search-info"] == 0  # the plan names each ticker's exchange
    assert executor.notice_stats.fills > 0
    # US fills come by notice: polls of today's US orders only confirm them (fewer than the orders; without
    # US notices a run like this polls inquire-ccnl about twice per order)
    assert calls["inquire-ccnl"] < calls["order"]
    # one dollar figure serves the next US buys while notices are trusted (the plan buys two US stocks)
    assert calls["inquire-psamount"] <= 2 < calls["order"]


def test_a_mixed_run_whose_stream_carries_no_us_notices_still_ends_at_target_by_polls(
        sim, sim_client_factory, tmp_path):
    calls, _ = _mixed_run(sim, sim_client_factory, tmp_path, us=False)
    assert calls["inquire-ccnl"] >= 1 and calls["search-info"] == 0
