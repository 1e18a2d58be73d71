"""Every sentence a user reads, in Korean and English: one catalogue per language, looked up by key.

The catalogues are `rebalance/locales/en.toml` and `ko.toml` (TOML tables group keys by area:
`[plan] header = "..."` is the key `plan.header`). A sentence takes named fields in `str.format` style
(`"{n} stocks"`); both catalogues must hold the same keys with the same fields
(`tests/test_i18n.py`). The language of the moment is a context variable: a front end sets it around
each update (`with using(lang): ...`), `asyncio.to_thread` carries it into worker threads, and `t()`
reads it, so the code between needs no language argument. A push made outside any update (the TWAP
worker, the daily report) names its chat's language with `using()` where it is rendered.
"""
from __future__ import annotations

import contextvars
import tomllib
from contextlib import contextmanager
from enum import StrEnum
from functools import cache
from importlib import resources
from string import Formatter
from typing import Any, Iterator, Mapping


class Lang(StrEnum):
    """A language kisbot speaks; its value is the catalogue's file name and a Telegram language_code."""

    EN = "en"
    KO = "ko"


DEFAULT = Lang.EN
_current: contextvars.ContextVar[Lang] = contextvars.ContextVar("kisbot_lang", default=DEFAULT)


def parse_lang(text: str | None) -> Lang | None:
    """`ko`, `ko-KR`, `ko_KR.UTF-8`, `KO` -> Lang.KO; anything kisbot does not speak -> None."""
    if not text:
        return None
    head = text.strip().lower().replace("_", "-").split("-")[0].split(".")[0]
    return next((lang for lang in Lang if lang.value == head), None)


def choose(*candidates: str | Lang | None) -> Lang:
    """The first candidate kisbot speaks, else English: pass the chat's /lang, its Telegram
    language_code, then KISBOT_LANG (or the locale), in that order."""
    for candidate in candidates:
        lang = candidate if isinstance(candidate, Lang) else parse_lang(candidate)
        if lang is not None:
            return lang
    return DEFAULT


def current() -> Lang:
    """The language of the update or push being answered now."""
    return _current.get()


@contextmanager
def using(lang: Lang | str | None) -> Iterator[Lang]:
    """Within the block, `t()` speaks `lang` (an unknown or empty one means English)."""
    chosen = choose(lang)
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


@cache
def catalogue(lang: Lang) -> Mapping[str, str]:
    """The flat key -> sentence table of `lang`, read once from its TOML file."""
    raw = tomllib.loads(resources.files("rebalance.locales").joinpath(f"{lang.value}.toml").read_text("utf-8"))
    return dict(_flatten(raw))


def _flatten(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            yield from _flatten(value, key + ".")
        else:
            yield key, str(value)


def fields(sentence: str) -> frozenset[str]:
    """The named fields a sentence takes (`{n}`, `{amount:,}` -> n, amount)."""
    return frozenset(name.split(".")[0].split("[")[0] for _, name, _, _ in Formatter().parse(sentence) if name)


def t(key: str, /, lang: Lang | None = None, **params: Any) -> str:
    """The sentence `key` in `lang` (default: the current language) with its fields filled in.

    A key missing from a catalogue is a bug the catalogue test catches; at run time it falls back to
    English, then to the key itself, so a user always reads something."""
    lang = lang or current()
    sentence = catalogue(lang).get(key) or catalogue(DEFAULT).get(key) or key
    return sentence.format(**params) if params else sentence


class Msg:
    """A sentence not yet put into words: rendered in the language current where it is shown.

    For text made in one thread or update and read in another (a plan note, an event's reason).
    `str(msg)` renders it in the current language."""

    __slots__ = ("key", "params")

    def __init__(self, key: str, /, **params: Any) -> None:
        self.key, self.params = key, params

    def render(self, lang: Lang | None = None) -> str:
        params = {k: (v.render(lang) if isinstance(v, Msg) else v) for k, v in self.params.items()}
        return t(self.key, lang, **params)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Msg({self.key!r}, **{self.params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Msg) and (self.key, self.params) == (other.key, other.params)

    def __hash__(self) -> int:
        return hash((self.key, tuple(sorted(self.params))))
