"""The money invariant of a run across KRX and the US, in two windows, under random interleavings.

The same state machine as `test_twap_invariant`, on a mixed plan: KRX legs in one window, US legs (cents,
limit orders only, New York days) in a later one, both on the fake exchange's one book through the client's
US calls (`MixedBroker`). Lost answers, late listings, fills racing cancels, crashes and restarts apply to
both markets; after each leg's catch-up every share it still misses is owed. `TwapInvariantWithUsNotices` adds
the run's notice stream: US fill notices told at the fill (before the answer is journaled), late, twice, lost or
naming a KRX order's number, reconnects, a stream that stops carrying US notices, and restarts.
"""
from __future__ import annotations

import tempfile
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from kis import Correction, Notice, NoticeKind
from kis.krx import KST
from kis.markets import USD
from kis.markets.us import NEW_YORK
from kis.models import OrderType, UsBuyingPower, UsOrderAck, UsOrderStatus
from rebalance.journal import Journal
from rebalance.model import PlanLine
from rebalance.testing import FakeClock
from rebalance.twap import TwapExecutor
from rebalance.twap.scheduling import Worker
from rebalance.twap.legs import Legs, slice_legs
from rebalance.window import Window
from tests.rebalance.test_twap_invariant import SETTINGS, TwapInvariant
from tests.rebalance.twap_fakes import T0, FakeBroker, line, make_plan

SELL, BUY, US_SELL, US_BUY = "000010", "000020", "KO", "AAPL"
RATE = Decimal("1380.50")
US_OPENS = timedelta(seconds=90)  # the US window opens after the KRX one (time passes up to 90 s a step)


def us(code: str, cents: int, current: int, target: int) -> PlanLine:
    return PlanLine(code, code, USD.major(cents), current, target, 0.0, 0.0, market="NASD", currency="USD", rate=RATE)


PLAN = make_plan(line(SELL, 10_000, 50, 20), line(BUY, 5_000, 0, 30), us(US_SELL, 7_000, 40, 10),
                 us(US_BUY, 23_300, 0, 12), cash=10_000_000, plan_id="inv-us")
GOAL = {ln.code: abs(ln.order_qty) for ln in PLAN.lines}
US_CODES = {US_SELL, US_BUY}


class MixedBroker:
    """The fake exchange with a US side on its one book: US tickers trade in cents through the us_* calls, their
    rows listed by inquire-ccnl in New York time; the KRX calls see KRX codes only."""

    def __init__(self, broker: FakeBroker):
        object.__setattr__(self, "broker", broker)

    def __getattr__(self, name):
        return getattr(self.broker, name)

    def __setattr__(self, name, value):  # the machine's hooks and modes are the fake exchange's
        setattr(self.broker, name, value)

    def orders_today(self, code=None, *, wanted=None):
        return [r for r in self.broker.orders_today(code, wanted=wanted) if r.code not in US_CODES]

    def overseas_price(self, symbol, *, name=True):
        return SimpleNamespace(price=USD.major(self.broker.price(symbol.split(":")[-1]).price))

    def us_psamount(self, symbol, price):
        code = symbol.split(":")[-1]
        power = self.broker.buying_power(code, USD.minor(price), OrderType.LIMIT)
        qty = max(0, power.max_amount) // USD.minor(price)
        return UsBuyingPower(code, "NASD", price, power.max_amount, qty, qty, 0, RATE)

    def us_order(self, symbol, side, qty, price):
        code = symbol.split(":")[-1]
        ack = self.broker.order(code, side, qty, OrderType.LIMIT, USD.minor(price))
        return UsOrderAck(ack.order_no, ack.org_no, code, "NASD", side, qty, price, ack.time)

    def us_cancel(self, order_no, symbol="", qty=0):
        self.broker.cancel(order_no, "")

    def us_orders_today(self):
        rows = []
        day = self.broker.clock.now().astimezone(KST).date()
        for r in self.broker.orders_today():
            if r.code not in US_CODES:
                continue
            at = datetime.strptime(r.time, "%H%M%S").replace(year=day.year, month=day.month, day=day.day, tzinfo=KST)
            ny = at.astimezone(NEW_YORK)
            rows.append(UsOrderStatus(
                r.order_no, r.org_no, r.orig_order_no, r.code, "NASD", r.name, r.side,
                "cancel" if r.orig_order_no else "new", r.qty, USD.major(r.price), r.filled_qty,
                0 if r.orig_order_no else r.remaining_qty, USD.major(r.avg_fill_price), r.filled_amount,
                ny.strftime("%Y%m%d"), ny.strftime("%H%M%S")))
        return rows

    def us_balance(self):
        return SimpleNamespace(holdings=[SimpleNamespace(symbol=c, qty=q) for c, q in self.broker.holdings.items()
                                         if c in US_CODES])


