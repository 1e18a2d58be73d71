"""`KisClient`: the typed facade over the KIS domestic-stock REST API.

Requests and field names follow the official samples (koreainvestment/open-trading-api,
examples_llm/domestic_stock/*). KIS sends every value as a string; they become `int` won and shares
here, and no raw KIS dict leaves this module.
"""
from __future__ import annotations

import logging
import operator
import time
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping

import requests

from kis import endpoints as ep
from kis import pension
from kis.numbers import to_float, to_int  # noqa: F401 (kis.client.to_int is what callers import)
from kis.accounts import AccountKind
from kis.auth import TokenCache, TokenManager
from kis.codes import BadStockCode, normalize_code, shown
from kis.config import KisConfig
from kis.errors import DataChanged, KisError, KisTransportError, NoAnswer, OrderUncertain, UnknownStock
from kis.krx import KST
from kis.limits import Pace, RateLimiter, limiter_for
from kis.models import (Balance, BookTop, BuyingPower, Holding, OrderAck, OrderSide, OrderStatus, OrderType, Quote, StockInfo,
                        UsBalance, UsBuyingPower, UsOrderAck, UsOrderStatus, UsQuote)
from kis.orders import matching_orders, same_order_no
from kis.overseas import Overseas
from kis.stats import CallStats
from kis.ticks import STOCK, TickGrid, grid_for, is_on_tick, round_to_tick
from kis.transport import Reply, Transport
from kis.venues import ALL_VENUES, QUOTE_CODES, Venue

log = logging.getLogger(__name__)

MAX_PAGES = 200  # 10,000 holdings on real; beyond that something loops
RESTARTS_ON_CHANGE = 3  # SYDB0050: the data moved while paging; start over at most this often


def _now_kst() -> datetime:
    return datetime.now(KST)


# Where a quote's change, name and price limits sit: inquire-price's `output`, the multi-stock quote's rows.
PRICE_FIELDS = ("prdy_vrss", "hts_kor_isnm", "stck_mxpr", "stck_llam")
MULTI_PRICE_FIELDS = ("inter2_prdy_vrss", "inter_kor_isnm", "inter2_mxpr", "inter2_llam")


def _quote(code: str, price: int, row: Mapping, fields: tuple[str, str, str, str], at: datetime,
           tick: int = 0) -> Quote:
    """A Quote from one KIS quote row whose change, name and limits sit under `fields`, signed by prdy_vrss_sign."""
    change, name, upper, lower = fields
    sign = row.get("prdy_vrss_sign", "")
    return Quote(code=code, price=price, change=int(_signed(to_int(row.get(change)), sign)),
                 change_rate=float(_signed(to_float(row.get("prdy_ctrt")), sign)), volume=to_int(row.get("acml_vol")),
                 name=str(row.get(name) or "").strip(), upper_limit=to_int(row.get(upper)),
                 lower_limit=to_int(row.get(lower)), at=at, tick=tick)


def _signed(value: float, sign_code: str):
    """KIS's prdy_vrss_sign (1 upper limit, 2 up, 3 flat, 4 lower limit, 5 down) gives the sign."""
    sign_code = str(sign_code or "").strip()
    if sign_code in ("4", "5"):
        return -abs(value)
    if sign_code in ("1", "2"):
        return abs(value)
    if sign_code == "3":
        return type(value)(0)
    return value


def _check_code(code: object) -> str:
    """The normalized code; a malformed one is a code no exchange knows (UnknownStock, nothing sent)."""
    try:
        return normalize_code(code)
    except BadStockCode:
        raise UnknownStock([shown(code)]) from None


