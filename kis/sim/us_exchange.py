"""The paper exchange's US order book: limit orders on NASD, NYSE and AMEX, filled against the US price walk.

As KIS mock: limit orders (ORD_DVSN 00) only, whole shares, prices on the US grid (whole cents at $1 and above,
$0.0001 below; more places refused), the order's exchange must list the ticker (APBK0656), orders only inside
the US regular session (XNYS: 09:30-16:00 New York, 13:00 early closes) unless `always_open`. A buy holds its
dollars (limit x shares plus commission) while it rests; a fill settles them at once. With integrated margin
(통합증거금, an account setting, off by default) a buy short of dollars draws the rest from the won deposit at
the day's rate, converted at the fill. Day orders lapse at the New York date's end.

Money: ints of $0.0001 (kis.sim.overseas.UNIT) for prices and amounts, int cents for the dollar cash.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Callable

from kis.markets.us import NEW_YORK, us_session
from kis.sim.exchange import BUY, NO_CASH, NO_SHARES, NOTHING_TO_CANCEL, NO_SUCH_ORDER, \
    SELL, Rejected
from kis.sim.orderbook import OrderKeeping
from kis.sim.overseas import CENT, UNIT, FxRate, UsBook, UsMarket, UsPosition

LIMIT = "00"
# What KIS documents per side on real accounts (order.py): buys 00 limit, 32 LOO, 34 LOC; sells also 31 MOO,
# 33 MOC. KIS mock takes 00 alone ("모의투자 VTTT1002U(미국 매수 주문)로는 00:지정가만 가능").
REAL_TYPES = {BUY: {"00", "32", "34"}, SELL: {"00", "31", "32", "33", "34"}}
MOCK_TYPES = {BUY: {LIMIT}, SELL: {LIMIT}}
ORDER_TYPE_NAMES = {"00": "지정가", "31": "MOO", "32": "LOO", "33": "MOC", "34": "LOC"}
US_COMMISSION_PPM = 2_500  # 0.25 %: KIS's published online commission on US stocks
US_ORG_NO = "01790"  # guess: the branch KIS's US orders are numbered under
FIRST_ORDER_NO = 30_000_001  # KIS's US order numbers are 8 digits ("30135009" in order_rvsecncl.py)

NOT_LISTED_HERE = ("APBK0656", "해당종목정보가 없습니다")
BAD_ORDER_TYPE = ("APBK1231", "주문구분 입력오류입니다.")  # the wording is KIS's (open-trading-api #6); the code a guess
TOO_MANY_PLACES = ("APTR0057", "주문 가격 소수점 초과")  # reported from live accounts
ZERO_PRICE = ("APBK1507", "주문단가를 입력하세요")  # reported code; wording a guess
BAD_QTY = ("APBK0904", "주문수량을 확인하세요")  # guess


def us_commission(amount: int, ppm: int = US_COMMISSION_PPM) -> int:
    """The commission on `amount` ($0.0001 units), rounded up to the cent."""
    fee = -(-amount * ppm // 1_000_000)
    return -(-fee // CENT) * CENT


def on_us_grid(price: int) -> bool:
    """True when `price` ($0.0001 units) has at most two places at $1 and above (four below)."""
    return price > 0 and (price < UNIT or price % CENT == 0)


@dataclass
class UsOrder:
    """One row of today's US orders (inquire-ccnl), mutable while it fills."""

    order_no: str
    org_no: str
    symbol: str
    exchange: str  # NASD, NYSE, AMEX
    name: str
    side: str  # "01" sell, "02" buy
    order_type: str
    qty: int
    price: int  # $0.0001 units
    day: str  # YYYYMMDD in New York (ord_dt)
    time: str  # HHMMSS in New York (ord_tmd)
    kst_day: str  # dmst_ord_dt
    kst_time: str  # thco_ord_tmd, and the answer's ORD_TMD
    accepted_at: str  # ISO datetime
    kind: str = "new"  # new | revise | cancel
    orig_order_no: str = ""
    filled_qty: int = 0
    filled_amount: int = 0  # $0.0001 units
    cancelled_qty: int = 0
    fees: int = 0  # $0.0001 units
    tr_id: str = ""

    @property
    def remaining(self) -> int:
        return 0 if self.kind == "cancel" else self.qty - self.filled_qty - self.cancelled_qty

    @property
    def avg_price(self) -> int:
        return round(self.filled_amount / self.filled_qty) if self.filled_qty else 0


