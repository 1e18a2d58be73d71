"""TwapExecutor with KIS's order and fill notices: on, dropped, repeated, reconnecting; polling stays the truth."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest

from kis.models import OrderSide, OrderType
from kis.notices import Correction, Notice, NoticeKind
from rebalance.testing import FakeClock
from rebalance.events import Filled, Finished, OrderSent
from rebalance.journal import Journal, OrderRecord
from rebalance.lifecycle import OrderState
from rebalance.notices import fill_status, unsettled_match
from rebalance.twap import TwapExecutor
from rebalance.window import TwapSettings, Window
from tests.rebalance.twap_fakes import T0, BrokerOrder, FakeBroker, Recorder, line, make_plan

SETTINGS = TwapSettings(calendar="always", poll_seconds=5, catch_up_seconds=60, call_rate=10, settle_seconds=10)
WINDOW = timedelta(minutes=10)


class FakeFeed:
    """A notice stream the test drives: listeners are called at once, in the caller's thread."""

    def __init__(self):
        self.healthy = True
        self.generation = 1
        self.listeners = []

    def add_listener(self, fn):
        self.listeners.append(fn)

    def remove_listener(self, fn):
        self.listeners.remove(fn)

    def emit(self, notice: Notice) -> None:
        for fn in list(self.listeners):
            fn(notice)


class NoticingBroker(FakeBroker):
    """The in-memory broker that also sends an acceptance notice per order and a fill notice per fill.

    `mode`: "on", "drop" (no notice ever arrives), "repeat" (every notice twice), "flaky" (every
    third notice lost). With fill="rest", resting orders fill `rest_seconds` after they were placed,
    when the clock gets there (see MarketClock), whether or not anyone asks.
    """

    def __init__(self, clock, feed: FakeFeed, mode: str = "on", rest_seconds: float = 2.0, **kw):
        super().__init__(clock, **kw)
        self.feed, self.mode, self.rest_seconds = feed, mode, rest_seconds
        self.sent_notices = 0
        self.placed_at: dict[str, object] = {}
        self.fill_log: list[tuple[str, object]] = []  # (code, when) of every fill
        self._later: list[tuple] = []

    def order(self, code, side, qty, order_type=OrderType.LIMIT, price=0):
        before = len(self.orders)
        try:
            return super().order(code, side, qty, order_type, price)
        finally:
            for placed in self.orders[before:]:
                self.placed_at[placed.order_no] = self.clock.now()
                self._send(NoticeKind.ACCEPTED, placed, placed.qty, placed.price)
            self._flush()

    def _fill(self, order: BrokerOrder, qty: int) -> None:
        super()._fill(order, qty)
        if qty > 0:
            self.fill_log.append((order.code, self.clock.now()))
            self._later.append((NoticeKind.FILLED, order, qty, self.prices[order.code]))

    def _flush(self) -> None:
        later, self._later = self._later, []
        for item in later:
            self._send(*item)

    def orders_today(self, code=None, *, wanted=None):
        rows = super().orders_today(code, wanted=wanted)
        self._flush()  # fills that happened during the poll ("half" fills)
        return rows

    def next_fill_due(self):
        due = [self.placed_at[o.order_no] + timedelta(seconds=self.rest_seconds)
               for o in self.orders if o.remaining and o.order_no in self.placed_at]
        return min(due) if due and self.fill == "rest" else None

    def fill_due(self) -> None:
        now = self.clock.now()
        for o in self.orders:
            if o.remaining and o.order_no in self.placed_at and \
                    self.placed_at[o.order_no] + timedelta(seconds=self.rest_seconds) <= now:
                self._fill(o, o.remaining)
        self._flush()

    def _send(self, kind, order, qty, price) -> None:
        self.sent_notices += 1
        if self.mode == "drop" or (self.mode == "flaky" and self.sent_notices % 3 == 0):
            return
        notice = Notice(kind=kind, account="5000000001", order_no=order.order_no, orig_order_no="",
                        code=order.code, side=order.side, correction=Correction.NEW,
                        order_type=order.order_type.value, qty=qty, price=price, order_qty=order.qty,
                        time=self.clock.now().strftime("%H%M%S"), branch="06010")
        for _ in range(2 if self.mode == "repeat" else 1):
            self.feed.emit(notice)


