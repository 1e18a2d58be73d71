"""HTTP to KIS: headers, the rt_cd envelope turned into typed errors, pacing, and only safe retries.

GETs are retried (bounded, with backoff) on connection errors, timeouts, 5xx without a KIS body and
rate-limit refusals. POSTs are sent once: when no answer comes back the caller must find out whether
the order arrived (see `kis.orders`). A refusal at the gateway (rate limit, expired token) is an answer
that the request was not processed, so it is safe to send again.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError

from kis.auth import TokenManager
from kis.config import KisConfig
from kis.endpoints import HASHKEY
from kis.errors import (KisError, KisTransportError, LedgerBusy, NoAnswer, NotSent, RateLimited, TokenExpired,
                        TokenInvalid, error_for)
from kis.limits import RateLimiter
from kis.stats import CallStats

log = logging.getLogger(__name__)

TIMEOUT = (3.05, 10.0)  # (connect, read) seconds
ATTEMPTS = 5  # per GET, and per POST for gateway refusals only
BACKOFF = 0.25  # seconds, doubled per attempt
BACKOFF_MAX = 4.0


@dataclass(frozen=True)
class Reply:
    """One decoded KIS answer; `more` says the response header `tr_cont` announced another page."""

    body: Mapping[str, Any] = field(repr=False)
    tr_cont: str = ""
    status: int = 200

    @property
    def more(self) -> bool:
        return self.tr_cont in ("M", "F")


def _connect_failed(exc: requests.RequestException) -> bool:
    """True when no byte of the request can have left (refused, unresolvable, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return isinstance(reason, (NewConnectionError, NameResolutionError))
    return False


class Transport:
    """Sends KIS requests for one account: every call (token issue excepted) waits for the limiter."""

    def __init__(self, config: KisConfig, session: requests.Session, tokens: TokenManager,
                 limiter: RateLimiter, *, sleep: Callable[[float], None], timeout=TIMEOUT,
                 attempts: int = ATTEMPTS, backoff: float = BACKOFF, stats: CallStats | None = None):
        self._config = config
        self._stats = stats or tokens.stats
        self._session = session
        self._tokens = tokens
        self._limiter = limiter
        self._sleep = sleep
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff

    def __repr__(self) -> str:
        return f"Transport(env={self._config.env.value}, base_url={self._config.base_url!r})"

    def get(self, path: str, tr_id: str, params: Mapping[str, str], *, tr_cont: str = "") -> Reply:
        """A GET, retried on failures that cannot have changed anything; raises after the last try."""
        last: Exception | None = None
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(min(BACKOFF_MAX, self._backoff * 2 ** (attempt - 1)))
            try:
                return self._authorized("GET", path, tr_id, params, tr_cont=tr_cont)
            except RateLimited as exc:
                last = exc
                self._limiter.penalize(self._limiter.interval)
            except (NoAnswer, NotSent) as exc:
                last = exc
            log.info("%s %s failed (%s), attempt %d of %d", tr_id, path.rsplit("/", 1)[-1],
                     type(last).__name__, attempt + 1, self._attempts)
        assert last is not None
        raise last

    def post(self, path: str, tr_id: str, body: Mapping[str, str], *, hashkey: bool = False) -> Reply:
        """A POST sent once. Raises NotSent (certainly not arrived) or NoAnswer (may have arrived).

        Gateway refusals (EGW00201, token) are retried a bounded number of times: KIS answered that it
        did not process the request. EGW00215 comes from the ledger behind the gateway: NoAnswer.
        """
        for attempt in range(self._attempts):
            try:
                extra = {"hashkey": self._hashkey_before_sending(body)} if hashkey else None
                return self._authorized("POST", path, tr_id, body, extra=extra)
            except LedgerBusy as exc:
                self._limiter.penalize(self._limiter.interval)
                raise NoAnswer(f"KIS's ledger answered {exc.msg_cd} (busy): the request may have been "
                               "processed") from None
            except RateLimited:
                if attempt == self._attempts - 1:
                    raise
                self._limiter.penalize(self._limiter.interval)
                self._sleep(min(BACKOFF_MAX, self._backoff * 2 ** attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _hashkey_before_sending(self, body: Mapping[str, str]) -> str:
        """The hashkey; its failure means the order itself was never sent."""
        try:
            return self.hashkey(body)
        except KisTransportError as exc:
            raise NotSent(f"the order was not sent: no hashkey ({exc})") from None

    def hashkey(self, body: Mapping[str, str]) -> str:
        """KIS's hash of an order body (optional since KIS made it 비필수; it costs one call)."""
        reply = self._send("POST", HASHKEY, None, body, token=None)
        value = reply.body.get("HASH")
        if not value:
            raise KisTransportError("KIS answered the hashkey request without a HASH")
        return str(value)

    def _authorized(self, method: str, path: str, tr_id: str, payload: Mapping[str, str], *,
                    tr_cont: str = "", extra: Mapping[str, str] | None = None) -> Reply:
        """Send with the current token; on EGW00123/EGW00121 get a new token once and send again."""
        token = self._tokens.token()
        try:
            return self._send(method, path, tr_id, payload, token=token, tr_cont=tr_cont, extra=extra)
        except (TokenExpired, TokenInvalid) as exc:
            log.warning("KIS refused the access token (%s); getting a new one", exc.msg_cd)
            token = self._tokens.refresh(stale=token)
            return self._send(method, path, tr_id, payload, token=token, tr_cont=tr_cont, extra=extra)

    def _send(self, method: str, path: str, tr_id: str | None, payload: Mapping[str, str], *,
              token: str | None, tr_cont: str = "", extra: Mapping[str, str] | None = None) -> Reply:
        headers = {
            "content-type": "application/json; charset=utf-8",
            "appkey": self._config.app_key,
            "appsecret": self._config.app_secret,
            "custtype": "P",
        }
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        if tr_id is not None:
            headers["tr_id"] = tr_id
            headers["tr_cont"] = tr_cont
        if extra:
            headers.update(extra)
        url = self._config.base_url + path
        self._limiter.acquire()
        try:
            if method == "GET":
                resp = self._session.get(url, headers=headers, params=dict(payload), timeout=self._timeout)
            else:
                resp = self._session.post(url, headers=headers, json=dict(payload), timeout=self._timeout)
        except requests.RequestException as exc:
            # The text of a requests error can carry the URL but never headers; still, keep it short.
            what = f"{method} {path.rsplit('/', 1)[-1]}: {type(exc).__name__}"
            self._stats.failed(type(exc).__name__)
            if _connect_failed(exc):
                raise NotSent(f"could not connect to KIS at {self._config.base_url} ({what})") from None
            raise NoAnswer(f"no answer from KIS ({what})") from None
        try:
            reply = self._decode(resp, tr_id or "")
        except KisError as exc:  # a refusal is an answer: KIS works
            self._stats.answered(exc.msg_cd)
            raise
        except KisTransportError:
            self._stats.failed(f"HTTP {resp.status_code}")
            raise
        self._stats.answered()
        return reply

    @staticmethod
    def _decode(resp: requests.Response, tr_id: str) -> Reply:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise NoAnswer(f"KIS answered {tr_id or 'the request'} with HTTP {resp.status_code} and no JSON body")
        rt_cd = body.get("rt_cd")
        if rt_cd is None:
            if "error_code" in body:  # gateway errors outside the rt_cd envelope
                raise error_for(str(body.get("error_code")), str(body.get("error_description", "")),
                                http_status=resp.status_code, tr_id=tr_id)
            # A data call without its envelope is no answer: read as empty, a lookup would say
            # "no such order" and the order would be sent twice. (Hashkey has no envelope.)
            if resp.status_code >= 400 or tr_id:
                raise NoAnswer(f"KIS answered {tr_id or 'the request'} with HTTP {resp.status_code} and no result code")
        elif str(rt_cd) != "0":
            raise error_for(str(body.get("msg_cd", "")), str(body.get("msg1", "")),
                            http_status=resp.status_code, tr_id=tr_id)
        return Reply(body, (resp.headers.get("tr_cont") or "").strip(), resp.status_code)

