"""The Telegram front end: python-telegram-bot updates onto `BotService`, replies and pushes back.

The Application runs on the main thread (`run_polling` installs signal handlers). KIS calls leave
the event loop through `asyncio.to_thread` in non-blocking handlers, so /cancel never waits behind a
slow /plan; pushes from the TWAP worker reach the loop with `asyncio.run_coroutine_threadsafe`.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import time
from typing import Any, Callable, Iterable

from telegram import (BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, LinkPreviewOptions,
                      ReplyKeyboardMarkup, Update, WebAppInfo)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError
from telegram.ext import (AIORateLimiter, Application, ApplicationBuilder, ApplicationHandlerStop,
                          CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, TypeHandler,
                          filters)

from bot import format as fmt
from bot import progress
from bot.household import Household, command_of, viewer_push
from bot.notifier import Notifier
from bot.reports import PLAN_BUTTON
from bot.redact import protect, redact
from bot.service import BotService, Reply, describe_error
from bot.settings import BotSettings
from bot.lang import ChatLangs
from bot.status_line import StatusLine
from bot.shortcuts import all_labels, command_for, labels
from bot.tg_shortcuts import answer_press, keyboard_markup, press_work
from rebalance.i18n import Lang, choose, t, using

log = logging.getLogger(__name__)

SEND_TIMEOUT = 60.0  # seconds a push may wait for the loop (the rate limiter may hold it)
REFUSAL_INTERVAL = 60.0  # seconds: a stranger's chat hears "this bot is private" at most this often
MAX_REFUSALS = 10  # refusals to all strangers together per REFUSAL_INTERVAL: many strangers are no flood either
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# The command menu, in this order; each description is `menu.<name>` in the catalogues.
COMMANDS = ["price", "balance", "plan", "model", "confirm", "status", "receipt", "cancel", "report", "perf",
            "schedule", "health", "accounts", "use", "notify", "lang", "version", "help"]
MENU_KEYS = {"schedule": "schedule.menu"}  # a command whose description lives in its own catalogue table


def command_menu(lang: Lang) -> list[BotCommand]:
    """The menu Telegram shows beside the text field, in `lang`."""
    return [BotCommand(name, t(MENU_KEYS.get(name, f"menu.{name}"), lang)) for name in COMMANDS]


def markup(reply: Reply) -> Any:
    """The reply's inline buttons, else the Mini App button or the shortcut keyboard it sets, else None."""
    if reply.app and not reply.buttons:  # the Mini App editor: only a reply-keyboard button may sendData back
        return ReplyKeyboardMarkup([[KeyboardButton(t("webapp.button"), web_app=WebAppInfo(reply.app))]],
                                   resize_keyboard=True)
    if reply.keyboard and not reply.buttons:
        return keyboard_markup(reply.keyboard)
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.data) for b in reply.buttons]])


async def send_reply(bot: Any, chat_id: int, reply: Reply) -> int:
    """Send one reply; a message Telegram cannot parse goes again as plain text. Its message id."""
    kwargs = dict(reply_markup=markup(reply), disable_notification=reply.silent)
    try:
        if reply.photo is not None:
            message = await bot.send_photo(chat_id, photo=reply.photo, caption=reply.text,
                                           parse_mode=ParseMode.HTML, **kwargs)
        else:
            message = await bot.send_message(chat_id, reply.text, parse_mode=ParseMode.HTML,
                                             link_preview_options=NO_PREVIEW, **kwargs)
    except BadRequest as exc:  # before NetworkError: a markup error is not retried as it is
        log.warning("Telegram refused HTML (%s); sending plain text", exc.message)
        message = await bot.send_message(chat_id, reply.plain[:fmt.TELEGRAM_LIMIT] or "-", **kwargs)
    return message.message_id


async def send_replies(bot: Any, chat_id: int, replies: Iterable[Reply]) -> list[int]:
    return [await send_reply(bot, chat_id, r) for r in replies]