class MarketClock(FakeClock):
    """Fake time in which resting orders fill when their time comes, during the executor's waits."""

    broker: NoticingBroker | None = None

    def wait(self, seconds: float, cancel: threading.Event) -> bool:
        if cancel.is_set():
            return True
        due = self.broker.next_fill_due() if self.broker is not None else None
        if due is not None and due <= self.now() + timedelta(seconds=seconds):
            super().wait(max(0.0, (due - self.now()).total_seconds()), cancel)
            self.broker.fill_due()
            return cancel.is_set()
        return super().wait(seconds, cancel)


def broker_for(clock, feed, mode="on", **kw):
    kw.setdefault("cash", 0)
    return NoticingBroker(clock, feed, mode, prices={"000010": 10_000, "000020": 10_000, "000030": 5_000},
                          holdings={"000010": 100}, **kw)


PLAN = make_plan(line("000010", 10_000, 100, 0), line("000020", 10_000, 0, 50), line("000030", 5_000, 0, 60))
GOALS = {"000010": 100, "000020": 50, "000030": 60}


def run(broker, feed, *, on=None):
    rec = Recorder(on)
    executor = TwapExecutor(broker, Journal(broker.clock_path), SETTINGS, rec, broker.clock, notices=feed)
    now = broker.clock.now()
    run_id = executor.start(PLAN, Window(now, now + WINDOW))
    assert executor.wait(20), "the worker did not end"
    return executor, rec, run_id


@pytest.fixture
def clock():
    return FakeClock(T0)


def make(clock, tmp_path, mode="on", **kw):
    tmp_path.mkdir(parents=True, exist_ok=True)
    feed = FakeFeed()
    broker = broker_for(clock, feed, mode, **kw)
    broker.clock_path = tmp_path / "journal.sqlite3"
    return broker, feed


def assert_at_target_nothing_doubled(broker, rec):
    sent = Counter()
    for o in broker.orders:  # filled or still working; a cancelled rest (re-pricing) is neither
        sent[o.code] += o.filled + o.remaining
    assert dict(sent) == GOALS  # the exchange got exactly the plan's shares: nothing lost, nothing doubled
    assert broker.holdings == {"000010": 0, "000020": 50, "000030": 60}
    told = Counter()
    for e in rec.of(Filled):
        told[e.code] += e.qty
    assert dict(told) == GOALS  # the chat was told every share once
    assert rec.of(Finished)


def polls(broker) -> int:
    return sum(1 for what, _ in broker.calls if what == "orders_today")


def test_with_notices_the_run_reaches_target_with_far_fewer_polls(clock, tmp_path):
    broker, feed = make(clock, tmp_path)
    run(broker, feed)
    quiet = FakeClock(T0)
    plain, _ = make(quiet, tmp_path / "plain")
    rec_plain = Recorder()
    executor = TwapExecutor(plain, Journal(plain.clock_path), SETTINGS, rec_plain, quiet)
    executor.start(PLAN, Window(T0, T0 + WINDOW))
    assert executor.wait(20)
    assert polls(broker) * 3 <= polls(plain)  # slow reconciliation pace while notices come
    assert polls(broker) >= 1  # fills told by notices are still confirmed by a poll


def fill_to_chat(broker, pushes) -> list[float]:
    """Seconds from each fill at the exchange to its Filled event, matched per stock in order."""
    fills: dict[str, list] = {}
    for code, at in broker.fill_log:
        fills.setdefault(code, []).append(at)
    return [(at - fills[e.code].pop(0)).total_seconds() for e, at in pushes]


def resting_run(tmp_path, mode, *, notices=True):
    clock = MarketClock(T0)
    broker, feed = make(clock, tmp_path, mode, fill="rest")
    clock.broker = broker
    pushes = []
    rec = Recorder(lambda e: pushes.append((e, clock.now())) if isinstance(e, Filled) else None)
    executor = TwapExecutor(broker, Journal(broker.clock_path), SETTINGS, rec, clock,
                            notices=feed if notices else None)
    executor.start(PLAN, Window(T0, T0 + WINDOW))
    assert executor.wait(20)
    return broker, rec, pushes


