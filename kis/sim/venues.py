"""The simulator's venues: which codes NXT trades (`nxt_list.json`), when an order of each EXCG_ID_DVSN_CD is
taken, and what a fill notice's ORD_EXG_GB says (kis/venues.py holds the facts; this is the paper exchange's use).

- KRX: the KRX regular session as always, and KRX's after-market 16:00-20:00 (a limit order; KIS's own order codes
  for it are unverified, the simulator takes 00).
- NXT: only codes on the list, only in an NXT session (08:00-08:50, 09:00:30-15:20, 15:40-20:00), limit orders.
- SOR: only codes on the list; in the KRX session it fills on KRX (ORD_EXG_GB 3), outside it in an NXT session on
  NXT (4). KIS mock itself routes only KRX (reported): this is the simulator going further than mock, as KIS
  documents the field.
The refusal wording is the simulator's own: KIS's code for an order off NXT's list is unverified.
"""
from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from importlib import resources

from kis.krx import KST, session_hours
from kis.venues import KRX_AFTER, Venue, notice_code, nxt_session

VENUES = tuple(v.value for v in Venue)
INQUIRY_VENUES = VENUES + ("ALL",)
NOT_ON_NXT = ("APBK1744", "NXT 거래 대상 종목이 아닙니다")  # the simulator's wording; KIS's code: unverified
NXT_CLOSED = ("40580000", "NXT 매매거래 시간이 아닙니다")  # the simulator's wording


@lru_cache(maxsize=1)
def nxt_codes() -> frozenset[str]:
    """The codes the simulator's NXT trades (the bundled `nxt_list.json`)."""
    text = resources.files("kis.sim").joinpath("nxt_list.json").read_text(encoding="utf-8")
    return frozenset(json.loads(text)["codes"])


def on_nxt(code: str) -> bool:
    return code in nxt_codes()


def stock_info_fields(code: str) -> dict[str, str]:
    """CTPF1002R's NXT fields for `code` (search_stock_info.py: NXT 거래종목여부, NXT 거래정지여부)."""
    return {"cptt_trad_tr_psbl_yn": "Y" if on_nxt(code) else "N", "nxt_tr_stop_yn": "N"}


def krx_regular(now: datetime) -> bool:
    hours = session_hours(now.astimezone(KST).date())
    return hours is not None and hours[0] <= now < hours[1]


def krx_after(now: datetime) -> bool:
    return session_hours(now.astimezone(KST).date()) is not None and KRX_AFTER.holds(now)


def listed_under(asked: str, venue: str) -> bool:
    """An order sent to `venue` is in an inquire-daily-ccld asked with EXCG_ID_DVSN_CD `asked` (ALL: every one)."""
    return asked == "ALL" or asked == venue


def fill_code(venue: str, now: datetime) -> str:
    """ORD_EXG_GB of a fill at `now` of an order sent to `venue`."""
    if venue == Venue.NXT.value:
        return notice_code(Venue.NXT, False)
    if venue == Venue.SOR.value:
        return notice_code(Venue.KRX if krx_regular(now) else Venue.NXT, True)
    return notice_code(Venue.KRX, False)


def nxt_open(now: datetime) -> bool:
    return nxt_session(now) is not None
