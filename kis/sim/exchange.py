"""The paper exchange's book: one account's cash and holdings, today's orders, and how orders fill.

Rules follow KRX/KIS. Without a book (`book` None, the default): market (01), best-limit (03) and
top-of-book (04) orders fill at the current price; a limit order (00) fills when the price reaches it,
else rests until cancelled. With a book (`kis.sim.book.Book`): orders walk its levels, queue and fill in
parts as it says. Either way `partial_fill_shares` can cap an order to chunks over sim time, to exercise
partial fills. Money is int won throughout.
Fees (state them, they move cash): commission 0.015 % of each fill, floored to won; on sells also the
securities transaction tax of 0.20 % (KOSPI 2026: 0.05 % tax + 0.15 % rural special tax), floored.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Callable, NamedTuple

from kis.krx import KST, session_hours, warm_up
from kis.models import Account
from kis.sim.clock import kst_now
from kis.sim.market import Market
from kis.sim.orderbook import AFTER_CLOSE, OrderKeeping, Rejected
from kis.sim.quotes import MARGIN_PERCENT
from kis.ticks import is_on_tick

BUY, SELL = "02", "01"
LIMIT, MARKET, BEST_LIMIT, TOP_OF_BOOK = "00", "01", "03", "04"
ORDER_TYPES = {LIMIT: "지정가", MARKET: "시장가", BEST_LIMIT: "최유리지정가", TOP_OF_BOOK: "최우선지정가"}
COMMISSION_PPM = 150  # 0.015 %
SELL_TAX_PPM = 2_000  # 0.20 %
ORG_NO = "00950"
KEEP_DAYS = 92  # inquire-daily-ccld reaches three months back; older orders leave the state file  # KRX_FWDG_ORD_ORGNO as KIS mock hands it out



# Business rejections. APBK0952 and APBK0506 are KIS's own; the others are plausible guesses in KIS's
# style (KIS does not publish its full code list).
NO_CASH = ("APBK0952", "주문가능금액을 초과 했습니다")
NO_SHARES = ("APBK0400", "주문가능수량을 초과 했습니다")  # guess
OFF_TICK = ("APBK0506", "주식주문호가단위 오류입니다")
OUT_OF_BAND = ("APBK0510", "주문단가가 상/하한가 범위를 벗어났습니다")  # guess
UNKNOWN_CODE = ("APBK0919", "해당 종목정보가 없습니다")  # guess
BAD_QTY = ("APBK0904", "주문수량을 확인하세요")  # guess
NOTHING_TO_CANCEL = ("APBK0344", "정정/취소 가능수량이 없습니다")  # guess
NO_SUCH_ORDER = ("APBK0347", "원주문번호가 존재하지 않습니다")  # guess
# KIS mock's refusals of an order outside the session. Not in the official samples: both are quoted from
# other KIS users' code and logs (40580000 often, 40570000 once); unverified, as is the answer on a holiday.


def commission(amount: int, ppm: int = COMMISSION_PPM) -> int:
    return amount * ppm // 1_000_000


@dataclass
class SimOrder:
    """One row of today's orders (inquire-daily-ccld), mutable while it fills."""

    order_no: str
    org_no: str
    code: str
    name: str
    side: str  # "01" sell, "02" buy
    order_type: str  # ORD_DVSN
    qty: int
    price: int  # ORD_UNPR: 0 for the non-limit types
    day: str  # YYYYMMDD
    time: str  # HHMMSS
    accepted_at: str  # ISO datetime, for time-driven partial fills
    kind: str = "new"  # new | revise | cancel
    orig_order_no: str = ""
    filled_qty: int = 0
    filled_amount: int = 0
    cancelled_qty: int = 0
    fees: int = 0
    tr_id: str = ""
    venue: str = "KRX"  # EXCG_ID_DVSN_CD it was sent with (kis/sim/venues.py)

    @property
    def remaining(self) -> int:
        return 0 if self.kind == "cancel" else self.qty - self.filled_qty - self.cancelled_qty

    @property
    def avg_price(self) -> int:
        return round(self.filled_amount / self.filled_qty) if self.filled_qty else 0


