"""The shortcut keyboard and the buttons that re-ask a command: labels, callback data, and back to commands.

One place maps each label (in every language kisbot speaks: a chat keeps its keyboard after `/lang`)
to the command it runs, and each Refresh / Full receipt button's data to the command a console types.
Telegram-free: `bot/telegram.py` turns `labels()` into a reply keyboard, `bot/console.py` prints them.
"""
from __future__ import annotations

from functools import cache

from rebalance.i18n import Lang, t

# The commands on the keyboard, in its order (two rows of two).
SHORTCUTS = ("balance", "status", "report", "plan")
KEYS_PER_ROW = 2
REFRESH = "refresh"  # callback data `refresh:<command>`: run the command again, answer in the same message
RECEIPT = "receipt"  # callback data `receipt:<run id>`: the full receipt of that run
REFRESHABLE = ("status", "balance")


def label(command: str, lang: Lang | None = None) -> str:
    """The keyboard label of `command` in `lang` (default: the current language)."""
    return t(f"shortstatus.key_{command}", lang)


def labels(lang: Lang | None = None) -> tuple[str, ...]:
    """The keyboard's labels in `lang`, in keyboard order."""
    return tuple(label(c, lang) for c in SHORTCUTS)


def rows(keys: tuple[str, ...]) -> list[list[str]]:
    """The labels laid out as the keyboard's rows."""
    return [list(keys[i:i + KEYS_PER_ROW]) for i in range(0, len(keys), KEYS_PER_ROW)]


@cache
def _by_label() -> dict[str, str]:
    return {label(c, lang): c for lang in Lang for c in SHORTCUTS}


def all_labels() -> frozenset[str]:
    """Every label in every language: the texts a press of the keyboard can send."""
    return frozenset(label(c, lang) for lang in Lang for c in SHORTCUTS)


def command_for(text: str) -> str | None:
    """The command (`"balance"`, without the slash) a keyboard label stands for, in any language; else None.
    A label exactly (spaces aside), as a keyboard press sends it: typed words are not guessed at."""
    return _by_label().get(" ".join(text.split()))


def refresh_data(command: str) -> str:
    """The Refresh button's data for `command` (one of REFRESHABLE)."""
    if command not in REFRESHABLE:
        raise ValueError(f"{command} has no Refresh button")
    return f"{REFRESH}:{command}"


def receipt_data(run_id: str) -> str:
    return f"{RECEIPT}:{run_id}"


def typed(data: str) -> str | None:
    """The command a console types for a button's data (`refresh:status` -> `/status`), or None."""
    action, _, ident = data.partition(":")
    if action == REFRESH and ident in REFRESHABLE:
        return f"/{ident}"
    if action == RECEIPT:
        return "/receipt"
    return None