class UsExchange(OrderKeeping):
    """US orders of the one paper account; thread-safe under the book's lock."""

    listener_failed = "US exchange listener failed"

    def __init__(self, market: UsMarket, book: UsBook, fx: FxRate, *, krw, clock: Callable[[], datetime],
                 always_open: bool = False, mock: bool = True, commission_ppm: int = US_COMMISSION_PPM):
        self.market, self.book, self.fx, self.krw = market, book, fx, krw  # krw: the won side (Exchange)
        self.clock, self.always_open, self.mock = clock, always_open, mock
        self.commission_ppm = commission_ppm
        self.integrated_margin = False  # 통합증거금: off by default, an account setting
        # 해외증권 거래신청: on by default; off, every overseas trading call is refused (kis/sim/overseas_protocol.py)
        self.overseas_trading = True
        self.lock: threading.RLock = book.lock
        self.orders: list[UsOrder] = []
        self._next_no = FIRST_ORDER_NO
        self._day = self._ny(clock()).strftime("%Y%m%d")
        self.listeners: list[Callable[[str, UsOrder, int, int], None]] = []
        self.on_change: Callable[[], None] | None = None

    @staticmethod
    def _ny(now: datetime) -> datetime:
        return now.astimezone(NEW_YORK)

    # account views ----------------------------------------------------------------------------------
    def _cost(self, qty: int, price: int) -> int:
        amount = qty * price
        return amount + us_commission(amount, self.commission_ppm)

    def reserved(self) -> int:
        """$0.0001 units the open buys hold."""
        return sum(self._cost(o.remaining, o.price) for o in self.open_orders() if o.side == BUY)

    def orderable_usd(self) -> int:
        """$0.0001 units of dollars no open buy holds."""
        with self.lock:
            self._roll_day()
            return max(0, self.book.usd_cash * CENT - self.reserved())

    def won_in_dollars(self) -> int:
        """The won deposit's orderable cash at today's rate, in $0.0001 units (rounded down)."""
        rate = self.fx.now()
        return int(Decimal(self.krw.orderable_cash()) / rate * UNIT) if rate > 0 else 0

    def affordable(self, cash: int, price: int) -> int:
        """Whole shares at `price` that `cash` ($0.0001 units) pays for, commission included."""
        if price <= 0 or cash <= 0:
            return 0
        qty = cash // price
        while qty > 0 and self._cost(qty, price) > cash:
            qty -= 1
        return qty

    def orderable_qty(self, symbol: str) -> int:
        with self.lock:
            pos = self.book.positions.get(symbol)
            pending = sum(o.remaining for o in self.open_orders() if o.side == SELL and o.symbol == symbol)
            return max(0, (pos.qty if pos else 0) - pending)

    def find(self, order_no: str) -> UsOrder | None:
        key = order_no.lstrip("0")
        return next((o for o in self.orders if o.order_no.lstrip("0") == key), None)

    # orders -------------------------------------------------------------------------------------------
    def place(self, symbol: str, exchange: str, side: str, order_type: str, qty: int, price: int,
              tr_id: str = "") -> UsOrder:
        """Accept a US order or raise Rejected with KIS's reason; fills what the price allows at once."""
        with self.lock:
            self._roll_day()
            self._match_all()
            spec = self.market.spec(symbol)
            if spec is None or spec.exchange != exchange:
                raise Rejected(*NOT_LISTED_HERE)
            if order_type not in (MOCK_TYPES if self.mock else REAL_TYPES)[side]:
                raise Rejected(*BAD_ORDER_TYPE)
            self._check_session()
            if qty <= 0:
                raise Rejected(*BAD_QTY)
            self._check_price(price)
            if side == BUY:
                need = self._cost(qty, price)
                have = self.orderable_usd() + (self.won_in_dollars() if self.integrated_margin else 0)
                if need > have:
                    raise Rejected(*NO_CASH)
            elif qty > self.orderable_qty(symbol):
                raise Rejected(*NO_SHARES)
            order = self._new(spec.symbol, spec.exchange, spec.kor_name, side, order_type, qty, price, "new", "",
                              tr_id)
            self._match(order)
            self._changed()
            return order

    def cancel(self, orig_order_no: str, symbol: str, exchange: str, tr_id: str = "") -> UsOrder:
        """Cancel all of an order's unfilled rest (KIS's US cancel takes the whole rest); its own row and number."""
        with self.lock:
            orig = self._revisable(orig_order_no, symbol, exchange)
            n = orig.remaining
            orig.cancelled_qty += n
            row = self._new(orig.symbol, orig.exchange, orig.name, orig.side, orig.order_type, n, orig.price,
                            "cancel", orig.order_no, tr_id)
            row.cancelled_qty = n
            self._changed()
            return row

    def revise(self, orig_order_no: str, symbol: str, exchange: str, qty: int, price: int,
               tr_id: str = "") -> UsOrder:
        """Replace the unfilled rest (at most `qty`) by an order at `price`."""
        with self.lock:
            self._check_session()
            orig = self._revisable(orig_order_no, symbol, exchange)
            self._check_price(price)
            n = min(qty, orig.remaining) if qty > 0 else orig.remaining
            if orig.side == BUY:
                freed = self._cost(n, orig.price)
                have = self.orderable_usd() + freed + (self.won_in_dollars() if self.integrated_margin else 0)
                if self._cost(n, price) > have:
                    raise Rejected(*NO_CASH)
            orig.cancelled_qty += n
            row = self._new(orig.symbol, orig.exchange, orig.name, orig.side, orig.order_type, n, price, "revise",
                            orig.order_no, tr_id)
            self._match(row)
            self._changed()
            return row

    def in_session(self, now: datetime | None = None) -> bool:
        now = now or self.clock()
        hours = us_session(self._ny(now).date())
        return hours is not None and hours[0] <= now < hours[1]

    # internals ----------------------------------------------------------------------------------------
    @staticmethod
    def _check_price(price: int) -> None:
        if price <= 0:
            raise Rejected(*ZERO_PRICE)
        if not on_us_grid(price):
            raise Rejected(*TOO_MANY_PLACES)

    def _session(self, now: datetime):
        """The US regular session (XNYS) of `now`'s New York date, or None."""
        return us_session(self._ny(now).date())

    def _revisable(self, orig_order_no: str, symbol: str, exchange: str) -> UsOrder:
        self._roll_day()
        self._match_all()
        orig = self.find(orig_order_no)
        if orig is None or orig.kind == "cancel":
            raise Rejected(*NO_SUCH_ORDER)
        if orig.symbol != symbol or orig.exchange != exchange:
            raise Rejected(*NOT_LISTED_HERE)
        if orig.remaining <= 0:
            raise Rejected(*NOTHING_TO_CANCEL)
        return orig

    def _new(self, symbol, exchange, name, side, order_type, qty, price, kind, orig_no, tr_id) -> UsOrder:
        now = self.clock()
        ny = self._ny(now)
        order = UsOrder(order_no=f"{self._next_no:010d}", org_no=US_ORG_NO, symbol=symbol, exchange=exchange,
                        name=name, side=side, order_type=order_type, qty=qty, price=price,
                        day=ny.strftime("%Y%m%d"), time=ny.strftime("%H%M%S"), kst_day=now.strftime("%Y%m%d"),
                        kst_time=now.strftime("%H%M%S"), accepted_at=now.isoformat(), kind=kind,
                        orig_order_no=orig_no, tr_id=tr_id)
        self._next_no += 1
        self.orders.append(order)
        self._notify("accepted", order, qty, price)
        return order

    def _match_all(self) -> bool:
        if not self.always_open and not self.in_session():
            return False
        changed = False
        for order in self.open_orders():
            changed |= self._match(order)
        return changed

    def _match(self, order: UsOrder) -> bool:
        if order.remaining <= 0 or order.order_type != LIMIT:
            return False  # LOO/LOC/MOO/MOC (real only) wait for an auction the paper exchange does not hold
        if not self.always_open and not self.in_session():
            return False
        price = self.market.price(order.symbol)
        if order.side == BUY and price > order.price or order.side == SELL and price < order.price:
            return False
        fill = min(price, order.price) if order.side == BUY else max(price, order.price)
        n = order.remaining
        if order.side == SELL:
            pos = self.book.positions.get(order.symbol)
            n = min(n, pos.qty if pos else 0)
        if n <= 0:
            return False
        amount = n * fill
        fee = us_commission(amount, self.commission_ppm)
        if order.side == BUY:
            short = amount + fee - self.book.usd_cash * CENT
            if short > 0:
                if not self.integrated_margin:
                    return False
                self._convert(short)
            self.book.usd_cash -= (amount + fee) // CENT
            pos = self.book.positions.setdefault(order.symbol, UsPosition(0, 0))
            pos.qty += n
            pos.cost += amount
        else:
            pos = self.book.positions[order.symbol]
            pos.cost -= round(pos.cost * n / pos.qty)
            pos.qty -= n
            if pos.qty == 0:
                del self.book.positions[order.symbol]
            self.book.usd_cash += (amount - fee) // CENT
        order.filled_qty += n
        order.filled_amount += amount
        order.fees += fee
        self._notify("filled", order, n, fill)
        return True

    def _convert(self, short: int) -> None:
        """Integrated margin: won from the deposit pays `short` ($0.0001 units) of a fill at today's rate."""
        cents = -(-short // CENT)
        won = int((Decimal(cents) * self.fx.now() / 100).to_integral_value(rounding=ROUND_CEILING))
        self.krw.add_cash(-won)
        self.book.usd_cash += cents

    def _roll_day(self) -> None:
        """A new New York date: unfilled day orders lapse; rows older than three months go."""
        now = self.clock()
        day = self._ny(now).strftime("%Y%m%d")
        if day <= self._day:
            return
        self._day = day
        for order in self.open_orders():
            order.cancelled_qty += order.remaining
        oldest = (self._ny(now) - timedelta(days=92)).strftime("%Y%m%d")
        self.orders = [o for o in self.orders if o.day >= oldest]
        self._changed()

    # persistence ------------------------------------------------------------------------------------
    def to_state(self) -> dict:
        with self.lock:
            return {"orders": [asdict(o) for o in self.orders], "next_no": self._next_no, "day": self._day,
                    "integrated_margin": self.integrated_margin, "overseas_trading": self.overseas_trading}

    def load_state(self, state: dict) -> None:
        with self.lock:
            self.orders = [UsOrder(**o) for o in state.get("orders", [])]
            self._next_no = int(state.get("next_no", FIRST_ORDER_NO))
            self._day = str(state.get("day", self._day))
            self.integrated_margin = bool(state.get("integrated_margin", False))
            self.overseas_trading = bool(state.get("overseas_trading", True))
