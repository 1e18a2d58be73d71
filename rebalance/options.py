"""How a plan trades: buy-only, sell an amount, keep other holdings, tolerance bands, smallest trade, and how
its US legs may be ordered on real accounts (`loc`: LOC, ORD_DVSN 34, for what is left before the close;
`daytime`: 주간거래, TTTS6036U/TTTS6037U, limit only), refused on mock and the sim before any call.

`PlanOptions` is what the pure planner takes; `parse_plan_words` reads the chat words
(`buy 500000 keep band 2`) for Telegram and the console alike. Bad or contradictory options raise
`OptionsError`, one sentence that says what to type.
"""
from __future__ import annotations

import difflib
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Sequence

from rebalance.amounts import MAX_AMOUNT, AmountError, amount_words, parse_amount
from rebalance.i18n import Msg, t

__all__ = ["MAX_AMOUNT", "MAX_BAND", "OptionsError", "PlanOptions", "parse_plan_words", "parse_points",
           "parse_won", "plan_options", "refuse_real_only", "shown"]

MAX_BAND = 50.0  # percentage points; a wider band never trades


class OptionsError(ValueError):
    """Plan options that cannot be used; the message says what to type instead (a `Msg` is put into words
    in the language current where the error is shown)."""

    def __init__(self, message: str | Msg) -> None:
        self.msg = message
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.msg)


@dataclass(frozen=True)
class PlanOptions:
    """Options in force for one plan; the defaults plan the full rebalance."""

    buy_only: bool = False
    amount: int | None = None  # buy-only: spend at most this many won
    sell_amount: int | None = None  # sell-only: raise at least this many won after fees and tax
    keep_others: bool = False  # holdings outside the model are left alone
    band: float = 0.0  # percentage points: trade a stock only when its weight is outside target ± band
    min_trade: int = 0  # won: trades smaller than this are skipped
    # US legs, real accounts only (KIS mock takes nothing but ORD_DVSN 00 and serves no daytime-order):
    loc: bool = False  # LOC (ORD_DVSN 34) placed before the close for what is left of the US legs
    daytime: bool = False  # 주간거래: US limit orders in KIS's daytime session (TTTS6036U buy / TTTS6037U sell)
    cross: bool = False  # the word `cross`: every slice at the guard price (not passive first), this plan only

    def __post_init__(self) -> None:
        if self.buy_only and self.sell_amount is not None:
            raise OptionsError(Msg("input.buy_and_sell"))
        if self.amount is not None and not self.buy_only:
            raise OptionsError(Msg("input.amount_without_buy"))
        for key, value in (("input.buy_positive", self.amount), ("input.sell_positive", self.sell_amount)):
            if value is not None and not (0 < value <= MAX_AMOUNT):
                raise OptionsError(Msg(key))
        if not (isinstance(self.band, (int, float)) and math.isfinite(self.band) and 0 <= self.band <= MAX_BAND):
            raise OptionsError(Msg("input.band_range", max=MAX_BAND))
        if not (0 <= self.min_trade <= MAX_AMOUNT):
            raise OptionsError(Msg("input.min_trade_range"))

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
            said.append(t("plan_table.buy_up_to", amount=self.amount) if self.amount is not None
                        else t("plan_table.buy_only"))
        if self.sell_amount is not None:
            said.append(t("plan_table.sell_only", amount=self.sell_amount))
        if self.keep_others:
            said.append(t("plan_table.keep"))
        if self.band:
            said.append(t("plan_table.band", band=self.band))
        if self.min_trade:
            said.append(t("plan_table.min_trade", amount=self.min_trade))
        if self.loc:
            said.append(t("usmore.plan_loc"))
        if self.daytime:
            said.append(t("usmore.plan_daytime"))
        return tuple(said)  # the execution style is its own header line (Plan.execution)

    def to_dict(self) -> dict[str, Any]:
        return {"buy_only": self.buy_only, "amount": self.amount, "sell_amount": self.sell_amount,
                "keep_others": self.keep_others, "band": self.band, "min_trade": self.min_trade,
                "loc": self.loc, "daytime": self.daytime, "cross": self.cross}


_KEYWORDS = {"buy": "buy", "매수": "buy", "sell": "sell", "매도": "sell", "keep": "keep", "유지": "keep",
             "band": "band", "밴드": "band", "min": "min", "min-trade": "min", "최소": "min",
             "loc": "loc", "장마감지정가": "loc", "daytime": "daytime", "주간거래": "daytime",
             "cross": "cross", "즉시": "cross"}
REAL_ONLY = ("loc", "daytime")  # PlanOptions fields KIS serves on real accounts only


