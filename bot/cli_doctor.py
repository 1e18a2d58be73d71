"""`kisbot doctor [--orders] [--json]`: a self-check of the configured account, run by its owner.

It settles what no test here can: where each setting came from, whether the token comes from the
cache, a price, every balance page, buying power for a limit and a market-type order, and with
`--orders` how late KIS lists a new order in today's orders (saved: it raises the executor's settle
horizon). The checks are a list (`CHECKS`, `ORDER_CHECKS`); a new check is one function and one entry.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Callable, Mapping

from kis import open_client
from kis.codes import BadStockCode, normalize_code
from kis.endpoints import ORDER_CASH
from kis.markets import us
from kis.config import KisConfig, Source, load_kis_config
from kis.errors import ConfigError, KisError, KisTransportError, NoAnswer, NotSent, OrderUncertain
from kis.krx import KST
from kis.listing_lag import ListingLag, save_listing_lag
from kis.models import Account, Env, OrderAck, OrderSide, OrderStatus, OrderType, Quote
from kis.orders import matching_orders, same_order_no
from kis.ticks import round_to_tick
from bot.cli_common import failure_sentence
from bot.doctor_buy import ask_buying_power, buying_power_text
from bot.doctor_us import UsFinding, check_overseas, check_us_test_order, withdraw_us
from bot.doctor_orders import (Leftover, StopSignals, Stopped, TestOrder, earlier_orders, find_row, forget,
                               load_records, remember)
from bot.doctor_venues import check_after_market, check_sor
from rebalance.i18n import t

DEFAULT_CODE = "005930"
TEST_ORDER_DISCOUNT = 0.20  # the test buy rests this far below the price, so it does not fill
WAIT_SECONDS = 180.0  # how long to watch for the test order (and its cancel) in today's orders
POLL_GAP = 0.5  # at least this between two looks at today's orders, whatever the call rate
STOP_WAIT = 20.0  # after a stop signal: how long to wait for today's orders to confirm the test order's cancel


class Status(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"

    @property
    def mark(self) -> str:
        return {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}[self.value]


@dataclass(frozen=True)
class Finding:
    """What one check found: a status, sentences for a person, fields for the JSON object."""

    name: str
    status: Status
    text: str
    fields: Mapping[str, Any] = field(default_factory=dict)


class CallLog:
    """Wraps a client's transport to count what the doctor sends: pages read, orders that left."""

    def __init__(self, transport: Any):
        self._transport = transport
        self.gets: Counter[str] = Counter()
        self.orders_sent = 0  # KRX order POSTs that reached KIS or may have (no answer)
        self.us_orders_sent = 0  # US order POSTs, counted apart (the report's us_orders_placed)
        self.ord_dvsn: dict[str, str] = {}  # order number -> ord_dvsn_cd as today's orders list it
        self.cancel_keys: set[str] = set()  # the raw names of today's orders' cancel fields, as KIS sent them

    def get(self, path: str, tr_id: str, params: Mapping[str, str], *, tr_cont: str = ""):
        reply = self._transport.get(path, tr_id, params, tr_cont=tr_cont)
        self.gets[tr_id] += 1
        rows = reply.body.get("output1")
        if isinstance(rows, list):
            for row in rows:
                if isinstance(row, Mapping) and row.get("odno") and "ord_dvsn_cd" in row:
                    self.ord_dvsn[same_order_no(str(row["odno"]))] = str(row["ord_dvsn_cd"]).strip()
                    self.cancel_keys.update(k for k in row if str(k).startswith(("cncl", "cnc_")))
        return reply

    def post(self, path: str, tr_id: str, body: Mapping[str, str], *, hashkey: bool = False):
        counts = path == ORDER_CASH  # a new order; cancels go to order-rvsecncl
        us_counts = path == us.BUY.path
        try:
            reply = self._transport.post(path, tr_id, body, hashkey=hashkey)
        except NoAnswer:
            self.orders_sent += counts
            self.us_orders_sent += us_counts
            raise
        self.orders_sent += counts
        self.us_orders_sent += us_counts
        return reply

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@dataclass
class Doctor:
    """What the checks share: the configuration, the client, the stock to look at, and what was found."""

    source: Source
    config: KisConfig
    client: Any
    calls: CallLog
    code: str = DEFAULT_CODE
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wait_seconds: float = WAIT_SECONDS
    quote: Quote | None = None
    notices: Any = None  # the notice stream (kis.notices.NoticeStream) when one was opened
    notices_seen: list = field(default_factory=list)  # every notice it handed out
    test_order_no: str = ""
    test_order: OrderAck | None = None  # the test order KIS took (or the doctor found after a lost answer)
    record: TestOrder | None = None  # its entry in the data dir's record of test orders, from before it left
    cancel_sent: bool = False  # the cancel left (answered or not): it is never sent twice
    cancel_confirmed: bool = False  # today's orders showed the test order closed
    stops: StopSignals | None = None  # the stop signals noted while the doctor runs
    findings: list = field(default_factory=list)  # what the checks found so far
    bot_stream: Any = None  # kis.stream_status.StreamStatus of another process's notice session, when one runs
    bot_notices: int | None = None  # that stream's notice count when the doctor looked
    us_quote: Any = None  # the US quote the overseas check read (kis.models.UsQuote)
    us_test: Any = None  # the US test order while it lives (bot.doctor_us.UsTest)


