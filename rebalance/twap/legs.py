"""One leg per market a run trades: what differs between a KRX order and a US order, behind one object each.

The executor asks a run's stock for its leg (`Run.leg`) and the leg for everything market-shaped: the
latest price and the guard price on its grid, the cash a buy may spend, sending one order, cancelling one,
today's orders (as `kis.OrderStatus` rows in the leg's minor unit, so `rebalance.reconcile` reads both the
same way), its trading day and window, and the holdings at the end. Nothing in `rebalance/twap` branches on
a market's name.

Money at this seam is an int of the leg's currency's minor unit: won for KRX, cents for the US. A US limit
in whole cents is always on the US grid (two places at $1 and above, four below), so a buy rounds down and a
sell up to the cent and never passes the guard.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Callable, Collection, Protocol

from kis.krx import KST
from kis.markets import KRW, KRX, USD, Currency, Market, market_named
from kis.models import BuyingPower, OrderAck, OrderSide, OrderStatus, OrderType, Quote
from kis.ticks import STOCK, grid_for, round_to_tick
from rebalance.broker import Broker
from rebalance.journal import LegWindow
from rebalance.model import Plan
from rebalance.slicing import SliceSchedule, slice_plan
from rebalance.window import TwapSettings, Window, execution_window, session_window


@dataclass(frozen=True)
class LegQuote:
    """A price at a leg: `price` in the minor unit (won, cents); the day's band where the market has one."""

    code: str
    price: int
    upper_limit: int = 0
    lower_limit: int = 0
    tick: int = 0


@dataclass(frozen=True)
class Power:
    """What a buy may spend (minor units) and how many shares that pays for at the asked limit."""

    cash: int
    shares: int
    unit_price: int = 0
    shared: bool = False  # `cash` serves every buy of the leg, not only this stock's (US dollars alone)


class Leg(Protocol):
    """One market's side of a run."""

    key: str  # KRX, US: the journal's name of the leg (its window row)
    currency: Currency
    tz: tzinfo  # the day an order belongs to (KIS numbers and lists orders per this day)
    streamed: bool  # the price stream and the notices' cash estimate of `rebalance.notices` serve it (KRX's, in won)
    notices: str  # the `Notice.market` of its fill notices (KRX: H0STCNI0/9; US: H0GSCNI0/9)
    market_orders: bool  # the market takes market-type orders (KRX); else every order is a limit (US)
    books: bool  # KIS's asking-price inquiry gives its best bid and ask: passive slices may join them (KRX)
    given_window: bool  # the window a caller computes from TwapSettings (`execution_window`) is this leg's

    def quote(self, code: str, market: str = "") -> Quote | LegQuote: ...

    def guard_price(self, quote, side: OrderSide, guard: float) -> int: ...

    def power(self, code: str, price: int, order_type: OrderType, market: str = "") -> Power: ...

    def cost(self, price: int) -> int:
        """A limit buy's cost per share at `price` with room for the commission and rounding."""

    def order(self, code: str, market: str, side: OrderSide, qty: int, order_type: OrderType,
              price: int) -> OrderAck: ...

    def cancel(self, order_no: str, org_no: str, code: str) -> None: ...

    def orders_today(self, wanted: Collection[str] | None = None) -> list[OrderStatus]: ...

    def window(self, now: datetime, settings: TwapSettings, duration: timedelta | None) -> Window: ...

    def holdings(self) -> tuple[Callable[[str], int], int | None]:
        """Shares held per code now (one balance read) and, for KRX, the D+2 cash."""


class KrxLeg:
    """KRX orders through the client's domestic calls: int won, the KRX grid and band, KST days."""

    key = "KRX"
    currency = KRW
    tz = KST
    streamed = True
    notices = "KRX"
    market_orders = True
    books = True
    given_window = True  # TwapSettings' hours and calendar `krx` are KRX's

    def __init__(self, client: Broker):
        self.client = client

    def quote(self, code: str, market: str = "") -> Quote:
        return self.client.price(code)

    def guard_price(self, quote, side: OrderSide, guard: float) -> int:
        return krx_guard_price(quote, side, guard)

    def power(self, code: str, price: int, order_type: OrderType, market: str = "") -> Power:
        answer: BuyingPower = self.client.buying_power(code, price, order_type)
        limit = order_type is OrderType.LIMIT and price > 0
        return Power(cash_without_credit(answer), shares_without_credit(answer, price if limit else 0),
                     answer.unit_price)

    def cost(self, price: int) -> int:
        return with_margin(price)

    def order(self, code: str, market: str, side: OrderSide, qty: int, order_type: OrderType,
              price: int) -> OrderAck:
        return self.client.order(code, side, qty, order_type, price)

    def cancel(self, order_no: str, org_no: str, code: str) -> None:
        self.client.cancel(order_no, org_no)

    def orders_today(self, wanted: Collection[str] | None = None) -> list[OrderStatus]:
        return self.client.orders_today() if wanted is None else self.client.orders_today(wanted=wanted)

    def window(self, now: datetime, settings: TwapSettings, duration: timedelta | None) -> Window:
        return execution_window(now, settings, duration)

    def holdings(self) -> tuple[Callable[[str], int], int | None]:
        balance = self.client.balance()
        return balance.qty, balance.cash_d2


