"""Access tokens as KIS hands them out: 24 h life, the same token again within 6 h, a new one at most
once a minute (EGW00133), expiry (EGW00123) and revocation."""
from __future__ import annotations

import secrets
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Callable

from kis.sim.clock import kst_now

LIFETIME = timedelta(hours=24)
REUSE_WITHIN = timedelta(hours=6)
MIN_INTERVAL = timedelta(minutes=1)


class TokenError(Exception):
    def __init__(self, msg_cd: str, msg1: str):
        super().__init__(f"{msg_cd}: {msg1}")
        self.msg_cd, self.msg1 = msg_cd, msg1


TOO_FREQUENT = ("EGW00133", "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)")
INVALID = ("EGW00121", "유효하지 않은 token 입니다.")
EXPIRED = ("EGW00123", "기간이 만료된 token 입니다.")


@dataclass
class Token:
    value: str
    app_key: str
    issued_at: str  # ISO
    expires_at: str  # ISO
    revoked: bool = False

    def __repr__(self) -> str:  # the value is a bearer secret: keep it out of logs
        return f"Token(issued_at={self.issued_at!r}, expires_at={self.expires_at!r}, revoked={self.revoked})"


class TokenBook:
    """Issues and checks bearer tokens against the sim clock."""

    def __init__(self, clock: Callable[[], datetime] = kst_now):
        self.clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}
        self._last_new: dict[str, str] = {}  # app key -> ISO time of the last new token
        self.issued = 0  # new tokens handed out (each one a KakaoTalk alert on real KIS)

    def issue(self, app_key: str) -> Token:
        now = self.clock()
        with self._lock:
            current = self._current(app_key, now)
            if current is not None and now - datetime.fromisoformat(current.issued_at) < REUSE_WITHIN:
                return current
            last = self._last_new.get(app_key)
            if last is not None and now - datetime.fromisoformat(last) < MIN_INTERVAL:
                raise TokenError(*TOO_FREQUENT)
            token = Token(secrets.token_urlsafe(48), app_key, now.isoformat(), (now + LIFETIME).isoformat())
            self._tokens[token.value] = token
            self._last_new[app_key] = now.isoformat()
            self.issued += 1
            return token

    def check(self, value: str, app_key: str) -> Token:
        with self._lock:
            token = self._tokens.get(value)
            if token is None or token.revoked or token.app_key != app_key:
                raise TokenError(*INVALID)
            if self.clock() >= datetime.fromisoformat(token.expires_at):
                raise TokenError(*EXPIRED)
            return token

    def revoke(self, value: str, app_key: str) -> bool:
        with self._lock:
            token = self._tokens.get(value)
            if token is None or token.app_key != app_key:
                return False
            token.revoked = True
            return True

    def expire_all(self) -> None:
        """Every token expires now, as if a day went by: the next call gets EGW00123, a re-issue succeeds."""
        now = self.clock()
        with self._lock:
            for token in self._tokens.values():
                if datetime.fromisoformat(token.expires_at) > now:
                    token.expires_at = now.isoformat()
            self._last_new.clear()

    def _current(self, app_key: str, now: datetime) -> Token | None:
        live = [t for t in self._tokens.values()
                if t.app_key == app_key and not t.revoked and datetime.fromisoformat(t.expires_at) > now]
        return max(live, key=lambda t: t.issued_at, default=None)

    def to_state(self) -> dict:
        with self._lock:
            return {"tokens": [asdict(t) for t in self._tokens.values()], "last_new": dict(self._last_new),
                    "issued": self.issued}

    def load_state(self, state: dict) -> None:
        with self._lock:
            self._tokens = {t["value"]: Token(**t) for t in state.get("tokens", [])}
            self._last_new = dict(state.get("last_new", {}))
            self.issued = int(state.get("issued", 0))
