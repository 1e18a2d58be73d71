"""`SimServer`: the paper exchange on 127.0.0.1 over HTTP, in a background thread.

Its parts are public so tests and demos can steer it: `exchange` (cash, holdings, orders, order log,
partial fills), `market` (prices), `book` (the order book: levels, queues; kis/sim/book.py), `faults`
(latency, 5xx, dropped connections, forced limits), `tokens` (issue, expire).
"""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import parse_qsl, urlsplit

from kis.endpoints import TOKEN
from kis.config import SIM_ACCOUNT, SIM_APP_KEY, SIM_APP_SECRET, SIM_HTS_ID, key_fingerprint
from kis.files import write_private
from kis.models import Account
from kis.sim.book import Book
from kis.sim.clock import kst_now
from kis.sim.desks import SimAccountSpec, SimDesk, request_app_key
from kis.sim.exchange import Exchange
from kis.sim.faults import Faults
from kis.sim.limits import CallLimiter
from kis.sim.market import Market, load_seed, seed_specs, synthetic_specs
from kis.sim.notices import ApprovalBook, NoticeServer
from kis.sim.overseas import FxRate, UsBook, UsMarket, load_us_seed, us_specs, units
from kis.sim.us_exchange import UsExchange
from kis.sim.protocol import KisProtocol, Request, Response
from kis.sim.tokens import TokenBook

log = logging.getLogger(__name__)
DEFAULT_PORT = 29443
CALLS_KEPT = 50_000


@dataclass(frozen=True)
class Call:
    """One request the sim answered (no headers: they carry secrets)."""

    method: str
    path: str
    tr_id: str
    tr_cont: str
    status: int


# KIS lists same-day orders in inquire-daily-ccld late ("당일 주문내역은 지연될 수 있습니다"), by an
# unmeasured delay: the sim does too, by default a few seconds, each order a little differently.
LISTING_LAG = 3.0
LISTING_JITTER = 0.5
# KIS takes a cancel at once but confirms it later: the sim's daily orders show it unconfirmed this long.
CANCEL_CONFIRM_DELAY = 0.5
ADMIN_DEPOSIT, ADMIN_DIVIDEND = "/sim/deposit", "/sim/dividend"  # the paper account's cash moves (not KIS paths)
TRADED_SECONDS = 2 * 3600  # how far into the session a user-facing sim starts: prices have moved


