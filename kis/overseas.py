"""KIS's overseas (US) services for a `KisClient`: quotes, which exchange lists a ticker, and the US balance.

Requests and fields follow the official samples (koreainvestment/open-trading-api,
examples_llm/overseas_stock/price, price_detail, search_info, inquire_balance, inquire_present_balance and
their chk_*.py field lists). KIS sends every value as a string; dollars become `Decimal`s on the US grid and
amounts `int` cents here, and no raw KIS dict leaves this module.
"""
from __future__ import annotations

import json
import logging
import operator
import threading
from pathlib import Path
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from kis.codes import BadSymbol, shown, split_symbol
from kis.errors import KisError, KisTransportError, NoAnswer, OrderUncertain, UnknownStock
from kis.files import server_name, write_private
from kis.markets import KRX, US_MARKETS, USD, Market, market_named, market_of, to_krw
from kis.markets import us
from kis.markets.us import NEW_YORK
from kis.models import (CurrencyCash, Env, OrderSide, UsBalance, UsBuyingPower, UsHolding, UsOrderAck, UsOrderStatus,
                        UsQuote)

log = logging.getLogger(__name__)

MAX_PAGES = 50
TWO = Decimal("0.01")
# KIS answers a ticker asked on an exchange that does not list it with this refusal (open-trading-api #5).
NOT_LISTED_HERE = "APBK0656"


def price_places(price: Decimal) -> Decimal:
    """The places a US price is written with: two at $1 and above (and for 0), four below."""
    return TWO if abs(price) >= 1 or price == 0 else Decimal("0.0001")


def dollars(text: Any) -> Decimal:
    """A KIS dollar price string ("233.1200", "0.87345", "") as a Decimal with the US grid's places ("" is 0)."""
    value = _decimal(text)
    return value.quantize(price_places(value), rounding=ROUND_HALF_UP)


def cents(text: Any) -> int:
    """A KIS dollar amount string as int cents, rounded half up."""
    return USD.minor(_decimal(text))


def _decimal(text: Any) -> Decimal:
    s = str(text if text is not None else "").strip().replace(",", "").replace("+", "")
    if not s:
        return Decimal(0)
    try:
        return Decimal(s)
    except InvalidOperation:
        raise KisTransportError(f"KIS sent '{s}' where a number belongs") from None


