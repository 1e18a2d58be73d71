"""Several accounts on one paper exchange: one desk per account, each with its own keys, cash, holdings, orders
and book, all on the one market (prices), token book, call limiter (per app key) and notice websocket.

KIS issues the app key and secret per account, so the sim routes a request by its app key (the `appkey`
header, or the body of tokenP / revokeP / Approval) to that key's desk; the desk's protocol then refuses a
CANO / ACNT_PRDT_CD of another account (OPSQ0013), as KIS refuses an account its key was not issued for. A
key no desk has goes to the first desk, which refuses it (EGW00103). The kind of each account comes from its
product code: `29` (IRP) refuses orders (OPSQ0002); every kind is served, though KIS mock has general
accounts only.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from kis import endpoints as ep
from kis.models import Account
from kis.sim.protocol import KisProtocol, Request

# the paths whose app key is in the JSON body rather than a header
BODY_KEY_PATHS = (ep.TOKEN, ep.REVOKE, ep.APPROVAL)


@dataclass(frozen=True)
class SimAccountSpec:
    """One account the sim serves: its number, its key pair and what it starts with. `cash` None: the seed's
    (and for the first account the seed's holdings too); `holdings` True: the seed's holdings, False: none."""

    number: str
    app_key: str
    app_secret: str
    label: str = ""
    cash: int | None = None
    holdings: bool = False

    def __repr__(self) -> str:  # the key pair stays out of logs
        return f"SimAccountSpec(label={self.label!r}, number={self.number!r})"


@dataclass
class SimDesk:
    """One account's side of the sim: what the account holds and the protocol that answers its key."""

    label: str
    account: Account
    exchange: object  # kis.sim.exchange.Exchange
    book: object  # kis.sim.book.Book
    us_book: object  # kis.sim.overseas.UsBook
    us_exchange: object  # kis.sim.us_exchange.UsExchange
    protocol: KisProtocol

    @property
    def app_key(self) -> str:
        return self.protocol.app_key

    def __repr__(self) -> str:
        return f"SimDesk(label={self.label!r}, account={str(self.account)!r})"


def request_app_key(req: Request) -> str:
    """The app key a request names: the `appkey` header, or for the token, revoke and approval paths the body's."""
    if req.path in BODY_KEY_PATHS:
        try:
            body = json.loads(req.raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            return ""
        return str(body.get("appkey") or "") if isinstance(body, dict) else ""
    return req.header("appkey")
