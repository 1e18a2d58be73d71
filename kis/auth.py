"""Access tokens: issued by /oauth2/tokenP at most once a minute, cached on disk and shared.

Every issue sends the account holder a KakaoTalk alert and KIS refuses a second issue within a
minute (EGW00133), so a token is reused across threads, client instances and processes until shortly
before it expires. The cache is keyed by environment, app key fingerprint and host: a mock token
sent to real is a known failure elsewhere.
"""
from __future__ import annotations

import contextlib
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterator

import requests

from kis.config import Env, KisConfig
from kis.endpoints import TOKEN
from kis.errors import KisError, KisTransportError, TokenIssueTooFrequent, error_for
from kis.files import file_lock, private_dir, server_name, write_private
from kis.krx import KST
from kis.stats import CallStats

log = logging.getLogger(__name__)

RENEW_BEFORE = timedelta(minutes=10)  # stop using a token this long before KIS says it expires
ISSUE_WAIT = 61.0  # seconds to wait after EGW00133 (one issue a minute)
ISSUE_ATTEMPTS = 3
TIMEOUT = (3.05, 10.0)


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and its expiry (KST). The value never appears in a repr."""

    value: str = field(repr=False)
    expires_at: datetime

    def usable_at(self, now: datetime) -> bool:
        return now < self.expires_at - RENEW_BEFORE


def parse_expiry(text: str) -> datetime:
    """`access_token_token_expired` is KST wall time "YYYY-MM-DD HH:MM:SS"."""
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=KST)


def issue_key(session: requests.Session, url: str, body: dict, field: str, name: str) -> dict:
    """POST credentials to a KIS key endpoint: its JSON answer, which holds `field` (the `name` issued).

    KisTransportError when KIS cannot be reached or answers no JSON; else the KisError its code names.
    """
    try:
        resp = session.post(url, json=body, timeout=TIMEOUT, headers={"content-type": "application/json; charset=utf-8"})
        data = resp.json()
    except requests.RequestException as exc:
        raise KisTransportError(f"could not reach KIS for an {name} ({type(exc).__name__})") from None
    except ValueError:
        raise KisTransportError(f"KIS answered the {name} request with HTTP {resp.status_code} and no JSON") from None
    if not isinstance(data, dict):
        raise KisTransportError(f"KIS answered the {name} request with an unexpected body")
    # Key errors come as {"error_code", "error_description"}; other gateways use rt_cd/msg_cd.
    code = data.get("error_code") or (data.get("msg_cd") if data.get("rt_cd") not in (None, "0") else "")
    if code or not data.get(field):
        raise error_for(code or "", data.get("error_description") or data.get("msg1") or
                        f"no {name} in the answer (HTTP {resp.status_code})", http_status=resp.status_code)
    return data


class PrivateCache:
    """One JSON file per (kind, environment, app key, host) in the data dir, mode 0600, replaced atomically.

    The simulator is one host whatever its port: each CLI command may start its own on a free port, and
    they share the paper account (and its tokens) through the data dir's sim state."""

    def __init__(self, config: KisConfig, kind: str = "tokens"):
        host = "sim" if config.env is Env.SIM else server_name(config.base_url)
        self.dir = Path(config.data_dir) / kind
        self.path = self.dir / f"{config.env.value}-{config.app_key_id}-{host}.json"

    def load_json(self) -> dict | None:
        """The stored object; None when there is none or it is unreadable (a new one gets issued)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("cache %s/%s is unreadable; a new one will be issued", self.dir.name, self.path.name)
            return None
        return data if isinstance(data, dict) else None

    def save_json(self, data: dict) -> None:
        private_dir(self.dir.parent)  # the data dir itself is 0700 when it is new, not only this one
        write_private(self.path, json.dumps(data))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive lock across processes while one of them issues."""
        private_dir(self.dir.parent)
        with file_lock(self.dir / (self.path.name + ".lock")):
            yield


class TokenCache(PrivateCache):
    """The access token of one (environment, app key, host)."""

    def load(self) -> AccessToken | None:
        data = self.load_json()
        if data is None:
            return None
        try:
            return AccessToken(data["access_token"], datetime.fromisoformat(data["expires_at"]))
        except (ValueError, KeyError, TypeError):
            log.warning("token cache %s is unreadable; a new token will be issued", self.path.name)
            return None

    def save(self, token: AccessToken) -> None:
        self.save_json({"access_token": token.value, "expires_at": token.expires_at.isoformat()})


