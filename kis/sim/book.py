"""The paper exchange's order book: a crowd's ten levels a side around the price walk, on the tick grid,
its depth and its trades, against which the account's own orders fill at several prices, wait in a queue
and fill in parts.

The crowd is a pure function of (seed, code, price, time): its best bid and ask sit `spread` ticks apart
around the walk's unrounded value (one tick for a liquid stock, 2-5 for a thin one, fixed per stock); the
shares at a price are drawn afresh every `refresh_seconds` and grow away from the touch. Depth the account's
own orders took comes back with the time constant `refill_seconds`. The crowd trades as a Poisson process
(`trades_per_second`, half buys, half sells, sizes exponential around `trade_won`), drawn per second of the
sim clock, so a seed and a sequence of clock readings always give the same fills. Own orders:

- on arrival, the marketable part fills against the crowd's opposite side level by level at the crowd's
  prices (a large order walks the book); the rest rests at its limit, behind the crowd's shares at that
  price when it joined (its queue place), or first when it improves the crowd's best;
- resting, it fills at its own limit when the crowd's opposite side comes to it (the market trades through
  its price), or by the crowd's trades that reach its level once the shares ahead of it have traded
  (its queue place comes); trades hit only the best level, so fills come in parts.

Queue places are not saved with the sim's state: after a restart a resting order queues afresh.
Market (01) orders sweep to the day's limit, best-limit (03) takes the opposite best and rests there,
top-of-book (04) joins the own side's best, as KRX prices them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterator

from kis.sim.market import Market, _mix
from kis.ticks import add_ticks, round_to_tick

BUY, SELL = "02", "01"  # sll_buy_dvsn_cd, as kis.sim.exchange
LIMIT, MARKET, BEST_LIMIT, TOP_OF_BOOK = "00", "01", "03", "04"
LEVELS = 10  # levels a side that KIS shows (askp1..10, bidp1..10)
TRADE_BUCKET = 1.0  # seconds: crowd trades are drawn per second of the sim clock
MAX_CATCH_UP = 3600  # seconds of crowd trades replayed at most after a long gap (a restart)
MAX_SWEEP_LEVELS = 400  # a market order walks at most this many prices (the band ends sooner)

# The book's settings: "off" (orders fill at the walk's price, no queue: the sim before the book),
# "listed" (each stock as stocks.json marks it), "liquid" or "thin" (every stock so).
BOOK_MODES = ("off", "listed", "liquid", "thin")


@dataclass(frozen=True)
class Liquidity:
    """How one class of stock trades: its spread, the crowd's depth and the crowd's trades."""

    name: str
    spread_ticks: tuple[int, int]  # lowest and highest spread in ticks; each stock draws one in between
    level_won: int  # the crowd's mean depth at the best price, in won
    depth_growth: float  # each level further from the touch holds this fraction more
    trades_per_second: float  # the crowd's trades, buys and sells together (a Poisson rate)
    trade_won: int  # the mean crowd trade, in won (exponentially distributed)
    refill_seconds: float  # depth taken by the account's orders comes back with this time constant
    refresh_seconds: float  # the crowd's shares at a price are redrawn this often


# A large cap on KRX: one tick of spread, ~40 million won at the best price and ~0.5 billion over ten levels
# a side; the crowd trades twice a second, ~1 million won a trade. A resting best bid waits behind ~40 M won
# of sell flow at ~1 M won/s: a minute or so, sooner when the price comes down to it.
LIQUID = Liquidity("liquid", (1, 1), 40_000_000, 0.15, 2.0, 1_000_000, 20.0, 30.0)
# A thin stock: 2-5 ticks of spread, ~0.7 million won at a level (a few million over the top levels); a
# trade every 20 s of ~150 thousand won. A resting best bid waits minutes, often more.
THIN = Liquidity("thin", (2, 5), 700_000, 0.15, 0.05, 150_000, 120.0, 120.0)
CLASSES = {"liquid": LIQUID, "thin": THIN}


@dataclass
class _Place:
    """An own order's place in the book: its effective limit, shares ahead of it, when it joined."""

    code: str
    limit: int
    ahead: int
    joined: datetime


@dataclass(frozen=True)
class Snapshot:
    """Ten levels a side as KIS shows them: (price, shares) best first, (0, 0) where there is no level."""

    code: str
    asks: tuple[tuple[int, int], ...]
    bids: tuple[tuple[int, int], ...]
    at: datetime

    @property
    def best_ask(self) -> int:
        return self.asks[0][0]

    @property
    def best_bid(self) -> int:
        return self.bids[0][0]

    @property
    def total_ask(self) -> int:
        return sum(q for _, q in self.asks)

    @property
    def total_bid(self) -> int:
        return sum(q for _, q in self.bids)