def refuse_real_only(options: PlanOptions, env: object) -> None:
    """OptionsError, one sentence, when `options` ask for what only a real account has (LOC; 주간거래): off a
    real account (`env` KIS mock or the sim, or unknown) as KIS serves neither, and on real since the executor
    does not place them yet; said before any call, so nothing is sent."""
    real = str(getattr(env, "value", env) or "") == "real"
    for name in REAL_ONLY:
        if getattr(options, name):
            # On real the words are read but kisbot's executor places neither order kind yet: refused too, so a
            # plan never promises an order type its run would not send.
            raise OptionsError(Msg(f"lead.{name}_not_yet" if real else f"usmore.{name}_real_only"))


def plan_options(words: Sequence[str], defaults: PlanOptions = PlanOptions()) -> PlanOptions:
    """The options in `words` (a typed /plan, a file's caption): every word is read or the whole is refused
    with OptionsError, one sentence naming the words not understood."""
    options, rest = parse_plan_words(words, defaults)
    if rest:
        said = " ".join(rest)
        hints = [match for word in rest for match in
                 difflib.get_close_matches(_word(word), [k for k in _KEYWORDS if k.isascii()], n=1, cutoff=0.6)]
        if hints:
            raise OptionsError(Msg("input.unknown_words_hint", words=said, hint=hints[0]))
        raise OptionsError(Msg("input.unknown_words", words=said))
    return options


def parse_plan_words(words: Sequence[str], defaults: PlanOptions = PlanOptions()) -> tuple[PlanOptions, list[str]]:
    """`buy [AMOUNT]`, `sell AMOUNT`, `keep`, `band P`, `min WON`, `loc`, `daytime`, `cross` anywhere in `words`;
    the rest is returned.

    An amount may take several words (`buy 1억 2천만`). After `buy` the next word is its amount unless it is
    another option or a file path (the console's `/plan buy model.xlsx`). The defaults supply the band and
    the smallest trade when the words do not.
    """
    values: dict[str, Any] = {"band": defaults.band, "min_trade": defaults.min_trade}
    rest: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(words):
        typed = words[i].strip()
        key = _KEYWORDS.get(_word(typed))
        if key is None:
            rest.append(words[i])
            i += 1
            continue
        if key in seen:
            raise OptionsError(Msg("input.twice", word=typed))
        seen.add(key)
        nxt = words[i + 1].strip() if i + 1 < len(words) else None
        given = nxt is not None and _word(nxt) not in _KEYWORDS
        if key == "buy":
            values["buy_only"] = True
            if given and not _looks_like_path(nxt or ""):
                values["amount"], used = _amount(words, i + 1, typed)
                i += used
        elif key == "sell":
            if not given:
                raise OptionsError(Msg("input.sell_needs_amount"))
            values["sell_amount"], used = _amount(words, i + 1, typed)
            i += used
        elif key == "keep":
            values["keep_others"] = True
        elif key in REAL_ONLY:
            values[key] = True
        elif key == "cross":
            values["cross"] = True
        elif key == "band":
            if nxt is None:
                raise OptionsError(Msg("input.band_needs_points"))
            values["band"] = parse_points(nxt, typed)
            i += 1
        elif key == "min":
            if not given:
                raise OptionsError(Msg("input.min_needs_amount"))
            values["min_trade"], used = _amount(words, i + 1, typed)
            i += used
        i += 1
    return PlanOptions(**values), rest


def _word(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


def _looks_like_path(text: str) -> bool:
    return text.lower().endswith(".xlsx") or "/" in text or "\\" in text


def _amount(words: Sequence[str], start: int, what: str) -> tuple[int, int]:
    """The amount that starts at `words[start]` and how many words it took."""
    used = amount_words(words, start)
    return parse_won(" ".join(words[start:start + used]), what), used


def parse_won(text: str, what: str) -> int:
    """A typed amount of won (`500,000`, `50만`, `1억 2천만`, fullwidth digits; see rebalance.amounts) typed
    after `what`; anything not read whole raises OptionsError saying what to type."""
    try:
        return parse_amount(text)
    except AmountError as exc:
        raise OptionsError(exc.message(what, shown(text))) from None


def shown(text: str, limit: int = 24) -> str:
    """The typed text as quoted back: a 5,000-digit paste is cut, not echoed."""
    text = text.strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def parse_points(text: str, what: str) -> float:
    """Percentage points (`2`, `2%`, `2%p`, fullwidth `２`) typed after `what`; OptionsError when it is not
    a band from 0 to MAX_BAND."""
    cleaned = unicodedata.normalize("NFKC", text).strip().lower()
    cleaned = cleaned.removesuffix("%p").removesuffix("%").strip()
    if not re.fullmatch(r"-?([0-9]*\.?[0-9]+|[0-9]+\.)", cleaned):
        raise OptionsError(Msg("input.points_unclear", text=shown(text), what=what))
    value = float(cleaned) if len(cleaned) <= 20 else math.inf  # a 5,000-digit paste is out of range
    if not math.isfinite(value) or value < 0 or value > MAX_BAND:
        raise OptionsError(Msg("input.points_range", text=shown(text), what=what, max=MAX_BAND))
    return value