@dataclass(frozen=True)
class Check:
    """One line of the report. A failed `required` check stops the ones after it."""

    name: str
    run: Callable[[Doctor], Finding]
    required: bool = False


# ---- configuration ------------------------------------------------------------------------------------

def mask_account(account: Account) -> str:
    """`50087375-01` -> `50****75-01`: enough to tell accounts apart, not to use one."""
    return f"{account.cano[:2]}****{account.cano[-2:]}-{account.product}"


# (variable, keyring name or "", kind): kind "secret" is shown as set/not set only.
SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("KIS_ENV", "", "plain"),
    ("KIS_APP_KEY", "{env}_app_key", "secret"),
    ("KIS_APP_SECRET", "{env}_app_secret", "secret"),
    ("KIS_ACCOUNT", "", "account"),
    ("KIS_BASE_URL", "", "plain"),
    ("KIS_WS_URL", "", "plain"),
    ("KIS_RATE_LIMIT", "", "plain"),
    ("KISBOT_DATA_DIR", "", "plain"),
    ("KIS_HTS_ID", "", "secret"),
    ("TELEGRAM_BOT_TOKEN", "telegram_bot_token", "secret"),
    ("TELEGRAM_ALLOWED_CHAT_IDS", "", "plain"),
    ("TELEGRAM_VIEWER_CHAT_IDS", "", "plain"),
    ("TELEGRAM_API_BASE_URL", "", "plain"),
    ("TELEGRAM_FILE_BASE_URL", "", "plain"),
    ("TWAP_START", "", "plain"),
    ("TWAP_END", "", "plain"),
    ("MARKET_CALENDAR", "", "plain"),
    ("KISBOT_SETTLE_SECONDS", "", "plain"),
    ("KISBOT_PRICE_GUARD", "", "plain"),
    ("KISBOT_BAND", "", "plain"),
    ("KISBOT_MIN_TRADE", "", "plain"),
    ("KISBOT_REPORT_AT", "", "plain"),
    ("KISBOT_WEBAPP_URL", "", "plain"),
    ("KISBOT_SOR", "", "plain"),
    ("KISBOT_AFTER_WORK", "", "plain"),
)


def configuration_rows(source: Source, config: KisConfig | None) -> list[dict[str, str]]:
    """Each setting, the value in force (never a secret) and where it came from."""
    env = config.env.value if config else (source.get("KIS_ENV") or "sim")
    effective: dict[str, str] = {}
    if config is not None:
        effective = {"KIS_ENV": config.env.value, "KIS_ACCOUNT": mask_account(config.account),
                     "KIS_BASE_URL": config.base_url or t("doctor_lines.sim_url"),
                     "KIS_RATE_LIMIT": t("doctor_lines.per_second", rate=config.rate_limit), "KISBOT_DATA_DIR": str(config.data_dir)}
    defaults = default_values(source, config)
    rows = []
    for name, keyring_name, kind in SETTINGS:
        origin = source.origin(name, keyring_name.format(env=env))
        if kind == "secret":
            value = t("doctor_lines.set") if origin else t("doctor_lines.not_set")
            if name == "KIS_APP_KEY" and origin and config is not None:
                value = t("doctor_lines.fingerprint", id=config.app_key_id)
            elif name in ("KIS_APP_KEY", "KIS_APP_SECRET") and not origin and env == Env.SIM.value:
                value = t("doctor_lines.sim_own")
        elif kind == "account" and config is None and origin:
            value = t("doctor_lines.set")
        else:
            value = effective.get(name) or source.get(name) or defaults.get(name, t("doctor_lines.not_set"))
        rows.append({"name": name, "value": value, "origin": origin or "default"})
    return rows


def default_values(source: Source, config: KisConfig | None) -> dict[str, str]:
    """What each unset setting means, as the settings code reads it (not a word like "(default)")."""
    from bot.settings import load_report_at, load_twap_settings, options_from
    from kis.notices import notice_url

    values = {"TELEGRAM_API_BASE_URL": "https://api.telegram.org", "TELEGRAM_FILE_BASE_URL": "https://api.telegram.org/file/bot",
              "TELEGRAM_ALLOWED_CHAT_IDS": t("doctor_lines.no_chats"),
              "KISBOT_WEBAPP_URL": t("doctor_lines.no_webapp"),
              "TELEGRAM_VIEWER_CHAT_IDS": t("doctor_lines.no_viewers"),
              "KISBOT_SOR": t("doctor_lines.off"), "KISBOT_AFTER_WORK": t("doctor_lines.off")}
    if config is not None:
        values["KIS_WS_URL"] = notice_url(config) or t("doctor_lines.sim_own")
    try:
        twap = load_twap_settings(source)
        values.update(TWAP_START=f"{twap.start:%H:%M}", TWAP_END=f"{twap.end:%H:%M}", MARKET_CALENDAR=twap.calendar,
                      KISBOT_SETTLE_SECONDS=f"{twap.settle_seconds:g}", KISBOT_PRICE_GUARD=f"{twap.price_guard * 100:g}%")
    except ConfigError:
        pass  # the check that loads them names the bad one
    try:
        options = options_from(source)
        values.update(KISBOT_BAND=f"{options.band:g}" if options.band else t("doctor_lines.none_zero"),
                      KISBOT_MIN_TRADE=f"{options.min_trade:,}" if options.min_trade else t("doctor_lines.none_zero"))
    except ConfigError:
        pass
    try:
        report_at = load_report_at(source)
        values["KISBOT_REPORT_AT"] = f"{report_at:%H:%M} KST" if report_at else t("doctor_lines.off")
    except ConfigError:
        pass
    return values


