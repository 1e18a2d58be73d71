"""The bot's side of venues: KISBOT_SOR, the account's venue policy (kept NXT list, the doctor's record), the plan's
venue notes and what `/confirm after` starts (rebalance/window.py `after_window`, rebalance/venues.py)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kis.errors import ConfigError
from kis.files import server_name
from kis.venues import NxtList
from rebalance.i18n import Msg, t
from rebalance.model import Plan
from rebalance.venues import AFTER_CHECK, SOR_CHECK, VenueChecks, VenuePolicy, VenueSettings, checks_path, unchecked
from rebalance.window import AfterWindow, TwapSettings, after_window

ON, OFF = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def venue_settings(source: Any) -> VenueSettings:
    """KISBOT_SOR (off unless 1/true/yes/on); ConfigError on any other word."""
    text = str(source.get("KISBOT_SOR", "") or "").strip().lower()
    if text not in ON + OFF:
        raise ConfigError(f"KISBOT_SOR='{text[:24]}' is neither on nor off: set 1 or 0")
    return VenueSettings(sor=text in ON)


def nxt_list_path(config: Any) -> Path:
    return Path(config.data_dir) / f"nxt-list-{config.env.value}-{server_name(config.base_url)}.json"


def venue_checks(config: Any) -> VenueChecks:
    return VenueChecks(checks_path(config.data_dir, config.env.value, config.base_url))


def open_venues(client: Any, source: Any, now=None) -> VenuePolicy:
    """The account's venue policy: its settings, the doctor's record, NXT's list kept from CTPF1002R."""
    ask = getattr(client, "stock_info_output", None) or (lambda code: None)
    kwargs = {"now": now} if now is not None else {}
    nxt = NxtList(nxt_list_path(client.config), ask, **kwargs)
    return VenuePolicy(venue_settings(source), venue_checks(client.config), nxt)


def plan_notes(policy: VenuePolicy | None, plan: Plan) -> list[str]:
    """The plan's venue sentences (SOR on but unchecked, each stock SOR was refused for); none with SOR off."""
    if policy is None or not plan.has_orders:
        return []
    codes = [line.code for line in plan.lines if line.side is not None and not line.is_us]
    return [str(m) for m in policy.notes(codes)]


@dataclass(frozen=True)
class AfterStart:
    window: AfterWindow
    warning: str


def after_start(policy: VenuePolicy | None, plan: Plan, now, settings: TwapSettings) -> AfterStart:
    """What `/confirm after` runs: the after-work window and its guard, and the low-liquidity warning;
    rebalance.window.AfterRefused (a ValueError, one sentence) when it may not."""
    lines = [line for line in plan.lines if line.side is not None and not line.is_us]
    funds = {line.code for line in lines if line.tax_free}
    if policy is not None and policy.sor_off() is None:
        def via_nxt(code: str) -> bool:
            return policy.choose(code).venue.value == "SOR"
    else:
        def via_nxt(code: str) -> bool:
            return False
    checks = policy.checks if policy is not None else None

    def etp(code: str) -> bool:
        entry = policy.nxt.kept(code) if policy is not None else None
        return code in funds or (entry is not None and entry.etp)

    krx_off = unchecked(AFTER_CHECK, checks) if checks is not None else Msg(f"nxt.{AFTER_CHECK}_unchecked")
    found = after_window(now, [line.code for line in lines], settings, via_nxt=via_nxt, etp=etp,
                         krx_after_off=krx_off)
    nxt = t("nxt.after_nxt", codes=", ".join(found.nxt)) if found.nxt else ""
    krx = ", ".join(found.krx) or "-"
    warning = t("nxt.after_window", start=f"{found.window.start:%H:%M}", end=f"{found.window.end:%H:%M}", krx=krx,
                nxt=nxt, guard=f"{found.guard:.0%}")
    return AfterStart(found, warning)


__all__ = ["AfterStart", "SOR_CHECK", "after_start", "open_venues", "plan_notes", "venue_checks", "venue_settings"]