def test_with_notices_every_fill_reaches_the_chat_when_it_happens(tmp_path):
    broker, rec, pushes = resting_run(tmp_path / "on", "on")
    assert_at_target_nothing_doubled(broker, rec)
    assert max(fill_to_chat(broker, pushes)) < 1.0
    plain, _, plain_pushes = resting_run(tmp_path / "off", "on", notices=False)
    assert max(fill_to_chat(plain, plain_pushes)) >= 1.0  # polling alone learns fills later


def test_an_acceptance_notice_resolves_a_lost_answer_within_a_second(clock, tmp_path):
    lost = []
    broker, feed = make(clock, tmp_path, lose_answer=lambda o: not lost and not lost.append(o))
    sent_at = {}
    executor, rec, run_id = run(broker, feed, on=lambda e: sent_at.setdefault(e.order_no, clock.now())
                                if isinstance(e, OrderSent) else None)
    first = lost[0]
    assert (sent_at[first.order_no] - broker.placed_at[first.order_no]).total_seconds() < 1.0
    order = next(o for o in executor.journal.orders(run_id) if o.order_no == first.order_no)
    assert order.state in (OrderState.OPEN, OrderState.CLOSED)
    assert_at_target_nothing_doubled(broker, rec)


def test_notices_that_never_come_leave_polling_at_full_pace(clock, tmp_path):
    broker, feed = make(clock, tmp_path, mode="drop")
    executor, rec, _ = run(broker, feed)
    assert_at_target_nothing_doubled(broker, rec)
    plain_polls = WINDOW.total_seconds() / SETTINGS.poll_seconds
    assert polls(broker) >= plain_polls / 3  # not the slow pace: the stream never proved itself


def test_repeated_notices_count_once(clock, tmp_path):
    broker, feed = make(clock, tmp_path, mode="repeat", fill="half")
    overstated = []

    def on(event):  # the chat never hears of more shares than the exchange has filled
        if isinstance(event, Filled):
            done = sum(o.filled for o in broker.orders if o.code == event.code)
            if event.done_qty > done:
                overstated.append((event.code, event.done_qty, done))

    executor, rec, _ = run(broker, feed, on=on)
    assert_at_target_nothing_doubled(broker, rec)
    assert overstated == []


def test_lost_notices_are_made_good_by_polls(clock, tmp_path):
    broker, feed = make(clock, tmp_path, mode="flaky", fill="half")
    executor, rec, _ = run(broker, feed)
    assert_at_target_nothing_doubled(broker, rec)


def test_a_reconnect_sends_polling_back_to_full_pace(clock, tmp_path):
    broker, feed = make(clock, tmp_path, fill="rest")  # orders rest: a poll has something to learn
    calls_after = []

    def on(event):
        if isinstance(event, OrderSent) and not calls_after:
            feed.generation += 1  # the stream reconnected: notices may have been missed meanwhile
            calls_after.append(clock.now())

    executor, rec, _ = run(broker, feed, on=on)
    reconnect_at = calls_after[0]
    next_poll = min(at for what, at in broker.calls if what == "orders_today" and at > reconnect_at)
    assert (next_poll - reconnect_at).total_seconds() <= SETTINGS.poll_seconds + 1


def test_a_refusal_notice_frees_no_shares(clock, tmp_path):
    broker, feed = make(clock, tmp_path)

    def on(event):
        if isinstance(event, OrderSent) and event.code == "000010":
            feed.emit(Notice(NoticeKind.REFUSED, "5000000001", event.order_no, "", "000010", OrderSide.SELL,
                             Correction.NEW, "03", event.qty, 0, event.qty, "100000"))

    executor, rec, _ = run(broker, feed, on=on)
    assert_at_target_nothing_doubled(broker, rec)


# ---- the rules on their own ----------------------------------------------------------------------------

def record(**kw) -> OrderRecord:
    base = dict(id=1, run_id="r", code="000020", side=OrderSide.BUY, qty=10, order_type=OrderType.LIMIT,
                price=10_000, kind="slice", state=OrderState.OPEN, order_no="117", org_no="06010", sent_at=T0,
                filled_qty=0, filled_amount=0, remaining=None, msg_cd="", message="")
    base.update(kw)
    return OrderRecord(**base)


def test_a_fill_a_poll_already_counted_is_not_counted_again():
    polled = record(filled_qty=10, filled_amount=100_000, remaining=0, state=OrderState.CLOSED)
    assert fill_status(polled, 10, 100_000) is None


