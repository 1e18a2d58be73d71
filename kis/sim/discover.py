"""`find_or_start`: use the `kisbot sim` already running on the default port, else start one in-process."""
from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request

from kis.config import KisConfig, Source
from kis.errors import ConfigError
from kis.sim.server import DEFAULT_PORT, TRADED_SECONDS, SimServer

log = logging.getLogger(__name__)
_started: dict[tuple, SimServer] = {}
_lock = threading.Lock()


def probe(url: str, timeout: float = 0.5) -> dict | None:
    """The health answer of a kisbot sim at `url`, or None when nothing (or something else) answers."""
    try:
        with urllib.request.urlopen(f"{url}/sim/health", timeout=timeout) as resp:
            info = json.loads(resp.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("sim") == "kisbot" else None


def ws_url_of(url: str) -> str:
    """The notice websocket the kisbot sim at `url` announces; '' when it announces none or does not answer."""
    return str((probe(url) or {}).get("ws_url") or "")


def find_or_start(config: KisConfig, *, port: int = DEFAULT_PORT, always_open: bool | None = None) -> str:
    """Base URL of a sim that accepts this configuration's app key and account.

    A sim on 127.0.0.1:`port` is used when it serves the same key and account; otherwise one is started
    in this process (daemon thread, free port), keeping its account in `data_dir/sim-state.json`. It keeps
    KRX hours unless `always_open`, which defaults to MARKET_CALENDAR=always (the executor's own calendar).
    """
    if always_open is None:
        always_open = Source().get("MARKET_CALENDAR", "krx").strip().lower() == "always"
    key_id = config.app_key_id
    url = f"http://127.0.0.1:{port}"
    info = probe(url)
    if info is not None:
        served = [info, *(info.get("accounts") or [])]  # a sim of several accounts lists each
        if any(isinstance(a, dict) and a.get("app_key_id") == key_id and a.get("account") == str(config.account)
               for a in served):
            return url
        log.warning("the sim on %s serves another app key or account; starting a private one", url)
    state_path = config.data_dir / "sim-state.json"
    slot = (key_id, str(config.account), str(state_path))
    with _lock:
        server = _started.get(slot)
        if server is None:
            try:
                server = SimServer(0, rate_limit=config.rate_limit, app_key=config.app_key,
                                   app_secret=config.app_secret, account=str(config.account),
                                   state_path=state_path, traded_seconds=TRADED_SECONDS,
                                   always_open=always_open, book="listed").start()
            except ValueError as exc:
                raise ConfigError(f"{exc}; delete it to start the paper account afresh") from None
            _started[slot] = server
            log.info("started the paper exchange at %s", server.url)
        return server.url