def _int(text: Any) -> int:
    return int(_decimal(text).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _signed(value: Decimal, sign: Any) -> Decimal:
    """KIS's sign code (1 upper limit, 2 up, 3 flat, 4 lower limit, 5 down) gives the sign of a change."""
    code = str(sign or "").strip()
    if code in ("4", "5"):
        return -abs(value)
    if code in ("1", "2"):
        return abs(value)
    if code == "3":
        return abs(value) * 0
    return value


def _text(row: Mapping, *names: str) -> str:
    return next((str(row.get(n) or "").strip() for n in names if str(row.get(n) or "").strip()), "")


class Overseas:
    """The US side of one KIS account, through its client's transport, pace and clock."""

    def __init__(self, client):
        self._client = client
        self._lock = threading.Lock()
        self._markets: dict[str, Market] = {}  # ticker -> exchange KIS lists it on (asked once)
        self._names: dict[str, str] = {}
        self._loaded = False
        self.orders = UsOrders(self)

    @property
    def cache_path(self) -> Path | None:
        """Where the exchanges found are kept across runs: one file per KIS server in the data dir."""
        config = self._client.config
        if not getattr(config, "data_dir", None):
            return None
        return Path(config.data_dir) / f"us-exchanges-{server_name(config.base_url)}.json"

    def _load(self) -> None:
        """Read the kept exchanges once (a missing or unreadable file is an empty cache); under the lock."""
        if self._loaded:
            return
        self._loaded = True
        path = self.cache_path
        try:
            kept = json.loads(path.read_text(encoding="utf-8")) if path and path.exists() else {}
            for ticker, entry in kept.items():
                self._markets.setdefault(ticker, market_named(entry["market"]))
                if entry.get("name"):
                    self._names.setdefault(ticker, entry["name"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("the kept US exchanges in %s are unreadable (%s); asking KIS again", path, exc)

    def _save(self) -> None:
        """Keep the exchanges found (best effort: a cache that cannot be written only costs calls)."""
        path = self.cache_path
        if path is None:
            return
        with self._lock:
            kept = {t: {"market": m.code, "name": self._names.get(t, "")} for t, m in sorted(self._markets.items())}
        try:
            write_private(path, json.dumps(kept, ensure_ascii=False, indent=0))
        except OSError as exc:
            log.info("could not keep the US exchanges in %s: %s", path, exc)

    @property
    def _env(self):
        return self._client.config.env

    def _get(self, call: str, params: Mapping[str, str], *, tr_cont: str = ""):
        endpoint = us.ENDPOINTS[call]
        return self._client.transport.get(endpoint.path, endpoint.tr_id(self._env), params, tr_cont=tr_cont)

    # ---- exchanges ----------------------------------------------------------------------------

    def market(self, symbol: str) -> Market:
        """The exchange that lists `symbol` (a prefix says it; else search-info, else the quote on NAS, NYS, AMS).

        Asked once per ticker and kept. UnknownStock when no US exchange lists it.
        """
        market, ticker = self._parse(symbol)
        if market is not None:
            return market
        with self._lock:
            self._load()
            if ticker in self._markets:
                return self._markets[ticker]
        found = self._look_up(ticker)
        if found is None:
            raise UnknownStock([ticker])
        return found[0]

    def known_market(self, ticker: str) -> Market | None:
        """The exchange already resolved for `ticker`, without a call (None when not yet asked)."""
        with self._lock:
            self._load()
            return self._markets.get(ticker)

    def _remember(self, ticker: str, market: Market, name: str = "") -> None:
        with self._lock:
            self._load()
            changed = self._markets.get(ticker) is not market or (name and self._names.get(ticker) != name)
            self._markets[ticker] = market
            if name or ticker not in self._names:
                self._names[ticker] = name
        if changed:
            self._save()

    @staticmethod
    def _parse(symbol: str) -> tuple[Market | None, str]:
        try:
            market = market_of(symbol)
            _, ticker = split_symbol(symbol)
        except BadSymbol:
            raise UnknownStock([shown(symbol)]) from None
        if market is KRX:
            raise UnknownStock([ticker])  # a KRX code is not a US ticker
        return market, ticker

    def _look_up(self, ticker: str) -> tuple[Market, UsQuote | None] | None:
        """(exchange, the quote that found it where a quote did) of a ticker not yet kept, or None."""
        if us.SEARCH_INFO.served(self._env):
            for market in US_MARKETS:
                info = self.search_info(ticker, market)
                if info is not None:
                    found, name = info
                    self._remember(ticker, found, name)
                    return found, None
            return None
        for market in US_MARKETS:  # mock has no product lookup: the exchange whose quote knows the ticker
            quote = self._price_on(ticker, market)
            if quote is not None:
                return market, quote  # _price_on kept the exchange
        return None

    def _name_once(self, ticker: str, market: Market) -> None:
        """Ask search-info once for the name of a ticker whose exchange the user wrote (where KIS serves it)."""
        with self._lock:
            self._load()
            if ticker in self._names or not us.SEARCH_INFO.served(self._env):
                return
            self._names[ticker] = ""  # asked: a miss is not asked again
        info = self.search_info(ticker, market)
        if info is not None and info[0] is market:
            self._remember(ticker, market, info[1])

    def search_info(self, ticker: str, market: Market) -> tuple[Market, str] | None:
        """KIS's product facts of `ticker` as listed on `market` (search-info, CTPF1702R): (exchange, name), or
        None when that exchange does not list it. NotServed where KIS does not serve the lookup (mock)."""
        try:
            reply = self._get("search_info", {"PRDT_TYPE_CD": market.product_type, "PDNO": ticker})
        except KisError as exc:
            if type(exc) is not KisError:
                raise
            log.info("search-info for %s on %s refused: %s", ticker, market, exc)
            return None
        out = reply.body.get("output") or {}
        if isinstance(out, list):
            out = out[0] if out else {}
        name = _text(out, "prdt_eng_name", "ovrs_item_name", "prdt_name")
        if not name:
            return None
        try:
            listed = market_named(_text(out, "ovrs_excg_cd") or market.code)
        except KeyError:
            listed = market
        return listed, name

    # ---- quotes ---------------------------------------------------------------------------------

    def price(self, symbol: str, *, name: bool = True) -> UsQuote:
        """The current price of one US stock; UnknownStock when no US exchange lists it.

        A prefixed symbol (NASD:AAPL) is quoted on that exchange with no lookup; `name=False` also skips asking
        search-info once for its name (an executor quoting the plan's tickers needs no names)."""
        market, ticker = self._parse(symbol)
        named = market is not None
        if market is None:
            market = self.known_market(ticker)
        if market is None:
            found = self._look_up(ticker)
            if found is None:
                raise UnknownStock([ticker])
            market, quote = found
            if quote is not None:  # the lookup's own quote (mock): no second call
                return quote
        elif named and name:
            self._name_once(ticker, market)
        quote = self._price_on(ticker, market)
        if quote is None:  # a prefixed ticker is named with its prefix: the exchange was the user's word
            raise UnknownStock([f"{market.code}:{ticker}" if named else ticker])
        return quote

    def prices(self, symbols: Iterable[str]) -> dict[str, UsQuote]:
        """Quotes by ticker for many symbols (one call each once the exchange is known); UnknownStock naming
        every ticker no exchange lists, after asking for all."""
        quotes: dict[str, UsQuote] = {}
        unknown: list[str] = []
        for symbol in symbols:
            try:
                quote = self.price(symbol)
            except UnknownStock as exc:
                unknown += [c for c in exc.codes if c not in unknown]
                continue
            quotes.setdefault(quote.symbol, quote)
        if unknown:
            raise UnknownStock(unknown)
        return quotes

    def _price_on(self, ticker: str, market: Market) -> UsQuote | None:
        """The quote of `ticker` on `market`, or None when that exchange does not list it (APBK0656 or empty)."""
        try:
            reply = self._get("price", {"AUTH": "", "EXCD": market.quote_code, "SYMB": ticker})
        except KisError as exc:
            if type(exc) is not KisError:  # rate limit, token, ...: not about the ticker
                raise
            log.info("quote for %s on %s refused: %s", ticker, market, exc)
            return None
        out = reply.body.get("output") or {}
        if isinstance(out, list):
            out = out[0] if out else {}
        price = dollars(out.get("last"))
        if price <= 0:
            return None
        prev = dollars(out.get("base"))
        sign = out.get("sign")
        change = _signed(_decimal(out.get("diff")).quantize(price_places(price), rounding=ROUND_HALF_UP), sign)
        rate = _signed(_decimal(out.get("rate")).quantize(TWO, rounding=ROUND_HALF_UP), sign)
        ordy = str(out.get("ordy") or "").strip()
        if self.known_market(ticker) is not market:
            self._remember(ticker, market)  # the quote confirms the exchange (a prefix the user wrote, say)
        with self._lock:
            name = self._names.get(ticker, "")
        return UsQuote(symbol=ticker, market=market.code, price=price, prev_close=prev, change=change,
                       change_rate=rate, volume=_int(out.get("tvol")), name=name, at=self._client._wall(),
                       orderable=not ordy.endswith("불가"))

    # ---- balance --------------------------------------------------------------------------------

    def balance(self) -> UsBalance:
        """US holdings, foreign cash and the rate KIS values them at (inquire-present-balance, in dollars)."""
        params = {**self._client._account_fields(), "WCRC_FRCR_DVSN_CD": "02", "NATN_CD": "840", "TR_MKET_CD": "00",
                  "INQR_DVSN_CD": "00"}
        body = self._get("present_balance", params).body  # one page: KIS sends no continuation key here
        rows = _rows(body.get("output1"))
        currencies = _rows(body.get("output2"))
        summary = (_rows(body.get("output3")) or [{}])[0]
        rate = next((_decimal(r.get("bass_exrt")) for r in rows if _decimal(r.get("bass_exrt")) > 0), Decimal(0))
        if rate <= 0:
            rate = next((_decimal(c.get("frst_bltn_exrt")) for c in currencies
                         if _text(c, "crcy_cd") == "USD" and _decimal(c.get("frst_bltn_exrt")) > 0), Decimal(0))
        rate = rate.quantize(TWO, rounding=ROUND_HALF_UP)
        holdings = []
        for row in rows:
            qty = _int(row.get("cblc_qty13"))
            if qty == 0:
                continue  # sold today: KIS keeps the row with zero shares
            symbol = _text(row, "pdno")
            try:
                market = market_named(_text(row, "ovrs_excg_cd")).code
            except KeyError:
                market = _text(row, "ovrs_excg_cd")
            value = cents(row.get("frcr_evlu_amt2"))
            holdings.append(UsHolding(
                symbol=symbol, market=market, name=_text(row, "prdt_name"), qty=qty,
                orderable_qty=_int(row.get("ord_psbl_qty1")), avg_price=dollars(row.get("avg_unpr3")),
                price=dollars(row.get("ovrs_now_pric1")), value=value, cost=cents(row.get("frcr_pchs_amt")),
                pnl=cents(row.get("evlu_pfls_amt2")),
                pnl_rate=_decimal(row.get("evlu_pfls_rt1")).quantize(TWO, rounding=ROUND_HALF_UP),
                value_krw=to_krw(value, rate)))
            if market in ("NASD", "NYSE", "AMEX"):
                self._remember(symbol, market_named(market), "")
        cash = []
        for c in currencies:
            code = _text(c, "crcy_cd")
            if not code:
                continue
            usable = cents(summary.get("frcr_use_psbl_amt")) if code == "USD" else 0
            cash.append(CurrencyCash(code, deposit=cents(c.get("frcr_dncl_amt_2")), orderable=usable,
                                     withdrawable=cents(c.get("frcr_drwg_psbl_amt_1"))))
        usd = next((c.deposit for c in cash if c.currency == "USD"), 0)
        return UsBalance(tuple(holdings), tuple(cash), rate, self._client._wall(), _int(summary.get("tot_asst_amt")),
                         cash_krw=to_krw(usd, rate))

    def holdings(self, market: Market) -> list[UsHolding]:
        """Every page of inquire-balance (TTTS3012R) for one exchange code (on mock NASD is Nasdaq alone; on real
        it is all of the US). Its rows carry no rate, so `value_krw` is 0 here: the won values are us_balance's."""
        params = {**self._client._account_fields(), "OVRS_EXCG_CD": market.order_code, "TR_CRCY_CD": "USD"}
        fk = nk = tr_cont = ""
        rows: list[UsHolding] = []
        for _ in range(MAX_PAGES):
            reply = self._get("balance", {**params, "CTX_AREA_FK200": fk, "CTX_AREA_NK200": nk}, tr_cont=tr_cont)
            for row in _rows(reply.body.get("output1")):
                qty = _int(row.get("ovrs_cblc_qty"))
                if not qty:
                    continue
                rows.append(UsHolding(
                    symbol=_text(row, "ovrs_pdno"), market=_text(row, "ovrs_excg_cd"), name=_text(row, "ovrs_item_name"),
                    qty=qty, orderable_qty=_int(row.get("ord_psbl_qty")), avg_price=dollars(row.get("pchs_avg_pric")),
                    price=dollars(row.get("now_pric2")), value=cents(row.get("ovrs_stck_evlu_amt")),
                    cost=cents(row.get("frcr_pchs_amt1")), pnl=cents(row.get("frcr_evlu_pfls_amt")),
                    pnl_rate=_decimal(row.get("evlu_pfls_rt")).quantize(TWO, rounding=ROUND_HALF_UP), value_krw=0))
            if not reply.more:
                return rows
            next_fk = str(reply.body.get("ctx_area_fk200") or "")
            next_nk = str(reply.body.get("ctx_area_nk200") or "")
            if (next_fk, next_nk) == (fk, nk):
                raise KisTransportError("KIS sent the same overseas balance page twice; stopped instead of looping")
            fk, nk, tr_cont = next_fk, next_nk, "N"
        raise KisTransportError(f"the overseas balance has more than {MAX_PAGES} pages; stopped instead of looping")


def us_price_text(price: Decimal) -> str:
    """A US limit as KIS takes it: two places at $1 and above, four below ("233.12", "0.8734")."""
    return f"{price.quantize(price_places(price))}"


def _us_price(price: Any) -> Decimal:
    """A US limit given by the caller: a Decimal (or an int of dollars); a float is a caller bug."""
    if isinstance(price, bool) or not isinstance(price, (Decimal, int)):
        raise ValueError(f"a US price is a Decimal of dollars, not {price!r}")
    value = Decimal(price)
    if not value.is_finite() or value <= 0:
        raise ValueError(f"a US limit order needs a positive price, not {price!r}")
    return value


def _shares(qty: Any) -> int:
    try:
        if isinstance(qty, bool):
            raise TypeError
        qty = operator.index(qty)
    except TypeError:
        raise ValueError(f"order quantity {qty!r} is not a whole number of shares") from None
    if qty <= 0:
        raise ValueError(f"order quantity {qty!r} is not a positive number of shares")
    return qty


class UsOrders:
    """US orders of one KIS account: limit buys and sells, cancels, today's orders, buying power."""

    def __init__(self, overseas: Overseas):
        self._o = overseas
        self._client = overseas._client
        self._acks: dict[str, UsOrderAck] = {}

    def _post(self, call: str, body: Mapping[str, str]):
        endpoint = us.ENDPOINTS[call]
        return self._client.transport.post(endpoint.path, endpoint.tr_id(self._o._env), body,
                                           hashkey=self._client._use_hashkey)

    def order(self, symbol: str, side: OrderSide, qty: int, price: Decimal) -> UsOrderAck:
        """Send a US limit order (ORD_DVSN 00) exactly once, on the US grid (a buy rounds down, a sell up).

        OrderUncertain when it may have reached KIS without an answer (lost, EGW00215): never sent again here;
        NotSent and KisError mean it was not placed.
        """
        side = OrderSide(side)
        qty = _shares(qty)
        price = _us_price(price)
        market = self._o.market(symbol)
        _, ticker = split_symbol(symbol)
        price = market.round_price(price, side)
        if price <= 0:
            raise ValueError(f"a US limit of {price} is below the grid's smallest step")
        body = {**self._client._account_fields(), "OVRS_EXCG_CD": market.order_code, "PDNO": ticker,
                "ORD_QTY": str(qty), "OVRS_ORD_UNPR": us_price_text(price), "CTAC_TLNO": "", "MGCO_APTM_ODNO": "",
                "SLL_TYPE": "00" if side is OrderSide.SELL else "", "ORD_SVR_DVSN_CD": "0", "ORD_DVSN": "00"}
        try:
            reply = self._post("sell" if side is OrderSide.SELL else "buy", body)
        except NoAnswer as exc:
            log.warning("US order %s %s x%d: %s", side.label, ticker, qty, exc)
            raise OrderUncertain(f"the {side.label} order for {ticker} x{qty} may have reached KIS but its answer "
                                 f"was lost ({exc}); check today's US orders before sending it again") from None
        out = _first(reply.body.get("output"))
        order_no = _text(out, "ODNO", "odno")
        if not order_no:
            raise OrderUncertain(f"KIS took the {side.label} order for {ticker} without an order number; check "
                                 f"today's US orders before sending anything again")
        ack = UsOrderAck(order_no=order_no, org_no=_text(out, "KRX_FWDG_ORD_ORGNO"), symbol=ticker,
                         market=market.code, side=side, qty=qty, price=price, time=_text(out, "ORD_TMD"))
        self._acks[order_no.lstrip("0")] = ack
        return ack

    def cancel(self, order_no: str, symbol: str = "", qty: int = 0) -> UsOrderAck:
        """Cancel the unfilled rest of a US order (order-rvsecncl 02, OVRS_ORD_UNPR "0"). Never re-sent on a lost
        answer. The order's ticker and exchange come from this client's own ack, else from today's orders."""
        if qty < 0:
            raise ValueError(f"cancel quantity {qty} is negative")
        original = self._acks.get(order_no.lstrip("0"))
        if original is None:
            found = [o for o in self.today() if o.order_no.lstrip("0") == order_no.lstrip("0")]
            if not found:
                raise KisError("", f"US order {order_no} is not among today's orders")
            o = found[0]
            market, ticker, rest, side = market_named(o.market), o.symbol, o.remaining_qty, o.side
        else:
            market, ticker, rest, side = market_named(original.market), original.symbol, original.qty, original.side
        if symbol and split_symbol(symbol)[1] != ticker:
            raise ValueError(f"US order {order_no} is for {ticker}, not {symbol}")
        qty = qty or rest
        body = {**self._client._account_fields(), "OVRS_EXCG_CD": market.order_code, "PDNO": ticker,
                "ORGN_ODNO": order_no, "RVSE_CNCL_DVSN_CD": "02", "ORD_QTY": str(qty), "OVRS_ORD_UNPR": "0",
                "MGCO_APTM_ODNO": "", "ORD_SVR_DVSN_CD": "0"}
        try:
            reply = self._post("revise_cancel", body)
        except NoAnswer as exc:
            raise OrderUncertain(f"the cancel of US order {order_no} got no answer ({exc}); check today's US "
                                 f"orders to see whether it was cancelled") from None
        out = _first(reply.body.get("output"))
        return UsOrderAck(order_no=_text(out, "ODNO"), org_no=_text(out, "KRX_FWDG_ORD_ORGNO"), symbol=ticker,
                          market=market.code, side=side, qty=qty, price=Decimal(0), time=_text(out, "ORD_TMD"))

    def today(self) -> list[UsOrderStatus]:
        """Today's US orders by New York date (inquire-ccnl, every page); a cancel is its own row."""
        day = self._client._wall().astimezone(NEW_YORK).strftime("%Y%m%d")
        real = self._o._env is Env.REAL
        params = {**self._client._account_fields(), "PDNO": "%" if real else "", "ORD_STRT_DT": day,
                  "ORD_END_DT": day, "SLL_BUY_DVSN": "00", "CCLD_NCCS_DVSN": "00",
                  "OVRS_EXCG_CD": "NASD" if real else "", "SORT_SQN": "DS", "ORD_DT": "", "ORD_GNO_BRNO": "",
                  "ODNO": ""}  # mock takes only "" and 00 (inquire_ccnl.py); on real NASD is all of the US
        fk = nk = tr_cont = ""
        orders: list[UsOrderStatus] = []
        for _ in range(MAX_PAGES):
            reply = self._o._get("orders", {**params, "CTX_AREA_NK200": nk, "CTX_AREA_FK200": fk}, tr_cont=tr_cont)
            orders += [_us_status(row) for row in _rows(reply.body.get("output")) if _text(row, "odno")]
            if not reply.more:
                return orders
            next_fk = str(reply.body.get("ctx_area_fk200") or "")
            next_nk = str(reply.body.get("ctx_area_nk200") or "")
            if (next_fk, next_nk) == (fk, nk):
                raise KisTransportError("KIS sent the same page of today's US orders twice; stopped instead of looping")
            fk, nk, tr_cont = next_fk, next_nk, "N"
        raise KisTransportError(f"today's US orders have more than {MAX_PAGES} pages; stopped instead of looping")

    def psamount(self, symbol: str, price: Decimal) -> UsBuyingPower:
        """What a US buy of `symbol` at `price` can take (inquire-psamount, TTTS3007R / VTTS3007R)."""
        price = _us_price(price)
        market = self._o.market(symbol)
        _, ticker = split_symbol(symbol)
        price = market.round_price(price, OrderSide.BUY)
        params = {**self._client._account_fields(), "OVRS_EXCG_CD": market.order_code,
                  "OVRS_ORD_UNPR": us_price_text(price), "ITEM_CD": ticker}
        out = _first(self._o._get("buyable", params).body.get("output"))
        return UsBuyingPower(symbol=ticker, market=market.code, price=price,
                             orderable=cents(out.get("ord_psbl_frcr_amt")), max_qty=_int(out.get("max_ord_psbl_qty")),
                             integrated_qty=_int(out.get("ovrs_max_ord_psbl_qty")),
                             after_exchange_qty=_int(out.get("echm_af_ord_psbl_qty")),
                             rate=_decimal(out.get("exrt")).quantize(TWO, rounding=ROUND_HALF_UP))


def _first(value: Any) -> Mapping[str, Any]:
    rows = _rows(value)
    return rows[0] if rows else {}


def _us_status(row: Mapping[str, Any]) -> UsOrderStatus:
    kind = {"01": "revise", "02": "cancel"}.get(_text(row, "rvse_cncl_dvsn"), "new")
    side = OrderSide.SELL if _text(row, "sll_buy_dvsn_cd") == "01" else OrderSide.BUY
    return UsOrderStatus(
        order_no=_text(row, "odno"), org_no=_text(row, "ord_gno_brno"), orig_order_no=_text(row, "orgn_odno"),
        symbol=_text(row, "pdno"), market=_text(row, "ovrs_excg_cd"), name=_text(row, "prdt_name"), side=side,
        kind=kind, qty=_int(row.get("ft_ord_qty")), price=dollars(row.get("ft_ord_unpr3")),
        filled_qty=_int(row.get("ft_ccld_qty")), remaining_qty=_int(row.get("nccs_qty")),
        avg_fill_price=dollars(row.get("ft_ccld_unpr3")), filled_amount=cents(row.get("ft_ccld_amt3")),
        day=_text(row, "ord_dt"), time=_text(row, "ord_tmd"))


def _rows(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [value]
    return [r for r in (value or []) if isinstance(r, Mapping)]
