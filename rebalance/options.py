"""How a plan trades: buy-only, sell an amount, keep other holdings, tolerance bands, smallest trade.

`PlanOptions` is what the pure planner takes; `parse_plan_words` reads the chat words
(`buy 500000 keep band 2`) for Telegram and the console alike. Bad or contradictory options raise
`OptionsError`, one sentence that says what to type.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Sequence


# Far beyond any account this bot runs: a typo with three extra zeros is refused, not planned.
MAX_AMOUNT = 100_000_000_000_000
MAX_BAND = 50.0  # percentage points; a wider band never trades


class OptionsError(ValueError):
    """Plan options that cannot be used; the message says what to type instead."""


@dataclass(frozen=True)
class PlanOptions:
    """Options in force for one plan; the defaults plan the full rebalance."""

    buy_only: bool = False
    amount: int | None = None  # buy-only: spend at most this many won
    sell_amount: int | None = None  # sell-only: raise at least this many won after fees and tax
    keep_others: bool = False  # holdings outside the model are left alone
    band: float = 0.0  # percentage points: trade a stock only when its weight is outside target ± band
    min_trade: int = 0  # won: trades smaller than this are skipped

    def __post_init__(self) -> None:
        if self.buy_only and self.sell_amount is not None:
            raise OptionsError("buy and sell contradict each other: use /plan buy [AMOUNT] or /plan sell AMOUNT, "
                               "not both.")
        if self.amount is not None and not self.buy_only:
            raise OptionsError("an amount without buy: use /plan buy AMOUNT.")
        for label, value in (("buy amount", self.amount), ("sell amount", self.sell_amount)):
            if value is not None and not (0 < value <= MAX_AMOUNT):
                raise OptionsError(f"the {label} must be a positive number of won, e.g. 500000.")
        if not (isinstance(self.band, (int, float)) and math.isfinite(self.band) and 0 <= self.band <= MAX_BAND):
            raise OptionsError(f"the band must be between 0 and {MAX_BAND:g} percentage points, e.g. band 2.")
        if not (0 <= self.min_trade <= MAX_AMOUNT):
            raise OptionsError("the smallest trade must be 0 or more won, e.g. 10000.")

    @property
    def sell_only(self) -> bool:
        return self.sell_amount is not None

    def band_for(self, own: float | None) -> float:
        """The band of a stock as a fraction: its own (from the file) or the plan's."""
        return own if own is not None else self.band / 100

    def describe(self) -> tuple[str, ...]:
        """The options in force, one short phrase each; empty for the plain full rebalance."""
        said = []
        if self.buy_only:
            said.append("buy only" + (f", up to {self.amount:,} won" if self.amount is not None else ""))
        if self.sell_amount is not None:
            said.append(f"sell only, raise {self.sell_amount:,} won")
        if self.keep_others:
            said.append("keep holdings outside the model")
        if self.band:
            said.append(f"band ±{self.band:g} %p")
        if self.min_trade:
            said.append(f"min trade {self.min_trade:,} won")
        return tuple(said)

    def to_dict(self) -> dict[str, Any]:
        return {"buy_only": self.buy_only, "amount": self.amount, "sell_amount": self.sell_amount,
                "keep_others": self.keep_others, "band": self.band, "min_trade": self.min_trade}


_KEYWORDS = {"buy": "buy", "매수": "buy", "sell": "sell", "매도": "sell", "keep": "keep", "유지": "keep",
             "band": "band", "밴드": "band", "min": "min", "min-trade": "min"}


def parse_plan_words(words: Sequence[str], defaults: PlanOptions = PlanOptions()) -> tuple[PlanOptions, list[str]]:
    """`buy [AMOUNT]`, `sell AMOUNT`, `keep`, `band P`, `min WON` anywhere in `words`; the rest is returned.

    The defaults supply the band and the smallest trade when the words do not.
    """
    values: dict[str, Any] = {"band": defaults.band, "min_trade": defaults.min_trade}
    rest: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i].strip().lower()
        nxt = words[i + 1].strip() if i + 1 < len(words) else None
        key = _KEYWORDS.get(word)
        if key is None:
            rest.append(words[i])
            i += 1
            continue
        if key in seen:
            raise OptionsError(f"'{word}' is given twice: say it once, e.g. /plan buy 500000 keep band 2.")
        seen.add(key)
        if key == "buy":
            values["buy_only"] = True
            if nxt is not None and _looks_numeric(nxt):
                values["amount"] = parse_won(nxt, "buy")
                i += 1
        elif key == "sell":
            if nxt is None or nxt.lower() in _KEYWORDS:
                raise OptionsError("sell needs an amount in won: type e.g. /plan sell 1000000.")
            values["sell_amount"] = parse_won(nxt, "sell")
            i += 1
        elif key == "keep":
            values["keep_others"] = True
        elif key == "band":
            if nxt is None:
                raise OptionsError("band needs a number of percentage points: type e.g. /plan band 2.")
            values["band"] = parse_points(nxt.rstrip("%p").rstrip("%"), "band")
            i += 1
        elif key == "min":
            if nxt is None:
                raise OptionsError("min needs an amount in won: type e.g. /plan min 10000.")
            values["min_trade"] = parse_won(nxt, "min")
            i += 1
        i += 1
    return PlanOptions(**values), rest


def _looks_numeric(text: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[0-9.,_]+(원|won|%)?", text.strip(), re.IGNORECASE))


def parse_won(text: str, what: str) -> int:
    """'500,000', '500000원' -> 500000; anything else raises OptionsError saying what to type."""
    cleaned = re.sub(r"(원|won)$", "", text.strip(), flags=re.IGNORECASE).replace(",", "").replace("_", "")
    if not re.fullmatch(r"[0-9]+", cleaned):
        raise OptionsError(f"'{text}' after {what} is not a whole number of won: type e.g. {what} 500000.")
    value = int(cleaned)
    if value > MAX_AMOUNT:
        raise OptionsError(f"{value:,} won after {what} is more than any account holds: check the zeros.")
    return value


def parse_points(text: str, what: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise OptionsError(f"'{text}' after {what} is not a number: type e.g. {what} 2.") from None
    if not math.isfinite(value) or value < 0 or value > MAX_BAND:
        raise OptionsError(f"'{text}' after {what} is not a band between 0 and {MAX_BAND:g} percentage points: "
                           f"type e.g. {what} 2.")
    return value