# ---- the checks -------------------------------------------------------------------------------------

def check_token(doc: Doctor) -> Finding:
    tokens = doc.client.tokens
    tokens.token()
    until = tokens.expires_at.astimezone(KST).strftime("%Y-%m-%d %H:%M KST") if tokens.expires_at else "?"
    if tokens.issued:
        return Finding("token", Status.WARN,
                       t("doctor_lines.token_new", until=until, path=doc.config.data_dir / "tokens"),
                       {"token": {"source": "issued", "expires_at": until}})
    return Finding("token", Status.OK, t("doctor_lines.token_cached", until=until),
                   {"token": {"source": "cache", "expires_at": until}})


def check_price(doc: Doctor) -> Finding:
    quote = doc.client.price(doc.code)
    doc.quote = quote
    limits = (t("doctor_lines.limits", low=quote.lower_limit, high=quote.upper_limit)
              if quote.upper_limit and quote.lower_limit else "")
    return Finding("price", Status.OK, t("doctor_lines.price", code=quote.code, name=quote.name, price=quote.price,
                                         limits=limits).replace("  ", " "),
                   {"price": {"code": quote.code, "price": quote.price, "upper_limit": quote.upper_limit,
                              "lower_limit": quote.lower_limit}})


def check_balance(doc: Doctor) -> Finding:
    before = doc.calls.gets[doc.client.tr.balance]
    balance = doc.client.balance()
    pages = doc.calls.gets[doc.client.tr.balance] - before
    return Finding("balance", Status.OK,
                   t("doctor_lines.balance_one" if pages == 1 else "doctor_lines.balance_many",
                     holdings=len(balance.holdings), pages=pages, cash=balance.cash, d2=balance.cash_d2,
                     total=balance.total_value),
                   {"balance": {"pages": pages, "holdings": len(balance.holdings), "cash": balance.cash,
                                "cash_d2": balance.cash_d2, "total_value": balance.total_value}})


def check_buying_power(doc: Doctor) -> Finding:
    """inquire-psbl-order asked with 00 and 01 side by side, and whether the account takes 미수 (bot/doctor_buy.py)."""
    price = doc.quote.price if doc.quote else doc.client.price(doc.code).price
    check = ask_buying_power(doc.client, doc.code, price)
    status = Status.WARN if check.margin_account else Status.OK
    return Finding("buying power", status, buying_power_text(check), {"buying_power": check.fields()})


def resting_buy_price(quote: Quote) -> int:
    """20 % below the price, on the tick grid, and never below the day's lower limit."""
    price = round_to_tick(max(1, quote.price - int(quote.price * TEST_ORDER_DISCOUNT)), OrderSide.BUY)
    if quote.lower_limit and price < quote.lower_limit:
        price = round_to_tick(quote.lower_limit, OrderSide.SELL)  # up onto the grid
    return price


def _look_for(doc: Doctor, order_no: str, done: Callable[[OrderStatus], bool], since: float) -> tuple[OrderStatus | None, float]:
    """Poll today's orders at the pace until `order_no`'s row satisfies `done`; (row or None, seconds since `since`)."""
    deadline = since + doc.wait_seconds
    while True:
        started = doc.monotonic()
        rows = [o for o in doc.client.orders_today(doc.code)
                if same_order_no(o.order_no) == same_order_no(order_no)]
        now = doc.monotonic()
        if rows and done(rows[0]):
            return rows[0], now - since
        if now >= deadline:
            return None, now - since
        doc.sleep(max(0.0, POLL_GAP - (now - started)))


def _find_unanswered(doc: Doctor, code: str, price: int) -> OrderStatus | None:
    """The test order whose answer was lost, once today's orders list it (one candidate only), else None."""
    deadline = doc.monotonic() + doc.wait_seconds
    while True:
        started = doc.monotonic()
        try:
            found = matching_orders(doc.client.orders_today(code), code, OrderSide.BUY, 1, OrderType.LIMIT, price,
                                    since="000000")
        except (KisError, KisTransportError):
            found = []
        if len(found) == 1:
            return found[0]
        if len(found) > 1 or doc.monotonic() >= deadline:
            return None
        doc.sleep(max(0.0, POLL_GAP - (doc.monotonic() - started)))


def _cancel_confirmed(row: OrderStatus) -> bool:
    """The test order is closed: its rest was cancel-confirmed, or nothing of it rests and nothing filled."""
    return row.remaining_qty == 0 and (row.cancelled_qty > 0 or row.filled_qty == 0)