Take = Callable[[object, int, int], int]  # (order, shares, price) -> shares the exchange executed


def _unit(seed: int, key: str, n: int) -> float:
    """A uniform draw in [0, 1) for (seed, key, n)."""
    return (_mix(seed, key, n) >> 11) / float(1 << 53)


def _poisson(rate: float, u: float) -> int:
    """The Poisson(rate) count whose CDF first reaches `u` (inverse transform; rates here are small)."""
    k, p = 0, math.exp(-rate)
    cdf = p
    while u > cdf and k < 1000:
        k += 1
        p *= rate / k
        cdf += p
    return k


class Book:
    """The crowd's book per stock and the account's orders' places in it; the exchange calls it under its lock."""

    def __init__(self, market: Market, *, seed: int = 7, mode: str = "listed",
                 listed: dict[str, str] | None = None, clock: Callable[[], datetime] | None = None):
        if mode not in BOOK_MODES:
            raise ValueError(f"book mode {mode!r} is not one of {', '.join(BOOK_MODES)}")
        self.market = market
        self.seed = seed
        self.mode = mode
        self.listed = dict(listed or {})  # code -> "liquid" | "thin" (stocks.json's `liquidity`)
        self.clock = clock or market.clock
        self._places: dict[str, _Place] = {}
        self._taken: dict[tuple[str, str, int], tuple[float, datetime]] = {}
        self._seen: dict[str, datetime] = {}

    @property
    def matching(self) -> bool:
        """True when own orders meet this book; False ("off"): they fill at the walk's price."""
        return self.mode != "off"

    def liquidity(self, code: str) -> Liquidity:
        if self.mode in CLASSES:
            return CLASSES[self.mode]
        return CLASSES.get(self.listed.get(code, "liquid"), LIQUID)

    def spread_ticks(self, code: str) -> int:
        """The stock's spread in ticks: one for a liquid stock, a fixed draw in 2-5 for a thin one."""
        low, high = self.liquidity(code).spread_ticks
        return low + _mix(self.seed, f"spread:{code}", 0) % (high - low + 1)

    # the crowd ------------------------------------------------------------------------------------
    def _touch(self, code: str) -> tuple[int, int, int, int, object]:
        """(crowd best bid, crowd best ask, lower limit, upper limit, grid) now."""
        fair = self.market.fair_price(code)
        quote = self.market.quote(code)
        grid = quote.grid
        s = self.spread_ticks(code)
        if s % 2:
            bid = add_ticks(round_to_tick(max(1, int(fair)), "down", grid), -(s - 1) // 2, grid)
        else:
            bid = add_ticks(round_to_tick(max(1, int(round(fair))), "nearest", grid), -s // 2, grid)
        ask = add_ticks(bid, s, grid)
        return bid, ask, quote.lower, quote.upper, grid

    def _depth(self, code: str, side: str, price: int, k: int, now: datetime) -> int:
        """The crowd's shares at `price` on `side` (`k` levels from the touch, 1 the best), before own takings."""
        liq = self.liquidity(code)
        bucket = int(now.timestamp() // liq.refresh_seconds)
        u = _unit(self.seed, f"depth:{code}:{side}:{price}", bucket)
        won = liq.level_won * (1 + liq.depth_growth * (k - 1)) * (0.5 + u)
        return max(1, int(won // price))

    def _left(self, code: str, side: str, price: int, k: int, now: datetime) -> int:
        depth = self._depth(code, side, price, k, now)
        taken = self._taken.get((code, side, price))
        if taken is None:
            return depth
        qty, at = taken
        remaining = qty * math.exp(-max(0.0, (now - at).total_seconds()) / self.liquidity(code).refill_seconds)
        if remaining < 0.5:
            del self._taken[(code, side, price)]
            return depth
        return max(0, depth - int(math.ceil(remaining)))

    def _took(self, code: str, side: str, price: int, qty: int, now: datetime) -> None:
        """Own orders took `qty` of the crowd's shares at a price: they come back over `refill_seconds`."""
        if qty <= 0:
            return
        old = self._taken.get((code, side, price))
        carried = 0.0
        if old is not None:
            carried = old[0] * math.exp(-max(0.0, (now - old[1]).total_seconds()) /
                                        self.liquidity(code).refill_seconds)
        self._taken[(code, side, price)] = (carried + qty, now)

    def crowd(self, code: str, side: str, now: datetime, *, levels: int = LEVELS,
              until: int | None = None) -> Iterator[tuple[int, int]]:
        """The crowd's (price, shares left) on `side` ("01" asks, "02" bids), best first, inside the day's band.

        Levels own orders emptied are skipped; `until` stops past that price instead of after `levels` levels.
        """
        bid, ask, lower, upper, grid = self._touch(code)
        price = ask if side == SELL else bid
        step = 1 if side == SELL else -1
        shown = 0
        for k in range(1, MAX_SWEEP_LEVELS + 1):
            if not lower <= price <= upper:
                return
            if until is not None and (price > until if side == SELL else price < until):
                return
            left = self._left(code, side, price, k, now)
            if left > 0:
                yield price, left
                shown += 1
                if until is None and shown >= levels:
                    return
            if side == BUY and price <= 1:
                return
            price = add_ticks(price, step, grid)

    def _crowd_best(self, code: str, side: str, now: datetime) -> int | None:
        return next((p for p, _ in self.crowd(code, side, now, levels=1)), None)

    # own orders -----------------------------------------------------------------------------------
    def _limit(self, order, now: datetime) -> int:
        """The price an order rests at: its limit; the day's limit for a market order; KRX's rule for 03/04."""
        code, buy = order.code, order.side == BUY
        if order.order_type == LIMIT:
            return order.price
        bid, ask, lower, upper, _ = self._touch(code)
        if order.order_type == MARKET:
            return upper if buy else lower
        opposite = self._crowd_best(code, SELL if buy else BUY, now)
        own = self._crowd_best(code, BUY if buy else SELL, now)
        if order.order_type == BEST_LIMIT:  # 최유리지정가: the opposite side's best
            pick = opposite if opposite is not None else own
        else:  # 최우선지정가: the own side's best
            pick = own if own is not None else opposite
        return pick if pick is not None else (ask if buy else bid)

    @staticmethod
    def _crosses(price: int, limit: int, buy: bool) -> bool:
        return price <= limit if buy else price >= limit

    def arrive(self, order, take: Take, resting: list | None = None) -> None:
        """A new order meets the book: it walks the crowd's opposite side up to its limit, filling at each
        level's price; what is left joins the queue at its limit (behind the shares there, own earlier ones
        included)."""
        now = self.clock()
        buy = order.side == BUY
        limit = self._limit(order, now)
        opposite = SELL if buy else BUY
        self._sweep(order, take, limit, opposite, now, at_own_price=False)
        ahead = 0
        own_best = self._crowd_best(order.code, order.side, now)
        if own_best is not None and (limit <= own_best if buy else limit >= own_best):
            k = self._distance(order.code, order.side, own_best, limit)
            ahead = self._left(order.code, order.side, limit, k, now)
        for other in resting or ():
            place = self._places.get(other.order_no)
            if other is not order and place is not None and other.side == order.side and place.limit == limit:
                ahead += other.remaining
        if not any(p.code == order.code for p in self._places.values()):
            self._seen[order.code] = now  # the crowd's trades count for this stock from now
        self._places[order.order_no] = _Place(order.code, limit, ahead, now)

    def _distance(self, code: str, side: str, best: int, price: int) -> int:
        """Levels from the touch (1 = the best) of `price` on `side`."""
        grid = self.market.quote(code).grid
        k, p = 1, best
        step = -1 if side == BUY else 1
        while p != price and k < MAX_SWEEP_LEVELS:
            p = add_ticks(p, step, grid)
            k += 1
        return k

    def _sweep(self, order, take: Take, limit: int, opposite: str, now: datetime, *, at_own_price: bool) -> None:
        buy = order.side == BUY
        for price, left in self.crowd(order.code, opposite, now, until=limit):
            if order.remaining <= 0 or not self._crosses(price, limit, buy):
                return
            want = min(order.remaining, left)
            got = take(order, want, limit if at_own_price else price)
            self._took(order.code, opposite, price, got, now)
            if got < want:
                return  # cash or shares ran out

    def advance(self, code: str, orders: list, take: Take) -> None:
        """Time passed: the open orders of `code` fill where the crowd's side crossed them and by the crowd's
        trades that reach them, each at its own limit."""
        now = self.clock()
        live = {o.order_no for o in orders}
        for order_no in [n for n, p in self._places.items() if n not in live]:
            del self._places[order_no]
        orders = sorted(orders, key=lambda o: (o.accepted_at, o.order_no))
        for order in orders:
            if order.order_no not in self._places and order.remaining > 0:
                self.arrive(order, take, orders)  # after a restart: it queues afresh
        resting = [o for o in orders if o.remaining > 0 and o.order_no in self._places]
        for order in resting:  # the crowd's opposite side came to the limit: it trades through it, at the limit
            place = self._places[order.order_no]  # (a market order's rest has no price of its own: the crowd's)
            self._sweep(order, take, place.limit, SELL if order.side == BUY else BUY, now,
                        at_own_price=order.order_type != MARKET)
        before: dict[tuple[str, int], int] = {}  # (side, limit) -> own shares resting there earlier
        for order in resting:  # the crowd's own-side best fell behind the limit: only own earlier orders
            place = self._places[order.order_no]  # at that price are ahead any more
            best = self._crowd_best(code, order.side, now)
            if best is None or (place.limit > best if order.side == BUY else place.limit < best):
                place.ahead = before.get((order.side, place.limit), 0)
            before[(order.side, place.limit)] = before.get((order.side, place.limit), 0) + order.remaining
        since = self._seen.get(code)
        self._seen[code] = now
        resting = [o for o in resting if o.remaining > 0]
        if since is None or not resting:
            return
        crowd_best = {side: self._crowd_best(code, side, now) for side in (BUY, SELL)}
        for at, aggressor, qty in self.trades(code, since, now):
            side = BUY if aggressor == SELL else SELL  # a sell trade hits bids, a buy trade lifts asks
            hit = [o for o in resting if o.side == side and o.remaining > 0
                   and self._places[o.order_no].joined < at]
            if not hit:
                continue
            buy = side == BUY
            best = (max if buy else min)(self._places[o.order_no].limit for o in hit)
            theirs = crowd_best[side]
            if theirs is not None and (best < theirs if buy else best > theirs):
                continue  # the trade meets the crowd's better price first
            for order in (o for o in hit if self._places[o.order_no].limit == best):
                place = self._places[order.order_no]
                if place.ahead >= qty:
                    place.ahead -= qty
                    continue
                fill = min(qty - place.ahead, order.remaining)
                place.ahead = 0
                take(order, fill, place.limit)

    def trades(self, code: str, since: datetime, until: datetime) -> Iterator[tuple[datetime, str, int]]:
        """The crowd's trades in (since, until]: (when, aggressor side "01"/"02", shares), in time order."""
        liq = self.liquidity(code)
        start, end = since.timestamp(), until.timestamp()
        start = max(start, end - MAX_CATCH_UP)
        if end <= start:
            return
        price = max(1, self.market.quote(code).price)
        mean = liq.trade_won / price
        rate = liq.trades_per_second * TRADE_BUCKET
        key = f"trades:{code}"
        for bucket in range(int(start // TRADE_BUCKET), int(end // TRADE_BUCKET) + 1):
            n = _poisson(rate, _unit(self.seed, key, 4 * bucket))
            arrivals = []
            for i in range(n):
                u = _unit(self.seed, f"{key}:{bucket}", 3 * i)
                t = (bucket + u) * TRADE_BUCKET
                if not start < t <= end:
                    continue
                aggressor = BUY if _mix(self.seed, f"{key}:{bucket}", 3 * i + 1) & 1 else SELL
                size = max(1, int(round(-math.log(1.0 - _unit(self.seed, f"{key}:{bucket}", 3 * i + 2)) * mean)))
                arrivals.append((t, aggressor, size))
            for t, aggressor, size in sorted(arrivals):
                yield datetime.fromtimestamp(t, until.tzinfo), aggressor, size

    # what KIS shows ---------------------------------------------------------------------------------
    def snapshot(self, code: str, orders: list = ()) -> Snapshot:
        """Ten levels a side, the crowd's shares and the account's resting orders together, best first."""
        now = self.clock()
        own: dict[str, dict[int, int]] = {BUY: {}, SELL: {}}
        for o in orders:
            place = self._places.get(o.order_no)
            if o.code == code and o.remaining > 0 and place is not None:
                own[o.side][place.limit] = own[o.side].get(place.limit, 0) + o.remaining
        best_own_bid = max(own[BUY], default=None)
        best_own_ask = min(own[SELL], default=None)
        sides = {}
        for side, better in ((SELL, lambda p: best_own_bid is not None and p <= best_own_bid),
                             (BUY, lambda p: best_own_ask is not None and p >= best_own_ask)):
            levels = dict(own[side])
            for price, left in self.crowd(code, side, now, levels=LEVELS):
                if not better(price):  # never a crossed book: own orders there trade first
                    levels[price] = levels.get(price, 0) + left
            ordered = sorted(levels.items(), reverse=side == BUY)[:LEVELS]
            sides[side] = tuple(ordered) + ((0, 0),) * (LEVELS - len(ordered))
        return Snapshot(code, sides[SELL], sides[BUY], now)
