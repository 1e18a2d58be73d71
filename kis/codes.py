"""What a symbol is, in one place: a KRX code (six characters starting with a digit: 005930, 0013V0) or a
US ticker (1-5 letters with an optional class suffix: AAPL, BRK.B), optionally prefixed by its exchange (NYSE:KO).

KRX has issued codes with letters since 2024 (new listings and ETFs), so a code is not a number:
only an all-digit code that lost its leading zeros (a spreadsheet's 5930) is padded back. A KRX code always
starts with a digit, so six letters (ABCDEF) are never a KRX code.
"""
from __future__ import annotations

import numbers
import re

CODE_RE = re.compile(r"[0-9][0-9A-Z]{5}")
_SHORT_NUMBER = re.compile(r"[0-9]{1,5}")
_PREFIXED = re.compile(r"A([0-9][0-9A-Z]{5})")  # FnGuide and HTS exports write "A005930"
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


# --- US tickers ---------------------------------------------------------------------------------------

TICKER_RE = re.compile(r"[A-Z]{1,5}(?:[.][A-Z]{1,2})?")  # AAPL, KO, BRK.B (KIS writes the class with a dot)
_EXCHANGE_PREFIX = re.compile(r"([A-Z]{3,6})\s*:\s*(.+)")  # NYSE:KO, nasdaq: aapl
TICKER_EXAMPLE = "AAPL or BRK.B"
TICKER_HELP = f"a US ticker such as {TICKER_EXAMPLE}"
SYMBOL_HELP = f"{CODE_HELP} or {TICKER_HELP}"


class BadSymbol(BadStockCode):
    """Input that is neither a KRX code nor a US ticker; the message shows both forms."""

    def __init__(self, value: object, why: str = ""):
        self.value = value
        ValueError.__init__(self, why or f"'{shown(value)}' is not {SYMBOL_HELP}")


def normalize_ticker(value: object) -> str:
    """The upper-cased US ticker `value` means (1-5 letters, optional class suffix); else BadSymbol."""
    if not isinstance(value, str):
        raise BadSymbol(value)
    text = value.strip().upper().replace("/", ".")  # BRK/B as some sites write it
    if TICKER_RE.fullmatch(text):
        return text
    raise BadSymbol(value)


def is_ticker(value: object) -> bool:
    """True when `value` is a US ticker (without an exchange prefix)."""
    try:
        normalize_ticker(value)
    except BadSymbol:
        return False
    return True


def split_symbol(value: object) -> tuple[str, str]:
    """(prefix, symbol): a KRX code or a US ticker, and the exchange prefix as written ('' when none).

    The prefix is only upper-cased here; which exchange it names is `kis.markets`' table. BadSymbol otherwise.
    """
    if isinstance(value, str):
        prefixed = _EXCHANGE_PREFIX.fullmatch(value.strip().upper())
        if prefixed:
            return prefixed.group(1), normalize_ticker(prefixed.group(2))
        if value.strip()[:1].isdigit() or _PREFIXED.fullmatch(value.strip().upper()):
            try:
                return "", normalize_code(value)
            except BadStockCode:
                raise BadSymbol(value) from None
        return "", normalize_ticker(value)
    try:
        return "", normalize_code(value)
    except BadStockCode:
        raise BadSymbol(value) from None


def is_symbol(value: object) -> bool:
    """True when `value` is a KRX code or a US ticker, with or without an exchange prefix."""
    try:
        split_symbol(value)
    except BadSymbol:
        return False
    return True