def _look_for_cancel(doc: Doctor, ack: OrderAck, since: float, wait: float) -> tuple[OrderStatus | None, float]:
    """Poll today's orders until the test order is closed or a cancel row for it (cncl_yn Y) confirms shares,
    whichever spelling of the confirmed quantity KIS uses; (the row or None, seconds since `since`).
    KIS confirms a cancel after it takes it: an unconfirmed cancel row (confirmed quantity 0) is not enough."""
    deadline = since + wait
    mine = same_order_no(ack.order_no)
    while True:
        started = doc.monotonic()
        rows = doc.client.orders_today(ack.code)
        now = doc.monotonic()
        for row in rows:
            if same_order_no(row.order_no) == mine and _cancel_confirmed(row):
                return row, now - since
            if row.cancelled and row.cancelled_qty > 0 and same_order_no(row.orig_order_no) == mine:
                return row, now - since  # a cancel row counts once it confirms shares: KIS lists it before
        if now >= deadline:
            return None, now - since
        doc.sleep(max(0.0, POLL_GAP - (now - started)))


def check_test_order(doc: Doctor) -> Finding:
    """One 1-share limit buy far below the price: how late it is listed, its ord_dvsn_cd, then its cancel."""
    quote = doc.quote or doc.client.price(doc.code)
    price = resting_buy_price(quote)
    fields: dict[str, Any] = {"listing_lag_s": None, "ord_dvsn_echo": None, "cancelled": False,
                              "test_order": {"code": quote.code, "price": price, "qty": 1}}
    doc.record = TestOrder(quote.code, price, datetime.now(KST).isoformat(timespec="seconds"))
    remember(doc.config, doc.record)  # before it leaves: a stop or a crash mid-request still leaves a trace
    try:
        ack: OrderAck = doc.client.order(quote.code, OrderSide.BUY, 1, OrderType.LIMIT, price)
    except KisError as exc:
        forget(doc.config, doc.record)
        doc.record = None
        return Finding("test order", Status.FAIL,
                       t("doctor_lines.order_refused", code=quote.code, price=price, why=exc.msg1 or exc,
                         msg_cd=exc.msg_cd or t("doctor_lines.no_code")), fields)
    except NotSent as exc:
        forget(doc.config, doc.record)
        doc.record = None
        return Finding("test order", Status.FAIL, t("doctor_lines.not_placed", why=exc), fields)
    except OrderUncertain as exc:
        # The client never sends it again; it may rest at KIS. Look for it, to withdraw it.
        found = _find_unanswered(doc, quote.code, price)
        if found is None:
            return Finding("test order", Status.FAIL,
                           t("doctor_lines.uncertain", why=exc, code=quote.code, price=price), fields)
        ack = OrderAck(found.order_no, found.org_no, quote.code, OrderSide.BUY, 1, OrderType.LIMIT, price, found.time)
    else:
        found = None
    answered_at = doc.monotonic()  # KIS took it by now; the lag counts from here (polls add at most one gap)
    fields["test_order"]["order_no"] = ack.order_no
    doc.test_order_no = ack.order_no
    doc.test_order = ack
    doc.record = TestOrder(quote.code, price, doc.record.placed_at, ack.order_no, ack.org_no)
    remember(doc.config, doc.record)
    notes: list[str] = [t("doctor_lines.placed", code=quote.code, price=price, order=ack.order_no)]
    status = Status.OK
    try:
        if found is not None:
            row, lag = None, None
            notes.append(t("doctor_lines.answer_lost"))
        else:
            row, lag = _look_for(doc, ack.order_no, lambda r: True, answered_at)
    except (KisError, KisTransportError) as exc:
        row, lag, status = None, None, Status.FAIL
        notes.append(t("doctor_lines.look_failed", why=failure_sentence(exc)))
    if lag is not None:
        listed = row is not None
        save_path = save_listing_lag(doc.config, ListingLag(lag, datetime.now(KST), listed=listed))
        if listed:
            fields["listing_lag_s"] = round(lag, 2)
            echo = doc.calls.ord_dvsn.get(same_order_no(ack.order_no), "")
            fields["ord_dvsn_echo"] = echo
            as_sent = echo == OrderType.LIMIT.value
            notes.append(t("doctor_lines.listed_as_sent" if as_sent else "doctor_lines.listed_not_sent", lag=lag, echo=echo))
            if not as_sent:
                status = Status.WARN
        else:
            status = Status.WARN
            notes.append(t("doctor_lines.not_listed", lag=lag))
        notes.append(t("doctor_lines.lag_saved", path=save_path))
    failure = _cancel(doc, ack)
    if failure:
        return Finding("test order", Status.FAIL, " ".join(notes) + t("doctor_lines.cancel_failed", why=failure,
                                                                       order=ack.order_no), fields)
    try:
        row, seconds = _look_for_cancel(doc, ack, doc.monotonic(), doc.wait_seconds)
    except (KisError, KisTransportError) as exc:
        row, seconds = None, 0.0
        notes.append(t("doctor_lines.confirm_failed", why=failure_sentence(exc)))
    fields["cancel_keys"] = sorted(doc.calls.cancel_keys)
    keys = ", ".join(fields["cancel_keys"]) or t("doctor_lines.none")
    if row is not None:
        fields["cancelled"] = doc.cancel_confirmed = True
        forget(doc.config, doc.record)
        how = t("doctor_lines.cancel_row") if row.cancelled else t("doctor_lines.order_closed")
        notes.append(t("doctor_lines.cancelled", how=how, seconds=seconds, keys=keys))
    else:
        status = Status.FAIL
        notes.append(t("doctor_lines.cancel_unconfirmed", seconds=seconds, keys=keys, order=ack.order_no))
    return Finding("test order", status, " ".join(notes), fields)


