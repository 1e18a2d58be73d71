"""Order and fill notices pushed over KIS's websocket (H0STCNI0 real, H0STCNI9 mock).

Protocol (koreainvestment/open-trading-api: examples_user/kis_auth.py, examples_llm/domestic_stock/
ccnl_notice/, legacy/websocket/python/ws_domestic_stock.py): subscribe with the approval key and
`tr_key` = the HTS ID; the answer carries an AES-256 key and iv; each data frame is
`<flag>|<tr_id>|<count>|<payload>` whose payload decrypts (CBC, PKCS#7, base64) to records of 26
`^`-separated fields, read here by name. Notices speed things up; polling stays the source of truth.

The same session also carries the run's stocks' trade prices (국내주식 실시간체결가, H0STCNT0, the same
tr_id on real and mock, `tr_key` = the stock code, plain frames of 46 fields: examples_llm/domestic_stock/
ccnl_krx/), so a guard-priced order need not ask inquire-price each time.

US fills come over the same session (해외주식 실시간체결통보, H0GSCNI0 real, H0GSCNI9 mock, examples_llm/
overseas_stock/ccnl_notice/; the legacy ws_domestic_overseas_all.py subscribes both on one session): keyed by
the HTS ID too, encrypted alike, 25 columns. They are read into the same `Notice` with `market` "US", the
price in Decimal dollars and whole shares; the frame names no exchange (the order's exchange is the order's).
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Awaitable, Callable, Iterable

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kis.krx import KST
from kis.models import Account, OrderSide
from kis.stream_status import StreamSnapshot, StreamStatus

log = logging.getLogger(__name__)

# The current official layout (ccnl_notice.py, labels 3 and 16 corrected in 90aa50b). Older libraries
# still read 23 fields; a record is split by this count, never by position guesses.
NOTICE_FIELDS = (
    "CUST_ID", "ACNT_NO", "ODER_NO", "OODER_NO", "SELN_BYOV_CLS", "RCTF_CLS",
    "ODER_KIND", "ODER_COND", "STCK_SHRN_ISCD", "CNTG_QTY", "CNTG_UNPR",
    "STCK_CNTG_HOUR", "RFUS_YN", "CNTG_YN", "ACPT_YN", "BRNC_NO", "ODER_QTY",
    "ACNT_NAME", "ORD_COND_PRC", "ORD_EXG_GB", "POPUP_YN", "FILLER", "CRDT_CLS",
    "CRDT_LOAN_DATE", "CNTG_ISNM40", "ODER_PRC",
)
NOTICE_TR_IDS = frozenset({"H0STCNI0", "H0STCNI9"})
# 해외주식 실시간체결통보 (US fills), examples_llm/overseas_stock/ccnl_notice/ccnl_notice.py: H0GSCNI0 real,
# H0GSCNI9 mock, keyed by HTS ID, 25 columns. Prices are dollars as text (their exact format on KIS: unverified).
# The acceptance layout of the legacy sample (stocksigningnotice_overseas) reads CNTG_QTY / CNTG_UNPR as the
# order's quantity and price and ODER_QTY as "주문수량_미출력", as the KRX notice does.
US_NOTICE_TR_IDS = {"real": "H0GSCNI0", "mock": "H0GSCNI9"}
US_TR_IDS = frozenset(US_NOTICE_TR_IDS.values())
US_NOTICE_FIELDS = (
    "CUST_ID", "ACNT_NO", "ODER_NO", "OODER_NO", "SELN_BYOV_CLS", "RCTF_CLS", "ODER_KIND2", "STCK_SHRN_ISCD",
    "CNTG_QTY", "CNTG_UNPR", "STCK_CNTG_HOUR", "RFUS_YN", "CNTG_YN", "ACPT_YN", "BRNC_NO", "ODER_QTY", "ACNT_NAME",
    "CNTG_ISNM", "ODER_COND", "DEBT_GB", "DEBT_DATE", "START_TM", "END_TM", "TM_DIV_TP", "CNTG_UNPR12",
)

# 국내주식 실시간체결가 (KRX), ccnl_krx.py's column list: read by name, split by this count.
PRICE_TR_ID = "H0STCNT0"
PRICE_FIELDS = (
    "MKSC_SHRN_ISCD", "STCK_CNTG_HOUR", "STCK_PRPR", "PRDY_VRSS_SIGN", "PRDY_VRSS", "PRDY_CTRT",
    "WGHN_AVRG_STCK_PRC", "STCK_OPRC", "STCK_HGPR", "STCK_LWPR", "ASKP1", "BIDP1", "CNTG_VOL", "ACML_VOL",
    "ACML_TR_PBMN", "SELN_CNTG_CSNU", "SHNU_CNTG_CSNU", "NTBY_CNTG_CSNU", "CTTR", "SELN_CNTG_SMTN",
    "SHNU_CNTG_SMTN", "CCLD_DVSN", "SHNU_RATE", "PRDY_VOL_VRSS_ACML_VOL_RATE", "OPRC_HOUR",
    "OPRC_VRSS_PRPR_SIGN", "OPRC_VRSS_PRPR", "HGPR_HOUR", "HGPR_VRSS_PRPR_SIGN", "HGPR_VRSS_PRPR",
    "LWPR_HOUR", "LWPR_VRSS_PRPR_SIGN", "LWPR_VRSS_PRPR", "BSOP_DATE", "NEW_MKOP_CLS_CODE", "TRHT_YN",
    "ASKP_RSQN1", "BIDP_RSQN1", "TOTAL_ASKP_RSQN", "TOTAL_BIDP_RSQN", "VOL_TNRT", "PRDY_SMNS_HOUR_ACML_VOL",
    "PRDY_SMNS_HOUR_ACML_VOL_RATE", "HOUR_CLS_CODE", "MRKT_TRTM_CLS_CODE", "VI_STND_PRC",
)
# 국내주식 실시간호가 (KRX, H0STASP0; asking_price_krx.py) and (통합, H0UNASP0; asking_price_total.py): ten
# levels a side. The official lists end in their mid-price fields (59 common fields, then 4 or 6).
_BOOK_COMMON = (
    ("MKSC_SHRN_ISCD", "BSOP_HOUR", "HOUR_CLS_CODE") + tuple(f"ASKP{i}" for i in range(1, 11))
    + tuple(f"BIDP{i}" for i in range(1, 11)) + tuple(f"ASKP_RSQN{i}" for i in range(1, 11))
    + tuple(f"BIDP_RSQN{i}" for i in range(1, 11))
    + ("TOTAL_ASKP_RSQN", "TOTAL_BIDP_RSQN", "OVTM_TOTAL_ASKP_RSQN", "OVTM_TOTAL_BIDP_RSQN", "ANTC_CNPR",
       "ANTC_CNQN", "ANTC_VOL", "ANTC_CNTG_VRSS", "ANTC_CNTG_VRSS_SIGN", "ANTC_CNTG_PRDY_CTRT", "ACML_VOL",
       "TOTAL_ASKP_RSQN_ICDC", "TOTAL_BIDP_RSQN_ICDC", "OVTM_TOTAL_ASKP_ICDC", "OVTM_TOTAL_BIDP_ICDC",
       "STCK_DEAL_CLS_CODE")
)
BOOK_TR_ID, BOOK_TOTAL_TR_ID = "H0STASP0", "H0UNASP0"
BOOK_FIELDS = {
    BOOK_TR_ID: _BOOK_COMMON + ("MID_PRC", "MIDP_TOTAL_RSQN", "MIDP_CLS_CODE", "MARKET_CLS_CODE"),
    BOOK_TOTAL_TR_ID: _BOOK_COMMON + ("KMID_PRC", "KMID_TOTAL_RSQN", "KMID_CLS_CODE", "NMID_PRC",
                                      "NMID_TOTAL_RSQN", "NMID_CLS_CODE"),
}
MAX_REGISTRATIONS = 40  # per session (kis_auth.KISWebSocket: "Subscription's max is 40"); notices take one
PRICE_DOWN_SIGNS = frozenset({"4", "5"})  # PRDY_VRSS_SIGN: 1 upper limit, 2 up, 3 flat, 4 lower limit, 5 down
IN_USE_CODE = "OPSP8996"  # "already in use": another session holds this app key (python-kis; unverified)
# rt_cd "1" with msg1 'ALREADY IN SUBSCRIBE' (the legacy samples print no error for it): the feed is registered.
ALREADY_CODE, ALREADY_TEXT = "OPSP0002", "ALREADY IN SUBSCRIBE"


US = "US"  # Notice.market of a US notice


class NoticeKind(str, Enum):
    """What a notice says: CNTG_YN 1 is an acceptance (order, revise, cancel), 2 a fill; RFUS_YN 1 a refusal."""

    ACCEPTED = "accepted"
    FILLED = "filled"
    REFUSED = "refused"


class Correction(str, Enum):
    """RCTF_CLS: whether the notice is about a new order, a revise or a cancel."""

    NEW = "0"
    REVISE = "1"
    CANCEL = "2"


@dataclass(frozen=True)
class Notice:
    """One notice record. `qty`/`price` are the fill's for a fill and the order's for an acceptance."""

    kind: NoticeKind
    account: str  # ACNT_NO as sent
    order_no: str
    orig_order_no: str
    code: str
    side: OrderSide
    correction: Correction
    order_type: str  # ODER_KIND (ORD_DVSN code)
    qty: int  # CNTG_QTY
    price: int | Decimal  # CNTG_UNPR: int won (KRX), Decimal dollars (US)
    order_qty: int  # ODER_QTY
    time: str  # STCK_CNTG_HOUR, HHMMSS
    name: str = ""
    branch: str = ""  # BRNC_NO: pairs with KRX_FWDG_ORD_ORGNO (python-kis), needed to cancel
    venue: str = ""  # ORD_EXG_GB (주문거래소 구분): 1 KRX, 2 NXT, 3/4 SOR to KRX/NXT (kis/venues.py `filled_on`)
    # KRX (H0STCNI0/9, `price` int won) or US (H0GSCNI0/9, `price` Decimal dollars as KIS wrote it; shares whole)
    market: str = "KRX"

    @property
    def is_us(self) -> bool:
        return self.market == US

    @property
    def amount(self) -> int:
        """What this notice's shares at its price come to, in the currency's minor unit (won; cents, half up)."""
        if not self.is_us:
            return self.qty * int(self.price)
        from kis.markets import USD

        return USD.minor(Decimal(self.qty) * Decimal(self.price))

    @property
    def identity(self) -> tuple:
        """What a repeated delivery of the same notice shares (KIS numbers no notice). The venue counts: a SOR
        order may fill the same shares at the same price in the same second on KRX and on NXT."""
        return (self.kind, self.order_no.lstrip("0"), self.qty, self.price, self.time, self.correction, self.venue,
                self.market)


@dataclass(frozen=True)
class Trade:
    """One 실시간체결가 record: the stock's latest trade price and the previous close its change is against
    (0 when unknown, e.g. a price taken from a fill notice)."""

    code: str
    price: int
    prev_close: int
    time: str  # STCK_CNTG_HOUR, HHMMSS


class FrameError(ValueError):
    """A frame that cannot be read; `kind` names the problem for log-once bookkeeping."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def decrypt(payload: str, key: str, iv: str) -> str:
    """AES-256-CBC, PKCS#7, base64, as kis_auth.aes_cbc_base64_dec: key and iv are the answer's text."""
    try:
        data = base64.b64decode(payload, validate=True)
        decryptor = Cipher(algorithms.AES(key.encode("utf-8")), modes.CBC(iv.encode("utf-8"))).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise FrameError("undecryptable", type(exc).__name__) from None


