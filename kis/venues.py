"""Where and when a KRX-listed stock trades besides the KRX regular session: the venues, in one place.

Sources (koreainvestment/open-trading-api, examples_llm/domestic_stock/):
- `order_rvsecncl.py`: `EXCG_ID_DVSN_CD` "KRX: 한국거래소, NXT: 대체거래소, SOR: SOR" (the order-cash sample names
  only KRX, with the same field); `inquire_daily_ccld.py`: its inquiry takes KRX / NXT / SOR / ALL.
- `inquire_price.py`: `FID_COND_MRKT_DIV_CODE` "J: KRX, NX: NXT, UN: 통합".
- `ccnl_notice.py`: the fill notice's column `ORD_EXG_GB` ("주문거래소 구분"); its values 1 KRX, 2 NXT, 3 SOR→KRX,
  4 SOR→NXT are reported by others' trackers, not in the samples: unverified.
- `search_stock_info.py` (CTPF1002R): `cptt_trad_tr_psbl_yn` "NXT 거래종목여부", `nxt_tr_stop_yn` "NXT 거래정지여부":
  the per-stock answer the kept NXT list is refreshed from (`NxtList`).
- `market_status_nxt.py`: H0NXMKO0, NXT's own session state (not read here: the hours below are fixed).

Hours (KST; Nextrade since 2025-03-04; KRX's after-market since about 2026-09, its KIS order codes unverified):
NXT pre 08:00-08:50, main 09:00:30-15:20, after 15:40-20:00; KRX after-market 16:00-20:00. ETF market makers need
not quote 08:30-09:05 and 15:20-15:30 (`QUOTE_FREE`): no window may include those minutes.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from pathlib import Path
from typing import Callable, Iterable

from kis.files import write_private
from kis.krx import KST, session_hours
from kis.models import ETP_GROUPS

log = logging.getLogger(__name__)


class Venue(str, Enum):
    """An order's `EXCG_ID_DVSN_CD`: KRX (the default, and all KIS mock routes), NXT, or SOR (KIS routes it)."""

    KRX = "KRX"
    NXT = "NXT"
    SOR = "SOR"


ALL_VENUES = "ALL"  # inquire-daily-ccld's EXCG_ID_DVSN_CD for orders of every venue
QUOTE_CODES = {Venue.KRX: "J", Venue.NXT: "NX", Venue.SOR: "UN"}  # FID_COND_MRKT_DIV_CODE; UN is 통합

# ORD_EXG_GB of a fill notice -> where it filled (unverified values, see above); "" or unknown -> None.
NOTICE_VENUES = {"1": Venue.KRX, "2": Venue.NXT, "3": Venue.KRX, "4": Venue.NXT}
NOTICE_CODES = {(Venue.KRX, False): "1", (Venue.NXT, False): "2", (Venue.KRX, True): "3", (Venue.NXT, True): "4"}


def filled_on(ord_exg_gb: str) -> Venue | None:
    """The venue a notice's ORD_EXG_GB names (1/3 KRX, 2/4 NXT), None when blank or unknown."""
    return NOTICE_VENUES.get(str(ord_exg_gb or "").strip())


def notice_code(filled: Venue, routed: bool) -> str:
    """ORD_EXG_GB for a fill on `filled` (KRX or NXT), `routed` by SOR or not (the simulator writes it)."""
    return NOTICE_CODES[(Venue(filled), bool(routed))]


@dataclass(frozen=True)
class Span:
    """A daily span of wall-clock time in KST, [start, end)."""

    name: str
    start: time
    end: time

    def on(self, day: date) -> tuple[datetime, datetime]:
        return datetime.combine(day, self.start, KST), datetime.combine(day, self.end, KST)

    def holds(self, at: datetime) -> bool:
        return self.start <= at.astimezone(KST).time() < self.end


NXT_PRE = Span("nxt_pre", time(8, 0), time(8, 50))
NXT_MAIN = Span("nxt_main", time(9, 0, 30), time(15, 20))
NXT_AFTER = Span("nxt_after", time(15, 40), time(20, 0))
NXT_SESSIONS = (NXT_PRE, NXT_MAIN, NXT_AFTER)
KRX_AFTER = Span("krx_after", time(16, 0), time(20, 0))
QUOTE_FREE = (Span("mm_open", time(8, 30), time(9, 5)), Span("mm_close", time(15, 20), time(15, 30)))

TradingDay = Callable[[date], bool]


def krx_trading_day(day: date) -> bool:
    """KRX trades on `day` (XKRX); NXT keeps the same days."""
    return session_hours(day) is not None


def nxt_session(at: datetime, trading_day: TradingDay = krx_trading_day) -> Span | None:
    """The NXT session trading at `at` (pre, main or after), None between them or on a day KRX is closed."""
    at = _kst(at)
    if not trading_day(at.date()):
        return None
    return next((s for s in NXT_SESSIONS if s.holds(at)), None)


def krx_after_market(day: date, trading_day: TradingDay = krx_trading_day) -> tuple[datetime, datetime] | None:
    """KRX's after-market of `day` (16:00-20:00 KST), None when KRX does not trade that day."""
    return KRX_AFTER.on(day) if trading_day(day) else None


