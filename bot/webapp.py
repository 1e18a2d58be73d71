"""The Telegram Mini App editor of the model (`bot/static/model.html`): what its URL carries, and its Save.

The page is static and hosted by the operator (KISBOT_WEBAPP_URL); the bot puts the model in the URL
fragment, `#m=` and the base64url of JSON (codes, weights in percent, names, weights now, the language;
never amounts or account numbers), which a browser never sends to the host. The page's Save comes back
as `web_app_data` (Telegram's `sendData`, at most 4096 bytes) and `save` applies it as ONE version
through rebalance.model_store, the path `/model` edits take (allow-list, validation, the diff reply).
Nothing here reaches an order: a plan still needs /plan and a Confirm tap.
"""
from __future__ import annotations

import base64
import json
import logging
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable, Collection, Mapping

from rebalance.i18n import Lang, catalogue, current, t
from rebalance.model_store import ModelEditError, ModelState, Version, VersionedModels, apply_op
from rebalance.portfolio import MAX_STOCKS

log = logging.getLogger(__name__)

MAX_DATA = 4096  # bytes: the most Telegram's sendData carries back
VERSION = 1  # the "v" of the JSON both ways
NAME_CHARS = 16  # a name in the fragment is clipped to this many characters (the URL stays short)
PAYLOAD_KEYS = frozenset({"v", "base", "rows", "cash"})
ROW_KEYS = frozenset({"code", "target", "band"})
PAGE_KEYS = "page_"  # catalogue keys of [webapp] that the page shows (mirrored in model.html)


def page_html() -> str:
    """The page as shipped in the package (bot/static/model.html)."""
    return resources.files("bot").joinpath("static/model.html").read_text(encoding="utf-8")


def page_strings(lang: Lang) -> dict[str, str]:
    """The page's own sentences in `lang`: the [webapp] keys starting `page_`, without that prefix."""
    prefix = "webapp." + PAGE_KEYS
    return {key[len(prefix):]: text for key, text in catalogue(lang).items() if key.startswith(prefix)}


def percent(fraction: float) -> float:
    """A fraction as percent, to 4 decimals (0.3 -> 30.0, not 30.000000000000004)."""
    return round(100 * fraction, 4)


