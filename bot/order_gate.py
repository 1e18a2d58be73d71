"""Fail closed: order placement stays off for a 연금저축 account until `kisbot doctor --orders --account LABEL`
has passed on it (issue 21: whether KIS takes a 연금저축's orders over the API is unverified).

The doctor's pass (its 1-share test order placed, listed and its cancel confirmed) is kept beside its test
orders in the account's data dir, per environment and server (`doctor-orders/passed-<env>-<server>.json`, with
the account and a fingerprint of the app key): a pass on the simulator or on mock never opens real, and another
account's or another key's pass never opens this one. The plan says the gate is shut and offers no Confirm; a
typed /confirm is refused in one sentence. IRP takes no orders at all (its plans are manual); general and ISA
accounts are not gated.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from kis.accounts import AccountKind
from kis.config import KisConfig
from kis.files import server_name, write_private
from rebalance.i18n import t

log = logging.getLogger(__name__)

GATED_KINDS = frozenset({AccountKind.PENSION})


def pass_path(config: KisConfig) -> Path:
    return Path(config.data_dir) / "doctor-orders" / f"passed-{config.env.value}-{server_name(config.base_url)}.json"


def record_pass(config: KisConfig, at: datetime) -> Path:
    """The doctor's test order passed on this account: orders may go from now on."""
    path = pass_path(config)
    write_private(path, json.dumps({"account": str(config.account), "app_key_id": config.app_key_id,
                                    "label": config.label, "at": at.isoformat(timespec="seconds")}))
    return path


def has_passed(config: KisConfig) -> bool:
    """Whether the doctor's test order passed on this very account, key, environment and server."""
    try:
        kept = json.loads(pass_path(config).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        log.warning("the doctor's pass record %s is unreadable: orders stay off until the doctor passes again",
                    pass_path(config))
        return False
    return (isinstance(kept, dict) and kept.get("account") == str(config.account)
            and kept.get("app_key_id") == config.app_key_id)


def gated(config: KisConfig | None) -> bool:
    """Orders of this account stay off: a gated kind without the doctor's pass."""
    return config is not None and config.kind in GATED_KINDS and not has_passed(config)


def _config_of(client: Any) -> KisConfig | None:
    config = getattr(client, "config", None)
    return config if isinstance(config, KisConfig) else None


def client_gated(client: Any) -> bool:
    """Orders of this client's account stay off (a client without a KisConfig: a test's fake, never gated)."""
    return gated(_config_of(client))


def plan_note(client: Any) -> str:
    """What the plan says while the gate is shut ('' when orders may go)."""
    config = _config_of(client)
    if not gated(config):
        return ""
    return t("accounts2.gate_plan", label=config.label)


def confirm_refusal(client: Any) -> str:
    """The one sentence a Confirm gets while the gate is shut ('' when orders may go)."""
    config = _config_of(client)
    if not gated(config):
        return ""
    return t("accounts2.gate_confirm", label=config.label)