def nxt_after_market(day: date, trading_day: TradingDay = krx_trading_day) -> tuple[datetime, datetime] | None:
    """NXT's after-market of `day` (15:40-20:00 KST), None when KRX (and so NXT) does not trade that day."""
    return NXT_AFTER.on(day) if trading_day(day) else None


def quote_free(at: datetime) -> Span | None:
    """The market makers' quote-free span holding `at`, else None."""
    at = _kst(at)
    return next((s for s in QUOTE_FREE if s.holds(at)), None)


def free_pieces(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) less every quote-free span of each day it touches, in order; empty pieces dropped."""
    start, end = _kst(start), _kst(end)
    pieces = [(start, end)] if end > start else []
    day = start.date()
    while day <= end.date():
        for span in QUOTE_FREE:
            lo, hi = span.on(day)
            cut = []
            for a, b in pieces:
                if b <= lo or a >= hi:
                    cut.append((a, b))
                    continue
                if a < lo:
                    cut.append((a, lo))
                if b > hi:
                    cut.append((hi, b))
            pieces = cut
        day += timedelta(days=1)
    return pieces


def without_quote_free(start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    """The longest part of [start, end) that includes no quote-free minute (the earliest of equals); None if
    nothing is left."""
    pieces = free_pieces(start, end)
    if not pieces:
        return None
    return max(pieces, key=lambda p: (p[1] - p[0], -p[0].timestamp()))


def _kst(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("venue hours need an aware datetime")
    return at.astimezone(KST)


# ---- which stocks NXT trades ------------------------------------------------------------------------------

@dataclass(frozen=True)
class NxtEntry:
    """What KIS said of one code: on NXT's list (cptt_trad_tr_psbl_yn Y, nxt_tr_stop_yn not Y), an ETF/ETN, when."""

    listed: bool
    etp: bool
    checked: str  # YYYY-MM-DD (KST) of the answer


class NxtList:
    """NXT's current list as this account has asked it, kept in `<data dir>/nxt-list-<server>.json`.

    Nextrade's list changes (about 650 stocks; no ETF or ETN found), and KIS gives no list of it, only a per-stock
    answer (search-stock-info, CTPF1002R: `cptt_trad_tr_psbl_yn`, `nxt_tr_stop_yn`). So each code is asked once a
    KST day and kept; an entry of an earlier day is stale and asked again. `ask(code)` returns the raw CTPF1002R
    output (a dict) or None when KIS does not serve the inquiry (mock): then the code counts as off the list.
    """

    def __init__(self, path: Path | str, ask: Callable[[str], dict | None], *,
                 now: Callable[[], datetime] = lambda: datetime.now(KST)):
        self.path = Path(path)
        self.ask = ask
        self.now = now
        self._entries: dict[str, NxtEntry] = self._load()

    def _load(self) -> dict[str, NxtEntry]:
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
            return {str(code): NxtEntry(bool(r["listed"]), bool(r["etp"]), str(r["checked"]))
                    for code, r in rows.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            log.warning("the kept NXT list in %s is unreadable; it is asked again", self.path)
            return {}

    def _save(self) -> None:
        rows = {code: {"listed": e.listed, "etp": e.etp, "checked": e.checked} for code, e in self._entries.items()}
        try:
            write_private(self.path, json.dumps(rows, ensure_ascii=False, sort_keys=True))
        except OSError:
            log.warning("the NXT list could not be kept in %s", self.path)

    def entry(self, code: str) -> NxtEntry:
        """Today's answer for `code`, asked of KIS when the kept one is older than today (KST)."""
        today = _kst(self.now()).date().isoformat()
        kept = self._entries.get(code)
        if kept is not None and kept.checked == today:
            return kept
        out = self.ask(code)
        entry = entry_from(out or {}, today)
        self._entries[code] = entry
        self._save()
        return entry

    def kept(self, code: str) -> NxtEntry | None:
        """Today's kept answer for `code` without asking KIS; None when there is none of today."""
        kept = self._entries.get(code)
        return kept if kept is not None and kept.checked == _kst(self.now()).date().isoformat() else None

    def refresh(self, codes: Iterable[str]) -> dict[str, NxtEntry]:
        """Today's answers for `codes` (each asked at most once a day)."""
        return {code: self.entry(code) for code in codes}


def entry_from(output: dict, checked: str) -> NxtEntry:
    """The NXT entry of one CTPF1002R output: listed when `cptt_trad_tr_psbl_yn` is Y and NXT has not halted it."""
    listed = str(output.get("cptt_trad_tr_psbl_yn") or "").strip().upper() == "Y"
    halted = str(output.get("nxt_tr_stop_yn") or "").strip().upper() == "Y"
    group = str(output.get("scty_grp_id_cd") or "").strip().upper()
    etp = group in ETP_GROUPS or str(output.get("etf_dvsn_cd") or "0").strip() not in ("", "0")
    return NxtEntry(listed=listed and not halted, etp=etp, checked=checked)