def _as_js(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (list, tuple)):
        return [_as_js(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_js(v) for k, v in value.items()}
    return value


def compact(data: Any) -> str:
    """JSON as `JSON.stringify` writes it: no spaces, Hangul as is, 30.0 as 30."""
    return json.dumps(_as_js(data), ensure_ascii=False, separators=(",", ":"))


def encode(data: Mapping[str, Any]) -> str:
    """The fragment's value: base64url of the JSON, without padding."""
    return base64.urlsafe_b64encode(compact(data).encode()).rstrip(b"=").decode("ascii")


def decode(text: str) -> dict:
    """The JSON `encode` wrote (for tests and for reading a URL back)."""
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def model_rows(state: ModelState) -> list[dict]:
    """The rows as the page edits and sends them: percent units; a row on the default band has no `band`."""
    return [{"code": tg.code, "target": percent(tg.weight),
             **({} if tg.band is None else {"band": percent(tg.band)})} for tg in state.targets]


def editor_data(version: Version, *, names: Mapping[str, str], now: Mapping[str, float] | None,
                default_band: float, label: str, lang: Lang) -> dict:
    """What the page shows: the model of `version` (its number is `base`), names, weights now (percent)."""
    state = version.state
    codes = [tg.code for tg in state.targets]
    shown = {c: (names.get(c) or (state.target(c).name if state.target(c) else ""))[:NAME_CHARS] for c in codes}
    return {"v": VERSION, "base": version.id, "rows": model_rows(state), "cash": percent(state.cash),
            "names": {c: n for c, n in shown.items() if n},
            "now": {c: round(100 * w, 1) for c, w in (now or {}).items() if c in shown},  # shown to one decimal
            "dband": round(default_band, 4), "model": label, "lang": lang.value}


def save_size(version: Version) -> int:
    """Bytes of the Save the page sends for `version` unchanged."""
    state = version.state
    return len(compact({"v": VERSION, "base": version.id, "rows": model_rows(state),
                        "cash": percent(state.cash)}).encode())


def editor_url(base_url: str, data: Mapping[str, Any]) -> str:
    """The page's URL with the model in its fragment."""
    return f"{base_url}#m={encode(data)}"


def editor_link(base_url: str, versions: VersionedModels, context: Any, *,
                weights_now: Callable[[ModelState], Mapping[str, float] | None],
                default_band: float) -> tuple[str | None, str | None]:
    """(the URL the "Edit model" button opens, None) for the saved model; (None, a sentence) when its Save
    would not fit in 4096 bytes; (None, None) without a model."""
    from bot.model_edits import model_label

    current_version = versions.current()
    if current_version is None:
        return None, None
    if save_size(current_version) > MAX_DATA:
        return None, t("webapp.too_big_for_page", count=len(current_version.state.targets), limit=MAX_DATA)
    state = current_version.state
    try:
        now = weights_now(state)
    except Exception:  # KIS unreachable: the page shows no weight now, the editing works all the same
        log.debug("weights now for the editor", exc_info=True)
        now = None
    data = editor_data(current_version, names=context.names([tg.code for tg in state.targets]), now=now,
                       default_band=default_band, label=model_label(versions, current_version), lang=current())
    return editor_url(base_url, data), None


def weights_now(client: Any, state: ModelState, *, cash_buffer: float) -> dict[str, float]:
    """Each model stock's weight now (fraction of the investable value, as the planner counts it; a mixed model's
    of the whole account in won at KIS's rate)."""
    from rebalance.drift import drift, us_held_of
    from rebalance.plan import is_us_code

    balance = client.balance()
    prices = {h.code: h.price for h in balance.holdings if h.qty > 0}
    unpriced = [tg.code for tg in state.targets if tg.code not in prices and not is_us_code(tg.code)]
    if unpriced:
        prices.update({c: q.price for c, q in client.prices(unpriced).items()})
    mixed = any(is_us_code(tg.code) for tg in state.targets)
    us = us_held_of(client, state.targets) if mixed else None
    codes = {tg.code for tg in state.targets}
    return {d.code: d.now for d in drift(state.portfolio(), balance, prices, cash_buffer=cash_buffer, us=us)
            if d.code in codes}


@dataclass(frozen=True)
class Row:
    """One row of a Save: code, target and band in percent (band None: the default band)."""

    code: str
    target: float
    band: float | None


@dataclass(frozen=True)
class Payload:
    """A Save as the page sent it: the whole model (rows, cash in percent) and the version it was opened on."""

    rows: tuple[Row, ...]
    cash: float
    base: int | None


def _number(value: object, code: str, what: str, high: float, *, below: bool = False) -> float:
    """`value` as a percent from 0 to `high` (below `high` when `below`); ModelEditError names the row."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ModelEditError("webapp.not_a_number", code=code, what=what, value=str(value)[:20])
    if value < 0 or value > high or (below and value >= high):
        raise ModelEditError("webapp.out_of_range", code=code, what=what, value=value, high=high)
    return float(value)


def read_payload(raw: str) -> Payload:
    """The Save in `raw` (the text of `web_app_data`); ModelEditError (area `webapp`) says what is wrong."""
    from kis.codes import BadStockCode, normalize_code

    size = len(raw.encode())
    if size > MAX_DATA:
        raise ModelEditError("webapp.too_big", size=size, limit=MAX_DATA)
    try:
        data = json.loads(raw, parse_constant=lambda word: (_ for _ in ()).throw(ValueError(word)))
    except (ValueError, RecursionError):
        raise ModelEditError("webapp.bad_json") from None
    if not isinstance(data, dict) or isinstance(data.get("v"), bool) or data.get("v") != VERSION:
        raise ModelEditError("webapp.bad_version", v=str(data.get("v") if isinstance(data, dict) else "-")[:10],
                             want=VERSION)
    extra = sorted(set(data) - PAYLOAD_KEYS)
    rows = data.get("rows")
    if extra or not isinstance(rows, list) or "cash" not in data:
        raise ModelEditError("webapp.bad_shape", keys=", ".join(extra)[:60] or "-")
    if len(rows) > MAX_STOCKS:
        raise ModelEditError("model_edit.too_many", limit=MAX_STOCKS)
    base = data.get("base")
    if base is not None and (isinstance(base, bool) or not isinstance(base, int) or base < 1):
        raise ModelEditError("webapp.bad_shape", keys="base")
    read: list[Row] = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not isinstance(row.get("code"), str) or "target" not in row \
                or set(row) - ROW_KEYS:
            raise ModelEditError("webapp.bad_row", row=number)
        try:
            code = normalize_code(row["code"])
        except BadStockCode:
            raise ModelEditError("model_edit.bad_code", code=row["code"].strip()[:20]) from None
        if any(r.code == code for r in read):
            raise ModelEditError("webapp.twice", code=code)
        target = _number(row["target"], code, t("webapp.what_target"), 100)
        band = None if row.get("band") is None else _number(row["band"], code, t("webapp.what_band"), 100,
                                                            below=True)
        read.append(Row(code, target, band))
    cash = _number(data["cash"], "-", t("webapp.what_cash"), 100)
    return Payload(tuple(read), cash, base)


def _kept(old: float | None, sent: float | None) -> float | None:
    """The fraction a Save means: the model's own value when the page sent it back unchanged."""
    if sent is None:
        return None
    return old if old is not None and percent(old) == sent else sent / 100


def page_op(payload: Payload, state: ModelState, names: Mapping[str, str]) -> dict:
    """The `page` operation of rebalance.model_store for `payload` on `state` (fractions)."""
    targets = []
    for row in payload.rows:
        old = state.target(row.code)
        targets.append({"code": row.code, "weight": _kept(old.weight if old else None, row.target),
                        "band": _kept(old.band if old else None, row.band), "name": names.get(row.code, "")})
    return {"op": "page", "targets": targets, "cash": _kept(state.cash, payload.cash)}


def save(versions: VersionedModels, raw: str, context: Any, *, chat: int,
         allowed: Collection[int]) -> tuple[str, bool]:
    """Apply a Save of the editor sent from `chat` as one version: (the reply, whether a version was made).

    Refused, with one sentence: a chat outside `allowed`, a payload the page could not have sent, a model
    changed since the page opened, a code KIS does not list, a sum over 100 %. Never an order."""
    from bot.model_edits import changed_text

    if chat not in allowed:
        log.warning("refused a Mini App save from chat %s, which is not allowed", chat)
        return t("webapp.not_allowed", chat=chat), False
    try:
        payload = read_payload(raw)
        current_version = versions.current()
        if current_version is None:
            raise ModelEditError("model_edit.none")
        if payload.base is not None and payload.base != current_version.id:
            raise ModelEditError("webapp.stale", base=payload.base, version=current_version.id)
        state = current_version.state
        new = [r.code for r in payload.rows if state.target(r.code) is None]
        unknown = [code for code in new if context.check_code(code) is False]
        if unknown:
            raise ModelEditError("webapp.unknown_codes", codes=", ".join(unknown[:10]))
        op = page_op(payload, state, context.names(new) if new else {})
        if apply_op(state, op, named={}, states={}) == state:
            return t("webapp.unchanged", version=current_version.id), False
        before, after = versions.apply(op, who=context.who, at=context.now())
    except ModelEditError as exc:
        if exc.key == "model_edit.over_100":  # the same refusal as a typed edit's, said of the editor
            return t("webapp.over_100", **exc.params), False
        return t("webapp.refused", why=t(exc.key, **exc.params)), False
    return changed_text(before.state if before else None, after, context), True