class KisClient:
    """One KIS account: quotes, balance, orders, today's orders, buying power.

    Thread-safe: the token, the rate limiter and the HTTP session are shared by all threads.
    """

    def __init__(self, config: KisConfig, *, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = _now_kst, limiter: RateLimiter | None = None,
                 use_hashkey: bool = False):
        if not config.base_url:
            raise KisTransportError("no KIS base URL: use kis.open_client() to find or start the simulator")
        self.config = config
        self.tr = ep.TR_IDS[config.env]
        self._sleep = sleep
        self._wall = wall
        self._session = session or requests.Session()
        self._use_hashkey = use_hashkey
        self._acks: dict[str, OrderAck] = {}  # orders this client placed, so a cancel needs no lookup
        self._grids: dict[str, TickGrid] = {}  # price grid per code, as inquire-price's aspr_unit told it
        self.orders_venue = Venue.KRX.value  # inquire-daily-ccld's EXCG_ID_DVSN_CD: ALL once an NXT/SOR order left
        if limiter is None and monotonic is not time.monotonic:
            limiter = RateLimiter(config.rate_limit, clock=monotonic, sleep=sleep)  # a test's own clock
        # Real clocks share one pace per account: across threads, and across processes through the data dir.
        self.limiter = limiter or limiter_for(config.env.value, str(config.account), config.base_url,
                                              config.rate_limit, config.data_dir)
        token_log = TokenCache(config).path.with_suffix(".issued")  # beside the cache: every process counts
        self.stats = CallStats(wall, token_log)
        self.tokens = TokenManager(config, self._session, wall=wall, sleep=sleep, stats=self.stats)
        self.transport = Transport(config, self._session, self.tokens, self.limiter, sleep=sleep)
        self.overseas = Overseas(self)  # the US side: quotes, exchanges, balance (kis/overseas.py)

    def pace(self) -> Pace:
        """How fast this account's calls go, for a front end's estimate of how long a command takes."""
        return Pace(self.config.env.value, self.limiter.rate,
                    ep.MULTI_PRICE_MAX_CODES if self.tr.multi_price else 1)

    def __repr__(self) -> str:
        return f"KisClient(env={self.config.env.value}, account={self.config.account}, base_url={self.config.base_url!r})"

    def _account_fields(self) -> dict[str, str]:
        return {"CANO": self.config.account.cano, "ACNT_PRDT_CD": self.config.account.product}

    # ---- quotes -------------------------------------------------------------------------------

    def price(self, code: str, *, market: str = "J") -> Quote:
        """Current price of one stock; UnknownStock when the exchange does not know the code.

        `market` is FID_COND_MRKT_DIV_CODE: J KRX (the default), NX NXT, UN both (통합; inquire_price.py)."""
        code = _check_code(code)
        if market not in QUOTE_CODES.values():
            raise ValueError(f"quote market {market!r} is not one of {', '.join(QUOTE_CODES.values())}")
        try:
            reply = self.transport.get(ep.PRICE, self.tr.price,
                                       {"FID_COND_MRKT_DIV_CODE": market, "FID_INPUT_ISCD": code})
        except KisError as exc:
            if type(exc) is not KisError:  # rate limit, token, ...: not about the code
                raise
            # a plain business refusal of a quote means the code is not listed
            log.info("quote for %s refused: %s", code, exc)
            raise UnknownStock([code]) from None
        out = reply.body.get("output") or {}
        if not isinstance(out, Mapping) or to_int(out.get("stck_prpr")) <= 0:
            raise UnknownStock([code])
        price, tick = to_int(out.get("stck_prpr")), to_int(out.get("aspr_unit"))
        grid = grid_for(price, tick)
        if grid is not None:
            self._grids[code] = grid  # a code's grid does not change: an ETF stays an ETF
        elif tick:
            log.warning("%s: aspr_unit %s at %s won fits no known price grid; limit prices use the stock grid",
                        code, tick, price)
        return _quote(code, price, out, PRICE_FIELDS, self._wall(), tick)

    def asking_price(self, code: str) -> BookTop:
        """The best bid and ask of one stock (inquire-asking-price-exp-ccn, FHKST01010200, output1 level 1)."""
        code = _check_code(code)
        reply = self.transport.get(ep.ASKING_PRICE, ep.ASKING_PRICE_TR,
                                   {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": code})
        out = reply.body.get("output1") or {}
        if not isinstance(out, Mapping):
            out = {}
        return BookTop(code, bid=to_int(out.get("bidp1")), ask=to_int(out.get("askp1")),
                       bid_qty=to_int(out.get("bidp_rsqn1")), ask_qty=to_int(out.get("askp_rsqn1")), at=self._wall())

    def tick_grid(self, code: str) -> TickGrid:
        """The price grid `code` trades on, from inquire-price's aspr_unit (asked once per code).

        The stock grid when the quote cannot be had: its prices are on every KRX grid (an ETF's is finer).
        """
        code = _check_code(code)
        if code not in self._grids:
            try:
                self.price(code)
            except (KisError, KisTransportError) as exc:
                log.info("%s: no quote to tell its price grid (%s); using the stock grid", code, exc)
        return self._grids.get(code, STOCK)

    def round_price(self, code: str, price: int, side: OrderSide | str = "nearest") -> int:
        """`price` on the grid of `code` (buys down, sells up), as `order` will send it.

        A price on the stock grid is on every grid and stays; only one off it needs the code's grid.
        """
        price = int(price)
        if is_on_tick(price, STOCK):
            return price
        return round_to_tick(price, side, self.tick_grid(code))

    def prices(self, codes: Iterable[str]) -> dict[str, Quote]:
        """Quotes for many codes in the fewest calls (30 a call where the multi-stock quote is served).

        Raises UnknownStock naming every code the exchange does not know, after asking for all.
        """
        wanted: list[str] = []
        unknown: list[str] = []
        for raw in codes:
            try:
                code = _check_code(raw)
            except UnknownStock:
                unknown.append(shown(raw))
                continue
            if code not in wanted:
                wanted.append(code)
        quotes: dict[str, Quote] = {}
        batches = ([wanted[i:i + ep.MULTI_PRICE_MAX_CODES] for i in range(0, len(wanted), ep.MULTI_PRICE_MAX_CODES)]
                   if self.tr.multi_price else [])
        singles = [] if self.tr.multi_price else list(wanted)
        for batch in batches:
            try:
                quotes.update(self._multi_price(batch))
            except KisError as exc:
                if type(exc) is not KisError:
                    raise
                # one bad code can make KIS refuse the whole batch: ask one by one to name it
                log.info("multi-stock quote refused (%s); asking code by code", exc.msg_cd)
                singles += batch
        for code in singles:
            try:
                quotes[code] = self.price(code)
            except UnknownStock:
                pass
        unknown += [c for c in wanted if c not in quotes]
        if unknown:
            raise UnknownStock(unknown)
        return {c: quotes[c] for c in wanted}

    def _multi_price(self, codes: list[str]) -> dict[str, Quote]:
        params: dict[str, str] = {}
        for n, code in enumerate(codes, start=1):
            params[f"FID_COND_MRKT_DIV_CODE_{n}"] = "J"
            params[f"FID_INPUT_ISCD_{n}"] = code
        reply = self.transport.get(ep.MULTI_PRICE, self.tr.multi_price or "", params)
        rows = reply.body.get("output") or []
        if isinstance(rows, Mapping):
            rows = [rows]
        now = self._wall()
        quotes: dict[str, Quote] = {}
        for row in rows:
            code = str(row.get("inter_shrn_iscd") or "").strip()
            price = to_int(row.get("inter2_prpr"))
            if code not in codes or price <= 0:
                continue  # unknown codes come back empty or zero
            quotes[code] = _quote(code, price, row, MULTI_PRICE_FIELDS, now)
        return quotes

    # ---- US stocks (kis/overseas.py) -------------------------------------------------------------

    def overseas_price(self, symbol: str, *, name: bool = True) -> UsQuote:
        """The current price of one US stock (AAPL, NYSE:KO) in dollars; UnknownStock when no exchange lists it.

        `name=False`: the quote alone (a trading run's), never search-info for the ticker's name."""
        return self.overseas.price(symbol, name=name)

    def overseas_prices(self, symbols: Iterable[str]) -> dict[str, UsQuote]:
        """Quotes by ticker; UnknownStock naming every ticker no US exchange lists, after asking for all."""
        return self.overseas.prices(symbols)

    def us_market(self, symbol: str):
        """The US exchange (kis.markets NASD, NYSE or AMEX) that lists `symbol`, asked once and kept."""
        return self.overseas.market(symbol)

    def us_balance(self) -> UsBalance:
        """US holdings in dollars (with their won value), cash per currency, what is orderable, KIS's rate."""
        return self.overseas.balance()

    def us_order(self, symbol: str, side: OrderSide, qty: int, price: Decimal) -> UsOrderAck:
        """A US limit order sent exactly once; OrderUncertain when its answer was lost (never re-sent)."""
        return self.overseas.orders.order(symbol, side, qty, price)

    def us_cancel(self, order_no: str, symbol: str = "", qty: int = 0) -> UsOrderAck:
        """Cancel the unfilled rest of a US order; OrderUncertain when its answer was lost (never re-sent)."""
        return self.overseas.orders.cancel(order_no, symbol, qty)

    def us_orders_today(self) -> list[UsOrderStatus]:
        """Today's US orders by New York date (inquire-ccnl, every page)."""
        return self.overseas.orders.today()

    def us_psamount(self, symbol: str, price: Decimal) -> UsBuyingPower:
        """What a US buy at `price` can take (inquire-psamount): dollars alone and with 통합증거금."""
        return self.overseas.orders.psamount(symbol, price)

    def stock_info(self, code: str) -> StockInfo | None:
        """Name and product group of a listed code (CTPF1002R), or None where the environment does not
        serve it or the code is unknown."""
        code = _check_code(code)
        out = self.stock_info_output(code)
        if out is None:
            return None
        name = str(out.get("prdt_abrv_name") or out.get("prdt_name") or "").strip()
        if not name:
            return None
        return StockInfo(code=code, name=name, group=str(out.get("scty_grp_id_cd") or "").strip())

    def stock_info_output(self, code: str) -> dict | None:
        """CTPF1002R's output for `code` as KIS sent it (the kept NXT list reads `cptt_trad_tr_psbl_yn` there:
        kis/venues.py), or None where the environment does not serve it or KIS refused it."""
        if not self.tr.stock_info:
            return None
        code = _check_code(code)
        try:
            reply = self.transport.get(ep.STOCK_INFO, self.tr.stock_info, {"PRDT_TYPE_CD": "300", "PDNO": code})
        except KisError as exc:
            if type(exc) is not KisError:
                raise
            log.info("stock info for %s refused: %s", code, exc)
            return None
        out = reply.body.get("output") or {}
        if isinstance(out, list):
            out = out[0] if out else {}
        return dict(out) if isinstance(out, Mapping) else None

    # ---- paged inquiries --------------------------------------------------------------------

    def _pages(self, path: str, tr_id: str, params: dict[str, str]) -> Iterator[Reply]:
        """Every page of a paged inquiry, in order. Any failed page raises: never a short answer."""
        fk = nk = ""
        tr_cont = ""
        for page in range(MAX_PAGES):
            reply = self.transport.get(path, tr_id, {**params, "CTX_AREA_FK100": fk, "CTX_AREA_NK100": nk},
                                       tr_cont=tr_cont)
            yield reply
            if not reply.more:
                return
            next_fk = str(reply.body.get("ctx_area_fk100") or "")
            next_nk = str(reply.body.get("ctx_area_nk100") or "")
            if page and (next_fk, next_nk) == (fk, nk):
                raise KisTransportError(f"KIS sent the same page twice for {tr_id}; stopped instead of looping")
            fk, nk, tr_cont = next_fk, next_nk, "N"
        raise KisTransportError(f"{tr_id} has more than {MAX_PAGES} pages; stopped instead of looping")

    def _all_pages(self, path: str, tr_id: str, params: dict[str, str],
                   enough: Callable[[list[Reply]], bool] | None = None) -> list[Reply]:
        """All pages (or the first ones until `enough` says so); starts over when KIS says the data
        changed under the query (SYDB0050)."""
        for restart in range(RESTARTS_ON_CHANGE + 1):
            try:
                replies: list[Reply] = []
                for reply in self._pages(path, tr_id, params):
                    replies.append(reply)
                    if enough is not None and enough(replies):
                        break
                return replies
            except DataChanged:
                if restart == RESTARTS_ON_CHANGE:
                    raise
                log.info("%s: data changed while paging; starting over", tr_id)
        raise AssertionError("unreachable")  # pragma: no cover

    @property
    def _irp(self) -> bool:
        """An IRP (퇴직연금) account: its inquiries are the pension ones (kis/pension.py)."""
        return self.config.kind is AccountKind.IRP

    def balance(self) -> Balance:
        """Holdings (every page) and cash. Raises rather than return a short or empty balance."""
        if self._irp:
            return pension.balance(self)
        params = {
            **self._account_fields(),
            "AFHR_FLPR_YN": "N", "OFL_YN": "", "INQR_DVSN": "01", "UNPR_DVSN": "01",
            "FUND_STTL_ICLD_YN": "N", "FNCG_AMT_AUTO_RDPT_YN": "N", "PRCS_DVSN": "00",
        }
        replies = self._all_pages(ep.BALANCE, self.tr.balance, params)
        holdings: list[Holding] = []
        for reply in replies:
            for row in reply.body.get("output1") or []:
                qty = to_int(row.get("hldg_qty"))
                if qty == 0:
                    continue  # sold today: KIS keeps the row with zero shares
                holdings.append(Holding(
                    code=str(row.get("pdno") or "").strip(),
                    name=str(row.get("prdt_name") or "").strip(),
                    qty=qty,
                    orderable_qty=to_int(row.get("ord_psbl_qty")),
                    avg_price=to_int(row.get("pchs_avg_pric")),
                    price=to_int(row.get("prpr")),
                    value=to_int(row.get("evlu_amt")),
                    purchase_amount=to_int(row.get("pchs_amt")),
                    pnl=to_int(row.get("evlu_pfls_amt")),
                    pnl_rate=to_float(row.get("evlu_pfls_rt")),
                ))
        summary_rows = replies[-1].body.get("output2") or []
        if isinstance(summary_rows, Mapping):
            summary_rows = [summary_rows]
        if not summary_rows:
            raise KisTransportError("KIS sent a balance without its summary (output2); not trusting it")
        s = summary_rows[0]
        return Balance(
            holdings=tuple(holdings),
            cash=to_int(s.get("dnca_tot_amt")),
            cash_d2=to_int(s.get("prvs_rcdl_excc_amt")),
            stock_value=to_int(s.get("scts_evlu_amt")),
            total_value=to_int(s.get("tot_evlu_amt")),
            pnl=to_int(s.get("evlu_pfls_smtl_amt")),
            at=self._wall(),
        )

    def orders_today(self, code: str | None = None, *, wanted: Collection[str] | None = None) -> list[OrderStatus]:
        """Today's orders with filled and remaining quantities (inquire-daily-ccld, every page).

        With `wanted` (order numbers), reading stops at the page where the last of them appears: the
        rows come newest first, so only orders older than all of them are left out.
        """
        if self._irp:
            return pension.orders_today(self, _check_code(code) if code else None)
        today = self._wall().astimezone(KST).strftime("%Y%m%d")
        params = {
            **self._account_fields(),
            "INQR_STRT_DT": today, "INQR_END_DT": today, "SLL_BUY_DVSN_CD": "00",
            "PDNO": _check_code(code) if code else "", "CCLD_DVSN": "00", "INQR_DVSN": "00",
            "INQR_DVSN_3": "00", "ORD_GNO_BRNO": "", "ODNO": "", "INQR_DVSN_1": "",
            "EXCG_ID_DVSN_CD": self.orders_venue,
        }
        missing = {same_order_no(n) for n in wanted} if wanted is not None else None

        def enough(replies: list[Reply]) -> bool:
            for row in replies[-1].body.get("output1") or []:
                missing.discard(same_order_no(str(row.get("odno") or "")))
            return not missing

        orders: list[OrderStatus] = []
        for reply in self._all_pages(ep.DAILY_ORDERS, self.tr.daily_orders, params,
                                     enough if missing else None):
            for row in reply.body.get("output1") or []:
                status = _order_status(row)
                if status is not None:
                    orders.append(status)
        return orders

    # ---- orders -----------------------------------------------------------------------------

    def find_order(self, code: str, side: OrderSide, qty: int, order_type: OrderType, price: int, *,
                   since: str, until: str = "235959", exclude: Collection[str] = ()) -> OrderStatus | None:
        """The likeliest of today's orders stamped in [since, until] (HHMMSS KST) that matches and is not excluded."""
        found = matching_orders(self.orders_today(code), code, side, qty, order_type, price,
                                since=since, until=until, exclude=exclude)
        return found[0] if found else None

    def order(self, code: str, side: OrderSide, qty: int, order_type: OrderType = OrderType.LIMIT,
              price: int = 0, *, venue: Venue | str = Venue.KRX) -> OrderAck:
        """Send a cash order exactly once. Limit prices go on the tick grid (buys down, sells up).

        `venue` is its EXCG_ID_DVSN_CD (KRX as always, NXT or SOR: kis/venues.py); once a non-KRX order has left,
        today's orders are read across venues (`orders_venue` ALL), so it is found like any other.

        Raises OrderUncertain when it may have reached KIS without an answer (lost, EGW00215): the
        caller settles it against today's orders; this method never sends it again. NotSent and
        KisError mean it was not placed.
        """
        code = _check_code(code)
        side = OrderSide(side)
        order_type = OrderType(order_type)
        try:
            if isinstance(qty, bool):
                raise TypeError
            qty = operator.index(qty)  # ints and numpy ints; a float of shares is a caller bug
        except TypeError:
            raise ValueError(f"order quantity {qty!r} is not a whole number of shares") from None
        if qty <= 0:
            raise ValueError(f"order quantity {qty!r} is not a positive number of shares")
        if order_type.needs_price:
            if int(price) <= 0:
                raise ValueError(f"a limit order needs a positive price, not {price!r}")
            price = self.round_price(code, price, side)
        else:
            price = 0
        venue = Venue(venue)
        if venue is not Venue.KRX:
            self.orders_venue = ALL_VENUES  # before it leaves: a lost answer is looked for across venues
        body = {
            **self._account_fields(),
            "PDNO": code,
            "ORD_DVSN": order_type.value,
            "ORD_QTY": str(qty),
            "ORD_UNPR": str(price),
            "EXCG_ID_DVSN_CD": venue.value,
            "SLL_TYPE": "01" if side is OrderSide.SELL else "",
            "CNDT_PRIC": "",
        }
        tr_id = self.tr.sell if side is OrderSide.SELL else self.tr.buy
        try:
            reply = self.transport.post(ep.ORDER_CASH, tr_id, body, hashkey=self._use_hashkey)
        except NoAnswer as exc:
            log.warning("order %s %s x%d: %s", side.label, code, qty, exc)
            raise OrderUncertain(f"the {side.label} order for {code} x{qty} may have reached KIS but its answer "
                                 f"was lost ({exc}); check today's orders before sending it again") from None
        out = reply.body.get("output") or {}
        order_no = str(out.get("ODNO") or "").strip()
        if not order_no:
            raise OrderUncertain(f"KIS accepted the {side.label} order for {code} without an order number; "
                                 f"check today's orders before sending anything again")
        return self._remember(OrderAck(
            order_no=order_no, org_no=str(out.get("KRX_FWDG_ORD_ORGNO") or "").strip(), code=code,
            side=side, qty=qty, order_type=order_type, price=price, time=str(out.get("ORD_TMD") or "").strip(),
            venue=venue.value))

    def _remember(self, ack: OrderAck) -> OrderAck:
        self._acks[same_order_no(ack.order_no)] = ack
        return ack

    def _original(self, order_no: str, original: OrderStatus | OrderAck | None) -> OrderStatus | OrderAck:
        """The order `order_no`: `original`, else the one this client placed, else today's orders' row (one
        more call, e.g. after a restart); KisError when none lists it."""
        original = original or self._acks.get(same_order_no(order_no))
        if original is None:
            matches = [o for o in self.orders_today() if same_order_no(o.order_no) == same_order_no(order_no)]
            if not matches:
                raise KisError("", f"order {order_no} is not among today's orders")
            original = matches[0]
        return original

    def cancel(self, order_no: str, org_no: str, qty: int = 0, *,
               original: OrderStatus | OrderAck | None = None) -> OrderAck:
        """Cancel `qty` shares (0: all that remain) of an open order. Never re-sent on a lost answer.

        The original order (code, side, type) is `original`, else the one this client placed, else it is
        read from today's orders (one more call, e.g. after a restart).
        """
        if qty < 0:
            raise ValueError(f"cancel quantity {qty} is negative")
        original = self._original(order_no, original)
        body = {
            **self._account_fields(),
            "KRX_FWDG_ORD_ORGNO": org_no,
            "ORGN_ODNO": order_no,
            "ORD_DVSN": (original.order_type or OrderType.LIMIT).value,
            "RVSE_CNCL_DVSN_CD": "02",
            "ORD_QTY": str(qty),
            "ORD_UNPR": "0",
            "QTY_ALL_ORD_YN": "Y" if qty == 0 else "N",
            "EXCG_ID_DVSN_CD": getattr(original, "venue", "") or Venue.KRX.value,
        }
        try:
            reply = self.transport.post(ep.ORDER_REVISE_CANCEL, self.tr.revise_cancel, body,
                                        hashkey=self._use_hashkey)
        except NoAnswer as exc:
            raise OrderUncertain(f"the cancel of order {order_no} got no answer ({exc}); check today's "
                                 f"orders to see whether it was cancelled") from None
        out = reply.body.get("output") or {}
        return OrderAck(order_no=str(out.get("ODNO") or "").strip(),
                        org_no=str(out.get("KRX_FWDG_ORD_ORGNO") or org_no).strip(),
                        code=original.code, side=original.side, qty=qty or _remaining(original),
                        order_type=original.order_type or OrderType.LIMIT, price=0,
                        time=str(out.get("ORD_TMD") or "").strip(), venue=getattr(original, "venue", "KRX"))

    def revise(self, order_no: str, org_no: str, price: int, *,
               original: OrderStatus | OrderAck | None = None) -> OrderAck:
        """Move the whole unfilled rest of an open limit order to a new limit price (order-rvsecncl,
        RVSE_CNCL_DVSN_CD 01, QTY_ALL_ORD_YN Y): one call where a cancel and a new order take two.

        KIS answers with the revision's own order number (ODNO); the original keeps what it filled and
        its rest moves to the revision. Never re-sent on a lost answer (OrderUncertain); a refusal (the
        order filled meanwhile, nothing left to revise) is a KisError and changed nothing.
        """
        original = self._original(order_no, original)
        if int(price) <= 0:
            raise ValueError(f"a revision needs a positive price, not {price!r}")
        price = self.round_price(original.code, price, original.side)
        body = {
            **self._account_fields(),
            "KRX_FWDG_ORD_ORGNO": org_no,
            "ORGN_ODNO": order_no,
            "ORD_DVSN": OrderType.LIMIT.value,
            "RVSE_CNCL_DVSN_CD": "01",
            "ORD_QTY": "0",
            "ORD_UNPR": str(price),
            "QTY_ALL_ORD_YN": "Y",
            "EXCG_ID_DVSN_CD": getattr(original, "venue", "") or Venue.KRX.value,  # where the order went
        }
        try:
            reply = self.transport.post(ep.ORDER_REVISE_CANCEL, self.tr.revise_cancel, body,
                                        hashkey=self._use_hashkey)
        except NoAnswer as exc:
            raise OrderUncertain(f"the revision of order {order_no} got no answer ({exc}); check today's "
                                 f"orders to see whether it was revised") from None
        out = reply.body.get("output") or {}
        new_no = str(out.get("ODNO") or "").strip()
        if not new_no:
            raise OrderUncertain(f"KIS took the revision of order {order_no} without an order number; "
                                 f"check today's orders")
        return self._remember(OrderAck(
            order_no=new_no, org_no=str(out.get("KRX_FWDG_ORD_ORGNO") or org_no).strip(), code=original.code,
            side=original.side, qty=_remaining(original), order_type=OrderType.LIMIT, price=price,
            time=str(out.get("ORD_TMD") or "").strip(), venue=getattr(original, "venue", "") or Venue.KRX.value))

    def buying_power(self, code: str, price: int = 0, order_type: OrderType = OrderType.MARKET) -> BuyingPower:
        """What a buy of `code` of this type can spend without 미수, asked the way KIS's docs say.

        inquire_psbl_order.py: ORD_DVSN 00 (limit) "종목증거금율이 반영되지 않습니다", so the buyable figures
        must "반드시" be asked with 01, or with the order's own type when it is another one (IOC, ...).
        A limit buy is therefore asked as 01: its figures are costed at the upper limit (psbl_qty_calc_unpr).
        """
        order_type = OrderType(order_type)
        asked = OrderType.MARKET if order_type is OrderType.LIMIT else order_type
        return self.buyable_as(code, price, asked.value)

    def buyable_as(self, code: str, price: int, ord_dvsn: str) -> BuyingPower:
        """inquire-psbl-order asked with exactly this ORD_DVSN (the doctor compares 00 and 01)."""
        code = _check_code(code)
        ord_dvsn = OrderType(ord_dvsn).value
        if self._irp:
            return pension.buying_power(self, code, self.round_price(code, price, OrderSide.BUY) if price else 0,
                                        ord_dvsn)
        params = {
            **self._account_fields(),
            "PDNO": code,
            "ORD_UNPR": str(self.round_price(code, price, OrderSide.BUY) if price else 0),
            "ORD_DVSN": ord_dvsn,
            "CMA_EVLU_AMT_ICLD_YN": "N",
            "OVRS_ICLD_YN": "N",
        }
        out = self.transport.get(ep.BUYABLE, self.tr.buyable, params).body.get("output") or {}
        return BuyingPower(code=code, cash=to_int(out.get("ord_psbl_cash")),
                           max_amount=to_int(out.get("nrcvb_buy_amt")),
                           max_qty=to_int(out.get("nrcvb_buy_qty")),
                           unit_price=to_int(out.get("psbl_qty_calc_unpr")),
                           margin_amount=to_int(out.get("max_buy_amt")),
                           margin_qty=to_int(out.get("max_buy_qty")),
                           asked_with=ord_dvsn)


def _remaining(original: OrderStatus | OrderAck) -> int:
    return original.remaining_qty if isinstance(original, OrderStatus) else original.qty


# The cancel-confirmed quantity of a daily-orders row: the official samples' column mapping spells it
# cnc_cfrm_qty, KIS's own response example cncl_cfrm_qty; either may be what a live account sends.
CANCEL_CONFIRMED_KEYS = ("cnc_cfrm_qty", "cncl_cfrm_qty")


def _order_status(row: Mapping[str, Any]) -> OrderStatus | None:
    """One inquire-daily-ccld output1 row; rows with an unknown side are skipped."""
    try:
        side = OrderSide(str(row.get("sll_buy_dvsn_cd") or "").strip())
    except ValueError:
        log.warning("daily orders: row with side %r skipped", row.get("sll_buy_dvsn_cd"))
        return None
    try:
        order_type: OrderType | None = OrderType(str(row.get("ord_dvsn_cd") or "").strip())
    except ValueError:
        order_type = None  # e.g. after-hours order kinds kisbot does not send
    return OrderStatus(
        order_no=str(row.get("odno") or "").strip(),
        org_no=str(row.get("ord_gno_brno") or "").strip(),
        orig_order_no=str(row.get("orgn_odno") or "").strip(),
        code=str(row.get("pdno") or "").strip(),
        name=str(row.get("prdt_name") or "").strip(),
        side=side,
        order_type=order_type,
        qty=to_int(row.get("ord_qty")),
        price=to_int(row.get("ord_unpr")),
        filled_qty=to_int(row.get("tot_ccld_qty")),
        remaining_qty=to_int(row.get("rmn_qty")),
        avg_fill_price=to_int(row.get("avg_prvs")),
        filled_amount=to_int(row.get("tot_ccld_amt")),
        cancelled=str(row.get("cncl_yn") or "").strip().upper() == "Y",
        rejected_qty=to_int(row.get("rjct_qty")),
        cancelled_qty=to_int(next((row[k] for k in CANCEL_CONFIRMED_KEYS if row.get(k) not in (None, "")), 0)),
        time=str(row.get("ord_tmd") or "").strip(),
        venue=str(row.get("excg_id_dvsn_cd") or "KRX").strip().upper() or "KRX",
    )
