"""The paper exchange's websocket: approval keys, encrypted H0STCNI9 notices for its own orders, plain
H0STCNT0 trade prices (실시간체결가) of the stocks a session registers, from the price walk, and plain
H0STASP0 / H0UNASP0 books (실시간호가, ten levels a side) from the sim's order book (kis.sim.book).

Like KIS: the approval key comes from POST /oauth2/Approval (`secretkey`), a subscribe answer carries
a fresh AES-256 key/iv per session, data frames are `1|H0STCNI9|NNN|<base64>` of 26-field records,
and the server sends PINGPONG now and then. A subscription for another HTS ID is answered as KIS
answers it: the connection is dropped with no close frame (official README: "'No close frame received'
오류가 발생하는 경우 … HTS ID가 정확한지 확인"); `wrong_hts_id = "answer"` sends a JSON refusal instead.
Subscribing a feed the session holds is answered OPSP0002 ALREADY IN SUBSCRIBE (rt_cd 1). Faults
(kis.sim.faults) drop the connection, skip or repeat a notice, send an error frame on a subscribed
session, precede a notice by a frame whose count is not ASCII, answer a subscription "already in
subscribe", or refuse a second session; `prices_paused` stops the trade prices alone. A session holds
at most MAX_REGISTRATIONS feeds (notices and prices together), as KIS's.
"""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
import string
import threading
from dataclasses import dataclass, field
from typing import Callable

from kis.models import Account
from kis.sim.venues import fill_code
from kis.notices import (BOOK_FIELDS, MAX_REGISTRATIONS, NOTICE_FIELDS, PRICE_FIELDS, PRICE_TR_ID, US_NOTICE_FIELDS,
                         US_NOTICE_TR_IDS, WIRE_LOG, encrypt)
from kis.sim.exchange import LIMIT, SimOrder
from kis.sim.faults import Faults

log = logging.getLogger(__name__)

TR_ID = "H0STCNI9"  # the sim speaks the mock protocol
US_TR_ID = US_NOTICE_TR_IDS["mock"]  # H0GSCNI9: fills of US orders
US_ORDER_KINDS = {"00": "2"}  # ODER_KIND2 of a limit order (unverified: KIS's list names 2 지정가)
SUBSCRIBED = ("OPSP0000", "SUBSCRIBE SUCCESS")
UNSUBSCRIBED = ("OPSP0001", "UNSUBSCRIBE SUCCESS")
IN_USE = ("OPSP8996", "ALREADY IN USE appkey")  # python-kis knows the code; wording is a guess
# Codes and wording below from a third-party table of KIS's OPSP codes (unverified officially).
BAD_KEY = ("OPSP0011", "invalid approval : NOT FOUND")
BAD_TR_KEY = ("OPSP8992", "SUBSCRIBE ERROR : invalid tr_key")  # only with wrong_hts_id = "answer"
SESSION_ERROR = ("OPSP0007", "SUBSCRIBE INTERNAL ERROR")  # the ws_error fault
ALREADY = ("OPSP0002", "ALREADY IN SUBSCRIBE")  # rt_cd 1: the session holds the feed (legacy samples, python-kis)
BAD_TR_ID = ("OPSP8991", "SUBSCRIBE ERROR : invalid tr_id")  # code from third-party tables (unverified)
TOO_MANY = ("OPSP0008", "MAX SUBSCRIBE OVER")  # python-kis's wording; the code is a guess
BAD_CODE = ("OPSP8992", "SUBSCRIBE ERROR : invalid tr_key")  # a code the market does not list
CORRECTIONS = {"new": "0", "revise": "1", "cancel": "2"}
MATCH_SECONDS = 0.2  # how often fills are looked for while someone listens (the REST side matches per request)
PRICE_SECONDS = 1.0  # a registered stock's trade price and book are sent this often (KIS: one per change)
PLAIN_TR_IDS = frozenset({PRICE_TR_ID, *BOOK_FIELDS})  # market data: plain frames, registered per stock code


class ApprovalBook:
    """Approval keys handed out by /oauth2/Approval, each with the app key it was issued to; any opens a session."""

    def __init__(self):
        self._keys: dict[str, str] = {}
        self._lock = threading.Lock()

    def issue(self, app_key: str = "") -> str:
        key = secrets.token_hex(36)[:70]
        with self._lock:
            self._keys[key] = app_key
        return key

    def valid(self, key: str) -> bool:
        with self._lock:
            return key in self._keys

    def owner(self, key: str) -> str:
        """The app key an approval key was issued to ('' when unknown)."""
        with self._lock:
            return self._keys.get(key, "")