_process_locks: dict[Path, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _process_lock(path: Path) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks.setdefault(path, threading.Lock())


class TokenManager:
    """Hands out a usable token, issuing one only when neither memory nor disk holds one."""

    def __init__(self, config: KisConfig, session: requests.Session, *,
                 wall: Callable[[], datetime], sleep: Callable[[float], None], stats: CallStats | None = None):
        self._config = config
        self._session = session
        self._wall = wall
        self._sleep = sleep
        self._cache = TokenCache(config)
        self._lock = _process_lock(self._cache.path)
        self._token: AccessToken | None = None
        self.issued = 0  # tokens this manager obtained from KIS (for tests and logs)
        self.stats = stats or CallStats(wall)

    def __repr__(self) -> str:
        return f"TokenManager(env={self._config.env.value}, app_key_id={self._config.app_key_id})"

    @property
    def expires_at(self) -> datetime | None:
        """When the token in hand expires; None before the first `token()`."""
        return self._token.expires_at if self._token is not None else None

    def token(self) -> str:
        """A token that is valid now; issues one at most when the cache has none."""
        current = self._token
        if current is not None and current.usable_at(self._wall()):
            return current.value
        return self._obtain(stale=None)

    def refresh(self, stale: str) -> str:
        """KIS refused `stale` (expired or invalid): get another unless someone already did."""
        return self._obtain(stale=stale)

    def current(self) -> AccessToken | None:
        """The token in use (memory, else the disk cache) without issuing one; for /health."""
        return self._token or self._cache.load()

    def _obtain(self, stale: str | None) -> str:
        try:
            return self._obtain_locked(stale)
        except (KisError, KisTransportError) as exc:
            self.stats.token_failed(type(exc).__name__)
            raise

    def _obtain_locked(self, stale: str | None) -> str:
        with self._lock, self._cache.locked():
            for attempt in range(ISSUE_ATTEMPTS):
                cached = self._cache.load()
                if cached is not None and cached.value != stale and cached.usable_at(self._wall()):
                    self._token = cached
                    return cached.value
                try:
                    token = self._issue()
                except TokenIssueTooFrequent:
                    if attempt == ISSUE_ATTEMPTS - 1:
                        raise
                    log.warning("KIS issues one token a minute (EGW00133); waiting %.0f s", ISSUE_WAIT)
                    self._sleep(ISSUE_WAIT)
                    continue
                self._cache.save(token)
                self._token = token
                return token.value
        raise AssertionError("unreachable")  # pragma: no cover

    def _issue(self) -> AccessToken:
        body = {"grant_type": "client_credentials", "appkey": self._config.app_key,
                "appsecret": self._config.app_secret}
        data = issue_key(self._session, self._config.base_url + TOKEN, body, "access_token", "access token")
        self.issued += 1
        self.stats.token_issued()
        expiry_text = data.get("access_token_token_expired") or ""
        try:
            expires_at = parse_expiry(expiry_text)
        except ValueError:
            expires_at = self._wall() + timedelta(seconds=int(data.get("expires_in") or 86400))
        log.info("issued a KIS access token for %s, valid until %s", self._config.env.value, expires_at)
        return AccessToken(data["access_token"], expires_at)


APPROVAL_VALIDITY = timedelta(hours=24)  # the official sample re-issues after 86,400 s (kis_auth.reAuth_ws)


@dataclass(frozen=True)
class ApprovalKey:
    """A websocket approval key and when kisbot stops using it. The value never appears in a repr."""

    value: str = field(repr=False)
    expires_at: datetime

    def usable_at(self, now: datetime) -> bool:
        return now < self.expires_at - RENEW_BEFORE


class ApprovalKeys:
    """The websocket approval key (POST /oauth2/Approval), cached on disk like the token; never logged."""

    def __init__(self, config: KisConfig, session: requests.Session | None = None, *,
                 wall: Callable[[], datetime] = lambda: datetime.now(KST)):
        self._config = config
        self._session = session or requests.Session()
        self._wall = wall
        self._cache = PrivateCache(config, "approval")
        self._lock = _process_lock(self._cache.path)
        self.issued = 0

    def __repr__(self) -> str:
        return f"ApprovalKeys(env={self._config.env.value}, app_key_id={self._config.app_key_id})"

    def key(self, *, stale: str | None = None) -> str:
        """A usable approval key: the cached one unless it is `stale` (refused) or near its end."""
        with self._lock, self._cache.locked():
            data = self._cache.load_json() or {}
            try:
                cached = ApprovalKey(str(data["approval_key"]), datetime.fromisoformat(data["expires_at"]))
            except (KeyError, ValueError, TypeError):
                cached = None
            if cached is not None and cached.value != stale and cached.usable_at(self._wall()):
                return cached.value
            fresh = self._issue()
            self._cache.save_json({"approval_key": fresh.value, "expires_at": fresh.expires_at.isoformat()})
            return fresh.value

    def _issue(self) -> ApprovalKey:
        from kis.endpoints import APPROVAL

        body = {"grant_type": "client_credentials", "appkey": self._config.app_key,
                "secretkey": self._config.app_secret}
        data = issue_key(self._session, self._config.base_url + APPROVAL, body, "approval_key", "approval key")
        self.issued += 1
        log.info("issued a KIS websocket approval key for %s", self._config.env.value)
        return ApprovalKey(str(data["approval_key"]), self._wall() + APPROVAL_VALIDITY)