def _cancel(doc: Doctor, ack: OrderAck) -> str:
    """Cancel the test order (once: never again after it left); '' when KIS took it, else why not."""
    doc.cancel_sent = True
    try:
        doc.client.cancel(ack.order_no, ack.org_no, 0, original=ack)
    except (KisError, KisTransportError) as exc:
        return failure_sentence(exc)
    return ""


def check_earlier_orders(doc: Doctor) -> Finding | None:
    """Warn when a test order an earlier doctor run placed still rests (by the record in the data dir); None: none recorded."""
    if any(o.venue not in ("", "KRX") for o in load_records(doc.config)):
        doc.client.orders_venue = "ALL"  # an earlier SOR test order is listed across venues (bot/doctor_venues.py)
    leftovers = earlier_orders(doc.config, doc.client.orders_today, datetime.now(KST),
                               us_orders_today=doc.client.us_orders_today)
    if not leftovers:
        return None
    lines = [_leftover_sentence(o) for o in leftovers]
    fields = {"earlier_test_orders": [{"order_no": o.order_no, "code": o.order.code, "price": o.order.price,
                                       "placed_at": o.order.placed_at, "listed": o.row is not None} for o in leftovers]}
    return Finding("earlier test orders", Status.WARN, " ".join(lines), fields)


def _leftover_sentence(left: Leftover) -> str:
    order = left.order
    if order.market:
        what = dict(symbol=order.code, price=f"{order.price / 100:,.2f}", at=order.placed.strftime("%H:%M:%S"),
                    order_no=left.order_no or "?")
        return t("ussim.doctor_us_leftover", **what) + " " + t("doctor_orders.how_to_cancel", order_no=left.order_no)
    what = dict(code=order.code, price=f"{order.price:,}", at=order.placed.strftime("%H:%M:%S"),
                order_no=left.order_no or "?")
    if left.row is None:
        return t("doctor_orders.maybe_resting", **what)
    return t("doctor_orders.resting", **what) + " " + t("doctor_orders.how_to_cancel", order_no=left.order_no)


def withdraw(doc: Doctor, stop: Stopped) -> Finding:
    """After a stop signal: cancel the resting test order (unless its cancel already left), wait for today's
    orders to confirm it, and say what was placed and cancelled, or that it is left resting and how to cancel it."""
    fields: dict[str, Any] = {"stopped_by": stop.name, "cancelled": None}
    ack, record = doc.test_order, doc.record
    if ack is None and record is not None:  # sent, answer not (yet) had: look for it once more
        ack = _find_recorded(doc, record)
        if ack is None:
            return Finding("stopped", Status.FAIL, t("doctor_orders.stopped_unknown", signal=stop.name,
                                                     code=record.code, price=f"{record.price:,}"), fields)
    if ack is None:
        return Finding("stopped", Status.WARN, t("doctor_orders.stopped_nothing", signal=stop.name), fields)
    what = dict(signal=stop.name, code=ack.code, price=f"{ack.price:,}", order_no=ack.order_no)
    fields["test_order"] = {"code": ack.code, "price": ack.price, "qty": 1, "order_no": ack.order_no}
    if doc.cancel_confirmed:
        fields["cancelled"] = True
        return Finding("stopped", Status.WARN, t("doctor_orders.stopped_after", **what), fields)
    failure = "" if doc.cancel_sent else _cancel(doc, ack)
    if failure:
        fields["cancelled"] = False
        return Finding("stopped", Status.FAIL, t("doctor_orders.stopped_resting", reason=failure, **what) + " "
                       + t("doctor_orders.how_to_cancel", order_no=ack.order_no), fields)
    try:
        row, _ = _look_for_cancel(doc, ack, doc.monotonic(), min(doc.wait_seconds, STOP_WAIT))
    except (KisError, KisTransportError) as exc:
        row, reason = None, failure_sentence(exc)
    else:
        reason = t("doctor_orders.not_confirmed", seconds=f"{min(doc.wait_seconds, STOP_WAIT):.0f}")
    if row is None:
        fields["cancelled"] = False
        return Finding("stopped", Status.FAIL, t("doctor_orders.stopped_unconfirmed", reason=reason, **what) + " "
                       + t("doctor_orders.how_to_cancel", order_no=ack.order_no), fields)
    fields["cancelled"] = doc.cancel_confirmed = True
    if record is not None:
        forget(doc.config, record)
    return Finding("stopped", Status.WARN, t("doctor_orders.stopped_cancelled", **what), fields)


def _find_recorded(doc: Doctor, record: TestOrder) -> OrderAck | None:
    """The recorded test order whose answer never came, once today's orders list it (within STOP_WAIT), else None."""
    deadline = doc.monotonic() + min(doc.wait_seconds, STOP_WAIT)
    while True:
        started = doc.monotonic()
        try:
            row = find_row(record, doc.client.orders_today(record.code))
        except (KisError, KisTransportError):
            row = None
        if row is not None:
            return OrderAck(row.order_no, row.org_no, record.code, OrderSide.BUY, 1, OrderType.LIMIT, record.price,
                            row.time, venue=record.venue or "KRX")
        if doc.monotonic() >= deadline:
            return None
        doc.sleep(max(0.0, POLL_GAP - (doc.monotonic() - started)))