class TelegramSink:
    """Pushes for the notifier thread: each reply to every allowed chat, through the bot's loop; a `Push` is
    put into words once per language and each chat gets it in its own (`lang_for`)."""

    per_language = True  # bot.notifier: give this sink Pushes, not replies already in words

    def __init__(self, chat_ids: Iterable[int], prefs: Any = None, *, langs: ChatLangs | None = None,
                 lang_setting: str | None = None, viewers: Iterable[int] = ()):
        self.chat_ids = sorted(chat_ids)
        self.viewers = sorted(set(viewers) - set(self.chat_ids))  # read pushes only (bot/household.py viewer_push)
        self.prefs = prefs  # bot.notify.NotifyPrefs: each chat's /notify settings; None sends all as is
        self.bot: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.langs, self.lang_setting = langs, lang_setting
        self._codes: dict[int, str | None] = {}  # chat -> the Telegram language_code its last update had

    def seen(self, chat_id: int, language_code: str | None) -> None:
        """The Telegram language of a chat's latest update (a push has none of its own)."""
        self._codes[chat_id] = language_code

    def lang_for(self, chat_id: int) -> Lang:
        """A chat's language for a push: its /lang, its last update's Telegram language, KISBOT_LANG, English."""
        code = self._codes.get(chat_id)
        if self.langs is not None:
            return self.langs.lang_for(chat_id, code, self.lang_setting)
        return choose(code, self.lang_setting)

    def _in_words(self, reply: Any, chat_id: int, said: dict[Lang, list[Reply]]) -> list[Reply]:
        if isinstance(reply, Reply):
            return [reply]
        lang = self.lang_for(chat_id)
        if lang not in said:
            with using(lang):
                said[lang] = reply.replies()
        return said[lang]

    def attach(self, bot: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.bot, self.loop = bot, loop

    def _run(self, coro) -> Any:
        if self.loop is None:
            coro.close()
            raise RuntimeError("the Telegram loop is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(SEND_TIMEOUT)

    def send(self, reply: Any) -> dict[int, int]:
        """Send a `Reply` or a `Push` (bot.notifier) to every chat; the handle holds each chat's last message."""
        handle = {}
        said: dict[Lang, list[Reply]] = {}
        for chat_id in self.chat_ids + self.viewers:
            for one in self._in_words(reply, chat_id, said):
                if chat_id in self.viewers and (one := viewer_push(one)) is None:
                    continue
                routed = self.prefs.route(chat_id, one) if self.prefs is not None else one
                if routed is None:
                    continue
                try:
                    handle[chat_id] = self._run(send_reply(self.bot, chat_id, routed))
                except (TelegramError, TimeoutError, RuntimeError) as exc:
                    log.error("push to chat %s failed: %s", chat_id, exc)
        return handle

    def send_to(self, chat_id: int, reply: Reply) -> int | None:
        """One reply to one chat (a scheduled offer, made in that chat); its message id, None when it failed."""
        try:
            return self._run(send_reply(self.bot, chat_id, reply))
        except (TelegramError, TimeoutError, RuntimeError) as exc:
            log.error("push to chat %s failed: %s", chat_id, exc)
            return None

    def edit(self, handle: dict[int, int], push: Any) -> None:
        said: dict[Lang, list[Reply]] = {}
        for chat_id, message_id in handle.items():
            reply = self._in_words(push, chat_id, said)[-1]
            try:
                self._run(self.bot.edit_message_text(reply.text, chat_id=chat_id, message_id=message_id,
                                                     parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW))
            except BadRequest as exc:  # e.g. "message is not modified": nothing to redo
                log.info("progress edit in chat %s refused: %s", chat_id, exc.message)
            except (TelegramError, TimeoutError, RuntimeError) as exc:
                log.error("progress edit in chat %s failed: %s", chat_id, exc)


class TelegramBot:
    """Handlers over one service; `build()` makes the Application."""

    def __init__(self, settings: BotSettings, service: BotService, *, notifier: Notifier | None = None,
                 sink: TelegramSink | None = None, monotonic: Callable[[], float] = time.monotonic,
                 pushes: Any = None, langs: ChatLangs | None = None, lang_setting: str | None = None,
                 household: Household | None = None):
        self.settings = settings
        self.household = household  # several accounts: routes each update (its service, pushes are the routed ones)
        self.langs = langs  # each chat's /lang; None: every chat reads its Telegram language
        self.lang_setting = lang_setting  # KISBOT_LANG
        self.service = service
        self.notifier = notifier
        self.sink = sink
        if sink is not None and getattr(sink, "langs", 0) is None and getattr(sink, "lang_setting", 0) is None:
            sink.langs, sink.lang_setting = langs, lang_setting  # pushes speak each chat's language too
        self.pushes = pushes  # bot.pushes.Pushes: startup message, reports, alerts, /health, /notify
        self.monotonic = monotonic
        self._refused_at: dict[int, float] = {}  # stranger chat -> when it was last answered
        self._unanswered: dict[int, int] = {}  # stranger chat -> updates refused silently since then
        self._refusals: collections.deque[float] = collections.deque()  # when the recent refusals went out

    def build(self) -> Application:
        builder = (ApplicationBuilder().token(self.settings.token)
                   .rate_limiter(AIORateLimiter(max_retries=3))
                   .post_init(self._post_init).post_stop(self._post_stop))
        if self.settings.api_base_url:
            builder = builder.base_url(self.settings.api_base_url)
        if self.settings.file_base_url:
            builder = builder.base_file_url(self.settings.file_base_url)
        app = builder.build()
        app.add_handler(TypeHandler(Update, self._gate), group=-1)
        commands = {
            "start": self._start, "help": self._start, "price": self._price, "balance": self._balance,
            "plan": self._plan, "model": self._model, "confirm": self._confirm, "cancel": self._cancel, "status": self._status,
            "accounts": self._accounts, "receipt": self._receipt, "version": self._version,
        }
        if self.pushes is not None:
            commands.update(report=self._report, perf=self._perf, health=self._health, notify=self._notify,
                            schedule=self._schedule)
        if self.langs is not None:
            commands.update(lang=self._lang)
        # New messages only: editing an old "/confirm" must not place orders again.
        new = filters.UpdateType.MESSAGE
        spoken = self._spoken
        self._commands = commands  # a shortcut keyboard press runs one of these (bot/shortcuts.py)
        for name, callback in commands.items():
            app.add_handler(CommandHandler(name, spoken(callback), filters=new, block=False))
        app.add_handler(MessageHandler(new & filters.Document.ALL, spoken(self._document), block=False))
        app.add_handler(MessageHandler(new & filters.StatusUpdate.WEB_APP_DATA, spoken(self._webapp_data),
                                       block=False))
        app.add_handler(CallbackQueryHandler(spoken(self._button), block=False))
        app.add_handler(MessageHandler(new & filters.Text(sorted(all_labels())), spoken(self._shortcut),
                                       block=False))
        app.add_handler(MessageHandler(new & filters.COMMAND, spoken(self._unknown_command)))
        app.add_handler(MessageHandler(new, spoken(self._other)))
        app.add_error_handler(self._on_error)
        return app

    # --- lifecycle ----------------------------------------------------------------------------

    async def _post_init(self, app: Application) -> None:
        if self.sink is not None:
            self.sink.attach(app.bot, asyncio.get_running_loop())
        if self.notifier is not None:
            self.notifier.start()
        try:  # the default menu in KISBOT_LANG's language, and one per language for chats set to it
            await app.bot.set_my_commands(command_menu(choose(self.lang_setting)))
            for lang in Lang:
                await app.bot.set_my_commands(command_menu(lang), language_code=lang.value)
        except TelegramError as exc:
            log.warning("could not set the command menu: %s", exc)
        try:
            replies = await asyncio.to_thread(self.pushes.startup if self.pushes else self.service.resume)
        except Exception as exc:  # the bot must come up anyway, to say so and to take /status, /cancel
            log.exception("resuming the run a restart left active failed")
            replies = [Reply(t("misc_replies.not_resumed", why=describe_error(exc)))]
        if replies:
            if self.pushes is None:
                log.warning("resumed a run left active by a restart")
            for chat_id in sorted(self.settings.allowed_chat_ids):
                try:
                    await send_replies(app.bot, chat_id, replies)
                except TelegramError as exc:
                    log.error("could not tell chat %s about the start or the resumed run: %s", chat_id, exc)
        if self.pushes is not None:  # after the startup message: a report owed today follows it
            self.pushes.start()

    async def _post_stop(self, app: Application) -> None:
        """Deliver queued pushes while the bot can still send; a run left going resumes on the next start."""
        if self.pushes is not None:
            await asyncio.to_thread(self.pushes.stop)
        if self.notifier is not None:
            await asyncio.to_thread(self.notifier.stop)

    # --- the gate -----------------------------------------------------------------------------

    async def _gate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Only allowed chats get past. A stranger hears its chat id at most once a minute, the rest is
        only logged, and the answer goes out beside the queue: the owner never waits behind a flood."""
        chat = update.effective_chat
        if chat is not None and (chat.id in self.settings.allowed_chat_ids or
                                 (self.household is not None and chat.id in self.settings.viewer_chat_ids)):
            return  # a viewer's update goes on to the household, which lets it read only
        user = update.effective_user
        who = chat.id if chat is not None else (user.id if user is not None else 0)
        now = self.monotonic()
        last = self._refused_at.get(who)
        while self._refusals and now - self._refusals[0] >= REFUSAL_INTERVAL:
            self._refusals.popleft()
        if (last is not None and now - last < REFUSAL_INTERVAL) or len(self._refusals) >= MAX_REFUSALS:
            self._unanswered[who] = self._unanswered.get(who, 0) + 1
            log.info("refused update from chat %s (user %s) without an answer", who, user.id if user else "?")
            raise ApplicationHandlerStop
        if len(self._refused_at) > 10_000:  # many strangers: forget those whose minute is over
            self._refused_at = {k: t for k, t in self._refused_at.items() if now - t < REFUSAL_INTERVAL}
        self._refused_at[who] = now
        self._refusals.append(now)
        quiet = self._unanswered.pop(who, 0)
        log.warning("refused update from chat %s (user %s)%s", who, user.id if user else "?",
                    f"; {quiet} more went unanswered since the last refusal" if quiet else "")
        context.application.create_task(self._refuse(update))
        raise ApplicationHandlerStop

    async def _refuse(self, update: Update) -> None:
        chat = update.effective_chat
        if update.callback_query is not None:
            try:
                await update.callback_query.answer(t("misc_replies.not_allowed", self.lang_of(update)))
            except TelegramError:
                pass
        if chat is not None:
            try:
                await update.get_bot().send_message(
                    chat.id, t("misc_replies.private", self.lang_of(update), chat=chat.id))
            except TelegramError as exc:
                log.warning("could not send the refusal to chat %s: %s", chat.id, exc)

    # --- handlers -----------------------------------------------------------------------------

    def lang_of(self, update: object) -> Lang:
        """The language to answer `update` in: the chat's /lang, its Telegram language, KISBOT_LANG, English."""
        if not isinstance(update, Update):
            return choose(self.lang_setting)
        user, chat = update.effective_user, update.effective_chat
        code = user.language_code if user is not None else None
        if chat is not None and hasattr(self.sink, "seen"):
            self.sink.seen(chat.id, code)
        if self.langs is not None and chat is not None:
            return self.langs.lang_for(chat.id, code, self.lang_setting)
        return choose(code, self.lang_setting)

    def _spoken(self, callback: Callable[[Update, Any], Any]) -> Callable[[Update, Any], Any]:
        """`callback` answering in the update's language (a context variable: threads it starts inherit it)."""
        @functools.wraps(callback)
        async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            with using(self.lang_of(update)):
                if self.household is None:
                    return await callback(update, context)
                chat, command, words = command_of(update, context.args)
                route = self.household.route(chat, command, words)  # @label, /use, viewers
                if route.work is not None:  # the household answers: a refusal, /use, /balance all
                    if update.callback_query is not None:
                        await update.callback_query.answer()
                    return await self._answer(update, await asyncio.to_thread(route.work))
                if context.args is not None:
                    context.args = list(route.words)
                with self.household.serving(route):
                    await callback(update, context)
        return handler

    async def _lang(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert self.langs is not None
        user = update.effective_user
        answer = self.langs.command(update.effective_chat.id, list(context.args or ()),
                                    user.language_code if user else None, self.lang_setting)
        with using(self.lang_of(update)):  # the shortcut keyboard in the chat's language from now on
            await self._answer(update, [Reply(answer, keyboard=labels())])

    async def _answer(self, update: Update, replies: list[Reply], line: StatusLine | None = None) -> None:
        """Send the replies; the first takes the place of the status line, where there is one."""
        if line is not None and replies and await line.replace(replies[0], markup(replies[0])) is not None:
            if replies[0].offers:
                self.service.shown(replies[0].offers, update.effective_chat.id)
            replies = replies[1:]
        for reply in replies:
            await send_reply(update.get_bot(), update.effective_chat.id, reply)
            if reply.offers:  # delivered to this chat: from now on a typed /confirm here means this plan
                self.service.shown(reply.offers, update.effective_chat.id)

    async def _slow(self, update: Update, work: Callable[..., list[Reply]], *args: Any, **kwargs: Any) -> None:
        """A command that may take a while: a typing action at once, a status line with its progress,
        then the answer in its place."""
        async with StatusLine(update.get_bot(), update.effective_chat.id) as line:
            with progress.listening(line.listen):
                replies = await asyncio.to_thread(work, *args, **kwargs)
            await self._answer(update, replies, line)

    async def _start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, self.service.help())

    async def _price(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, await asyncio.to_thread(self.service.price, list(context.args or ())))

    async def _balance(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, await asyncio.to_thread(self.service.balance))

    async def _plan(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._slow(update, self.service.plan, list(context.args or ()), chat=update.effective_chat.id)

    async def _model(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = list(context.args or ())
        replies = await asyncio.to_thread(self.service.model, args, chat=update.effective_chat.id)
        await self._answer(update, replies if args else await self._with_editor(update, replies))

    async def _webapp_data(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A Save of the Mini App editor: a /model edit from this chat (never a confirm), then a fresh editor."""
        replies, changed = await asyncio.to_thread(
            self.service.webapp_save, update.effective_message.web_app_data.data, chat=update.effective_chat.id,
            allowed=self.settings.allowed_chat_ids)
        await self._answer(update, await self._with_editor(update, replies) if changed else replies)

    async def _with_editor(self, update: Update, replies: list[Reply]) -> list[Reply]:
        """The Mini App editor's button under `replies` where KISBOT_WEBAPP_URL is set (private chats only)."""
        if not self.settings.webapp_url or update.effective_chat.type != ChatType.PRIVATE:
            return replies
        return await asyncio.to_thread(self.service.with_model_editor, replies, self.settings.webapp_url,
                                       chat=update.effective_chat.id)

    async def _confirm(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        with self._answer_first():
            await self._slow(update, self.service.confirm, list(context.args or ()), chat=update.effective_chat.id)

    def _answer_first(self) -> Any:
        """While a command that may start a run answers, its run's pushes wait: "started" comes first."""
        return self.notifier.held() if self.notifier is not None else contextlib.nullcontext()

    async def _cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, await asyncio.to_thread(self.service.cancel, chat=update.effective_chat.id))

    async def _accounts(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, await asyncio.to_thread(self.service.accounts))

    async def _status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, await asyncio.to_thread(self.service.status, chat=update.effective_chat.id))

    async def _receipt(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, await asyncio.to_thread(self.service.receipt))

    async def _version(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, self.service.version())

    async def _shortcut(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press on the shortcut keyboard (its label as text): that command, as if typed bare."""
        name = command_for(update.effective_message.text or "") or ""
        callback = self._commands.get(name)
        if callback is None:  # e.g. /report on a bot started without pushes
            await self._answer(update, self.service.unknown(f"/{name}"))
            return
        await callback(update, context)

    async def _report(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._slow(update, self.pushes.report)

    async def _perf(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._slow(update, self.pushes.perf, list(context.args or ()))

    async def _schedule(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, await asyncio.to_thread(self.pushes.schedule, list(context.args or ())))

    async def _health(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, await asyncio.to_thread(self.pushes.health))

    async def _notify(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update, self.pushes.notify(update.effective_chat.id, list(context.args or ())))

    async def _document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An .xlsx at any time, with or without a /plan caption: checked, fetched, planned."""
        document = update.effective_message.document
        # Numbered on arrival, before any await: a slower plan of an earlier file is never offered later.
        ticket = self.service.file_received(update.effective_chat.id)
        refusal = self.service.check_document(document.file_name, document.file_size, ticket)
        if refusal:
            await self._answer(update, refusal)
            return
        async with StatusLine(update.get_bot(), update.effective_chat.id) as line:  # typing during the download
            try:
                file = await document.get_file()
                data = bytes(await file.download_as_bytearray())
            except BaseException:
                self.service.file_answered(ticket)
                raise
            words = (update.effective_message.caption or "").split()  # "/plan buy 500000" as the caption
            with progress.listening(line.listen):
                replies = await asyncio.to_thread(self.service.plan_file, data, document.file_name or "",
                                                  ticket, words)
            await self._answer(update, replies, line)

    async def _button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        action, _, ident = (query.data or "").partition(":")
        chat = update.effective_chat.id  # a button runs (or drops) only a plan offered in its own chat
        pressed = press_work(self.service, action, ident, chat)  # Refresh or Full receipt
        if pressed is not None:
            await answer_press(query, action, await asyncio.to_thread(pressed), markup=markup,
                               send=lambda r: send_reply(update.get_bot(), chat, r))
            return
        await query.answer()
        if action == "confirm":
            work: Callable[[], list[Reply]] = lambda: self.service.confirm((), ident, chat=chat)
        elif action == "cancel":
            work = lambda: self.service.cancel(ident, chat=chat)
        elif action == "stop":
            work = lambda: self.service.stop(ident, chat=chat)
        elif action == PLAN_BUTTON and self.pushes is not None:
            work = lambda: self.pushes.band_plan(ident, chat)
        else:
            work = lambda: [Reply(t("menu.invalid_button"))]
        # Confirm may plan again (expired prices) and the band button plans: both show a status line.
        with self._answer_first() if action == "confirm" else contextlib.nullcontext():
            async with StatusLine(update.get_bot(), update.effective_chat.id) as line:
                with progress.listening(line.listen):
                    replies = await asyncio.to_thread(work)
                await self._remove_buttons(query)
                await self._answer(update, replies, line)

    async def _remove_buttons(self, query: Any) -> None:
        try:  # a pressed offer is spent: its buttons go, so it cannot be pressed again by mistake
            await query.edit_message_reply_markup(reply_markup=None)
        except BadRequest as exc:
            log.info("could not remove buttons: %s", exc.message)

    async def _unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        command = (update.effective_message.text or "").split()[0]
        await self._answer(update, self.service.unknown(command))

    async def _other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            await self._answer(update, self.service.text(update.effective_message.text or ""))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every handler error: a log line with the cause, and one short sentence to the user."""
        error = context.error
        if isinstance(error, BadRequest):
            log.error("Telegram refused a request: %s", error.message)
        elif isinstance(error, Forbidden):
            log.error("Telegram forbids this chat: %s", error.message)
            return
        elif isinstance(error, NetworkError):
            log.error("Telegram unreachable: %s", error.message)
            return  # the answer would not get through either
        else:
            log.error("handler failed", exc_info=error)
        if isinstance(update, Update) and update.effective_chat is not None \
                and update.effective_chat.id in self.settings.allowed_chat_ids:
            try:
                with using(self.lang_of(update)):
                    sentence = describe_error(error)
                await context.bot.send_message(update.effective_chat.id, Reply(sentence).text,
                                               parse_mode=ParseMode.HTML)
            except TelegramError as exc:
                log.error("could not report the error to the chat: %s", exc)


class _StartFailureSaidOnce(logging.Filter):
    """PTB logs a failed start with its traceback before raising; `run` says it in one sentence instead.

    An answer that is not JSON (a web page at TELEGRAM_API_BASE_URL) is logged by PTB with its
    JSONDecodeError traceback: before the bot has started that is dropped, later kept as one line."""

    def __init__(self):
        super().__init__()
        self.started = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Network Retry Loop (Bootstrap") and "Aborting" in message:
            return False
        if message.startswith("Can not load invalid JSON data"):
            if not self.started:
                return False
            record.msg, record.args = message[:160], None
            record.exc_info, record.exc_text = None, None
        return True


# The update types the handlers above take: new messages (commands, files, text) and button presses.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]


def run_setup_mode(settings: BotSettings, source: Any) -> int:
    """`kisbot run` with no allowed chat: tell each chat its id until Ctrl-C; no KIS client is opened."""
    from bot.setup_mode import build_setup_app
    from kis.errors import ConfigError
    from rebalance.i18n import choose, t

    protect(settings.token)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    lang_setting = source.get("KISBOT_LANG")
    app = build_setup_app(settings, lang_setting=lang_setting)
    print(t("setup.started", choose(lang_setting)), flush=True)
    try:
        app.run_polling(allowed_updates=["message"])
    except InvalidToken:
        raise ConfigError(t("misc_replies.bad_token")) from None
    return 0


def run(args: Any) -> int:
    """`kisbot run`: poll Telegram with the configured token, account and journal until Ctrl-C."""
    from kis import load_kis_config
    from kis.config import Source
    from kis.files import private_dir
    from kis.errors import ConfigError
    from bot.notify import NotifyPrefs
    from bot.household import open_household
    from kis.config import data_dir
    from bot.settings import load_bot_settings
    from bot.settings import load_report_at
    from bot.logs import log_to_data_dir
    from rebalance.i18n import t

    source = Source()
    settings = load_bot_settings(source, require_chats=False)  # ConfigError: no token -> one line, exit 2
    if not settings.allowed_chat_ids:
        return run_setup_mode(settings, source)
    load_report_at(source)  # ConfigError: a malformed KISBOT_REPORT_AT stops start-up before any call
    load_kis_config(source)  # a missing or bad account setting is one sentence before anything starts
    base = private_dir(data_dir(source))  # an unusable data dir is one sentence before anything reads or writes there
    log_to_data_dir(base)  # before protect(), which masks secrets on every root handler
    protect(settings.token)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request, each with the token in its URL
    prefs = NotifyPrefs.in_dir(base)
    sink = TelegramSink(settings.allowed_chat_ids, prefs, viewers=settings.viewer_chat_ids)
    langs = ChatLangs.in_dir(base)
    # one service, notifier, notice stream and pushes per account (bot/household.py)
    household = open_household(source, sink=sink, data_dir=base, viewers=settings.viewer_chat_ids, prefs=prefs,
                               chats=tuple(sorted(settings.allowed_chat_ids)),
                               lang_for=lambda chat: langs.lang_for(chat, None, source.get("KISBOT_LANG")))
    app = TelegramBot(settings, household.service, notifier=household.notifier, sink=sink, pushes=household.pushes,
                      household=household, langs=langs, lang_setting=source.get("KISBOT_LANG")).build()
    init = app.post_init

    async def announce(app: Application) -> None:  # once Telegram has accepted the token
        await init(app)
        said_once.started = True
        print(t("start_lines.polling", n=len(settings.allowed_chat_ids)), flush=True)

    app.post_init = announce
    said_once = _StartFailureSaidOnce()
    logging.getLogger("telegram.ext").addFilter(said_once)
    logging.getLogger("telegram.request.BaseRequest").addFilter(said_once)  # a logger's filter skips its children
    where = settings.api_base_url or "api.telegram.org"
    try:
        app.run_polling(allowed_updates=ALLOWED_UPDATES)
    except InvalidToken:  # its text carries the token
        raise ConfigError(t("misc_replies.bad_token")) from None
    except NetworkError as exc:  # TimedOut too: Telegram was not reachable at start
        raise ConfigError(t("start_lines.unreachable", where=redact(where), why=redact(exc.message))) from None
    except TelegramError as exc:  # e.g. "Invalid server response": a web page, not the Bot API
        raise ConfigError(t("errors.telegram_not_bot_api", where=redact(where), why=redact(exc.message))) from None
    finally:
        household.close()  # unsubscribes every stream: KIS allows one session per app key
    return 0