class SimServer:
    """The paper exchange. `start()` serves in a daemon thread; `stop()` or a `with` block ends it."""

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", rate_limit: float = 1.0, page_rows: int = 20,
                 daily_page_rows: int = 15, seed: int = 7, state_path: str | Path | None = None,
                 app_key: str = SIM_APP_KEY, app_secret: str = SIM_APP_SECRET, account: str = SIM_ACCOUNT,
                 clock: Callable[[], datetime] | None = None, seed_file: str | None = None, synthetic: int = 0,
                 step_seconds: float = 5.0, always_open: bool = False, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, traded_seconds: float = 0.0,
                 listing_lag: float = LISTING_LAG, listing_jitter: float = LISTING_JITTER,
                 cancel_confirm_delay: float = CANCEL_CONFIRM_DELAY,
                 hts_id: str = SIM_HTS_ID, ws_port: int = 0, notices: bool = True,
                 usd_cash: str | None = None, us_seed_file: str | None = None, book: str = "listed",
                 accounts: Sequence[SimAccountSpec] = ()):
        # `accounts`: several accounts on this one exchange (kis/sim/desks.py), the first in place of
        # `account` / `app_key` / `app_secret`; each further one gets its own desk.
        desks = tuple(accounts)
        if desks:
            account, app_key, app_secret = desks[0].number, desks[0].app_key, desks[0].app_secret
        self.host, self.port = host, port
        self.clock = clock or kst_now
        self.sleep = sleep
        self.account = Account.parse(account)
        self.state_path = Path(state_path) if state_path else None
        seed_data = load_seed(seed_file)
        specs = seed_specs(seed_data) + synthetic_specs(synthetic, seed)
        # `traded_seconds` > 0: the session has been trading that long already, so prices have moved
        # away from the previous close (the demo and `kisbot sim` look like a market mid-session).
        self.market = Market(specs, seed=seed, clock=self.clock, step_seconds=step_seconds,
                             start=self.clock() - timedelta(seconds=traded_seconds))
        holdings = {h["code"]: (int(h["qty"]), int(h["avg_price"])) for h in seed_data.get("holdings", [])}
        cash = int(seed_data["cash"])
        if desks and desks[0].cash is not None:
            cash, holdings = desks[0].cash, (holdings if desks[0].holdings else {})
        # KRX hours by default, as KIS mock keeps them; `always_open` for the demo and tests on any clock.
        self.exchange = Exchange(self.market, account=self.account, cash=cash,
                                 holdings=holdings, clock=self.clock, always_open=always_open)
        # The US side: stocks on the US grid, the won-dollar rate drifting slowly, the dollar deposit (a setting,
        # default the seed's $20,000).
        us_seed = load_us_seed(us_seed_file)
        start = self.clock() - timedelta(seconds=traded_seconds)
        self.us_market = UsMarket(us_specs(us_seed), seed=seed, clock=self.clock, step_seconds=step_seconds,
                                  start=start)
        self.fx = FxRate(us_seed.get("rate", "1380.50"), seed=seed, clock=self.clock, start=start)
        self.us_book = UsBook(units(usd_cash if usd_cash is not None else us_seed.get("usd_cash", "20000")) // 100)
        for h in us_seed.get("holdings", []):
            self.us_book.set_holding(h["symbol"], int(h["qty"]), h["avg_price"])
        # The order book (kis.sim.book): "listed" (the default: each stock as stocks.json marks it, so every
        # test trades on a book, as on KRX), "liquid" or "thin" (every stock so), "off" (fills at the walk's
        # price at once: only for a test of something other than execution, which says why).
        # The asking-price inquiry and H0STASP0 show it in every mode; orders meet it unless "off".
        self.book = Book(self.market, seed=seed, mode=book, clock=self.clock,
                         listed={s["code"]: s.get("liquidity", "liquid") for s in seed_data["stocks"]})
        self.exchange.book = self.book if self.book.matching else None
        # US orders: limit only, the US regular session (XNYS) unless `always_open`, integrated margin off.
        self.us_exchange = UsExchange(self.us_market, self.us_book, self.fx, krw=self.exchange, clock=self.clock,
                                      always_open=always_open)
        self.tokens = TokenBook(self.clock)
        self.faults = Faults(seed, on_expire_tokens=self.tokens.expire_all)
        self.faults.listing_lag, self.faults.listing_jitter = listing_lag, listing_jitter
        self.faults.cancel_confirm_delay = cancel_confirm_delay
        self.limiter = CallLimiter(rate_limit, monotonic)
        self.approvals = ApprovalBook()
        self.hts_id = hts_id
        self.protocol = KisProtocol(exchange=self.exchange, market=self.market, tokens=self.tokens,
                                    limiter=self.limiter, faults=self.faults, app_key=app_key,
                                    app_secret=app_secret, account=self.account, page_rows=page_rows,
                                    daily_page_rows=daily_page_rows, clock=self.clock, approvals=self.approvals,
                                    us_market=self.us_market, fx=self.fx, us_book=self.us_book, book=self.book,
                                    us_exchange=self.us_exchange)
        # The notice websocket (KIS serves it on its own port); None when switched off.
        self.notices = (NoticeServer(self.exchange, account=self.account, hts_id=hts_id, approvals=self.approvals,
                                     faults=self.faults, clock=self.clock, host=host, port=ws_port, book=self.book,
                                     us_exchange=self.us_exchange)
                        if notices else None)
        self.protocol.ws_url = lambda: self.ws_url
        # one desk per account; the first is the attributes above, so a one-account sim is as it always was
        self.desks: dict[str, SimDesk] = {str(self.account): SimDesk(
            desks[0].label if desks else "main", self.account, self.exchange, self.book, self.us_book,
            self.us_exchange, self.protocol)}
        for spec in desks[1:]:
            self._add_desk(spec, seed_data, seed=seed, page_rows=page_rows, daily_page_rows=daily_page_rows,
                           always_open=always_open, book=book, usd_cash=usd_cash, us_seed=us_seed)
        self.calls: deque[Call] = deque(maxlen=CALLS_KEPT)  # newest last; bounded for long runs
        self._save_lock = threading.Lock()
        if self.state_path and self.state_path.exists():
            self._load()
        for desk in self.desks.values():
            desk.exchange.on_change = self.save
            desk.us_exchange.on_change = self.save
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _add_desk(self, spec: SimAccountSpec, seed_data: dict, *, seed: int, page_rows: int, daily_page_rows: int,
                  always_open: bool, book: str, usd_cash: str | None, us_seed: dict) -> SimDesk:
        """A further account on this exchange: its own cash (the seed's unless `spec.cash`), holdings (none
        unless `spec.holdings`), orders, book and dollars; the market, tokens, limiter and websocket shared."""
        account = Account.parse(spec.number)
        if str(account) in self.desks or any(d.app_key == spec.app_key for d in self.desks.values()):
            raise ValueError(f"account {account} or its app key is served twice: give each account its own")
        holdings = ({h["code"]: (int(h["qty"]), int(h["avg_price"])) for h in seed_data.get("holdings", [])}
                    if spec.holdings else {})
        exchange = Exchange(self.market, account=account, cash=int(seed_data["cash"]) if spec.cash is None
                            else spec.cash, holdings=holdings, clock=self.clock, always_open=always_open)
        desk_book = Book(self.market, seed=seed, mode=book, clock=self.clock,
                         listed={s["code"]: s.get("liquidity", "liquid") for s in seed_data["stocks"]})
        exchange.book = desk_book if desk_book.matching else None
        dollars = units(usd_cash if usd_cash is not None else us_seed.get("usd_cash", "20000")) // 100
        # a 연금저축 (22) or IRP (29) holds no foreign-listed stocks: it starts with no dollars
        us_book = UsBook(0 if account.product in ("22", "29") else dollars)
        us_exchange = UsExchange(self.us_market, us_book, self.fx, krw=exchange, clock=self.clock,
                                 always_open=always_open)
        protocol = KisProtocol(exchange=exchange, market=self.market, tokens=self.tokens, limiter=self.limiter,
                               faults=self.faults, app_key=spec.app_key, app_secret=spec.app_secret,
                               account=account, page_rows=page_rows, daily_page_rows=daily_page_rows,
                               clock=self.clock, approvals=self.approvals, us_market=self.us_market, fx=self.fx,
                               us_book=us_book, book=desk_book, us_exchange=us_exchange)
        protocol.ws_url = lambda: self.ws_url
        desk = SimDesk(spec.label or str(account), account, exchange, desk_book, us_book, us_exchange, protocol)
        self.desks[str(account)] = desk
        if self.notices is not None:
            self.notices.serve(exchange, account, us_exchange)
        return desk

    def set_after_market(self, on: bool) -> None:
        """Whether every account's exchange takes limit orders in KRX's after-market (kis/sim/venues.py; off as on mock)."""
        for desk in self.desks.values():
            desk.exchange.after_market = on

    def desk(self, which: str = "") -> SimDesk:
        """The desk of an account by its label or number ('' = the first); KeyError when none is."""
        if not which:
            return next(iter(self.desks.values()))
        for desk in self.desks.values():
            if which in (desk.label, str(desk.account), desk.account.cano):
                return desk
        raise KeyError(f"the sim serves no account {which}")

    def _protocol_for(self, req: Request) -> KisProtocol:
        """The protocol of the desk whose app key the request carries (the first desk's for an unknown key)."""
        if len(self.desks) > 1:
            key = request_app_key(req)
            for desk in self.desks.values():
                if desk.app_key == key:
                    return desk.protocol
        return self.protocol

    def __repr__(self) -> str:
        return f"SimServer(url={self.url!r}, account={str(self.account)!r})"

    # lifecycle -----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def cash(self) -> int:
        """The paper account's cash in won."""
        return self.exchange.cash

    def bind(self) -> "SimServer":
        """Open the listening socket (OSError when the port is taken); `url` is final afterwards."""
        if self._httpd is None:
            httpd = _HttpServer((self.host, self.port), _Handler)
            httpd.sim = self
            self._httpd = httpd
            self.port = httpd.server_address[1]
        return self

    @property
    def ws_url(self) -> str:
        """The notice websocket's URL ('' while it is not serving)."""
        return self.notices.url if self.notices is not None and self.notices.port else ""

    def start_notices(self) -> None:
        if self.notices is not None and self.notices._thread is None:
            self.notices.start()

    def start(self) -> "SimServer":
        """Serve in a daemon thread and return at once."""
        httpd = self.bind()._httpd
        self.start_notices()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=f"kis-sim-{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the `kisbot sim` foreground mode)."""
        httpd = self.bind()._httpd
        self.start_notices()
        try:
            httpd.serve_forever(poll_interval=0.2)
        finally:
            if self.notices is not None:
                self.notices.stop()
            httpd.server_close()
            self._httpd = None
            self.save()

    def stop(self) -> None:
        if self.notices is not None:
            self.notices.stop()
        if self._httpd is not None:
            if self._thread is not None:  # shutdown() waits for a serve loop: only when one runs
                self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.save()

    def __enter__(self) -> "SimServer":
        return self.start() if self._thread is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    # knobs ------------------------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        self.tokens.expire_all()

    def pass_listing_lag(self) -> None:
        """Move a manual clock on until every order placed so far is listed in today's orders, and every
        cancel taken so far confirmed there (tests)."""
        lag = max(self.faults.listing_lag * (1 + self.faults.listing_jitter), self.faults.cancel_confirm_delay)
        if lag > 0:
            self.clock.advance(lag + 0.001)

    def deposit(self, amount: int, account: str = "") -> int:
        """Pay `amount` won into the paper account (a transfer in, as the bank's 자동이체 does); the cash after.
        `account`: which one (label or number) on a sim of several; '' the first."""
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError("a deposit is a positive int of won")
        exchange = self.desk(account).exchange
        exchange.add_cash(amount)
        return exchange.cash

    def pay_dividend(self, code: str, per_share: int, account: str = "") -> int:
        """Pay a cash dividend of `per_share` won a share on the shares of `code` held, less the 15.4 % withheld
        (소득세 14 % + 지방소득세 1.4 %, each floored to the won); the won paid in (0 when none are held)."""
        if not isinstance(per_share, int) or isinstance(per_share, bool) or per_share <= 0:
            raise ValueError("a dividend is a positive int of won a share")
        exchange = self.desk(account).exchange
        gross = exchange.holding_qty(code) * per_share
        income_tax = gross * 14 // 100
        net = gross - income_tax - income_tax // 10
        if net > 0:
            exchange.add_cash(net)
        return net

    def _admin(self, req: Request) -> Response:
        """POST /sim/deposit {"amount": won} and /sim/dividend {"code", "per_share"}: the demo's and
        `kisbot sim --deposit`'s way to move the paper account's cash (not a KIS path)."""
        if req.method != "POST":
            return Response(405, {"error": "POST only"})
        try:
            body = json.loads(req.raw or b"{}")
            account = str(body.get("account") or "")
            if req.path == ADMIN_DEPOSIT:
                cash = self.deposit(body["amount"], account)
                return Response(200, {"amount": body["amount"], "cash": cash})
            paid = self.pay_dividend(str(body["code"]), body["per_share"], account)
            return Response(200, {"code": body["code"], "paid": paid, "cash": self.desk(account).exchange.cash})
        except (ValueError, KeyError, TypeError) as exc:
            return Response(400, {"error": str(exc) or type(exc).__name__})

    def count(self, path: str, tr_id: str | None = None) -> int:
        """How many requests reached `path` (optionally with this tr_id)."""
        return sum(1 for c in list(self.calls) if c.path == path and (tr_id is None or c.tr_id == tr_id))

    def path_counts(self) -> Counter:
        return Counter(c.path for c in list(self.calls))

    # requests ---------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.path in (ADMIN_DEPOSIT, ADMIN_DIVIDEND):
            return self._admin(req)
        try:
            response = self._protocol_for(req).handle(req)
        except Exception:  # a sim bug must still answer like a gateway, not hang the client
            log.exception("sim failed on %s %s", req.method, req.path)
            response = Response(500, {"rt_cd": "1", "msg_cd": "EGW00002", "msg1": "서버 에러가 발생했습니다."})
        if req.path == "/sim/health" and len(self.desks) > 1 and isinstance(response.body, dict):
            response.body["accounts"] = [{"label": d.label, "account": str(d.account),
                                          "app_key_id": key_fingerprint(d.app_key)} for d in self.desks.values()]
        if req.path == TOKEN and response.status == 200:
            self.save()  # a restarted sim still knows the tokens clients have cached
        self.calls.append(Call(req.method, req.path, req.header("tr_id"), req.header("tr_cont"), response.status))
        if self.faults.latency > 0:
            self.sleep(self.faults.latency)
        return response

    # persistence ------------------------------------------------------------------------------------
    def save(self) -> None:
        """Write the account, orders, prices and tokens to `state_path` atomically (no-op without one)."""
        if not self.state_path:
            return
        with self._save_lock:
            state = {"version": 1, "exchange": self.exchange.to_state(), "market": self.market.to_state(),
                     "tokens": self.tokens.to_state(),
                     "us": {"market": self.us_market.to_state(), "book": self.us_book.to_state(),
                            "orders": self.us_exchange.to_state()}}
            further = list(self.desks.values())[1:]
            if further:  # the further accounts of a sim of several
                state["desks"] = {str(d.account): {"exchange": d.exchange.to_state(), "us_book": d.us_book.to_state(),
                                                   "us_orders": d.us_exchange.to_state()} for d in further}
            write_private(self.state_path, json.dumps(state, ensure_ascii=False))  # private: it holds bearer tokens

    def _load(self) -> None:
        """Restore a saved account; ValueError (one sentence) when the file is not one of ours."""
        try:
            with open(self.state_path, encoding="utf-8") as fh:
                state = json.load(fh)
            account = state["exchange"]["account"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{self.state_path} is not a readable kisbot sim state file ({type(exc).__name__})") from None
        if str(self.account) != account:
            raise ValueError(f"{self.state_path} holds account {account}, not {self.account}")
        try:
            self.market.load_state(state["market"])
            self.exchange.load_state(state["exchange"])
            self.tokens.load_state(state.get("tokens", {}))
            if "us" in state:  # state files written before the US side have none
                self.us_market.load_state(state["us"]["market"])
                self.us_book.load_state(state["us"]["book"])
                self.us_exchange.load_state(state["us"].get("orders", {}))
            for number, kept in (state.get("desks") or {}).items():
                desk = self.desks.get(number)
                if desk is not None:  # an account no longer served is left in the file's past
                    desk.exchange.load_state(kept["exchange"])
                    desk.us_book.load_state(kept["us_book"])
                    desk.us_exchange.load_state(kept.get("us_orders", {}))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{self.state_path} is a damaged kisbot sim state file ({type(exc).__name__})") from None


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sim: SimServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as KIS's gateway; every answer has a Content-Length
    # One write per answer and no Nagle: headers and body in separate segments cost a 40 ms delayed ACK.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: _HttpServer

    def version_string(self) -> str:
        return "kisbot-sim"

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = "/" + parts.path.lstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        query = {k.upper(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
        response = self.server.sim.handle(Request(method, path, headers, query, raw))
        if response.drop:
            self._drop()
            return
        if response.raw is not None:
            payload = response.raw
            content_type = response.headers.get("content-type", "text/plain")
        else:
            payload = json.dumps(response.body, ensure_ascii=False).encode("utf-8")
            content_type = "application/json; charset=UTF-8"
        self.send_response(response.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            if name != "content-type":
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _drop(self) -> None:
        """Close the socket without a byte of answer: the client sees a dropped connection."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        log.debug("sim %s", format % args)