def encrypt(text: str, key: str, iv: str) -> str:
    """The inverse of `decrypt` (for the simulator and tests)."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(text.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key.encode("utf-8")), modes.CBC(iv.encode("utf-8"))).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def records(text: str, count: int, names: tuple[str, ...] = NOTICE_FIELDS) -> list[dict[str, str]]:
    """`count` records of `names` (26 notice fields by default) `^`-separated, concatenated, as dicts by name."""
    values = text.split("^")
    width = len(names)
    if count <= 0 or len(values) != count * width:
        raise FrameError("malformed", f"{len(values)} fields for {count} record(s) of {width}")
    return [dict(zip(names, values[i * width:(i + 1) * width])) for i in range(count)]


def _int(text: str) -> int:
    s = text.strip()
    if not s:
        return 0
    try:
        return int(round(float(s)))
    except ValueError:
        raise FrameError("malformed", "a number field is not a number") from None


def _notice_head(fields: dict[str, str]) -> tuple[NoticeKind, OrderSide, Correction, str]:
    """What a KRX and a US notice say alike: its kind (RFUS_YN, CNTG_YN), side, correction and order number."""
    refused, filled = fields["RFUS_YN"].strip(), fields["CNTG_YN"].strip()
    if refused == "1":
        kind = NoticeKind.REFUSED
    elif filled == "2":
        kind = NoticeKind.FILLED
    elif filled == "1":
        kind = NoticeKind.ACCEPTED
    else:
        raise FrameError("malformed", f"CNTG_YN {filled!r}")
    try:
        side = OrderSide(fields["SELN_BYOV_CLS"].strip())
        correction = Correction(fields["RCTF_CLS"].strip() or "0")
    except ValueError:
        raise FrameError("malformed", "side or correction class") from None
    order_no = fields["ODER_NO"].strip()
    return kind, side, correction, order_no


def notice_from(fields: dict[str, str]) -> Notice:
    """The typed notice of one record; FrameError('malformed') when a key field makes no sense."""
    kind, side, correction, order_no = _notice_head(fields)
    if not order_no:
        raise FrameError("malformed", "no order number")
    return Notice(kind=kind, account=fields["ACNT_NO"].strip(), order_no=order_no,
                  orig_order_no=fields["OODER_NO"].strip(), code=fields["STCK_SHRN_ISCD"].strip(), side=side,
                  correction=correction, order_type=fields["ODER_KIND"].strip(), qty=_int(fields["CNTG_QTY"]),
                  price=_int(fields["CNTG_UNPR"]), order_qty=_int(fields["ODER_QTY"]),
                  time=fields["STCK_CNTG_HOUR"].strip(), name=fields["CNTG_ISNM40"].strip(),
                  branch=fields["BRNC_NO"].strip(), venue=fields.get("ORD_EXG_GB", "").strip())


def _shares(text: str) -> int:
    """Whole shares as KIS writes them ("10", "0000000010"); a fraction is no share count."""
    s = text.strip()
    if not s:
        return 0
    try:
        value = Decimal(s)
    except InvalidOperation:
        raise FrameError("malformed", "a quantity field is not a number") from None
    if value != value.to_integral_value() or value < 0:
        raise FrameError("malformed", "a quantity that is not whole shares")
    return int(value)


def _dollars(text: str) -> Decimal:
    """A dollar price as KIS writes it ("233.1200", "201.5"); never a float. Its exact format: unverified."""
    s = text.strip()
    if not s:
        return Decimal(0)
    try:
        value = Decimal(s)
    except InvalidOperation:
        raise FrameError("malformed", "a price field is not a number") from None
    if not value.is_finite() or value < 0:
        raise FrameError("malformed", "a price that is no dollar amount")
    return value


def us_notice_from(fields: dict[str, str]) -> Notice:
    """The typed notice of one H0GSCNI0/9 record: market US, the price in Decimal dollars, whole shares."""
    kind, side, correction, order_no = _notice_head(fields)
    ticker = fields["STCK_SHRN_ISCD"].strip()
    if not order_no or not ticker:
        raise FrameError("malformed", "no order number or ticker")
    return Notice(kind=kind, account=fields["ACNT_NO"].strip(), order_no=order_no,
                  orig_order_no=fields["OODER_NO"].strip(), code=ticker, side=side, correction=correction,
                  order_type=fields["ODER_KIND2"].strip(), qty=_shares(fields["CNTG_QTY"]),
                  price=_dollars(fields["CNTG_UNPR"]), order_qty=_shares(fields["ODER_QTY"]),
                  time=fields["STCK_CNTG_HOUR"].strip(), name=fields["CNTG_ISNM"].strip(),
                  branch=fields["BRNC_NO"].strip(), market=US)


def trade_from(fields: dict[str, str]) -> Trade:
    """The typed price of one 실시간체결가 record; FrameError('malformed') when the price makes no sense."""
    price = _int(fields["STCK_PRPR"])
    code = fields["MKSC_SHRN_ISCD"].strip()
    if price <= 0 or not code:
        raise FrameError("malformed", "a price record without a code or a positive price")
    change = abs(_int(fields["PRDY_VRSS"]))  # sent signed or not: the sign field says which way
    if fields["PRDY_VRSS_SIGN"].strip() in PRICE_DOWN_SIGNS:
        change = -change
    return Trade(code=code, price=price, prev_close=max(0, price - change), time=fields["STCK_CNTG_HOUR"].strip())


def is_account(text: str, account: Account) -> bool:
    """ACNT_NO names `account`: the 8-digit CANO, optionally followed by the product code."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits == account.cano or digits == account.cano + account.product


