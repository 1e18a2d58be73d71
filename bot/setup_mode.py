"""`kisbot run` before any chat is allowed: a bot that only tells each chat its id, and trades nothing.

Without `TELEGRAM_ALLOWED_CHAT_IDS` nobody may use the bot, yet the owner needs a chat id to set it:
this mode answers every message with that chat's id and the line to set, and opens no KIS client.
"""
from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.settings import BotSettings
from rebalance.i18n import choose, t

log = logging.getLogger(__name__)


def chat_id_answer(chat_id: int, chat_type: str, language_code: str | None, setting: str | None = None) -> str:
    """What setup mode says to a chat: its id, and what to set (with a warning for a group)."""
    lang = choose(language_code, setting)
    answer = t("setup.chat_id", lang, chat_id=chat_id)
    if chat_type in ("group", "supergroup", "channel"):
        answer += "\n" + t("setup.group_warning", lang)
    return answer


def build_setup_app(settings: BotSettings, *, lang_setting: str | None = None) -> Application:
    """An Application whose only handler tells a chat its id; no command reaches KIS."""

    async def tell_id(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return
        log.warning("setup mode: chat %s (%s) asked for its id", chat.id, chat.type)
        await context.bot.send_message(chat.id, chat_id_answer(chat.id, chat.type, user.language_code if user else None,
                                                               lang_setting))

    builder: Any = ApplicationBuilder().token(settings.token)
    if settings.api_base_url:
        builder = builder.base_url(settings.api_base_url)
    if settings.file_base_url:
        builder = builder.base_file_url(settings.file_base_url)
    app = builder.build()
    app.add_handler(MessageHandler(filters.ALL, tell_id))
    return app
