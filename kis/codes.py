"""What a KRX stock code is, in one place: six characters, digits and capital letters (005930, 0013V0).

KRX has issued codes with letters since 2024 (new listings and ETFs), so a code is not a number:
only an all-digit code that lost its leading zeros (a spreadsheet's 5930) is padded back.
"""
from __future__ import annotations

import numbers
import re

CODE_RE = re.compile(r"[0-9A-Z]{6}")
_SHORT_NUMBER = re.compile(r"[0-9]{1,5}")
_PREFIXED = re.compile(r"A([0-9A-Z]{6})")  # FnGuide and HTS exports write "A005930"
EXAMPLE = "005930 or 0013V0"
CODE_HELP = f"a 6-character stock code such as {EXAMPLE}"


class BadStockCode(ValueError):
    """Input that is not a stock code; the message names it and shows what a code looks like."""

    def __init__(self, value: object):
        self.value = value
        super().__init__(f"'{shown(value)}' is not {CODE_HELP}")


def normalize_code(value: object) -> str:
    """The 6-character code `value` means (upper-cased, an all-digit number zero-padded); else BadStockCode."""
    if isinstance(value, bool) or value is None:
        raise BadStockCode(value)
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        if not float(value).is_integer():
            raise BadStockCode(value)
        value = int(value)
    if isinstance(value, numbers.Integral):
        if 0 < int(value) < 1_000_000:
            return f"{int(value):06d}"
        raise BadStockCode(value)
    text = str(value).strip().upper()
    if CODE_RE.fullmatch(text):
        return text
    prefixed = _PREFIXED.fullmatch(text)
    if prefixed:
        return prefixed.group(1)
    if _SHORT_NUMBER.fullmatch(text) and int(text) > 0:
        return text.zfill(6)  # digits only: a number whose zeros were dropped; never a code with a letter
    raise BadStockCode(value)


def is_code(value: object) -> bool:
    """True when `value` normalizes to a stock code."""
    try:
        normalize_code(value)
    except BadStockCode:
        return False
    return True


def shown(value: object) -> str:
    """`value` as the user wrote it, for a message (a whole float without its '.0')."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