def _bot_order_notices(doc: Doctor, fields: dict[str, Any]) -> Finding:
    """With a running bot's stream: did its count of notices grow after the test order (read from its status file)?"""
    before = doc.bot_notices
    snap = doc.bot_stream.read()
    if not doc.test_order_no or before is None:
        return Finding("order notices", Status.WARN, t("doctor_notices.bot_order_unchecked"), fields)
    came = _wait_until(doc, lambda: (doc.bot_stream.read() or snap).notices > before, NOTICE_WAIT)
    snap = doc.bot_stream.read() or snap
    fields.update(notices_arrive=came, notice_field_count=(snap.last_notice_fields or None) if snap else None,
                  notices_skipped=snap.skipped_total if snap else None)
    if came:
        return Finding("order notices", Status.OK, t("doctor_notices.bot_order_came", pid=snap.pid,
                                                     count=snap.notices - before, fields=snap.last_notice_fields,
                                                     skipped=snap.skipped_total), fields)
    return Finding("order notices", Status.WARN, t("doctor_notices.bot_order_none", seconds=f"{NOTICE_WAIT:.0f}"),
                   fields)


NOTICE_WAIT = 10.0  # seconds to wait for the notice subscription's answer, and for the test order's notice


def _wait_until(doc: Doctor, done: Callable[[], bool], seconds: float) -> bool:
    end = doc.monotonic() + seconds
    while not done() and doc.monotonic() < end:
        doc.sleep(0.05)
    return done()


def check_notices(doc: Doctor) -> Finding:
    """Subscribe to the order/fill notices (H0STCNI0/9) for KIS_HTS_ID; `--orders` then sees if they arrive.

    KIS allows one session per app key: while another process's stream holds it (a running bot, the demo;
    kis/stream_status.py), the doctor opens none and reports what that stream last saw instead."""
    from kis.notices import StreamState, open_notices
    from kis.stream_status import StreamStatus

    from rebalance.notices import stream_news

    said: list = []  # kis.notices.StreamNews
    fields: dict[str, Any] = {"notices": {"hts_id_set": bool(doc.config.hts_id), "state": "off"}}
    status = StreamStatus.of(doc.config)
    if doc.config.hts_id and status.held_elsewhere():
        snap = status.read()
        doc.bot_stream, doc.bot_notices = status, (snap.notices if snap else None)
        return _bot_stream_finding(snap, fields)
    stream = open_notices(doc.config, on_message=said.append)
    if stream is None:
        return Finding("notices", Status.WARN, t("doctor_lines.no_hts_id"), fields)
    doc.notices = stream
    stream.add_listener(doc.notices_seen.append)
    _wait_until(doc, lambda: stream.state in (StreamState.LIVE, StreamState.REFUSED), NOTICE_WAIT)
    fields["notices"].update(state=stream.state.value, source="own session", **_seen(stream))
    if stream.state is StreamState.LIVE:
        return Finding("notices", Status.OK, t("doctor_lines.subscribed", tr_id=stream.tr_id, url=stream.url)
                       + t("doctor_notices.own", skipped=fields["notices"]["skipped"]), fields)
    if stream.state is StreamState.REFUSED:
        return Finding("notices", Status.WARN, str(stream_news(said[0])) if said
                       else t("doctor_lines.notices_refused"), fields)
    return Finding("notices", Status.WARN, t("doctor_lines.ws_silent", url=stream.url, seconds=NOTICE_WAIT), fields)


def _seen(stream: Any) -> dict[str, Any]:
    """The field count of the last notice record the doctor's own stream read (None: none yet) and the frames it skipped."""
    return {"field_count": stream.reader.last_fields or None, "skipped": sum(stream.reader.skipped.values())}


def _bot_stream_finding(snap: Any, fields: dict[str, Any]) -> Finding:
    """The notices finding from the running stream's status file (kis.stream_status.StreamSnapshot or None)."""
    if snap is None:
        fields["notices"].update(state="unknown", source="running bot")
        return Finding("notices", Status.WARN, t("doctor_notices.bot_unknown"), fields)
    fields["notices"].update(state=snap.state, source="running bot", pid=snap.pid, notices=snap.notices,
                             field_count=snap.last_notice_fields or None, skipped=snap.skipped_total,
                             last_notice_at=snap.last_notice_at or None, updated_at=snap.updated_at)
    seen = (t("doctor_notices.bot_last", fields=snap.last_notice_fields, at=snap.last_notice_at)
            if snap.last_notice_fields else t("doctor_notices.bot_none"))
    text = t("doctor_notices.bot", pid=snap.pid, state=snap.state, notices=snap.notices, skipped=snap.skipped_total,
             updated=snap.updated_at) + " " + seen
    return Finding("notices", Status.OK if snap.state == "live" else Status.WARN, text, fields)