def test_a_fill_notice_raises_filled_and_lowers_remaining_never_the_commitment():
    seen = fill_status(record(remaining=10), 4, 40_000)
    assert (seen.filled_qty, seen.filled_amount, seen.remaining_qty, seen.closed) == (4, 40_000, 6, False)
    whole = fill_status(record(), 12, 120_000)  # never beyond the order
    assert (whole.filled_qty, whole.filled_amount, whole.remaining_qty, whole.closed) == (10, 100_000, 0, True)


def acceptance(**kw) -> Notice:
    base = dict(kind=NoticeKind.ACCEPTED, account="5000000001", order_no="0000000200", orig_order_no="",
                code="000020", side=OrderSide.BUY, correction=Correction.NEW, order_type="00", qty=10, price=10_000,
                order_qty=10, time=T0.strftime("%H%M%S"), branch="06010")
    base.update(kw)
    return Notice(**base)


def test_an_acceptance_settles_only_a_matching_unanswered_order():
    lost = record(state=OrderState.UNRESOLVED, order_no="")
    today = T0.date()
    order, seen = unsettled_match([lost], acceptance(), set(), today)
    assert order is lost and seen.order_no == "0000000200" and seen.qty == 10
    assert unsettled_match([lost], acceptance(qty=9, order_qty=9), set(), today) is None
    assert unsettled_match([lost], acceptance(side=OrderSide.SELL), set(), today) is None
    assert unsettled_match([lost], acceptance(), {"200"}, today) is None  # a number the journal knows
    assert unsettled_match([lost], acceptance(correction=Correction.CANCEL), set(), today) is None
    assert unsettled_match([record(order_no="")], acceptance(), set(), today) is None  # open: nothing to settle
    assert unsettled_match([record(state=OrderState.AMBIGUOUS, order_no="")], acceptance(), set(), today) is None
    early = (T0 - timedelta(minutes=5)).strftime("%H%M%S")
    assert unsettled_match([lost], acceptance(time=early), set(), today) is None  # before it was sent


def test_while_notices_come_buys_reuse_one_buying_power_answer_and_still_reach_target(clock, tmp_path):
    broker, feed = make(clock, tmp_path, cash=2_000_000)
    executor, rec, _ = run(broker, feed)
    assert_at_target_nothing_doubled(broker, rec)
    quiet = FakeClock(T0)
    plain, _ = make(quiet, tmp_path / "plain", cash=2_000_000)
    executor = TwapExecutor(plain, Journal(plain.clock_path), SETTINGS, Recorder(), quiet)
    executor.start(PLAN, Window(T0, T0 + WINDOW))
    assert executor.wait(20)
    checks = lambda b: sum(1 for what, _ in b.calls if what == "buying_power")  # noqa: E731
    assert checks(broker) < checks(plain)


def test_the_cash_left_only_shrinks_and_lapses_without_trust():
    from rebalance.notices import NoticeConsumer

    feed = FakeFeed()
    consumer = NoticeConsumer(feed, threading.Event())
    consumer.expect("1", T0)
    consumer.accepted("1")  # the stream proved itself
    consumer.cash_seen("005930", 1_000_000, T0)
    consumer.spend(300_000)
    assert consumer.cash_left("005930", T0 + timedelta(seconds=1)) == 700_000
    assert consumer.cash_left("005930", T0 + timedelta(minutes=5)) is None  # old: ask KIS again
    feed.generation += 1  # a reconnect: nothing told meanwhile can be relied on
    assert consumer.cash_left("005930", T0 + timedelta(seconds=2)) is None


def test_one_stocks_buying_power_never_costs_a_buy_of_another_and_every_buy_spends_from_all():
    from rebalance.notices import NoticeConsumer

    consumer = NoticeConsumer(FakeFeed(), threading.Event())
    consumer.expect("1", T0)
    consumer.accepted("1")
    consumer.cash_seen("005930", 1_000_000, T0)
    assert consumer.cash_left("000660", T0) is None  # its own answer is asked for
    consumer.cash_seen("000660", 400_000, T0)
    consumer.spend(300_000)  # a buy of either stock: the account's cash is less for both
    assert (consumer.cash_left("005930", T0), consumer.cash_left("000660", T0)) == (700_000, 100_000)
