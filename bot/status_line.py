"""Telegram's answer to a slow command: a typing action at once, one status line, then the answer.

`StatusLine` is opened by a handler before any work (the file download included): it sends the chat
action, shows the service's progress (`bot.progress`) as one message edited at most once a
`interval`, and `deliver` replaces that message with the answer (edited into its first text
message, or deleted when the answer starts with a picture). The service never knows about it.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Callable

from telegram import LinkPreviewOptions
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError

from bot.progress import Progress, progress_text

log = logging.getLogger(__name__)

EDIT_INTERVAL = 1.0  # seconds between edits of the status line: Telegram's pace for one chat
TYPING_RENEW = 4.5  # seconds: Telegram shows a chat action for about 5


class StatusLine:
    """One chat's status line for one command; `listen` may be called from any thread."""

    def __init__(self, bot: Any, chat_id: int, *, interval: float = EDIT_INTERVAL,
                 monotonic: Callable[[], float] = time.monotonic):
        self.bot, self.chat_id, self.interval, self.monotonic = bot, chat_id, interval, monotonic
        self.message_id: int | None = None
        self.edits = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._latest: Progress | None = None
        self._shown = ""
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._closing = False

    async def __aenter__(self) -> "StatusLine":
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._pump())  # copies the context: the line speaks the chat's language
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._stop()
        if self.message_id is not None and exc[0] is not None:  # the handler failed: the error handler says why
            await self._delete()

    def listen(self, progress: Progress) -> None:
        """The service's progress (from its worker thread): shown on the loop, the newest wins."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._update, progress)

    def _update(self, progress: Progress) -> None:
        self._latest = progress
        assert self._wake is not None
        self._wake.set()

    async def _pump(self) -> None:
        assert self._wake is not None
        await self._typing()
        last = float("-inf")
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), TYPING_RENEW)
            except asyncio.TimeoutError:
                await self._typing()
                continue
            if self._closing:
                return
            if self.message_id is not None:  # edits at most once an interval; the newest progress then
                await asyncio.sleep(max(0.0, last + self.interval - self.monotonic()))
                if self._closing:
                    return
            self._wake.clear()
            text = progress_text(self._latest) if self._latest is not None else ""
            if not text or text == self._shown:
                continue
            try:
                if self.message_id is None:
                    message = await self.bot.send_message(self.chat_id, text)
                    self.message_id = message.message_id
                else:
                    await self.bot.edit_message_text(text, chat_id=self.chat_id, message_id=self.message_id)
                    self.edits += 1
                self._shown = text
            except TelegramError as exc:  # a status line is a nicety: the answer still comes
                log.info("status line in chat %s: %s", self.chat_id, exc)
            last = self.monotonic()

    async def _typing(self) -> None:
        try:
            await self.bot.send_chat_action(self.chat_id, ChatAction.TYPING)
        except TelegramError as exc:
            log.info("chat action in chat %s: %s", self.chat_id, exc)

    async def _stop(self) -> None:
        """No more edits; an edit or send under way finishes first, so its message id is known."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _delete(self) -> None:
        message_id, self.message_id = self.message_id, None
        if message_id is None:
            return
        try:
            await self.bot.delete_message(self.chat_id, message_id)
        except TelegramError as exc:
            log.info("could not delete the status line in chat %s: %s", self.chat_id, exc)

    async def replace(self, reply: Any, markup: Any) -> int | None:
        """Turn the status line into `reply` (a text reply); its message id, or None when there was no
        line or the edit failed (then the line is gone and the caller sends `reply` itself)."""
        await self._stop()
        if self.message_id is None:
            return None
        if reply.photo is not None:
            await self._delete()
            return None
        message_id = self.message_id
        try:
            await self.bot.edit_message_text(reply.text, chat_id=self.chat_id, message_id=message_id,
                                             parse_mode=ParseMode.HTML, reply_markup=markup,
                                             link_preview_options=LinkPreviewOptions(is_disabled=True))
        except BadRequest as exc:
            log.info("could not turn the status line into the answer: %s", exc.message)
            await self._delete()
            return None
        except TelegramError as exc:
            log.info("could not turn the status line into the answer: %s", exc)
            await self._delete()
            return None
        self.message_id = None
        return message_id
