"""`/model` and `kisbot model`: show, edit, undo and name the saved model; each change is a version.

`model_command` reads the words, applies one operation through rebalance.model_store and answers in
the current language: the diff, the new sum and what is left unassigned, or one sentence of refusal.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable, Mapping, Sequence

from bot import format as fmt
from kis.codes import BadStockCode, BadSymbol, normalize_code, split_symbol
from kis.errors import KisError, KisTransportError, UnknownStock
from kis.markets import is_us_symbol, market_named, market_of
from kis.krx import KST
from rebalance.amounts import AmountError, parse_percent
from rebalance.i18n import t
from rebalance.model_store import ModelEditError, ModelState, Version, VersionedModels, diff

HISTORY_SHOWN = 15
EDITS = ("set", "add", "rm", "band", "cash", "undo", "save", "use")


@dataclass(frozen=True)
class ModelContext:
    """What an edit needs beyond the words: who types, the clock, names, a code check and the default band."""

    who: str
    now: Callable[[], datetime]
    names: Callable[[Sequence[str]], Mapping[str, str]] = lambda codes: {}
    # True: KIS lists the code; False: it does not (refused); None: not known now (accepted).
    check_code: Callable[[str], bool | None] = lambda code: None
    band_for: Callable[[float | None], float] = lambda band: band or 0.0
    # The exchange KIS lists a US ticker on (NASD, NYSE, AMEX); UnknownStock: none does; None: not known now.
    us_market: Callable[[str], str | None] = lambda ticker: None


def pct(fraction: float | None) -> str:
    """A fraction as percent with one decimal ('25.0%'), '-' for none."""
    return "-" if fraction is None else f"{100 * fraction:.1f}%"


def _fraction(value: Decimal) -> float:
    return float(value / 100)


def _percent(word: str, what: str, limit: int = 100) -> float:
    try:
        return _fraction(parse_percent(word, limit=limit))
    except AmountError as exc:
        raise ModelEditError(exc.key, text=word[:20], what=what, **exc.params) from None


def parse_edit(words: Sequence[str]) -> dict:
    """The operation the words after `/model` ask for (`set 069500 25%` -> {"op": "set", ...}); ModelEditError."""
    verb, rest = words[0].lower(), list(words[1:])
    need = {"set": 2, "add": 2, "rm": 1, "band": 2, "cash": 1, "undo": 0, "save": 1, "use": 1}[verb]
    if verb in ("save", "use"):
        if not rest:
            raise ModelEditError("model_edit.usage")
        return {"op": verb, "name": " ".join(rest)}
    if len(rest) != need:
        raise ModelEditError("model_edit.usage")
    if verb in ("set", "add", "rm", "band"):
        market = ""
        try:
            code = normalize_code(rest[0])
        except BadStockCode:
            if not is_us_symbol(rest[0]):
                raise ModelEditError("model_edit.bad_code", code=rest[0].strip()[:20]) from None
            try:
                found = market_of(rest[0])
            except BadSymbol as exc:
                raise ModelEditError("markets.bad_exchange", prefix=split_prefix(rest[0]),
                                     symbol=rest[0].strip()[:20]) from exc
            market, code = (found.code if found else ""), split_symbol(rest[0])[1]
        if verb == "rm":
            return {"op": "rm", "code": code}
        if verb == "band":
            return {"op": "band", "code": code, "band": _percent(rest[1], "band", limit=99)}
        return {"op": verb, "code": code, "weight": _percent(rest[1], verb), **({"market": market} if market else {})}
    if verb == "cash":
        return {"op": "cash", "cash": _percent(rest[0], "cash")}
    return {"op": "undo"}


def split_prefix(text: str) -> str:
    """What stands before the colon of `NYSE:KO` as written (upper case), '' when none."""
    return text.strip().upper().rpartition(":")[0][:10]


def describe_op(op: Mapping) -> str:
    """One short line of what a version did, for /model history."""
    kind = op.get("op")
    if kind == "load":
        return t("model_edit.op_load", source=op.get("source") or "-", count=len(op.get("targets", ())))
    if kind in ("set", "add"):
        return f"{kind} {op['code']} {pct(op['weight'])}"
    if kind == "band":
        return f"band {op['code']} ±{100 * op['band']:.1f}%p"
    if kind == "cash":
        return f"cash {pct(op['cash'])}"
    if kind == "rm":
        return f"rm {op['code']}"
    if kind == "undo":
        return t("model_edit.op_undo", to=op.get("to"))
    if kind == "page":
        return t("webapp.op", count=len(op.get("targets", ())))
    return f"{kind} {op.get('name', '')}"


def model_command(versions: VersionedModels, words: Sequence[str], context: ModelContext) -> str:
    """The answer to `/model WORDS` (no words: the model itself), as text in the current language."""
    words = [w for w in words if w.strip()]
    try:
        if not words:
            return show(versions, context)
        verb = words[0].lower()
        if verb == "history":
            return history(versions)
        if verb == "list":
            return named_list(versions)
        if verb == "diff":
            return diff_to(versions, words[1:])
        if verb not in EDITS:
            raise ModelEditError("model_edit.usage")
        return edit(versions, parse_edit(words), context)
    except ModelEditError as exc:
        return t(exc.key, **exc.params)


def edit(versions: VersionedModels, op: dict, context: ModelContext) -> str:
    """Apply one edit and describe it: the version, the changed rows, the new sum and what is unassigned."""
    said = ""
    if op["op"] == "add" and is_us_symbol(op["code"]):
        op.update(us_exchange(op, context))
        said = t("usplan.model_exchange", ticker=op["code"], market=op["market"],
                 source=t("usplan.from_prefix" if op["market_from"] == "prefix" else "usplan.from_lookup")) \
            if op.get("market") else ""
    elif op["op"] == "add":
        known = context.check_code(op["code"])
        if known is False:
            raise ModelEditError("model_edit.unknown_code", code=op["code"])
    if op["op"] == "add":
        op["name"] = context.names([op["code"]]).get(op["code"], "")
    before, after = versions.apply(op, who=context.who, at=context.now())
    text = changed_text(before.state if before else None, after, context)
    return f"{text}\n{said}" if said else text


def us_exchange(op: Mapping, context: ModelContext) -> dict:
    """The exchange of a US ticker being added: its prefix, else KIS's lookup; ModelEditError naming a ticker no
    US exchange lists (before any version is made). An exchange KIS cannot tell now is looked up at /plan."""
    if op.get("market"):
        return {"market": market_named(op["market"]).code, "market_from": "prefix"}
    try:
        found = context.us_market(op["code"])
    except UnknownStock:
        raise ModelEditError("usplan.unknown_ticker", ticker=op["code"]) from None
    except (KisError, KisTransportError):
        found = None
    return {"market": found, "market_from": "lookup"} if found else {}


def changed_text(before: ModelState | None, after: Version, context: ModelContext) -> str:
    state = after.state
    names = context.names([row[0] for row in diff(before, state)])
    lines = [t("model_edit.done", version=after.id, what=describe_op(after.op))]
    for code, w0, w1, b0, b1 in diff(before, state):
        line = f"{code} {fmt.clip(names.get(code, ''), 12)} {pct(w0)} → {pct(w1)}"
        if b0 != b1:
            line += f" (±{'-' if b0 is None else f'{100 * b0:.1f}'} → ±{'-' if b1 is None else f'{100 * b1:.1f}'}%p)"
        lines.append(line)
    if before is not None and before.cash != state.cash:
        lines.append(t("model_edit.cash_changed", before=pct(before.cash), after=pct(state.cash)))
    if before is not None and before.name != state.name and state.name:
        lines.append(t("model_edit.now_named", name=state.name))
    lines.append(sum_line(state))
    return "\n".join(lines)


def sum_line(state: ModelState) -> str:
    return t("model_edit.sum", count=len(state.targets), total=pct(state.total), cash=pct(state.cash),
             unassigned=pct(state.unassigned))


def show(versions: VersionedModels, context: ModelContext) -> str:
    """`/model`: every target in percent with one decimal, the band, the sum and the version."""
    current = versions.current()
    if current is None:
        return t("model_edit.none")
    state = current.state
    names = context.names([tg.code for tg in state.targets])
    rows = [fmt.model_row(tg.code, names.get(tg.code) or tg.name, tg.weight, context.band_for(tg.band))
            for tg in state.targets]
    head = t("model_edit.head", model=model_label(versions, current), version=current.id,
             at=f"{current.at.astimezone(KST):%Y-%m-%d %H:%M}")
    return "\n".join([head, fmt.model_legend(), *rows, sum_line(state), t("model_edit.hint")])


def model_label(versions: VersionedModels, current: Version) -> str:
    """How the model in force is named: its name (marked when edited since it was saved) or its file."""
    state = current.state
    if state.name:
        saved = versions.named().get(state.name)
        return state.name if saved == state else t("model_edit.edited", name=state.name)
    return state.source or t("model_edit.unnamed")


def history(versions: VersionedModels) -> str:
    log = versions.versions()
    if not log:
        return t("model_edit.none")
    lines = [t("model_edit.history_head", count=len(log))]
    for v in log[-HISTORY_SHOWN:]:
        lines.append(f"#{v.id} {v.at.astimezone(KST):%m-%d %H:%M} {v.who}: {describe_op(v.op)}")
    return "\n".join(lines)


def diff_to(versions: VersionedModels, words: Sequence[str]) -> str:
    if len(words) != 1 or not words[0].lstrip("#").isdigit():
        raise ModelEditError("model_edit.diff_usage")
    number = int(words[0].lstrip("#"))
    old, current = versions.version(number), versions.current()
    if old is None or current is None:
        raise ModelEditError("model_edit.no_version", version=number)
    rows = diff(old.state, current.state)
    lines = [t("model_edit.diff_head", version=number, current=current.id)]
    lines += [f"{code} {pct(w0)} → {pct(w1)}" for code, w0, w1, _, _ in rows]
    if not rows and old.state.cash == current.state.cash:
        lines.append(t("model_edit.same"))
    if old.state.cash != current.state.cash:
        lines.append(t("model_edit.cash_changed", before=pct(old.state.cash), after=pct(current.state.cash)))
    return "\n".join(lines)


def named_list(versions: VersionedModels) -> str:
    named = versions.named()
    if not named:
        return t("model_edit.no_names")
    current = versions.current()
    in_force = current.state.name if current else ""
    lines = [t("model_edit.list_head")]
    for name, state in sorted(named.items()):
        mark = " ←" if name == in_force else ""
        lines.append(f"{name}: {len(state.targets)} · {pct(state.total)}{mark}")
    return "\n".join(lines)
