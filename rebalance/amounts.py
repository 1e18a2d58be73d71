"""Amounts of won as people type them: `500000`, `500,000원`, fullwidth `５０００００`, `50만`, `1억 2천만`, `5천만원`.

The one amount reader of kisbot: every front end (chat words, captions, the console, `kisbot` flags, settings)
reads a typed amount through `parse_amount`, so an amount is read the same way, or refused with the same
sentence, whatever the way in. It reads or refuses; it never reads part of an amount and drops the rest.
Letters such as `5m` or `5k` are refused, not read: `m` could be a million or 만 (ten thousand), and a
misread amount costs money. `korean_won` writes an int the way Koreans write it (and `parse_amount` reads it back).
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation, localcontext
from typing import Sequence

from rebalance.i18n import Msg

# Far beyond any account this bot runs: a typo with many extra zeros is refused, not planned.
MAX_AMOUNT = 100_000_000_000_000  # 100조 원
# An amount written in more characters than this is refused before any arithmetic (a 5,000-digit paste).
MAX_AMOUNT_CHARS = 40

_BIG = {"만": 10**4, "억": 10**8, "조": 10**12}
_SMALL = {"십": 10, "백": 100, "천": 1000}
_UNITS = "".join(_BIG) + "".join(_SMALL)
# A number: digits with commas between groups of three, or plain digits; an optional decimal part.
_TOKEN = re.compile(rf"(\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)|([{_UNITS}])")
_PREFIX = re.compile(r"^(₩|krw)")
_SUFFIX = re.compile(r"(원|won|krw)$")
_LETTERS = re.compile(r"^[\d.,]+(k|m|mn|mil|million|b|bn|billion|t|thousand)$")
# A word that goes on an amount begun before it ("1억" then "2천만"): digits, a unit or 원.
_GOES_ON = re.compile(rf"^[\d{_UNITS}원]")


class AmountError(ValueError):
    """A typed amount that is not read; `msg` says why in the reader's language (field `what` is filled in
    by the caller, who knows after which word or flag the amount was typed)."""

    def __init__(self, key: str, **params: object) -> None:
        self.key, self.params = key, params
        super().__init__(key)

    def message(self, what: str, text: str) -> Msg:
        """The sentence for an amount typed after `what` (a word such as `buy`, or a flag such as `--amount`)."""
        return Msg(self.key, what=what, text=text, **self.params)


def normalize(text: str) -> str:
    """Fullwidth and other compatibility forms as ASCII (`５０만` -> `50만`), no spaces, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def parse_amount(text: str) -> int:
    """A typed amount of won as an int; AmountError (key `input.amount_*`) for anything not read whole.

    Reads digits (ASCII or fullwidth) with or without commas and 원/won, and 만/억/조 with 십/백/천
    (`50만`, `1억 2천만`, `1.5억`, `천만원`). Zero is read (the caller says whether it may be)."""
    if len(text) > 4 * MAX_AMOUNT_CHARS:
        raise AmountError("input.amount_too_big", limit=MAX_AMOUNT)
    cleaned = _SUFFIX.sub("", _PREFIX.sub("", normalize(text)))
    if len(cleaned) > MAX_AMOUNT_CHARS:
        raise AmountError("input.amount_too_big", limit=MAX_AMOUNT)
    if _LETTERS.fullmatch(cleaned):
        raise AmountError("input.amount_letters")
    value = _read_units(cleaned)
    if value is None:
        raise AmountError("input.amount_unclear")
    if value > MAX_AMOUNT:
        raise AmountError("input.amount_too_big", limit=MAX_AMOUNT)
    if value != value.to_integral_value():
        raise AmountError("input.amount_fraction")
    return int(value)


def amount_words(words: Sequence[str], start: int) -> int:
    """How many words from `words[start]` on form one amount: `1억` `2천만` is two, `500000` one."""
    count = 1
    while (start + count < len(words) and normalize(words[start + count - 1])[-1:] in _BIG
           and _GOES_ON.match(normalize(words[start + count]))):
        count += 1
    return count


def korean_won(value: int) -> str:
    """An int of won as Koreans write it: 123456789 -> '1억 2,345만 6,789원', 0 -> '0원'."""
    if value < 0:
        return "-" + korean_won(-value)
    parts = []
    for unit, size in (("조", 10**12), ("억", 10**8), ("만", 10**4)):
        if value >= size:
            parts.append(f"{value // size:,}{unit}")
            value %= size
    if value or not parts:
        parts.append(f"{value:,}")
    return " ".join(parts) + "원"


def _read_units(text: str) -> Decimal | None:
    """The value of digits and units, or None when the text is not one well-formed amount."""
    tokens: list[tuple[str, str]] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            return None
        tokens.append(("n", match[1]) if match[1] else ("u", match[2]))
        at = match.end()
    if not tokens:
        return None
    with localcontext() as context:
        context.prec = 80  # exact for any text within MAX_AMOUNT_CHARS
        return _evaluate(tokens)


def _evaluate(tokens: list[tuple[str, str]]) -> Decimal | None:
    """Sections of (number, small unit)* number? each closed by 조/억/만 in falling order; None if malformed."""
    total, section = Decimal(0), Decimal(0)
    number: Decimal | None = None
    last_big, last_small = 10**16, 10**4
    for kind, token in tokens:
        if kind == "n":
            if number is not None:
                return None
            try:
                number = Decimal(token.replace(",", ""))
            except InvalidOperation:
                return None
        elif token in _SMALL:
            size = _SMALL[token]
            if size >= last_small or (number is not None and number >= 10):
                return None  # 천 after 백, or 15천: not how an amount is written
            section += (Decimal(1) if number is None else number) * size
            number, last_small = None, size
        else:
            size = _BIG[token]
            if size >= last_big:
                return None  # 만 before 억 or twice
            if number is not None and last_small < 10**4 and number >= last_small:
                return None  # 2천5000만
            section += number if number is not None else (Decimal(0) if last_small < 10**4 else Decimal(1))
            if last_big < 10**16 and section >= Decimal(last_big) / size:
                return None  # 1억 20000만: the 만 part must stay under one 억
            total += section * size
            section, number, last_big, last_small = Decimal(0), None, size, 10**4
    if number is not None:
        if last_small < 10**4 and number >= last_small:
            return None
        if last_big < 10**16 and section + number >= last_big:
            return None
        section += number
    return total + section


_PERCENT = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(%|%p|퍼센트|프로)?")


def parse_percent(text: str, *, limit: int = 100) -> Decimal:
    """A typed percentage (`25`, `25%`, `25.5%`, fullwidth `２５％`) as a Decimal from 0 to `limit`;
    AmountError (key `input.percent_unclear` or `input.percent_range`) for anything else."""
    cleaned = normalize(text)[:MAX_AMOUNT_CHARS + 1]
    match = _PERCENT.fullmatch(cleaned)
    if match is None:
        raise AmountError("input.percent_unclear")
    value = Decimal(match[1])
    if value > limit:
        raise AmountError("input.percent_range", limit=limit)
    return value