class TwapInvariantAcrossMarkets(TwapInvariant):
    @initialize()
    def setup(self):
        self.dir = tempfile.TemporaryDirectory()
        self.clock = FakeClock(T0)
        self.broker = MixedBroker(FakeBroker(
            self.clock, prices={SELL: 10_000, BUY: 5_000, US_SELL: 7_000, US_BUY: 23_300},
            holdings={SELL: 50, US_SELL: 40}, cash=10_000_000, fill="rest"))
        self.lag = 0.0
        self.lose_next = self.lose_next_cancel = self.crash_next = False
        self.broker.lose_answer = self._lose
        self.broker.lose_cancel_answer = self._lose_cancel
        self.broker.crash_after_send = self._crash
        self.broker.show_late = lambda order: self.lag
        self.path = Path(self.dir.name) / "journal.sqlite3"
        self.journal = Journal(self.path)
        windows = {"KRX": Window(T0, T0 + timedelta(hours=2)),
                   "US": Window(T0 + US_OPENS, T0 + timedelta(hours=2))}
        schedule, kept = slice_legs(PLAN, windows, SETTINGS, SETTINGS.call_rate)
        self.run_id = "inv-us-run"
        self.journal.create_run(self.run_id, "50000000-01", PLAN, Window(T0, T0 + timedelta(hours=2)), schedule,
                                SETTINGS.order_type, T0, SETTINGS.price_guard, kept)
        self.worker = self._worker(resumed=False)
        self.alive = True
        self.ended = False

    # the US steps ------------------------------------------------------------------------------------
    @precondition(lambda self: self.alive and not self.ended)
    @rule(code=st.sampled_from([US_SELL, US_BUY]))
    def fire_next_us_slice(self, code):
        pending = [s for s in self.journal.slices(self.run_id) if s.code == code and not s.fired]
        if pending:
            self._do(self.worker.fire_slice, pending[0].seq, code)

    @precondition(lambda self: self.alive and not self.ended)
    @rule(key=st.sampled_from(["KRX", "US"]))
    def catch_up(self, key):
        self._do(self.worker.catch_up, key)

    @rule(code=st.sampled_from([US_SELL, US_BUY]), move=st.sampled_from([-0.03, -0.005, 0.005, 0.03]))
    def the_us_price_moves(self, code, move):
        self.broker.prices[code] = max(100, int(self.broker.prices[code] * (1 + move)))

    # the invariant ----------------------------------------------------------------------------------
    @invariant()
    def never_past_the_target(self):
        if not hasattr(self, "broker"):
            return
        for code, goal in GOAL.items():
            at_exchange = sum(o.filled + o.remaining for o in self.broker.orders if o.code == code)
            assert at_exchange <= goal, f"{code}: {at_exchange} shares filled or open at the exchange, goal {goal}"
            counted = sum(o.committed for o in self.journal.orders(self.run_id) if o.code == code)
            assert counted <= goal, f"{code}: the run counts {counted} shares, goal {goal}"

    @invariant()
    def us_orders_are_journaled_with_their_market_and_whole_cents(self):
        if not hasattr(self, "broker"):
            return
        for o in self.journal.orders(self.run_id):
            assert o.market == ("NASD" if o.code in US_CODES else "KRX")
            if o.code in US_CODES:
                assert o.order_type is OrderType.LIMIT and o.price > 0
                assert o.sent_at >= T0 + US_OPENS, "a US order went out before its window"

    @invariant()
    def after_the_catch_up_every_missing_share_is_owed(self):
        if not hasattr(self, "broker") or self.ended:
            return
        done = {w.leg for w in self.journal.windows(self.run_id) if w.caught_up}
        legs = Legs(None)
        orders = self.journal.orders(self.run_id)
        for stock in self.journal.stocks(self.run_id):
            if stock.halted or legs.of(PLAN_MARKETS[stock.code]).key not in done:
                continue
            missing = stock.goal - sum(o.committed for o in orders if o.code == stock.code)
            assert stock.owed >= missing, f"{stock.code}: {missing} shares missing, only {stock.owed} owed"


PLAN_MARKETS = {ln.code: ln.market for ln in PLAN.lines}

TwapInvariantAcrossMarkets.TestCase.settings = settings(max_examples=50, stateful_step_count=40, deadline=None,
                                                        suppress_health_check=[HealthCheck.too_slow])
test_filled_open_and_unresolved_never_pass_the_target_across_markets_in_any_interleaving = \
    TwapInvariantAcrossMarkets.TestCase


# ---- with US fill notices (H0GSCNI0/9) arriving early, late, repeated, lost, and across restarts -------------

class NoticeFeedStub:
    """A notice stream the machine drives: listeners are called at once, in the caller's thread."""

    def __init__(self):
        self.healthy, self.generation, self.us_live, self.listeners = True, 1, True, []

    def add_listener(self, fn):
        self.listeners.append(fn)

    def remove_listener(self, fn):
        self.listeners.remove(fn)

    def emit(self, notice):
        for fn in list(self.listeners):
            fn(notice)


def us_notice(order, kind, qty: int, cents: int, number: str | None = None, at: str = "000000"):
    return Notice(kind=kind, account="5000000001", order_no=number or order.order_no, orig_order_no="",
                  code=order.code if order.code in US_CODES else US_BUY, side=order.side,
                  correction=Correction.NEW, order_type="00", qty=qty, price=USD.major(cents),
                  order_qty=order.qty, time=at, market="US")


