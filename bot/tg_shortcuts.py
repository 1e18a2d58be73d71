"""Telegram's side of the shortcut keyboard and of the Refresh / Full receipt buttons (bot/shortcuts.py).

A reply keyboard is set by a sent message (never by an edit: Telegram edits take inline keyboards only)
and stays under the text field; a press sends its label as text. A Refresh press asks its command again
and edits the pressed message into the answer; a Full receipt press sends the receipt below it.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Sequence

from telegram import KeyboardButton, LinkPreviewOptions, ReplyKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.shortcuts import RECEIPT, REFRESH, REFRESHABLE, rows
from rebalance.i18n import t

log = logging.getLogger(__name__)


def keyboard_markup(labels: Sequence[str]) -> ReplyKeyboardMarkup:
    """The persistent shortcut keyboard with `labels`, two to a row, sized to its buttons."""
    return ReplyKeyboardMarkup([[KeyboardButton(label) for label in row] for row in rows(tuple(labels))],
                               resize_keyboard=True, is_persistent=True)


def press_work(service: Any, action: str, ident: str, chat: int) -> Callable[[], list] | None:
    """What a Refresh or Full receipt press runs on the service, or None for any other button."""
    if action == REFRESH and ident in REFRESHABLE:
        return (lambda: service.status(chat=chat)) if ident == "status" else service.balance
    if action == RECEIPT:
        return lambda: service.receipt(ident or None)
    return None


async def answer_press(query: Any, action: str, replies: list, *, markup: Callable[[Any], Any],
                       send: Callable[[Any], Awaitable[Any]]) -> None:
    """Refresh: the pressed message becomes the first reply (the rest follow it); unchanged, a short notice;
    an error is sent below, the old view stays. Full receipt: sent below, the pressed message keeps its buttons."""
    notice = None
    # A fresh view carries its own Refresh; an answer without one (KIS did not answer) goes below the old view.
    fresh = any(b.data.startswith(f"{REFRESH}:") for r in replies for b in r.buttons)
    if action == REFRESH and fresh and replies[0].photo is None and not replies[0].keyboard:
        first = replies[0]
        try:
            await query.edit_message_text(first.text, parse_mode=ParseMode.HTML, reply_markup=markup(first),
                                          link_preview_options=LinkPreviewOptions(is_disabled=True))
            replies = replies[1:]
        except BadRequest as exc:
            if "not modified" in exc.message.lower():
                notice, replies = t("shortstatus.unchanged"), replies[1:]
            else:  # e.g. the message is gone: the answer comes as a new one
                log.info("could not refresh the message in place: %s", exc.message)
    try:
        await query.answer(notice)
    except TelegramError as exc:  # a late answer to the press; the chat has the reply anyway
        log.info("could not answer the button press: %s", exc)
    for reply in replies:
        await send(reply)