class UsLeg:
    """US orders (NASD, NYSE, AMEX) through the client's overseas calls: int cents, limit orders only
    (ORD_DVSN 00; KIS has no US market order), whole shares, the exchange per ticker, New York days."""

    key = "US"
    currency = USD
    streamed = False  # no US price stream nor cash estimate in cents: quotes and psamount are asked
    notices = "US"  # its fill notices come on the same session (H0GSCNI0/9), in Decimal dollars
    market_orders = False  # KIS has no US market order (and mock takes nothing but 00)
    books = False  # the US asking price is not wired: US slices are guard-priced (cross)
    given_window = False  # its own: the XNYS regular session (`session_window`)

    def __init__(self, client: Broker, market: Market):
        self.client = client
        self.tz = market.tz
        self.market = market

    def quote(self, code: str, market: str = "") -> LegQuote:
        # The plan's exchange rides with the ticker (NASD:AAPL): no lookup of which exchange lists it, and no
        # search-info for its name either (the plan has it).
        quote = self.client.overseas_price(_symbol(code, market), name=False)
        return LegQuote(code, USD.minor(quote.price))

    def guard_price(self, quote, side: OrderSide, guard: float) -> int:
        return us_guard_price(quote.price, side, guard)

    def power(self, code: str, price: int, order_type: OrderType, market: str = "") -> Power:
        # inquire-psamount at this limit: ovrs_max_ord_psbl_qty counts 통합증거금 where the account has it,
        # max_ord_psbl_qty the dollars alone; both include KIS's commission.
        answer = self.client.us_psamount(_symbol(code, market), USD.major(price))
        # Without 통합증거금 beyond the dollars (the integrated count no larger than the dollars'), the orderable
        # dollars are the account's, the same for every US buy: one answer serves the next buys, less what they spend.
        return Power(answer.orderable, answer.integrated_qty or answer.max_qty, price,
                     shared=answer.integrated_qty <= answer.max_qty)

    def cost(self, price: int) -> int:
        return us_with_margin(price)

    def order(self, code: str, market: str, side: OrderSide, qty: int, order_type: OrderType,
              price: int) -> OrderAck:
        ack = self.client.us_order(_symbol(code, market), side, qty, USD.major(price))
        return OrderAck(ack.order_no, ack.org_no, code, side, qty, OrderType.LIMIT, USD.minor(ack.price), ack.time)

    def cancel(self, order_no: str, org_no: str, code: str) -> None:
        self.client.us_cancel(order_no, code)

    def orders_today(self, wanted: Collection[str] | None = None) -> list[OrderStatus]:
        return [us_status(row) for row in self.client.us_orders_today()]

    def window(self, now: datetime, settings: TwapSettings, duration: timedelta | None) -> Window:
        return session_window(self.market, now, settings, duration)

    def holdings(self) -> tuple[Callable[[str], int], int | None]:
        balance = self.client.us_balance()
        held = {h.symbol: h.qty for h in balance.holdings}
        return lambda code: held.get(code, 0), None


def _symbol(code: str, market: str) -> str:
    """A US ticker with its exchange (NASD:AAPL) as the client takes it; the bare ticker when none is known."""
    return f"{market}:{code}" if market else code


def us_status(row) -> OrderStatus:
    """A row of today's US orders (kis.models.UsOrderStatus) as the row reconciliation reads: prices in cents.

    A cancel row points at its original; only the original's unfilled count (nccs_qty) says it is closed,
    so a cancel that loses to a fill never frees shares.
    """
    return OrderStatus(
        order_no=row.order_no, org_no=row.org_no, orig_order_no=row.orig_order_no, code=row.symbol, name=row.name,
        side=row.side, order_type=OrderType.LIMIT, qty=row.qty, price=USD.minor(row.price),
        filled_qty=row.filled_qty, remaining_qty=row.remaining_qty, avg_fill_price=USD.minor(row.avg_fill_price),
        filled_amount=row.filled_amount, cancelled=False, time=row.time)


def krx_guard_price(quote: Quote, side: OrderSide, guard: float) -> int:
    """The limit of a marketable KRX order: `guard` past the latest price, on the tick grid, inside the day's band."""
    # A buy rounds down and a sell up, so the limit never passes the guard; the grid is the one the
    # quote's aspr_unit shows (an ETF's is finer than a stock's), else the stock grid.
    grid = (grid_for(quote.price, quote.tick) if quote.tick else None) or STOCK
    if side is OrderSide.BUY:
        price = round_to_tick(math.floor(quote.price * (1 + guard)), OrderSide.BUY, grid)
        return min(price, quote.upper_limit) if quote.upper_limit > 0 else price
    price = round_to_tick(max(1, math.ceil(quote.price * (1 - guard))), OrderSide.SELL, grid)
    return max(price, quote.lower_limit) if quote.lower_limit > 0 else price


