"""Guard-priced orders from the notice session's trade prices: inquire-price only when no fresh one is there."""
from __future__ import annotations

from kis.models import OrderSide
from kis.notices import Trade
from rebalance.testing import FakeClock
from rebalance.events import Filled
from rebalance.journal import Journal
from rebalance.twap import TwapExecutor
from rebalance.window import Window
from tests.rebalance.test_twap_notices import (
    GOALS, PLAN, SETTINGS, WINDOW, FakeFeed, NoticingBroker, assert_at_target_nothing_doubled, broker_for,
)
from tests.rebalance.twap_fakes import T0, FakeBroker, Recorder


class PricedFeed(FakeFeed):
    """A notice feed that also streams trade prices: each price is `age` seconds old when asked."""

    def __init__(self, broker_prices: dict[str, int], *, age: float = 0.0, prev_close: dict[str, int] | None = None):
        super().__init__()
        self.prices, self.age, self.prev_close = broker_prices, age, prev_close or {}
        self.watched: list[list[str]] = []
        self.asked: list[tuple[str, float]] = []

    def watch(self, codes):
        self.watched.append(list(codes))
        return list(codes)

    def price(self, code, max_age):
        self.asked.append((code, max_age))
        if code not in self.prices or self.age > max_age:
            return None
        return Trade(code, self.prices[code], self.prev_close.get(code, self.prices[code]), "100000")


def priced_run(tmp_path, *, feed_factory=None, **kw):
    tmp_path.mkdir(parents=True, exist_ok=True)
    clock = FakeClock(T0)
    broker: FakeBroker = broker_for(clock, None, **kw)
    feed = feed_factory(broker) if feed_factory else PricedFeed(broker.prices)
    broker.feed = feed
    rec = Recorder()
    executor = TwapExecutor(broker, Journal(tmp_path / "journal.sqlite3"), SETTINGS, rec, clock, notices=feed)
    executor.start(PLAN, Window(T0, T0 + WINDOW))
    assert executor.wait(20), "the worker did not end"
    return broker, feed, rec, executor


def quotes_asked(broker) -> int:
    return sum(1 for what, _ in broker.calls if what == "price")


def test_fresh_streamed_prices_price_every_order_without_inquire_price(tmp_path):
    broker, feed, rec, executor = priced_run(tmp_path)
    assert_at_target_nothing_doubled(broker, rec)
    assert quotes_asked(broker) == 0
    assert executor.quote_sources["streamed"] >= len(broker.orders) and executor.quote_sources["asked"] == 0
    for o in broker.orders:  # the guard rule is the same: at most 1 % past the latest price, on the grid
        latest = broker.prices[o.code]
        assert o.price <= latest * 1.01 if o.side is OrderSide.BUY else o.price >= latest * 0.99
    assert set(feed.watched[0]) == set(GOALS)
    assert feed.watched[-1] == []  # released when the run ends


def test_a_stale_streamed_price_asks_inquire_price(tmp_path):
    broker, feed, rec, executor = priced_run(tmp_path, feed_factory=lambda b: PricedFeed(b.prices, age=6.0))
    assert_at_target_nothing_doubled(broker, rec)
    assert quotes_asked(broker) >= len(broker.orders)
    assert executor.quote_sources["streamed"] == 0
    assert all(max_age <= 5.0 for _, max_age in feed.asked)


def test_without_a_price_stream_every_order_asks_inquire_price(tmp_path):
    broker, feed, rec, executor = priced_run(tmp_path, feed_factory=lambda b: FakeFeed())
    assert_at_target_nothing_doubled(broker, rec)
    assert quotes_asked(broker) >= len(broker.orders)


def test_a_streamed_price_near_the_days_limit_asks_inquire_price_for_the_exact_band(tmp_path):
    # 000020 at 10,000 is 29.9 % over a 7,700 close: a 1 % guard would pass the estimated upper limit
    near = lambda b: PricedFeed(b.prices, prev_close={"000020": 7_700})  # noqa: E731
    broker, feed, rec, executor = priced_run(tmp_path, feed_factory=near)
    assert_at_target_nothing_doubled(broker, rec)
    asked = {when for what, when in broker.calls if what == "price"}
    assert asked and len(asked) >= len(broker.sent("000020"))
    assert all(o.price <= broker.upper(o.code) for o in broker.orders)


def test_a_fill_told_during_a_slice_reaches_the_chat_before_the_slices_next_kis_call(tmp_path):
    """A fill notice arriving while the worker waits on KIS is applied right after that call."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    clock = FakeClock(T0)
    feed = FakeFeed()
    log: list[tuple] = []

    class MidCallFills(NoticingBroker):
        """Resting orders fill while a later buy's buying power is being asked (as KIS would, any time)."""

        def _call(self, what):
            super()._call(what)
            log.append(("call", what))

        def buying_power(self, code, price=0, order_type=None):
            answer = super().buying_power(code, price, order_type) if order_type else super().buying_power(code, price)
            for o in self.orders:
                if o.remaining:
                    self._fill(o, o.remaining)
                    log.append(("filled", o.code))
            self._flush()
            return answer

    broker = MidCallFills(clock, feed, "on", fill="rest", cash=10_000_000, prices={"000010": 10_000, "000020": 10_000,
                          "000030": 5_000}, holdings={"000010": 100})
    rec = Recorder(lambda e: log.append(("told", e.code)) if isinstance(e, Filled) else None)
    executor = TwapExecutor(broker, Journal(tmp_path / "journal.sqlite3"), SETTINGS, rec, clock, notices=feed)
    executor.start(PLAN, Window(T0, T0 + WINDOW))
    assert executor.wait(20)
    fills = [i for i, item in enumerate(log) if item[0] == "filled"]
    assert fills
    for i in fills:
        told = next(j for j in range(i, len(log)) if log[j] == ("told", log[i][1]))
        assert not any(item[0] == "call" for item in log[i + 1:told]), log[i:told + 1]
