"""Which language each chat reads: its `/lang ko|en` if set (kept in `lang.json` in the data dir), else
its Telegram `language_code`, else KISBOT_LANG, else English (`rebalance.i18n.choose`); the console and
the CLI, which have no chat, follow KISBOT_LANG, else the locale (LC_ALL, LC_MESSAGES, LANG)."""
from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Mapping, Sequence

from kis.files import write_private
from rebalance.i18n import Lang, choose, parse_lang, t, using

log = logging.getLogger(__name__)

LANG_FILE = "lang.json"


def terminal_lang(setting: str | None = None, environ: Mapping[str, str] = os.environ) -> Lang:
    """The console's and CLI's language: KISBOT_LANG (`setting`), else the locale, else English."""
    return choose(setting, *(environ.get(name) for name in ("LC_ALL", "LC_MESSAGES", "LANG")))


class ChatLangs:
    """The language each chat chose with /lang; thread-safe, the file replaced atomically."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._chosen = self._load()

    @classmethod
    def in_dir(cls, data_dir: str | Path) -> "ChatLangs":
        return cls(Path(data_dir) / LANG_FILE)

    def _load(self) -> dict[int, Lang]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {int(chat): lang for chat, value in data.items() if (lang := parse_lang(str(value)))}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, AttributeError, TypeError):
            log.warning("%s is unreadable; every chat reads its Telegram language", self.path.name)
            return {}

    def get(self, chat_id: int) -> Lang | None:
        with self._lock:
            return self._chosen.get(chat_id)

    def set(self, chat_id: int, lang: Lang) -> None:
        with self._lock:
            self._chosen[chat_id] = lang
            write_private(self.path, json.dumps({str(c): v.value for c, v in self._chosen.items()}))

    def lang_for(self, chat_id: int, language_code: str | None, setting: str | None) -> Lang:
        """The chat's language: its /lang, its Telegram language_code, KISBOT_LANG, English."""
        return choose(self.get(chat_id), language_code, setting)

    def command(self, chat_id: int, args: Sequence[str], language_code: str | None,
                setting: str | None) -> str:
        """`/lang` says the chat's language and why; `/lang ko|en` sets it (answered in the new language)."""
        words = [a.strip() for a in args if a.strip()]
        if not words:
            how = ("how_chat" if self.get(chat_id) else "how_telegram" if parse_lang(language_code)
                   else "how_setting" if parse_lang(setting) else "how_default")
            return t("lang.now", how=t(f"lang.{how}"))
        lang = parse_lang(words[0]) if len(words) == 1 else None
        if lang is None:
            return t("lang.unknown", given=" ".join(words)[:20])
        self.set(chat_id, lang)
        with using(lang):
            return t("lang.set")