def us_guard_price(cents: int, side: OrderSide, guard: float) -> int:
    """The limit of a marketable US order in cents: `guard` past the latest price, a buy down and a sell up to
    the cent (always on the US grid); no band (US exchanges have no daily limit), never below one cent."""
    factor = Decimal(str(guard))
    if side is OrderSide.BUY:
        return max(1, int((Decimal(cents) * (1 + factor)).to_integral_value(ROUND_FLOOR)))
    return max(1, int((Decimal(cents) * (1 - factor)).to_integral_value(ROUND_CEILING)))


class Legs:
    """The legs of one broker: one object per currency's side, found by a market code (KRX, NASD, ...)."""

    def __init__(self, client: Broker):
        us = market_named("NASD")
        self._by_currency: dict[str, Leg] = {KRW.code: KrxLeg(client), USD.code: UsLeg(client, us)}

    def of(self, market: str) -> Leg:
        """The leg that trades `market` (an order or plan line's market code)."""
        return self._by_currency[market_named(market or KRX.code).currency.code]

    def keyed(self, key: str) -> Leg:
        return next(leg for leg in self._by_currency.values() if leg.key == key)

    def all(self) -> tuple[Leg, ...]:
        return tuple(self._by_currency.values())


def day_of(leg: Leg, at: datetime) -> date:
    """The leg's trading day of the moment `at` (KST for KRX, New York for the US)."""
    return at.astimezone(leg.tz).date()


def plan_legs(legs: Legs, plan: Plan) -> list[Leg]:
    """The legs a plan trades, in the order its lines name them."""
    found: list[Leg] = []
    for line in plan.lines:
        leg = legs.of(line.market)
        if line.order_qty and leg not in found:
            found.append(leg)
    return found or [legs.of("")]


def leg_windows(legs: Legs, plan: Plan, window: Window, now: datetime, settings: TwapSettings) -> dict[str, Window]:
    """One window per market the plan trades: `window` (the caller's, from TwapSettings) for KRX, and for the
    US the XNYS regular session open now or next, for the same asked duration (`Window.asked`). On the
    simulator's always-open calendar every market trades in `window`."""
    windows: dict[str, Window] = {}
    for leg in plan_legs(legs, plan):
        if leg.given_window or settings.calendar == "always":
            windows[leg.key] = window
        else:
            windows[leg.key] = leg.window(now, settings, window.asked)
    return windows


def slice_legs(plan: Plan, windows: dict[str, Window], settings: TwapSettings,
               rate: float) -> tuple[SliceSchedule, tuple[LegWindow, ...]]:
    """The run's slices: each market's lines cut in its own window (markets sharing a window are cut together,
    so sells that fund buys go first and the call budget is shared), and the window rows the journal keeps
    (none for a run of one market: its window is the run's)."""
    if len(windows) == 1:
        (window,) = windows.values()
        return slice_plan(plan.lines, window, settings, rate), ()
    legs = Legs(_NoBroker())
    groups: dict[tuple[datetime, datetime], list[str]] = {}
    for key, window in windows.items():
        groups.setdefault((window.start, window.end), []).append(key)
    raw: list = []
    kept: list[LegWindow] = []
    polls: list[float] = []
    for (start, end), keys in groups.items():
        lines = [line for line in plan.lines if legs.of(line.market).key in keys]
        schedule = slice_plan(lines, Window(start, end), settings, rate)
        raw += schedule.slices
        polls.append(schedule.poll_seconds)
        kept += [LegWindow(key, Window(start, end), schedule.catch_up_at) for key in keys]
    raw.sort(key=lambda s: (s.at, s.code))
    slices = tuple(replace(s, seq=seq) for seq, s in enumerate(raw))
    return SliceSchedule(slices, min(w.catch_up_at for w in kept), max(polls)), tuple(kept)


class _NoBroker:
    """Legs asked only which market a code trades on: no call is made."""


def cash_without_credit(power: BuyingPower) -> int:
    """What a buy may spend: KIS's no-미수 amount (nrcvb_buy_amt), never more than the orderable cash."""
    return max(0, min(power.max_amount, power.cash))


def shares_without_credit(power: BuyingPower, limit: int = 0) -> int:
    """Shares a buy may take without 미수 by a buying-power answer asked as KIS's docs say (never max_buy_*)."""
    # ORD_DVSN 01 for a limit buy: at `limit`, its no-미수 cash costed at that limit; without one,
    # nrcvb_buy_qty (KIS computed it at the upper limit it costs such a buy at). Never max_buy_* (미수).
    if limit > 0:
        return cash_without_credit(power) // with_margin(limit)
    return max(0, power.max_qty)


def us_with_margin(cents: int) -> int:
    """A US limit buy's cost per share in cents with room for KIS's commission (0.25 %) and rounding: 0.5 % more."""
    return cents + cents // 200 + 1


def with_margin(price: int) -> int:
    """A limit buy's cost per share with room for the commission (0.015 %) and rounding."""
    return price + price // 1000 + 1