# ---- reading frames --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Control:
    """A JSON frame: a subscribe/unsubscribe answer or a PINGPONG."""

    tr_id: str
    tr_key: str = ""
    ping: bool = False
    ok: bool = False
    msg_cd: str = ""
    msg1: str = ""
    unsubscribed: bool = False
    already: bool = False  # OPSP0002 ALREADY IN SUBSCRIBE: rt_cd "1", yet the feed is registered

    @property
    def subscribed(self) -> bool:
        """The answer says the feed is registered: a success, or 'already in subscribe'."""
        return (self.ok or self.already) and not self.unsubscribed


class FrameReader:
    """Turns text frames into controls and notices for one account; keeps key/iv per tr_id.

    Bad frames (malformed, undecryptable, unknown tr_id, another account's notice) are logged once
    per kind and skipped; `skipped` counts them.
    """

    def __init__(self, account: Account):
        self.account = account
        self.keys: dict[str, tuple[str, str]] = {}
        self.skipped: dict[str, int] = {}
        self.last_fields = 0  # `^`-separated fields per record in the last notice frame read (0: none yet)

    def read(self, raw: str | bytes) -> Control | list[Notice | Trade]:
        """A Control for JSON frames, else the account's notices or the trade prices (possibly none)."""
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            if text[:1] in ("0", "1"):
                return self._data(text)
            return self._control(text)
        except FrameError as exc:
            self._skip(exc.kind, str(exc))
            return []
        except UnicodeDecodeError:
            self._skip("malformed", "not UTF-8")
            return []

    def _skip(self, kind: str, detail: str) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + 1
        if self.skipped[kind] == 1:
            log.warning("notice stream: ignored a frame (%s); further ones of this kind are ignored silently", detail)

    def _control(self, text: str) -> Control:
        try:
            data = json.loads(text)
            header = data["header"]
            tr_id = str(header["tr_id"])
            tr_key = str(header.get("tr_key") or "")
        except (ValueError, KeyError, TypeError):
            raise FrameError("malformed", "not a notice and not a JSON control frame") from None
        if tr_id == "PINGPONG":
            return Control(tr_id, ping=True)
        body = data.get("body") or {}
        if not isinstance(body, dict):
            raise FrameError("malformed", "control body")
        ok = str(body.get("rt_cd", "")) == "0"
        msg1 = str(body.get("msg1") or "").strip()
        output = body.get("output") or {}
        if ok and isinstance(output, dict) and output.get("key") and output.get("iv"):
            self.keys[tr_id] = (str(output["key"]), str(output["iv"]))
        msg_cd = str(body.get("msg_cd") or "").strip()
        return Control(tr_id, tr_key, ok=ok, msg_cd=msg_cd, msg1=msg1, unsubscribed=msg1.upper().startswith("UNSUB"),
                       already=msg_cd == ALREADY_CODE or ALREADY_TEXT in msg1.upper())

    def _data(self, text: str) -> list[Notice | Trade]:
        parts = text.split("|", 3)
        # ASCII digits only: str.isdigit also takes '²' or '３', which int() then refuses
        if len(parts) != 4 or not (parts[2].strip().isascii() and parts[2].strip().isdigit()):
            raise FrameError("malformed", "not flag|tr_id|count|payload")
        flag, tr_id, count, payload = parts
        if tr_id == PRICE_TR_ID:
            if flag == "1":
                if tr_id not in self.keys:
                    raise FrameError("undecryptable", f"no key for {tr_id} yet")
                payload = decrypt(payload, *self.keys[tr_id])
            return [trade_from(fields) for fields in records(payload, int(count), PRICE_FIELDS)]
        us = tr_id in US_TR_IDS
        if tr_id not in NOTICE_TR_IDS and not us:
            raise FrameError("unknown tr_id", tr_id[:20])
        if flag == "1":
            if tr_id not in self.keys:
                raise FrameError("undecryptable", f"no key for {tr_id} yet")
            payload = decrypt(payload, *self.keys[tr_id])
        notices: list[Notice | Trade] = []
        rows = records(payload, int(count), US_NOTICE_FIELDS if us else NOTICE_FIELDS)
        if not us:
            self.last_fields = len(payload.split("^")) // max(1, int(count))
        for fields in rows:
            if not is_account(fields["ACNT_NO"], self.account):
                self._skip("other account", "a notice for another account under the same HTS ID")
                continue
            notices.append(us_notice_from(fields) if us else notice_from(fields))
        return notices