class TwapInvariantWithUsNotices(TwapInvariantAcrossMarkets):
    """The mixed machine with US notices on the run's stream: told at the fill (before the order's answer is
    journaled, even for a lost answer), queued and told late, told twice, lost, or naming a KRX order's number;
    the stream reconnects or goes down; restarts take the stream again. Polls stay the truth."""

    @initialize()
    def setup(self):
        self.feed = NoticeFeedStub()
        self.at_once = True
        self.queued: list = []  # US fill notices not delivered yet
        self.last = None
        self.fills_seen = 0
        TwapInvariantAcrossMarkets.setup(self)
        real_fill = self.broker.broker._fill

        def fill(order, qty):  # every fill of a US order makes a notice, told now or queued
            before = order.filled
            real_fill(order, qty)
            got = order.filled - before
            if got > 0 and order.code in US_CODES:
                self.fills_seen += 1
                notice = us_notice(order, NoticeKind.FILLED, got, self.broker.prices[order.code],
                                   at=f"{self.fills_seen:06d}")
                if self.at_once:
                    self._tell(notice)
                else:
                    self.queued.append(notice)

        self.broker.broker._fill = fill

    def _worker(self, *, resumed: bool):
        old = getattr(self, "worker", None)
        if old is not None and old.run.notes is not None:
            old.run.notes.close()  # the dead process's consumer is gone with it
        executor = TwapExecutor(self.broker, self.journal, SETTINGS, lambda event: None, self.clock,
                                account="50000000-01", notices=self.feed)
        return Worker(executor, self.run_id, resumed, threading.Event())

    def _tell(self, notice):
        self.last = notice
        self.feed.emit(notice)

    # the stream's steps --------------------------------------------------------------------------------
    @rule(at_once=st.booleans())
    def us_notices_come_at_the_fill_or_later(self, at_once):
        self.at_once = at_once

    @rule(index=st.integers(0, 20))
    def a_queued_us_notice_is_told_late(self, index):
        if self.queued:
            self._tell(self.queued.pop(index % len(self.queued)))

    @rule(index=st.integers(0, 20))
    def a_queued_us_notice_is_lost(self, index):
        if self.queued:
            self.queued.pop(index % len(self.queued))

    @rule()
    def the_last_us_notice_comes_again(self):
        if self.last is not None:
            self.feed.emit(self.last)

    @rule()
    def us_acceptances_come(self):
        for order in self.broker.orders:
            if order.code in US_CODES:
                self.feed.emit(us_notice(order, NoticeKind.ACCEPTED, order.qty, order.price))

    @rule(index=st.integers(0, 20), qty=st.integers(1, 30))
    def a_us_notice_names_a_krx_orders_number(self, index, qty):
        krx = [o for o in self.broker.orders if o.code not in US_CODES]
        if krx:
            order = krx[index % len(krx)]
            self._tell(us_notice(order, NoticeKind.FILLED, qty, 23_300, at=f"9{index:05d}"))

    @rule(index=st.integers(0, 20))
    def a_us_refusal_notice_comes(self, index):
        us_orders = [o for o in self.broker.orders if o.code in US_CODES]
        if us_orders:
            order = us_orders[index % len(us_orders)]
            self.feed.emit(us_notice(order, NoticeKind.REFUSED, order.qty, order.price))

    @rule()
    def the_stream_reconnects(self):
        self.feed.generation += 1

    @rule(healthy=st.booleans(), us_live=st.booleans())
    def the_stream_goes_down_or_up(self, healthy, us_live):
        self.feed.healthy, self.feed.us_live = healthy, us_live

    @precondition(lambda self: self.alive and not self.ended)
    @rule()
    def the_run_takes_its_notices(self):
        self._do(self.worker.reading.take_notices)

    # what notices may never do -------------------------------------------------------------------------
    @invariant()
    def no_order_counts_more_fills_than_the_exchange_made(self):
        if not hasattr(self, "broker"):
            return
        at_exchange = {o.order_no.lstrip("0"): o for o in self.broker.orders}
        for o in self.journal.orders(self.run_id):
            if o.order_no:
                made = at_exchange[o.order_no.lstrip("0")]
                assert o.code == made.code, f"order {o.order_no}: journaled as {o.code}, at the exchange {made.code}"
                assert o.filled_qty <= made.filled, f"{o.code}: {o.filled_qty} counted filled, {made.filled} filled"
                assert o.filled_amount <= made.amount, f"{o.code}: {o.filled_amount} counted, {made.amount} paid"


TwapInvariantWithUsNotices.TestCase.settings = settings(max_examples=40, stateful_step_count=40, deadline=None,
                                                        suppress_health_check=[HealthCheck.too_slow])
test_us_notices_early_late_repeated_or_lost_never_take_a_stock_past_its_target = TwapInvariantWithUsNotices.TestCase
