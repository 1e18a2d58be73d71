"""Runs the real Telegram front end (`run_polling`, post_init, handlers) in a thread against FakeBotApi."""
from __future__ import annotations

import asyncio
import threading

from bot.notifier import Notifier
from bot.settings import BotSettings
from bot.telegram import ALLOWED_UPDATES, TelegramBot, TelegramSink
from fake_bot_api import FakeBotApi

OWNER = 4242
STRANGER = 6666


def chat_texts(api: FakeBotApi, chat: int = OWNER) -> list[str]:
    """The text of every message, photo caption and text edit the bot sent to `chat`, oldest first
    (a status line is edited into the answer's first message)."""
    return [c.text for c in api.calls_to("sendMessage", "sendPhoto", "editMessageText", chat_id=chat)]


class BotRunner:
    """`start()` polls until `stop()`; what the bot did is in `api.calls`.

    `service` is a BotService or a callable taking the notifier's `on_event` and returning one.
    """

    def __init__(self, api: FakeBotApi, service, *, allowed=(OWNER,), notifier_clock=None,
                 batch_seconds: float = 0.05, min_gap_seconds: float = 0.05, prefs=None, pushes=None,
                 **bot_options):
        self.api = api
        self.bot_options = bot_options  # more TelegramBot keywords (e.g. monotonic)
        self.settings = BotSettings(token=api.token, allowed_chat_ids=frozenset(allowed),
                                    api_base_url=api.base_url, file_base_url=api.base_file_url)
        self.sink = TelegramSink(self.settings.allowed_chat_ids, prefs)
        kwargs = {"clock": notifier_clock} if notifier_clock else {}
        self.notifier = Notifier(self.sink, batch_seconds=batch_seconds, min_gap_seconds=min_gap_seconds, **kwargs)
        # A callable builds the service around the notifier (the real executor needs `on_event`).
        self.service = service(self.notifier.on_event) if callable(service) else service
        # `pushes(service, notifier)` builds the startup message, reports, alerts and /notify, as `kisbot run` does.
        self.pushes = pushes(self.service, self.notifier) if pushes else None
        self.app = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None

    def start(self) -> "BotRunner":
        self._thread = threading.Thread(target=self._main, name="tg-bot", daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise AssertionError(f"bot did not start: {self.error!r}")
        return self

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced by start()/stop()
            self.error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        """What `run_polling` does, step by step, minus signal handlers, so a test can stop it."""
        self._stop = asyncio.Event()
        bot = TelegramBot(self.settings, self.service, notifier=self.notifier, sink=self.sink, pushes=self.pushes,
                          **self.bot_options)
        self.app = app = bot.build()
        await app.initialize()
        await app.post_init(app)
        await app.updater.start_polling(poll_interval=0.0, timeout=5, allowed_updates=ALLOWED_UPDATES)
        await app.start()
        self._ready.set()
        await self._stop.wait()
        await app.updater.stop()
        await app.stop()
        await app.post_stop(app)
        await app.shutdown()

    def stop(self) -> None:
        if self._loop is not None and not self._loop.is_closed() and hasattr(self, "_stop"):
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(20)
        if self.error:
            raise self.error

    def finish(self) -> None:
        """Cancel the service's run (waiting up to 10 s for it to end), then stop polling."""
        self.service.executor.cancel()
        self.service.executor.wait(10)
        self.stop()

    def __enter__(self) -> "BotRunner":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
