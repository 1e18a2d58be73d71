"""Per-chat notification settings (`/notify`): fills on|silent|off, reports on|off; errors always ring.

Kept in `notify.json` in the data dir, so they survive restarts. `route` applies a chat's settings
to one push.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from bot.service import Reply
from kis.files import write_private
from rebalance.i18n import t

log = logging.getLogger(__name__)

NOTIFY_FILE = "notify.json"
FILLS = ("on", "silent", "off")
REPORTS = ("on", "off")
RINGING = ("alert", "error")  # kinds that always ring, whatever the chat chose


@dataclass(frozen=True)
class ChatPrefs:
    fills: str = "silent"  # fills arrive in silent batches unless asked otherwise
    reports: str = "on"


def route(prefs: ChatPrefs, reply: Reply) -> Reply | None:
    """The push as this chat wants it: None when it is off, with or without sound."""
    if reply.kind in RINGING:
        return dataclasses.replace(reply, silent=False)
    if reply.kind == "fills":
        if prefs.fills == "off":
            return None
        return dataclasses.replace(reply, silent=prefs.fills == "silent")
    if reply.kind == "report" and prefs.reports == "off":
        return None
    return reply


class NotifyPrefs:
    """Settings per chat id; reads and writes are thread-safe, the file is replaced atomically."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._prefs = self._load()

    @classmethod
    def in_dir(cls, data_dir: str | Path) -> "NotifyPrefs":
        return cls(Path(data_dir) / NOTIFY_FILE)

    def _load(self) -> dict[int, ChatPrefs]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {int(chat): ChatPrefs(fills=v.get("fills", "silent"), reports=v.get("reports", "on"))
                    for chat, v in data.items()
                    if v.get("fills", "silent") in FILLS and v.get("reports", "on") in REPORTS}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, AttributeError, TypeError):
            log.warning("%s is unreadable; every chat has the default notifications", self.path.name)
            return {}

    def get(self, chat_id: int) -> ChatPrefs:
        with self._lock:
            return self._prefs.get(chat_id, ChatPrefs())

    def set(self, chat_id: int, **changes: str) -> ChatPrefs:
        with self._lock:
            prefs = dataclasses.replace(self._prefs.get(chat_id, ChatPrefs()), **changes)
            self._prefs[chat_id] = prefs
            self._save()
            return prefs

    def route(self, chat_id: int, reply: Reply) -> Reply | None:
        return route(self.get(chat_id), reply)

    def _save(self) -> None:
        data = {str(chat): dataclasses.asdict(p) for chat, p in self._prefs.items()}
        write_private(self.path, json.dumps(data))

    def command(self, chat_id: int, args: Sequence[str]) -> list[Reply]:
        """`/notify [fills on|silent|off] [reports on|off]`: change what is given, then show all."""
        words = [a.strip().lower() for a in args if a.strip()]
        changes: dict[str, str] = {}
        while words:
            if len(words) < 2:
                return [Reply(t("misc_replies.notify_usage"))]
            what, value, words = words[0], words[1], words[2:]
            what = {"fill": "fills", "report": "reports"}.get(what, what)  # the reply says "daily report"
            allowed = {"fills": FILLS, "reports": REPORTS}.get(what)
            if allowed is None or value not in allowed or what in changes:
                return [Reply(t("misc_replies.notify_usage"))]
            changes[what] = value
        prefs = self.set(chat_id, **changes) if changes else self.get(chat_id)
        return [Reply(t("misc_replies.notify_set" if changes else "misc_replies.notify_now",
                        fills=t(f"misc_replies.fills_{prefs.fills}"), reports=t(f"misc_replies.reports_{prefs.reports}")))]
