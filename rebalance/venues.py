"""Which venue each stock's orders go to (KRX, or NXT through SOR), and what the doctor found of the venues.

SOR is opt-in (`VenueSettings.sor`, KISBOT_SOR, off by default) and fail-closed: a stock's orders carry
`EXCG_ID_DVSN_CD` SOR only when all of these hold, else KRX as always:
- `kisbot doctor --orders` has checked SOR on this account (`VenueChecks`, kept in the data dir; KIS mock routes
  only KRX, so on mock it never passes);
- the stock is on NXT's current list (kis/venues.py `NxtList`: KIS's CTPF1002R answer of today) and is no ETF/ETN.
The same record says whether the doctor has seen KRX's after-market take an order (its KIS order codes are
unverified), which `/confirm after` needs (rebalance/window.py `after_window`).
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from kis.files import server_name, write_private
from kis.krx import KST
from kis.models import OrderAck, OrderSide, OrderType, Quote
from kis.venues import QUOTE_CODES, NxtEntry, NxtList, Venue
from rebalance.i18n import Msg

log = logging.getLogger(__name__)

SOR_CHECK = "sor"  # a SOR order taken and cancelled on this account
AFTER_CHECK = "after"  # a KRX order taken in KRX's after-market (16:00-20:00) and cancelled
CHECKS = (SOR_CHECK, AFTER_CHECK)


@dataclass(frozen=True)
class VenueSettings:
    """KISBOT_SOR: route stocks on NXT's list through SOR (after the doctor checked it); off by default."""

    sor: bool = False


# ---- what the doctor found ------------------------------------------------------------------------------

@dataclass(frozen=True)
class VenueCheck:
    """One venue check of `kisbot doctor --orders`: passed or not, when, and KIS's words (msg_cd, msg1) if refused."""

    name: str  # SOR_CHECK or AFTER_CHECK
    ok: bool
    at: str  # ISO datetime, KST
    said: str = ""


def checks_path(data_dir: Path | str, env: str, base_url: str) -> Path:
    """Where the doctor's venue checks are kept: per environment and server, like its test orders."""
    return Path(data_dir) / "doctor-orders" / f"venues-{env}-{server_name(base_url)}.json"


class VenueChecks:
    """The doctor's venue findings for one account and server; an unreadable or missing record checks nothing."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def load(self) -> dict[str, VenueCheck]:
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
            return {r["name"]: VenueCheck(str(r["name"]), bool(r["ok"]), str(r["at"]), str(r.get("said", "")))
                    for r in rows if r.get("name") in CHECKS}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            log.warning("the doctor's venue checks in %s are unreadable; SOR and after-work stay off", self.path)
            return {}

    def record(self, check: VenueCheck) -> None:
        kept = {name: c for name, c in self.load().items() if name != check.name}
        kept[check.name] = check
        write_private(self.path, json.dumps([asdict(c) for c in kept.values()], ensure_ascii=False))

    def get(self, name: str) -> VenueCheck | None:
        return self.load().get(name)

    def passed(self, name: str) -> bool:
        found = self.get(name)
        return found is not None and found.ok


def unchecked(name: str, checks: VenueChecks) -> Msg | None:
    """The one sentence saying why `name` (SOR or after-work) is off, None when the doctor has passed it."""
    found = checks.get(name)
    if found is None:
        return Msg(f"nxt.{name}_unchecked")
    if not found.ok:
        return Msg(f"nxt.{name}_failed", at=found.at[:16].replace("T", " "), said=found.said or "-")
    return None


# ---- one stock's venue --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Choice:
    """Where a stock's orders go and, when SOR was wanted but refused, the one sentence why."""

    code: str
    venue: Venue
    refusal: Msg | None = None


def sor_refusal(code: str, entry: NxtEntry | None) -> Msg | None:
    """Why `code` may not go through SOR (an ETF/ETN, or off NXT's list today), None when it may."""
    if entry is not None and entry.etp:
        return Msg("nxt.sor_etf", code=code)
    if entry is None or not entry.listed:
        return Msg("nxt.sor_off_list", code=code)
    return None


class VenuePolicy:
    """Per stock: SOR when the setting is on, the doctor passed SOR, and NXT lists the stock today; else KRX."""

    def __init__(self, settings: VenueSettings, checks: VenueChecks, nxt: NxtList):
        self.settings, self.checks, self.nxt = settings, checks, nxt

    def sor_off(self) -> Msg | None:
        """Why no stock goes through SOR now (None: SOR is on and checked)."""
        if not self.settings.sor:
            return Msg("nxt.sor_setting_off")
        return unchecked(SOR_CHECK, self.checks)

    def choose(self, code: str) -> Choice:
        """`code`'s venue, asking KIS for today's NXT list entry when it is not kept yet (plan time)."""
        if self.sor_off() is not None:
            return Choice(code, Venue.KRX)
        why = sor_refusal(code, self.nxt.entry(code))
        return Choice(code, Venue.KRX if why else Venue.SOR, why)

    def venue(self, code: str) -> Venue:
        """`code`'s venue at order time, from the kept list only (no KIS call): SOR only on today's entry."""
        if self.sor_off() is not None:
            return Venue.KRX
        return Venue.KRX if sor_refusal(code, self.nxt.kept(code)) else Venue.SOR

    def notes(self, codes: Iterable[str]) -> list[Msg]:
        """The plan's sentences about venues: SOR on but not checked, or each stock SOR was refused for."""
        if not self.settings.sor:
            return []
        off = self.sor_off()
        if off is not None:
            return [off]
        return [c.refusal for c in (self.choose(code) for code in codes) if c.refusal is not None]


class VenueRouter:
    """A broker whose orders carry each stock's venue (`VenuePolicy.venue`); every other call passes through.

    The TWAP run calls `order(code, side, qty, type, price)` as on any broker; the cancel of an order goes where
    the order went (the client remembers, or reads it from today's orders)."""

    def __init__(self, broker: Any, policy: VenuePolicy):
        self._broker, self.policy = broker, policy
        if policy.settings.sor and hasattr(broker, "orders_venue"):
            broker.orders_venue = "ALL"  # an earlier run's SOR orders are found after a restart too

    def order(self, code: str, side: OrderSide, qty: int, order_type: OrderType = OrderType.LIMIT,
              price: int = 0) -> OrderAck:
        return self._broker.order(code, side, qty, order_type, price, venue=self.policy.venue(code))

    def price(self, code: str) -> Quote:
        """A SOR stock's quote across KRX and NXT (UN, 통합: after KRX's close it is NXT's trades); else KRX's."""
        if self.policy.venue(code) is Venue.SOR:
            return self._broker.price(code, market=QUOTE_CODES[Venue.SOR])
        return self._broker.price(code)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)


def now_kst() -> datetime:
    return datetime.now(KST)


def doctor_check(name: str, ok: bool, said: str = "", now: Callable[[], datetime] = now_kst) -> VenueCheck:
    """A check as the doctor records it, stamped now (KST)."""
    return VenueCheck(name, ok, now().astimezone(KST).isoformat(timespec="seconds"), said)