def check_order_notices(doc: Doctor) -> Finding:
    """Did the test order's acceptance notice come? (KIS's mock is reported to send none on some accounts.)"""
    from kis.notices import NoticeKind
    from kis.orders import same_order_no

    fields: dict[str, Any] = {"notices_arrive": None}
    if doc.bot_stream is not None:
        return _bot_order_notices(doc, fields)
    if doc.notices is None or not doc.notices.healthy:
        return Finding("order notices", Status.WARN, t("doctor_lines.no_subscription"), fields)
    if not doc.test_order_no:
        return Finding("order notices", Status.WARN, t("doctor_lines.no_test_order"), fields)
    number = same_order_no(doc.test_order_no)
    mine = lambda: [n for n in doc.notices_seen if same_order_no(n.order_no) == number]  # noqa: E731
    came = _wait_until(doc, lambda: any(n.kind is NoticeKind.ACCEPTED for n in mine()), NOTICE_WAIT)
    fields["notices_arrive"] = came
    seen = _seen(doc.notices)
    fields.update(notice_field_count=seen["field_count"], notices_skipped=seen["skipped"])
    if came:
        kinds = ", ".join(sorted({f"{n.kind.value} ({n.correction.name.lower()})" for n in mine()}))
        return Finding("order notices", Status.OK, t("doctor_lines.notices_came", kinds=kinds)
                       + t("doctor_notices.own_fields", fields=seen["field_count"] or 0, skipped=seen["skipped"]),
                       fields)
    return Finding("order notices", Status.WARN, t("doctor_lines.no_notice", seconds=NOTICE_WAIT), fields)


def _us(check: Callable[[Doctor], UsFinding]) -> Callable[[Doctor], Finding]:
    """A US check (bot/doctor_us.py) as one of the doctor's own."""
    def run(doc: Doctor) -> Finding:
        found = check(doc)
        return Finding(found.name, Status(found.status), found.text, found.fields)
    return run


CHECKS: list[Check] = [
    Check("token", check_token, required=True),
    Check("earlier test orders", check_earlier_orders),
    Check("price", check_price),
    Check("balance", check_balance),
    Check("buying power", check_buying_power),
    Check("notices", check_notices),
    Check("overseas", _us(check_overseas)),
]
def _venue(check: Callable[..., tuple | None]) -> Callable[[Doctor], Finding | None]:
    """A venue check (bot/doctor_venues.py) as one of the doctor's own; None when its setting is off."""
    def run(doc: Doctor) -> Finding | None:
        found = check(doc, resting_price=resting_buy_price,
                      confirm_cancel=lambda d, ack: _look_for_cancel(d, ack, d.monotonic(), d.wait_seconds))
        if found is None:
            return None
        status, name, text, fields = found
        return Finding(name, Status(status), text, fields)
    return run


ORDER_CHECKS: list[Check] = [Check("test order", check_test_order), Check("order notices", check_order_notices),
                             Check("US test order", _us(check_us_test_order)),
                             Check("SOR", _venue(check_sor)), Check("KRX after-market", _venue(check_after_market))]


def order_gate_finding(doc: Doctor) -> Finding | None:
    """After the test order: a pass (placed, its cancel confirmed) is recorded, so a 연금저축's orders may go
    (bot/order_gate.py); the finding says so for a gated account, or that its orders stay off."""
    from bot import order_gate

    test = next((f for f in doc.findings if f.name == "test order"), None)
    passed = test is not None and test.status is not Status.FAIL and doc.cancel_confirmed
    gated = doc.config.kind in order_gate.GATED_KINDS
    if passed:
        path = order_gate.record_pass(doc.config, datetime.now(KST))
        return Finding("order gate", Status.OK, t("accounts2.gate_opened", label=doc.config.label, path=path),
                       {"orders_on": True}) if gated else None
    if gated:
        return Finding("order gate", Status.WARN, t("accounts2.gate_shut", label=doc.config.label),
                       {"orders_on": False})
    return None


def run_checks(doc: Doctor, checks: list[Check]) -> list[Finding]:
    """Run each check into `doc.findings`; a KIS failure becomes that check's one-line finding, and the rest
    still run. A stop signal is taken before each check (and in every wait) as `Stopped`."""
    start = len(doc.findings)
    for check in checks:
        if doc.stops is not None:
            doc.stops.check()
        try:
            finding = check.run(doc)
        except (KisError, KisTransportError) as exc:
            finding = Finding(check.name, Status.FAIL, failure_sentence(exc) + ".")
        if finding is None:  # nothing to report (no earlier test order recorded)
            continue
        doc.findings.append(finding)
        if finding.status is Status.FAIL and check.required:
            break
    return doc.findings[start:]


# ---- the command --------------------------------------------------------------------------------------

def real_order_refusal(args: argparse.Namespace, config: KisConfig, ask: Callable[[str], str]) -> str:
    """'' when the owner agreed to one real test order; else the sentence that says why not."""
    if not getattr(args, "real", False):
        return t("doctor_lines.real_needs_flag")
    try:
        typed = ask(t("doctor_lines.real_ask", account=mask_account(config.account)))
    except (EOFError, OSError):
        return t("doctor_lines.real_not_typed")
    try:
        agreed = Account.parse(typed) == config.account
    except ValueError:
        agreed = False
    return "" if agreed else t("doctor_lines.real_mismatch")


