"""Typed KIS failures. Every non-zero `rt_cd` becomes a `KisError` carrying `msg_cd` and `msg1`."""
from __future__ import annotations


class KisError(Exception):
    """KIS answered `rt_cd` != "0". `msg1` is stripped (KIS pads it with spaces)."""

    def __init__(self, msg_cd: str, msg1: str, *, http_status: int | None = None, tr_id: str = ""):
        self.msg_cd = (msg_cd or "").strip()
        self.msg1 = (msg1 or "").strip()
        self.http_status = http_status
        self.tr_id = tr_id
        super().__init__(f"{self.msg_cd}: {self.msg1}" if self.msg_cd else self.msg1)


class RateLimited(KisError):
    """EGW00201 (calls per second) or EGW00215 (ledger per-second limit)."""


class LedgerBusy(RateLimited):
    """EGW00215: the ledger's own per-second limit. A GET is retried; on an order the outcome is unknown."""


class TokenExpired(KisError):
    """EGW00123: the access token expired; re-issue once and retry."""


class TokenInvalid(KisError):
    """EGW00121: the token is not valid (e.g. revoked by KIS maintenance)."""


class TokenIssueTooFrequent(KisError):
    """EGW00133: KIS issues at most one token a minute."""


class DataChanged(KisError):
    """SYDB0050: the data moved during a paged inquiry; start again from page one."""


class UnknownStock(KisError):
    """The exchange does not know these codes (a quote came back empty or zero)."""

    def __init__(self, codes: list[str] | tuple[str, ...]):
        self.codes = tuple(codes)
        super().__init__("", f"unknown stock code(s): {', '.join(self.codes)}")


class NotServed(KisError):
    """This KIS environment serves no such service (KIS mock has no product lookup, for one): nothing was sent."""

    def __init__(self, what: str, env: str):
        self.what, self.env = what, env
        super().__init__("", f"KIS {env} does not serve {what}")


class OverseasNotEnabled(KisError):
    """KIS refused an overseas trading call because the account has no overseas trading (해외증권 거래신청).

    Known by KIS's words, not a code: its docs say "해외주식 서비스 신청 후 이용 가능합니다 (해외증권 거래신청 참고)"
    of every overseas trading service; the msg_cd KIS answers with is unverified.
    """


def is_overseas_off(msg1: str) -> bool:
    """`msg1` says the account must apply for overseas trading first (해외 … 서비스 신청 / 거래신청 / 약정)."""
    text = (msg1 or "").replace(" ", "")
    return "해외" in text and any(word in text for word in ("서비스신청", "거래신청", "약정"))


class KisTransportError(Exception):
    """No usable answer from KIS: connection refused or dropped, timeout, non-JSON body."""


class NoAnswer(KisTransportError):
    """A request left and no usable answer came back: it may or may not have been processed."""


class NotSent(KisTransportError):
    """The connection could not be opened: the request certainly did not reach KIS."""


class OrderUncertain(KisTransportError):
    """An order or cancel POST may have reached KIS but its answer did not come back (lost, EGW00215).

    Never re-send on this: the caller reconciles it later against today's orders.
    """


class ConfigError(Exception):
    """Configuration is missing or wrong; the message says what to set and how."""


RATE_LIMIT_CODES = {"EGW00201", "EGW00215"}
TOKEN_CODES = {"EGW00123": TokenExpired, "EGW00121": TokenInvalid, "EGW00133": TokenIssueTooFrequent}


def error_for(msg_cd: str, msg1: str, *, http_status: int | None = None, tr_id: str = "") -> KisError:
    """The typed exception for a KIS `msg_cd`."""
    code = (msg_cd or "").strip()
    if code == "EGW00215":
        cls: type[KisError] = LedgerBusy
    elif code in RATE_LIMIT_CODES:
        cls = RateLimited
    elif code in TOKEN_CODES:
        cls = TOKEN_CODES[code]
    elif code == "SYDB0050":
        cls = DataChanged
    elif is_overseas_off(msg1):
        cls = OverseasNotEnabled
    else:
        cls = KisError
    return cls(code, msg1, http_status=http_status, tr_id=tr_id)