@dataclass(frozen=True)
class LogEntry:
    """What the exchange accepted, in arrival order: tests read it to prove no order went twice."""

    order_no: str
    kind: str
    code: str
    side: str
    order_type: str
    qty: int
    price: int
    time: str
    orig_order_no: str = ""


@dataclass
class Position:
    qty: int
    cost: int  # 매입금액: what the shares held cost, excluding fees
    bought_today: int = 0
    sold_today: int = 0


@dataclass
class _Ledger:
    cash: int
    cash_at_open: int  # dnca_tot_amt: KIS shows today's deposit before today's trades settle
    day: str
    buy_amount: int = 0
    sell_amount: int = 0
    fees: int = 0


class BuyingPowerRow(NamedTuple):
    """inquire-psbl-order's answer: ord_psbl_cash, psbl_qty_calc_unpr, nrcvb_buy_qty/amt, max_buy_qty/amt."""

    cash: int
    unit: int
    qty: int
    amount: int
    max_qty: int
    max_amount: int


class Exchange(OrderKeeping):
    """Account state and order matching; thread-safe, one lock."""

    def __init__(self, market: Market, *, account: Account, cash: int, holdings: dict[str, tuple[int, int]] | None = None,
                 clock: Callable[[], datetime] = kst_now, commission_ppm: int = COMMISSION_PPM,
                 sell_tax_ppm: int = SELL_TAX_PPM, on_change: Callable[[], None] | None = None,
                 always_open: bool = False):
        self.market = market
        self.account = account
        self.clock = clock
        self.commission_ppm = commission_ppm
        self.sell_tax_ppm = sell_tax_ppm
        self.on_change = on_change
        # Off by default: orders outside a KRX session (09:00-15:30 KST on trading days) are refused as KIS
        # mock refuses them. On for the demo and tests that trade whatever the hour.
        self.always_open = always_open
        if not always_open:
            warm_up()
        # KRX's after-market (16:00-20:00) takes KRX limit orders when on; off by default as KIS mock (its order
        # codes at KIS are unverified). NXT and SOR orders keep NXT's hours (kis/sim/venues.py).
        self.after_market = False
        # Partial fills: None = an order fills whole; N = N shares at acceptance and N more every
        # `partial_fill_seconds` of sim time after it (while the price allows).
        self.partial_fill_shares: int | None = None
        self.partial_fill_seconds: float = 1.0
        # The order book own orders meet (kis.sim.book.Book), or None: fills at the walk's price as above.
        self.book = None
        self.lock = threading.RLock()
        # Called under the lock as (kind, order, qty, price): "accepted" for every new order, revise or
        # cancel row (qty, price of the order), "filled" for every fill (qty, price of the fill).
        self.listeners: list[Callable[[str, SimOrder, int, int], None]] = []
        day = clock().strftime("%Y%m%d")
        self._ledger = _Ledger(cash=cash, cash_at_open=cash, day=day)
        self.positions: dict[str, Position] = {}
        for code, (qty, avg) in (holdings or {}).items():
            self.positions[code] = Position(qty, qty * avg)
        self.orders: list[SimOrder] = []
        self.order_log: list[LogEntry] = []
        self._next_no = 1
        self.cash_refusals = 0  # buys refused with APBK0952, for benchmarks
        # The account's 증거금률 for cash buys: None, an account that never buys on 미수 (a buy beyond cash is
        # refused with APBK0952); 40, a 증거금40%계좌 where a cash buy needs only max(40 %, the stock's rate) of
        # its cost in cash and the rest becomes 미수 at the fill ("TTC0802U(현금매수) 사용하셔서 미수매수
        # 가능합니다. 단, ... 증거금40%계좌로 신청이 되어있어야", order_cash.py).
        self.margin_percent: int | None = None
        self.stock_margin_percent: dict[str, int] = {}  # 종목증거금율 per code; MARGIN_PERCENT otherwise
        self.receivable_peak = 0  # the largest 미수 (negative cash) the account ever had, for tests
        self.rows_version = 0  # changes when balance rows appear or go: paged inquiries must restart
        self.fills = 0  # executions so far (each a fill notice), for tests and the book's matching

    # account views -----------------------------------------------------------------------------
    @property
    def cash(self) -> int:
        return self._ledger.cash

    @property
    def ledger(self) -> _Ledger:
        return self._ledger

    def add_cash(self, amount: int) -> None:
        with self.lock:
            self._ledger.cash += amount
            self._ledger.cash_at_open += amount
            self._changed()

    def set_cash(self, amount: int) -> None:
        with self.lock:
            self._ledger.cash = self._ledger.cash_at_open = amount
            self._changed()

    def set_holding(self, code: str, qty: int, avg_price: int | None = None) -> None:
        with self.lock:
            if avg_price is None:
                avg_price = self.market.price(code)
            if code not in self.positions:
                self.rows_version += 1
            self.positions[code] = Position(qty, qty * avg_price)
            self._changed()

    def set_price(self, code: str, price: int) -> None:
        self.market.set_price(code, price)
        self.match()

    def holding_qty(self, code: str) -> int:
        pos = self.positions.get(code)
        return pos.qty if pos else 0

    def reserve_unit(self, code: str, order_type: str, price: int) -> int:
        """What KIS costs one share of a buy at: its limit, or the day's upper limit for a buy without a
        price ("ORD_UNPR가 없는 주문은 상한가로 주문금액을 선정", order_cash.py); settled at the fill price."""
        quote = self.market.quote(code)
        if order_type == LIMIT:
            return price if price > 0 else quote.price
        return quote.upper

    @property
    def receivable(self) -> int:
        """미수 now: what the account owes for buys its cash did not pay for."""
        return max(0, -self._ledger.cash)

    def margin_rate(self, code: str) -> int:
        """Percent of a cash buy of `code` that must be cash now: 100 unless the account takes 미수."""
        if self.margin_percent is None:
            return 100
        return max(self.margin_percent, self.stock_margin_percent.get(code, MARGIN_PERCENT))

    def _cost(self, order: SimOrder) -> int:
        return self._with_fee(order.remaining * self.reserve_unit(order.code, order.order_type, order.price))

    def _held(self, code: str, cost: int) -> int:
        """Cash an open buy of `cost` won holds: all of it, or its margin on a 미수 account."""
        return -(-cost * self.margin_rate(code) // 100)

    def reserved_cash(self) -> int:
        return sum(self._held(o.code, self._cost(o)) for o in self.open_orders() if o.side == BUY)

    def orderable_cash(self) -> int:
        """ord_psbl_cash: cash less what open buys hold (on a 미수 account only their margin)."""
        with self.lock:
            self._roll_day()
            return max(0, self._ledger.cash - self.reserved_cash())

    def free_cash(self) -> int:
        """Cash no open buy will need: what can be bought without 미수 (nrcvb_buy_amt)."""
        with self.lock:
            self._roll_day()
            return max(0, self._ledger.cash - sum(self._cost(o) for o in self.open_orders() if o.side == BUY))

    def orderable_qty(self, code: str) -> int:
        with self.lock:
            pending = sum(o.remaining for o in self.open_orders() if o.side == SELL and o.code == code)
            return max(0, self.holding_qty(code) - pending)

    def buying_power(self, code: str, price: int, order_type: str) -> BuyingPowerRow:
        """inquire-psbl-order's figures for a buy of `code` asked with `order_type` at `price`.

        ORD_DVSN 00 "종목증거금율이 반영되지 않습니다" (inquire_psbl_order.py): asked with 00 on a 미수 account the
        no-미수 figures come from ord_psbl_cash, which open buys reduce by their margin only, so they
        count cash those buys will take at settlement. Asked with 01 (or the order's own type) they are
        the cash no open buy needs. On an account without 미수 both agree.
        """
        with self.lock:
            quote = self.market.quote(code)
            if quote is None:
                raise Rejected(*UNKNOWN_CODE)
            unit = self.reserve_unit(code, order_type, price)
            cash = self.orderable_cash()
            reflected = order_type != LIMIT or self.margin_percent is None
            free = self.free_cash() if reflected else cash
            rate = self.margin_rate(code) if reflected else self.margin_percent  # 100 without 미수
            max_qty = self._affordable(cash * 100 // rate, unit)
            qty = self._affordable(free, unit)
            return BuyingPowerRow(cash, unit, qty, free if reflected else qty * unit, max_qty, max_qty * unit)

    def find(self, order_no: str) -> SimOrder | None:
        return next((o for o in self.orders if o.order_no == order_no), None)

    # orders --------------------------------------------------------------------------------------
    def place(self, code: str, side: str, order_type: str, qty: int, price: int, tr_id: str = "",
              venue: str = "KRX") -> SimOrder:
        """Accept a cash order or raise Rejected with KIS's reason; fills what it can at once."""
        with self.lock:
            self._roll_day()
            self._match_all()
            self._check_session(venue, order_type)
            quote = self.market.quote(code)
            if quote is None:
                raise Rejected(*UNKNOWN_CODE)
            if qty <= 0:
                raise Rejected(*BAD_QTY)
            price = self._checked_price(order_type, price, quote)
            if side == BUY:
                if self._held(code, self._with_fee(qty * self.reserve_unit(code, order_type, price))) \
                        > self.orderable_cash():
                    self.cash_refusals += 1
                    raise Rejected(*NO_CASH)
            elif qty > self.orderable_qty(code):
                raise Rejected(*NO_SHARES)
            order = self._new_order(code, quote.name, side, order_type, qty, price, "new", "", tr_id, venue)
            self._match(order)
            self._changed()
            return order

    def cancel(self, orig_order_no: str, org_no: str, qty: int | None, tr_id: str = "") -> SimOrder:
        """Cancel `qty` (None: all) of an order's unfilled rest; the cancel gets its own order number."""
        with self.lock:
            orig = self._revisable(orig_order_no, org_no)
            n = orig.remaining if qty is None or qty <= 0 else min(qty, orig.remaining)
            orig.cancelled_qty += n
            row = self._new_order(orig.code, orig.name, orig.side, orig.order_type, n, orig.price, "cancel",
                                  orig.order_no, tr_id)
            row.cancelled_qty = n
            self._changed()
            return row

    def revise(self, orig_order_no: str, org_no: str, order_type: str, qty: int | None, price: int,
               tr_id: str = "") -> SimOrder:
        """Replace `qty` (None: all) of the unfilled rest by a new order at a new type/price."""
        with self.lock:
            found = self.find(orig_order_no)
            self._check_session(found.venue if found is not None else "KRX", order_type)
            orig = self._revisable(orig_order_no, org_no)
            n = orig.remaining if qty is None or qty <= 0 else min(qty, orig.remaining)
            quote = self.market.quote(orig.code)
            price = self._checked_price(order_type, price, quote)
            if orig.side == BUY:
                unit = self.reserve_unit(orig.code, order_type, price)
                freed = self._held(orig.code, self._with_fee(n * self.reserve_unit(orig.code, orig.order_type,
                                                                                    orig.price)))
                if self._held(orig.code, self._with_fee(n * unit)) > self.orderable_cash() + freed:
                    self.cash_refusals += 1
                    raise Rejected(*NO_CASH)
            orig.cancelled_qty += n
            row = self._new_order(orig.code, orig.name, orig.side, order_type, n, price, "revise",
                                  orig.order_no, tr_id)
            self._match(row)
            self._changed()
            return row

    # internals -------------------------------------------------------------------------------------
    @staticmethod
    def _checked_price(order_type: str, price: int, quote) -> int:
        """A limit price on the tick grid and inside the day's band; 0 for the other order types."""
        if order_type != LIMIT:
            return 0
        if not is_on_tick(price, quote.grid):  # an ETF's grid is finer than a stock's
            raise Rejected(*OFF_TICK)
        if not quote.lower <= price <= quote.upper:
            raise Rejected(*OUT_OF_BAND)
        return price

    def _check_session(self, venue: str = "KRX", order_type: str = LIMIT) -> None:
        """As the base's regular-session check, with NXT's and SOR's hours and (when on) KRX's after-market."""
        if self.always_open:
            return
        now = self.clock()
        if venue != "KRX" or (self.after_market and order_type == LIMIT):
            from kis.sim.venues import krx_after, krx_regular, nxt_open  # the venues' hours

            if venue == "NXT" and not nxt_open(now):
                raise Rejected(*AFTER_CLOSE)
            if venue == "SOR" and not (nxt_open(now) or krx_regular(now)):
                raise Rejected(*AFTER_CLOSE)
            if venue != "KRX" or krx_after(now):
                return
        super()._check_session()

    @staticmethod
    def _session(now: datetime):
        """The KRX session (KST) of `now`'s date, or None."""
        return session_hours(now.astimezone(KST).date())

    def _revisable(self, orig_order_no: str, org_no: str) -> SimOrder:
        self._roll_day()
        self._match_all()
        orig = self.find(orig_order_no)
        if orig is None or orig.kind == "cancel" or (org_no and org_no != orig.org_no):
            raise Rejected(*NO_SUCH_ORDER)
        if orig.remaining <= 0:
            raise Rejected(*NOTHING_TO_CANCEL)
        return orig

    def _new_order(self, code, name, side, order_type, qty, price, kind, orig_no, tr_id, venue=None) -> SimOrder:
        now = self.clock()
        if venue is None:  # a revise or cancel goes where its order went
            orig = self.find(orig_no) if orig_no else None
            venue = orig.venue if orig is not None else "KRX"
        order = SimOrder(order_no=f"{self._next_no:010d}", org_no=ORG_NO, code=code, name=name, side=side,
                         order_type=order_type, qty=qty, price=price, day=now.strftime("%Y%m%d"),
                         time=now.strftime("%H%M%S"), accepted_at=now.isoformat(), kind=kind,
                         orig_order_no=orig_no, tr_id=tr_id, venue=venue)
        self._next_no += 1
        self.orders.append(order)
        self.order_log.append(LogEntry(order.order_no, kind, code, side, order_type, qty, price, order.time, orig_no))
        self._notify("accepted", order, qty, price)
        return order

    def _match_all(self) -> bool:
        if self.book is not None:
            by_code: dict[str, list[SimOrder]] = {}
            for order in self.open_orders():
                by_code.setdefault(order.code, []).append(order)
            before = self.fills
            for code, orders in by_code.items():
                self.book.advance(code, orders, self._take)
            return self.fills != before
        changed = False
        for order in self.open_orders():
            changed |= self._match(order)
        return changed

    def _take(self, order: SimOrder, n: int, fill_price: int) -> int:
        """Execute up to `n` shares of `order` at `fill_price` as cash, holdings and the partial-fill knob
        allow: the book's fills."""
        n = min(n, order.remaining, self._due(order))
        if order.side == BUY:
            if self.margin_percent is None:
                n = min(n, self._affordable(self._ledger.cash, fill_price))
        else:
            n = min(n, self.holding_qty(order.code))
        if n <= 0:
            return 0
        self._execute(order, n, fill_price)
        return n

    def _match(self, order: SimOrder) -> bool:
        if order.remaining <= 0:
            return False
        if self.book is not None:
            filled = order.filled_qty
            self.book.arrive(order, self._take, [o for o in self.open_orders() if o.code == order.code])
            return order.filled_qty != filled
        quote = self.market.quote(order.code)
        price = quote.price
        if order.order_type == LIMIT:
            if order.side == BUY and price > order.price or order.side == SELL and price < order.price:
                return False
            fill_price = min(price, order.price) if order.side == BUY else max(price, order.price)
        else:
            fill_price = price
        n = min(order.remaining, self._due(order))
        if order.side == BUY:
            if self.margin_percent is None:  # a 미수 account pays what cash does not at settlement
                n = min(n, self._affordable(self._ledger.cash, fill_price))
        else:
            n = min(n, self.holding_qty(order.code))
        if n <= 0:
            return False
        self._execute(order, n, fill_price)
        return True

    def _due(self, order: SimOrder) -> int:
        """Shares the partial-fill knob lets `order` fill now: N at acceptance and N more every period."""
        if not self.partial_fill_shares:
            return order.remaining
        elapsed = (self.clock() - datetime.fromisoformat(order.accepted_at)).total_seconds()
        due = (int(elapsed // self.partial_fill_seconds) + 1) * self.partial_fill_shares
        return max(0, due - order.filled_qty)

    def _execute(self, order: SimOrder, n: int, fill_price: int) -> None:
        amount = n * fill_price
        fee = commission(amount, self.commission_ppm)
        led = self._ledger
        pos = self.positions.get(order.code)
        if order.side == BUY:
            if pos is None:
                pos = self.positions[order.code] = Position(0, 0)
                self.rows_version += 1
            pos.qty += n
            pos.cost += amount
            pos.bought_today += n
            led.cash -= amount + fee
            led.buy_amount += amount
            self.receivable_peak = max(self.receivable_peak, -led.cash)
        else:
            fee += commission(amount, self.sell_tax_ppm)
            pos.cost -= round(pos.cost * n / pos.qty)
            pos.qty -= n
            pos.sold_today += n
            led.cash += amount - fee
            led.sell_amount += amount
        led.fees += fee
        order.filled_qty += n
        order.filled_amount += amount
        order.fees += fee
        self.fills += 1
        self.market.add_volume(order.code, n)
        self._notify("filled", order, n, fill_price)

    def _with_fee(self, amount: int) -> int:
        return amount + commission(amount, self.commission_ppm)

    def affordable(self, cash: int, unit: int) -> int:
        """Shares at `unit` won that `cash` pays for, commission included."""
        return self._affordable(cash, unit)

    def _affordable(self, cash: int, unit: int) -> int:
        if unit <= 0 or cash <= 0:
            return 0
        qty = cash // unit
        while qty > 0 and self._with_fee(qty * unit) > cash:
            qty -= 1
        return qty

    def _roll_day(self) -> None:
        """A new trading day: unfilled day orders lapse, sold-out rows go, today's deposit settles."""
        day = self.clock().strftime("%Y%m%d")
        led = self._ledger
        if day <= led.day:
            return
        for order in self.open_orders():
            order.cancelled_qty += order.remaining
        oldest = (self.clock() - timedelta(days=KEEP_DAYS)).strftime("%Y%m%d")
        self.orders = [o for o in self.orders if o.day >= oldest]
        before = len(self.positions)
        self.positions = {c: p for c, p in self.positions.items() if p.qty > 0}
        for pos in self.positions.values():
            pos.bought_today = pos.sold_today = 0
        if len(self.positions) != before:
            self.rows_version += 1
        self._ledger = _Ledger(cash=led.cash, cash_at_open=led.cash, day=day)
        self._changed()

    # persistence ------------------------------------------------------------------------------------
    def to_state(self) -> dict:
        with self.lock:
            return {
                "account": str(self.account),
                "ledger": asdict(self._ledger),
                "positions": {c: asdict(p) for c, p in self.positions.items()},
                "orders": [asdict(o) for o in self.orders],
                "next_no": self._next_no,
                "rows_version": self.rows_version,
            }

    def load_state(self, state: dict) -> None:
        with self.lock:
            self._ledger = _Ledger(**state["ledger"])
            self.positions = {c: Position(**p) for c, p in state["positions"].items()}
            self.orders = [SimOrder(**o) for o in state["orders"]]
            self.order_log = [LogEntry(o.order_no, o.kind, o.code, o.side, o.order_type, o.qty, o.price, o.time,
                                       o.orig_order_no) for o in self.orders]
            self._next_no = int(state["next_no"])
            self.rows_version = int(state.get("rows_version", 0))