def subscribe_frame(approval_key: str, tr_id: str, tr_key: str, *, subscribe: bool = True) -> str:
    """The JSON text that registers (tr_type "1") or releases (tr_type "2") one feed: the notices (tr_key
    the HTS ID) or one stock's prices (tr_key its code)."""
    return json.dumps({"header": {"approval_key": approval_key, "custtype": "P",
                                  "tr_type": "1" if subscribe else "2", "content-type": "utf-8"},
                       "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}}})


# ---- the stream ------------------------------------------------------------------------------------

class StreamState(str, Enum):
    """Where the notice stream stands; only LIVE lets polling slow down."""

    OFF = "off"  # no HTS ID: polling only
    CONNECTING = "connecting"
    LIVE = "live"  # subscribed, frames arriving
    DOWN = "down"  # lost, waiting to reconnect
    REFUSED = "refused"  # KIS refused the subscription: polling only until restart
    STOPPED = "stopped"

    @property
    def healthy(self) -> bool:
        return self is StreamState.LIVE


class Backoff:
    """Reconnect delays: exponential from `base` to `cap`, each scaled by a jitter in [0.5, 1]; never below `floor`.

    KIS blocks app keys that reconnect too often, so even the first retry waits.
    """

    def __init__(self, base: float = 2.0, cap: float = 120.0, floor: float = 1.0,
                 rng: random.Random | None = None):
        self.base, self.cap, self.floor = base, cap, floor
        self.rng = rng or random.Random()
        self.failures = 0

    def next_delay(self) -> float:
        raw = min(self.cap, self.base * 2 ** self.failures)
        self.failures += 1
        return max(self.floor, raw * (0.5 + self.rng.random() / 2))

    def reset(self) -> None:
        self.failures = 0


HEALTHY_RESET_SECONDS = 60.0  # a session that stayed up this long (and ended by a plain drop) resets the backoff
# Sessions KIS closed before answering the notice subscription, in a row, with no subscription ever
# taken: KIS's answer to a wrong HTS ID (official README: "'No close frame received' 오류가 발생하는 경우
# … HTS ID가 정확한지 확인"). A connection that never opened is the network and does not count.
UNANSWERED_CLOSES = 3
APPROVAL_REFUSED = frozenset({"EGW00121", "EGW00123", "OPSP0011"})  # OPSP0011 "invalid approval" (third-party table)


@dataclass(frozen=True)
class StreamNews:
    """What the user must hear about the stream, as data: `kind` names the sentence (catalogue
    `notices.<kind>`), `fields` fill it; each front end puts it into words."""

    kind: str
    fields: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, kind: str, **fields: Any) -> "StreamNews":
        return cls(kind, tuple(sorted(fields.items())))

    def params(self) -> dict[str, Any]:
        return dict(self.fields)


class Refused(Exception):
    """KIS refused the subscription: `news` says why and what to check."""

    def __init__(self, news: StreamNews):
        super().__init__(news.kind)
        self.news = news


class SessionFault(Exception):
    """An error frame once the HTS ID was proven by a subscription: reconnect (paced); nothing is refused."""


STATUS_EVERY = 30.0  # seconds: the status file is rewritten at least this often while frames come


class NoticeStream:
    """One websocket session per app key: subscribe, decrypt, hand notices to listeners, reconnect.

    Runs in its own thread with its own asyncio loop. `connect` and `sleep`/`monotonic` are injectable
    so reconnects and backoff can be tested on a fake clock.
    """

    def __init__(self, url: str, tr_id: str, hts_id: str, account: Account, approval: Callable[..., str], *,
                 on_message: Callable[[StreamNews], None] | None = None, backoff: Backoff | None = None,
                 connect: Callable[[str], Any] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None,
                 monotonic: Callable[[], float] = time.monotonic, status: StreamStatus | None = None,
                 wall: Callable[[], datetime] = lambda: datetime.now(KST), us_tr_id: str = ""):
        self.url, self.tr_id, self.hts_id = url, tr_id, hts_id
        # H0GSCNI0/9: US fills on the same session, subscribed once the KRX notices are; "" subscribes none
        self.us_tr_id = us_tr_id
        self.us_live = False  # KIS took the US notice subscription on the current session
        self.us_refusal = ""  # what KIS answered when it refused the US notices (KRX notices carry on)
        self.reader = FrameReader(account)
        self._approval = approval
        self._on_message = on_message or (lambda news: log.warning("notice stream: %s %s", news.kind, news.params()))
        self.backoff = backoff or Backoff()
        self._connect = connect or _ws_connect
        self._sleep = sleep or asyncio.sleep
        self._monotonic = monotonic
        self._listeners: list[Callable[[Notice], None]] = []
        self._lock = threading.Lock()
        self.state = StreamState.CONNECTING
        self.generation = 0  # successful subscriptions so far: a change means notices may have been missed
        self.reconnects = 0
        self.session_faults = 0  # error frames after a subscription (each one reconnects)
        self.refusal: StreamNews | None = None  # why the stream is REFUSED
        self.unanswered = 0  # sessions in a row closed before the subscription was answered
        self._subscribe_sent = False  # on the current session
        self._answered = False  # the current session's notice subscription got an answer
        self.last_frame_at: float | None = None
        self.notices = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._told: set[StreamNews] = set()
        self._watched: list[str] = []  # stock codes whose prices are wanted, in the order asked
        self._registered: set[str] = set()  # codes KIS took on the current session
        self._prices: dict[str, tuple[Trade, float]] = {}  # code -> latest trade and when it arrived (monotonic)
        self._ws = None
        self._key = ""
        self.status = status  # the data dir's lock and status file of this app key's session (None: not kept)
        self._wall = wall
        self.last_notice_at = ""  # wall-clock ISO time of the last notice handed out
        self._published: tuple = ()
        self._published_at = 0.0

    def __repr__(self) -> str:
        return f"NoticeStream(url={self.url!r}, tr_id={self.tr_id}, state={self.state.value})"

    # listeners -------------------------------------------------------------------------------------
    def add_listener(self, fn: Callable[[Notice], None]) -> None:
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[Notice], None]) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    @property
    def healthy(self) -> bool:
        return self.state.healthy

    # trade prices ---------------------------------------------------------------------------------
    def watch(self, codes: Iterable[str]) -> list[str]:
        """Stream these stocks' trade prices on this session (replacing any earlier set); the codes taken.

        A session holds MAX_REGISTRATIONS feeds and the notices take one (two with US notices): codes past that are not
        streamed (their orders ask inquire-price, as without a stream).
        """
        wanted = list(dict.fromkeys(codes))[:MAX_REGISTRATIONS - 1 - int(bool(self.us_tr_id))]
        with self._lock:
            self._watched = wanted
        self._sync_soon()
        return wanted

    def price(self, code: str, max_age: float) -> Trade | None:
        """The latest trade price of `code` if it arrived at most `max_age` seconds ago, else None."""
        with self._lock:
            seen = self._prices.get(code)
        if seen is None or self._monotonic() - seen[1] > max_age:
            return None
        return seen[0]

    def _saw_price(self, trade: Trade) -> None:
        with self._lock:
            if trade.prev_close <= 0 and trade.code in self._prices:  # a fill's price: keep the known close
                trade = Trade(trade.code, trade.price, self._prices[trade.code][0].prev_close, trade.time)
            self._prices[trade.code] = (trade, self._monotonic())

    def _sync_soon(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # the session registers the watched codes when it subscribes
        try:
            asyncio.run_coroutine_threadsafe(self._sync_prices(), loop)
        except RuntimeError:
            pass

    async def _sync_prices(self) -> None:
        """Register the watched codes not yet registered and release the rest (tr_type "2")."""
        ws, key = self._ws, self._key
        if ws is None or self.state is not StreamState.LIVE:
            return
        with self._lock:
            wanted = list(self._watched)
        try:
            for code in [c for c in self._registered if c not in wanted]:
                self._registered.discard(code)
                await ws.send(subscribe_frame(key, PRICE_TR_ID, code, subscribe=False))
            for code in [c for c in wanted if c not in self._registered]:
                self._registered.add(code)  # taken back if KIS refuses it
                await ws.send(subscribe_frame(key, PRICE_TR_ID, code))
        except Exception:  # the session broke: the next one registers them
            log.info("notice stream: price registration interrupted")

    def _price_answer(self, result: Control) -> None:
        if result.subscribed:
            return
        if result.ok and result.unsubscribed:
            self._registered.discard(result.tr_key)
        elif not result.ok:
            self._registered.discard(result.tr_key)
            log.warning("notice stream: KIS refused the trade prices of %s (%s %s); its orders ask inquire-price",
                        result.tr_key, result.msg_cd, result.msg1)

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> "NoticeStream":
        """Connect in a daemon thread and return at once."""
        if self._thread is None:
            if self.status is not None and not self.status.claim():
                self.status = None  # another process announces its session; this one does not overwrite it
            self._publish(force=True)
            self._thread = threading.Thread(target=self._thread_main, name="kis-notices", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Unsubscribe (tr_type "2"), close, and end the thread."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass
        if self._thread is not None:
            self._thread.join(timeout)
        if self.state is not StreamState.REFUSED:  # a refused stream stays refused: /health still says why
            self.state = StreamState.STOPPED
        self._publish(force=True)
        if self.status is not None:
            self.status.release()

    def snapshot(self) -> StreamSnapshot:
        """What this stream has seen so far, as the status file keeps it."""
        import os

        return StreamSnapshot(os.getpid(), self.state.value, self.notices, self.reader.last_fields,
                              self.last_notice_at, dict(self.reader.skipped), self.reconnects,
                              self._wall().isoformat(timespec="seconds"))

    def _publish(self, *, force: bool = False) -> None:
        """Write the snapshot to the status file when something changed (or 30 s passed), never per price."""
        if self.status is None:
            return
        mark = (self.state, self.notices, self.reader.last_fields, sum(self.reader.skipped.values()), self.reconnects)
        now = self._monotonic()
        if not force and mark == self._published and now - self._published_at < STATUS_EVERY:
            return
        self._published, self._published_at = mark, now
        self.status.write(self.snapshot())

    def _thread_main(self) -> None:
        try:
            asyncio.run(self.run())
        finally:  # refused or stopped: the session is closed, so the app key is free for another process
            self._publish(force=True)
            if self.status is not None:
                self.status.release()

    async def run(self) -> None:
        """Connect, subscribe and read until stopped or refused; back off between sessions."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        while not self._stop.is_set():
            self.state = StreamState.CONNECTING
            self._publish()
            began = self._monotonic()
            faulted = False
            self._subscribe_sent = self._answered = False
            try:
                await self._session()
            except Refused as exc:
                self._refuse(exc.news)
                return
            except SessionFault as exc:
                faulted = True
                self.session_faults += 1
                log.warning("notice stream: KIS sent an error on the subscribed session (%s); reconnecting", exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the connection failed or broke: never fatal, never a tight loop
                log.info("notice stream: connection lost (%s)", type(exc).__name__)
            if self._stop.is_set():
                break
            if self._subscribe_sent and not self._answered:
                self.unanswered += 1
                if self.generation == 0 and self.unanswered >= UNANSWERED_CLOSES:
                    self._refuse(StreamNews.of("refused_hts_id", hts_id=self.hts_id, closes=self.unanswered))
                    return
            self.state = StreamState.DOWN
            self._publish()
            if not faulted and not (self._subscribe_sent and not self._answered) \
                    and self._monotonic() - began >= HEALTHY_RESET_SECONDS:
                self.backoff.reset()
            delay = self.backoff.next_delay()
            self.reconnects += 1
            log.info("notice stream: reconnecting in %.1f s", delay)
            await self._wait(delay)
        self.state = StreamState.STOPPED

    def _refuse(self, news: StreamNews) -> None:
        """Notices off until restart, said once; polling carries on."""
        self.refusal = news
        self.state = StreamState.REFUSED
        self._publish()
        self._tell(news)

    async def _wait(self, seconds: float) -> None:
        stop_wait = asyncio.ensure_future(self._stop.wait())
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        try:
            await asyncio.wait({stop_wait, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stop_wait, sleeper):
                task.cancel()

    async def _session(self) -> None:
        stale = None
        for _ in range(2):  # a refused approval key is re-issued once
            key = await asyncio.to_thread(self._approval_for, stale)
            async with self._connect(self.url) as ws:
                self._registered.clear()
                self.us_live = False
                self._ws, self._key = ws, key
                try:
                    self._answered = False
                    await ws.send(subscribe_frame(key, self.tr_id, self.hts_id))
                    self._subscribe_sent = True
                    retry = await self._read(ws, key)
                finally:
                    self._ws = None
                    self._registered.clear()
                    self.us_live = False
                if not retry:
                    return
                stale = key
        raise Refused(StreamNews.of("refused_approval"))

    def _us_answer(self, result: Control) -> None:
        """KIS's answer to the US notice subscription: taken, released, or refused (the KRX notices carry on)."""
        if result.subscribed:
            self.us_live, self.us_refusal = True, ""
            return
        self.us_live = False
        if not result.ok and not result.unsubscribed:
            self.us_refusal = f"{result.msg_cd} {result.msg1}".strip()
            log.warning("notice stream: KIS refused the US fill notices (%s); US orders are polled", self.us_refusal)

    def _approval_for(self, stale: str | None) -> str:
        return self._approval(stale=stale) if stale else self._approval()

    async def _read(self, ws, key: str) -> bool:
        """Frames until the stop or a close; True when the approval key was refused (issue another)."""
        stop_wait = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                recv = asyncio.ensure_future(ws.recv())
                done, _ = await asyncio.wait({recv, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if stop_wait in done:
                    recv.cancel()
                    await self._unsubscribe(ws, key)
                    return False
                raw = recv.result()  # raises when the connection closed
                self.last_frame_at = self._monotonic()
                result = self.reader.read(raw)
                if isinstance(result, list):
                    self._deliver(result)
                    self._publish()
                    continue
                if result.ping:
                    await _answer_ping(ws, raw)
                    continue
                if result.tr_id == PRICE_TR_ID:
                    self._price_answer(result)
                    continue
                if self.us_tr_id and result.tr_id == self.us_tr_id:
                    self._us_answer(result)
                    continue
                if result.tr_id != self.tr_id:
                    continue
                self._answered = True
                self.unanswered = 0
                if result.subscribed:
                    if self.state is StreamState.LIVE:
                        continue  # 'already in subscribe' on a live session: nothing changed
                    self.generation += 1
                    self.state = StreamState.LIVE
                    self._publish()
                    log.info("notice stream: subscribed (%s)", result.msg_cd or "ok")
                    if self.us_tr_id and not self.us_live:
                        await ws.send(subscribe_frame(key, self.us_tr_id, self.hts_id))
                    await self._sync_prices()
                    continue
                if not result.ok and not result.unsubscribed:
                    if result.msg_cd in APPROVAL_REFUSED:
                        return True
                    if self.generation > 0:  # the HTS ID took before: a fault of this session, not a refusal
                        raise SessionFault(f"{result.msg_cd} {result.msg1}".strip())
                    if result.msg_cd == IN_USE_CODE:
                        raise Refused(StreamNews.of("refused_in_use"))
                    raise Refused(StreamNews.of("refused_answer", hts_id=self.hts_id, code=result.msg_cd,
                                                reason=result.msg1))
        finally:
            stop_wait.cancel()

    async def _unsubscribe(self, ws, key: str) -> None:
        try:
            for code in list(self._registered):
                await asyncio.wait_for(ws.send(subscribe_frame(key, PRICE_TR_ID, code, subscribe=False)), 2.0)
            if self.us_live:
                await asyncio.wait_for(ws.send(subscribe_frame(key, self.us_tr_id, self.hts_id, subscribe=False)), 2.0)
            await asyncio.wait_for(ws.send(subscribe_frame(key, self.tr_id, self.hts_id, subscribe=False)), 2.0)
            await asyncio.wait_for(ws.close(), 2.0)
        except Exception:  # shutting down: a dead connection has nothing to release
            pass

    def _deliver(self, items: list[Notice | Trade]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for notice in items:
            if isinstance(notice, Trade):
                self._saw_price(notice)
                continue
            if notice.kind is NoticeKind.FILLED and notice.price > 0 and not notice.is_us:  # a KRX latest price too
                self._saw_price(Trade(notice.code, notice.price, 0, notice.time))
            self.notices += 1
            self.last_notice_at = self._wall().isoformat(timespec="seconds")
            for fn in listeners:
                try:
                    fn(notice)
                except Exception:  # a listener's bug must not end the stream
                    log.exception("notice listener failed")

    def _tell(self, news: StreamNews) -> None:
        if news not in self._told:
            self._told.add(news)
            self._on_message(news)


async def _answer_ping(ws, raw: str | bytes) -> None:
    # The official sample answers with a PONG control frame carrying the text; python-kis echoes the
    # text. The control frame is what the sample does.
    await ws.pong(raw.encode("utf-8") if isinstance(raw, str) else raw)


# The library logs every frame at DEBUG, and the subscribe frame carries the approval key: its
# logger keeps to warnings whatever the root level, so `kisbot -v` never writes the key (our own
# logger says what the stream does).
WIRE_LOG = logging.getLogger("kis.notices.wire")
WIRE_LOG.setLevel(logging.WARNING)


def _ws_connect(url: str):
    from websockets.asyncio.client import connect

    # KIS runs its own PINGPONG; library pings would add traffic the official sample does not send.
    return connect(url, ping_interval=None, open_timeout=10, close_timeout=2, max_size=2 ** 20, logger=WIRE_LOG)


# ---- one stream per app key -----------------------------------------------------------------------

_streams: dict[tuple, NoticeStream] = {}
_streams_lock = threading.Lock()
_said_no_hts_id = False
NO_HTS_ID = ("Order and fill notices are off: KIS_HTS_ID is not set, so kisbot learns fills by polling "
             "only (see README: finding your HTS ID).")


def notice_url(config) -> str:
    """The websocket URL: KIS_WS_URL (for the simulator, `open_client` sets what it announces), else KIS's."""
    from kis import endpoints as ep

    if config.ws_url:
        return config.ws_url
    base = ep.WS_URLS.get(config.env)  # the simulator has no fixed one
    return base + ep.WS_PATH if base else ""


def open_notices(config, *, on_message: Callable[[StreamNews], None] | None = None) -> NoticeStream | None:
    """The running notice stream of this app key (started on first use); None, said once, without an HTS ID.

    KIS allows one session per app key, so every caller in the process shares one stream.
    """
    from kis import endpoints as ep
    from kis.auth import ApprovalKeys

    tell = on_message or (lambda news: log.warning("notice stream: %s", news.kind))
    if not config.hts_id:
        global _said_no_hts_id
        if not _said_no_hts_id:  # said once per process, in the log: it is a choice, not a fault
            _said_no_hts_id = True
            log.warning("%s", NO_HTS_ID)
        return None
    url = notice_url(config)
    if not url:
        tell(StreamNews.of("no_websocket"))
        return None
    slot = (config.env, config.app_key_id, url, config.hts_id, str(config.account))
    with _streams_lock:
        stream = _streams.get(slot)
        if stream is None or stream.state in (StreamState.STOPPED, StreamState.REFUSED):
            keys = ApprovalKeys(config)
            stream = NoticeStream(url, ep.NOTICE_TR_IDS[config.env], config.hts_id, config.account, keys.key,
                                  on_message=tell, status=StreamStatus.of(config),
                                  us_tr_id=ep.US_NOTICE_TR_IDS[config.env]).start()
            _streams[slot] = stream
        return stream
