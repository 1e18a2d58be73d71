"""KIS-style refusals the paper exchange answers with: rt_cd "1", msg_cd, msg1 and KIS's HTTP status."""
from __future__ import annotations

DATA_CHANGED = ("SYDB0050", "조회이후에 자료가 변경되었습니다.(다시 조회하세요)")


class Refusal(Exception):
    """A KIS-style refusal: rt_cd "1" with msg_cd/msg1 and the HTTP status KIS uses for it."""

    def __init__(self, msg: tuple[str, str], status: int = 500, detail: str | None = None):
        super().__init__(msg[0])
        self.msg_cd, self.msg1, self.status = msg[0], detail or msg[1], status


def missing(name: str) -> Refusal:
    return Refusal(("OPSQ2002", f"ERROR INVALID INPUT_FILED_SIZE [{name}] [0]"), 500)


def invalid(name: str, code: str = "OPSQ2001") -> Refusal:
    return Refusal((code, f"ERROR : INPUT INVALID_CHECK [{name}]"), 500)