@dataclass
class _Session:
    ws: object
    key: str = field(default_factory=lambda: _random_text(32))
    iv: str = field(default_factory=lambda: _random_text(16))
    subscribed: bool = False
    us_subscribed: bool = False  # H0GSCNI9: US fill notices
    prices: list = field(default_factory=list)  # stock codes registered for trade prices
    books: list = field(default_factory=list)  # (tr_id, code) registered for books (H0STASP0, H0UNASP0)
    app_key: str = ""  # whose approval key opened it: KIS allows one session per app key

    @property
    def registrations(self) -> int:
        return int(self.subscribed) + int(self.us_subscribed) + len(self.prices) + len(self.books)


def _abort(session: _Session) -> None:
    """Cut the TCP connection: no close frame, as a network failure (or KIS on a wrong HTS ID)."""
    transport = getattr(session.ws, "transport", None)
    if transport is not None:
        transport.abort()


def _random_text(n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


class NoticeServer:
    """Serves the websocket on 127.0.0.1 in a daemon thread with its own event loop."""

    def __init__(self, exchange, *, account: Account, hts_id: str, approvals: ApprovalBook, faults: Faults,
                 clock: Callable, host: str = "127.0.0.1", port: int = 0, ping_seconds: float = 30.0, book=None,
                 us_exchange=None):
        self.exchange, self.account, self.hts_id = exchange, account, hts_id
        self.book = book  # kis.sim.book.Book: the levels H0STASP0 sends and H0STCNT0's best prices
        self.approvals, self.faults, self.clock = approvals, faults, clock
        self.host, self.port, self.ping_seconds = host, port, ping_seconds
        self.sessions: list[_Session] = []
        self.sent = 0  # notice records sent, for tests
        # KIS drops the connection without a close frame on a wrong HTS ID; "answer" is kinder (JSON refusal).
        self.wrong_hts_id = "drop"
        self.dropped_for_hts_id = 0  # sessions dropped for a wrong HTS ID, for tests
        self._last_cipher: tuple[str, str] | None = None  # key and iv of the last notice subscription
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.us_exchange = us_exchange
        self.served: list[tuple] = []  # (exchange, account, us_exchange) of every account whose notices it sends
        self.serve(exchange, account, us_exchange)

    def serve(self, exchange, account: Account, us_exchange=None) -> None:
        """Send the notices of this account's orders too (a sim of several accounts): every session subscribed
        with the HTS ID gets them, each record naming its account in ACNT_NO, and the client keeps its own."""
        self.served.append((exchange, account, us_exchange))
        exchange.listeners.append(lambda kind, order, qty, price: self._on_exchange(kind, order, qty, price, account))
        if us_exchange is not None:
            us_exchange.listeners.append(
                lambda kind, order, qty, price: self._on_us_exchange(kind, order, qty, price, account))

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self) -> "NoticeServer":
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="kis-sim-ws", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise OSError("the sim's websocket did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:
                pass
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def drop_all(self) -> None:
        """Close every session abruptly (as a network failure would)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._abort_all)

    # the loop ------------------------------------------------------------------------------------
    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._handle, self.host, self.port, ping_interval=None, logger=WIRE_LOG) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            ticker = asyncio.ensure_future(self._tick())
            await self._stop.wait()
            ticker.cancel()
            self._abort_all()

    async def _tick(self) -> None:
        waited = since_prices = 0.0
        while True:
            await asyncio.sleep(MATCH_SECONDS)
            since_prices += MATCH_SECONDS
            if since_prices >= PRICE_SECONDS:
                since_prices = 0.0
                await self._send_prices()
            if not any(s.subscribed or s.us_subscribed for s in self.sessions):
                continue
            try:
                for exchange, _, us_exchange in list(self.served):
                    await asyncio.to_thread(exchange.match)
                    if us_exchange is not None:
                        await asyncio.to_thread(us_exchange.match)
            except Exception:  # a sim bug must not stop the notices
                log.exception("sim: matching for notices failed")
            waited += MATCH_SECONDS
            if waited >= self.ping_seconds:
                waited = 0.0
                ping = json.dumps({"header": {"tr_id": "PINGPONG", "datetime": self.clock().strftime("%Y%m%d%H%M%S")}})
                for s in list(self.sessions):
                    await self._send(s, ping)

    def _abort_all(self) -> None:
        for s in list(self.sessions):
            _abort(s)

    async def _handle(self, ws) -> None:
        session = _Session(ws)
        self.sessions.append(session)
        try:
            async for raw in ws:
                await self._request(session, raw)
        except Exception:  # a dropped client is normal
            pass
        finally:
            if session in self.sessions:
                self.sessions.remove(session)

    async def _request(self, session: _Session, raw) -> None:
        try:
            data = json.loads(raw)
            header, body = data["header"], data["body"]["input"]
            tr_id, tr_key, tr_type = str(body["tr_id"]), str(body.get("tr_key", "")), str(header["tr_type"])
        except (ValueError, KeyError, TypeError):
            log.info("sim websocket: unreadable request ignored")
            return
        answer = lambda msg, ok=False, output=None: self._answer(session, tr_id, tr_key, msg, ok, output)  # noqa: E731
        if not self.approvals.valid(str(header.get("approval_key", ""))):
            return await answer(BAD_KEY)
        session.app_key = self.approvals.owner(str(header.get("approval_key", "")))
        if tr_id in PLAIN_TR_IDS:
            return await self._price_request(session, tr_id, tr_key, tr_type, answer)
        if tr_id == US_TR_ID and self.us_exchange is not None:
            return await self._us_request(session, tr_key, tr_type, answer)
        if tr_id != TR_ID:
            return await answer(BAD_TR_ID)
        if tr_key != self.hts_id:
            return await self._wrong_hts_id(session, answer)
        if tr_type == "2":
            session.subscribed = False
            return await answer(UNSUBSCRIBED, ok=True)
        if self.faults.refuse_second_session and any(s.subscribed for s in self.sessions
                                                     if s is not session and s.app_key == session.app_key):
            return await answer(IN_USE)
        if session.subscribed:
            return await answer(ALREADY)
        if session.registrations >= MAX_REGISTRATIONS:
            return await answer(TOO_MANY)
        session.subscribed = True
        if self._last_cipher is not None and self.faults.take_ws("already"):
            session.key, session.iv = self._last_cipher  # the registration KIS still holds, and its cipher
            return await answer(ALREADY)
        self._last_cipher = (session.key, session.iv)
        await answer(SUBSCRIBED, ok=True, output={"iv": session.iv, "key": session.key})

    async def _wrong_hts_id(self, session: _Session, answer) -> None:
        """A notice subscription for another HTS ID: dropped with no close frame as KIS does (or a JSON refusal)."""
        if self.wrong_hts_id == "answer":
            return await answer(BAD_TR_KEY)
        self.dropped_for_hts_id += 1
        _abort(session)

    async def _us_request(self, session: _Session, tr_key: str, tr_type: str, answer) -> None:
        """H0GSCNI9 (US fills), keyed by the HTS ID as H0STCNI9 is; the session's key and iv decrypt both."""
        if tr_key != self.hts_id:
            return await self._wrong_hts_id(session, answer)
        if tr_type == "2":
            session.us_subscribed = False
            return await answer(UNSUBSCRIBED, ok=True)
        if session.us_subscribed:
            return await answer(ALREADY)
        if session.registrations >= MAX_REGISTRATIONS:
            return await answer(TOO_MANY)
        session.us_subscribed = True
        await answer(SUBSCRIBED, ok=True, output={"iv": session.iv, "key": session.key})

    async def _price_request(self, session: _Session, tr_id: str, code: str, tr_type: str, answer) -> None:
        feed, entry = (session.prices, code) if tr_id == PRICE_TR_ID else (session.books, (tr_id, code))
        if tr_type == "2":
            if entry in feed:
                feed.remove(entry)
            return await answer(UNSUBSCRIBED, ok=True)
        if not self.exchange.market.knows(code) or (tr_id != PRICE_TR_ID and self.book is None):
            return await answer(BAD_CODE)
        if entry in feed:
            return await answer(ALREADY)
        if session.registrations >= MAX_REGISTRATIONS:
            return await answer(TOO_MANY)
        feed.append(entry)
        await answer(SUBSCRIBED, ok=True)  # plain frames: no key/iv

    async def _send_prices(self) -> None:
        if self.faults.prices_paused:
            return
        for s in list(self.sessions):
            for code in list(s.prices):
                quote = self.exchange.market.quote(code)
                if quote is not None:
                    await self._send(s, f"0|{PRICE_TR_ID}|001|{self._price_record(quote)}")
            for tr_id, code in list(s.books):
                quote = self.exchange.market.quote(code)
                if quote is not None:
                    await self._send(s, f"0|{tr_id}|001|{self._book_record(tr_id, quote)}")

    def _snapshot(self, code: str):
        with self.exchange.lock:
            return self.book.snapshot(code, self.exchange.open_orders())

    def _book_record(self, tr_id: str, quote) -> str:
        """One H0STASP0 / H0UNASP0 record: ten levels a side of the book, KIS's fields in KIS's order."""
        snap = self._snapshot(quote.code)
        values = dict.fromkeys(BOOK_FIELDS[tr_id], "0")
        for i, ((ask, ask_qty), (bid, bid_qty)) in enumerate(zip(snap.asks, snap.bids), start=1):
            values |= {f"ASKP{i}": str(ask), f"BIDP{i}": str(bid), f"ASKP_RSQN{i}": str(ask_qty),
                       f"BIDP_RSQN{i}": str(bid_qty)}
        values |= {"MKSC_SHRN_ISCD": quote.code, "BSOP_HOUR": snap.at.strftime("%H%M%S"), "HOUR_CLS_CODE": "0",
                   "TOTAL_ASKP_RSQN": str(snap.total_ask), "TOTAL_BIDP_RSQN": str(snap.total_bid),
                   "ANTC_CNTG_VRSS_SIGN": "3", "ANTC_CNTG_PRDY_CTRT": "0.00", "ACML_VOL": str(quote.volume)}
        if "MARKET_CLS_CODE" in values:
            values["MARKET_CLS_CODE"] = "J"  # unverified: what KIS sends there is not documented
        return "^".join(values[name] for name in BOOK_FIELDS[tr_id])

    def _price_record(self, quote) -> str:
        change = quote.change
        if quote.price >= quote.upper:
            sign = "1"
        elif quote.price <= quote.lower:
            sign = "4"
        else:
            sign = "2" if change > 0 else "5" if change < 0 else "3"
        values = dict.fromkeys(PRICE_FIELDS, "0")
        values.update({
            "MKSC_SHRN_ISCD": quote.code, "STCK_CNTG_HOUR": quote.at.strftime("%H%M%S"),
            "STCK_PRPR": str(quote.price), "PRDY_VRSS_SIGN": sign, "PRDY_VRSS": str(change),
            "PRDY_CTRT": f"{quote.change_rate:.2f}", "STCK_OPRC": str(quote.open), "STCK_HGPR": str(quote.high),
            "STCK_LWPR": str(quote.low), "ACML_VOL": str(quote.volume), "BSOP_DATE": quote.at.strftime("%Y%m%d"),
            "TRHT_YN": "N", "HOUR_CLS_CODE": "0", "MRKT_TRTM_CLS_CODE": "N",
        })
        if self.book is not None:  # the best prices of the book, as KIS sends them with each trade
            snap = self._snapshot(quote.code)
            values.update({"ASKP1": str(snap.best_ask), "BIDP1": str(snap.best_bid),
                           "ASKP_RSQN1": str(snap.asks[0][1]), "BIDP_RSQN1": str(snap.bids[0][1]),
                           "TOTAL_ASKP_RSQN": str(snap.total_ask), "TOTAL_BIDP_RSQN": str(snap.total_bid)})
        return "^".join(values[name] for name in PRICE_FIELDS)

    async def _answer(self, session, tr_id, tr_key, msg, ok, output) -> None:
        body = {"rt_cd": "0" if ok else "1", "msg_cd": msg[0], "msg1": msg[1]}
        if output:
            body["output"] = output
        await self._send(session, json.dumps({"header": {"tr_id": tr_id, "tr_key": tr_key,
                                                         "encrypt": "N" if tr_id in PLAIN_TR_IDS else "Y"},
                                              "body": body}))

    async def _send(self, session: _Session, text: str) -> None:
        try:
            await session.ws.send(text)
        except Exception:
            pass

    # exchange events (any thread, under the exchange lock: only enqueue) --------------------------
    def _on_exchange(self, kind: str, order: SimOrder, qty: int, price: int, account: Account | None = None) -> None:
        loop = self._loop
        if loop is None or not any(s.subscribed for s in self.sessions):
            return
        record = self._record(kind, order, qty, price, account)
        try:
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._push(record)))
        except RuntimeError:  # the loop is closing
            pass

    def _on_us_exchange(self, kind: str, order, qty: int, price: int, account: Account | None = None) -> None:
        loop = self._loop
        if loop is None or not any(s.us_subscribed for s in self.sessions):
            return
        record = self._us_record(kind, order, qty, price, account)
        try:
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._push(record, US_TR_ID)))
        except RuntimeError:
            pass

    def _us_record(self, kind: str, order, qty: int, price: int, account: Account | None = None) -> str:
        """One H0GSCNI9 record: an acceptance (CNTG_YN 1, the order's qty and price) or a fill (2, the fill's)."""
        from kis.sim.overseas import dollars_text

        filled = kind == "filled"
        now = self.clock()
        account = account or self.account
        values = {
            "CUST_ID": self.hts_id, "ACNT_NO": account.cano + account.product, "ODER_NO": order.order_no,
            "OODER_NO": order.orig_order_no or "", "SELN_BYOV_CLS": order.side,
            "RCTF_CLS": CORRECTIONS.get(order.kind, "0"), "ODER_KIND2": US_ORDER_KINDS.get(order.order_type, "2"),
            "STCK_SHRN_ISCD": order.symbol, "CNTG_QTY": str(qty), "CNTG_UNPR": dollars_text(price),
            "STCK_CNTG_HOUR": now.strftime("%H%M%S"), "RFUS_YN": "0", "CNTG_YN": "2" if filled else "1",
            "ACPT_YN": "2" if filled else "1", "BRNC_NO": order.org_no, "ODER_QTY": str(order.qty),
            "ACNT_NAME": "모의투자", "CNTG_ISNM": order.name, "ODER_COND": "0", "DEBT_GB": "", "DEBT_DATE": "",
            "START_TM": "", "END_TM": "", "TM_DIV_TP": "", "CNTG_UNPR12": dollars_text(price),
        }
        return "^".join(values[name] for name in US_NOTICE_FIELDS)

    async def _push(self, record: str, tr_id: str = TR_ID) -> None:
        if self.faults.take_ws("skip"):
            return
        if self.faults.take_ws("drop"):
            self._abort_all()
            return
        if self.faults.take_ws("error"):
            for s in [s for s in self.sessions if s.subscribed]:
                s.subscribed = False
                await self._answer(s, TR_ID, self.hts_id, SESSION_ERROR, False, None)
            return
        times = 2 if self.faults.take_ws("repeat") else 1
        odd = self.faults.take_ws("odd_count")
        for s in list(self.sessions):
            if not (s.us_subscribed if tr_id == US_TR_ID else s.subscribed):
                continue
            text = f"1|{tr_id}|001|{encrypt(record, s.key, s.iv)}"
            if odd:
                await self._send(s, text.replace("|001|", "|00²|", 1))
            for _ in range(times):
                await self._send(s, text)
                self.sent += 1

    def _record(self, kind: str, order: SimOrder, qty: int, price: int, account: Account | None = None) -> str:
        filled = kind == "filled"
        account = account or self.account
        values = {
            "CUST_ID": self.hts_id, "ACNT_NO": account.cano + account.product,
            "ODER_NO": order.order_no, "OODER_NO": order.orig_order_no or "", "SELN_BYOV_CLS": order.side,
            "RCTF_CLS": CORRECTIONS.get(order.kind, "0"), "ODER_KIND": order.order_type, "ODER_COND": "0",
            "STCK_SHRN_ISCD": order.code, "CNTG_QTY": str(qty), "CNTG_UNPR": str(price),
            "STCK_CNTG_HOUR": self.clock().strftime("%H%M%S"), "RFUS_YN": "0", "CNTG_YN": "2" if filled else "1",
            "ACPT_YN": "2" if filled else "1", "BRNC_NO": "00950", "ODER_QTY": str(order.qty),
            "ACNT_NAME": "모의투자", "ORD_COND_PRC": "0", "ORD_EXG_GB": fill_code(order.venue, self.clock()), "POPUP_YN": "Y", "FILLER": "",
            "CRDT_CLS": "", "CRDT_LOAN_DATE": "", "CNTG_ISNM40": order.name,
            "ODER_PRC": str(order.price if order.order_type == LIMIT else 0),
        }
        return "^".join(values[name] for name in NOTICE_FIELDS)