def ask_on_terminal(prompt: str) -> str:
    """The question on stderr (stdout may be the JSON report), the answer from stdin."""
    print(prompt, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()


def doctor(args: argparse.Namespace, *, source: Source | None = None,
           client_factory: Callable[[KisConfig], Any] = open_client, ask: Callable[[str], str] = ask_on_terminal,
           monotonic: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
           wait_seconds: float = WAIT_SECONDS) -> int:
    """Print the report (or one JSON object); exit 0 when all is well, 1 when a check failed, 2 on refusal."""
    source = source or Source()
    as_json = bool(getattr(args, "json", False))
    try:
        code = normalize_code(getattr(args, "code", None) or DEFAULT_CODE)
    except BadStockCode as exc:
        return _refuse(str(exc), as_json)
    try:
        config: KisConfig | None = load_kis_config(source, label=getattr(args, "account", None) or "")
        problem = ""
    except ConfigError as exc:
        config, problem = None, str(exc)
    config_rows = configuration_rows(source, config)
    if config is None:
        return _emit(as_json, config_rows, None, [Finding("configuration", Status.FAIL, problem + ".")], exit_code=2)
    if getattr(args, "orders", False) and config.env is Env.REAL:
        refusal = real_order_refusal(args, config, ask)
        if refusal:  # before any call to KIS
            return _refuse(refusal, as_json)
    try:
        client = client_factory(config)
    except (KisError, KisTransportError) as exc:
        return _emit(as_json, config_rows, config, [Finding("connection", Status.FAIL, failure_sentence(exc) + ".")])
    calls = CallLog(client.transport)
    client.transport = calls
    stops = StopSignals()
    doc = Doctor(source, client.config, client, calls, code=code, monotonic=monotonic, sleep=stops.sleeping(sleep),
                 wait_seconds=wait_seconds, stops=stops)
    stopped = 0
    with stops:  # SIGINT, SIGTERM, SIGHUP: withdraw the test order, say so, exit 128 + the signal
        try:
            findings = run_checks(doc, CHECKS)
            if getattr(args, "orders", False) and all(f.status is not Status.FAIL for f in findings[:1]):
                run_checks(doc, ORDER_CHECKS)
                gate = order_gate_finding(doc)
                if gate is not None:
                    doc.findings.append(gate)
        except Stopped as stop:
            stopped = 128 + stop.signum
            doc.findings.append(withdraw(doc, stop))
            us_stop = withdraw_us(doc, stop.name)
            if us_stop is not None:
                doc.findings.append(Finding(us_stop.name, Status(us_stop.status), us_stop.text, us_stop.fields))
        finally:
            if doc.notices is not None:
                doc.notices.stop()  # unsubscribes: a running kisbot may want the app key's one session
        code = _emit(as_json, config_rows, client.config, doc.findings, orders_sent=calls.orders_sent,
                     calls=sum(calls.gets.values()), us_orders_sent=calls.us_orders_sent)
    return stopped or code


def _refuse(sentence: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"ok": False, "refused": sentence + ".", "listing_lag_s": None, "ord_dvsn_echo": None,
                          "orders_placed": 0, "cancelled": None}, ensure_ascii=False))
    else:
        print(t("doctor_lines.refused", sentence=sentence), file=sys.stderr)
    return 2


def _emit(as_json: bool, config_rows: list[dict[str, str]], config: KisConfig | None, findings: list[Finding], *,
          orders_sent: int = 0, calls: int = 0, exit_code: int = 1, us_orders_sent: int = 0) -> int:
    ok = all(f.status is not Status.FAIL for f in findings)
    report: dict[str, Any] = {
        "ok": ok,
        "env": config.env.value if config else None,
        "account": mask_account(config.account) if config else None,
        "base_url": config.base_url if config else None,
        "configuration": config_rows,
        "checks": [{"name": f.name, "status": f.status.value, "text": f.text} for f in findings],
        "listing_lag_s": None, "ord_dvsn_echo": None, "orders_placed": orders_sent, "cancelled": None,
        "inquiries": calls, "us_orders_placed": us_orders_sent,
    }
    for f in findings:
        report.update(f.fields)
    try:
        if as_json:
            print(json.dumps(report, ensure_ascii=False), flush=True)
        else:
            _print_human(report, findings)
            sys.stdout.flush()
    except OSError:  # the terminal went away (SIGHUP of a closed ssh session): the record in the data dir stays
        pass
    return 0 if ok else exit_code


def _print_human(report: Mapping[str, Any], findings: list[Finding]) -> None:
    where = (t("doctor_lines.where", env=report["env"], account=report["account"], url=report["base_url"])
             if report["env"] else t("doctor_lines.no_account"))
    print(t("doctor_lines.head", where=where))
    print("\n" + _label("configuration"))
    width = max(len(r["name"]) for r in report["configuration"])
    for row in report["configuration"]:
        origin = t("doctor_lines.origin_default") if row["origin"] == "default" else row["origin"]
        print(f"  {row['name']:<{width}}  {row['value']}  [{origin}]")
    print()
    for f in findings:
        print(f"{f.status.mark} {_label(f.name)}: {f.text}")
    placed = report["orders_placed"]
    if report.get("stopped_by"):
        end = t("doctor_lines.stopped_by", signal=report["stopped_by"])
    else:
        end = t("doctor_lines.all_passed") if report["ok"] else t("doctor_lines.some_failed")
    print("\n" + t("doctor_lines.placed_one" if placed == 1 else "doctor_lines.placed_many", n=placed, end=end))


def _label(name: str) -> str:
    """A check's name as the terminal's language says it (the JSON keeps the English name)."""
    key = "doctor_lines.name_" + name.replace(" ", "_")
    said = t(key)
    return name if said == key else said
