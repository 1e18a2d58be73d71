"""A push (a fill, the progress line, the daily report) reaches each allowed chat in that chat's language:
the Telegram sink puts it into words once per language, not once for all chats."""
from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest

from bot.lang import ChatLangs
from bot.notifier import Notifier, Push
from bot.service import Reply
from bot.telegram import TelegramSink
from bot_fakes import T0
from kis.models import OrderSide
from rebalance.events import Filled, Finished, RunStarted
from rebalance.i18n import Lang, t

KO_CHAT, EN_CHAT = 111, 222


def hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


class FakeBot:
    """What the sink asked Telegram to send or edit, per chat."""

    def __init__(self):
        self.sent: dict[int, list[str]] = {}
        self.edited: dict[int, list[str]] = {}
        self._next = 0

    async def send_message(self, chat_id, text, **_):
        self.sent.setdefault(chat_id, []).append(text)
        self._next += 1
        return SimpleNamespace(message_id=self._next)

    async def send_photo(self, chat_id, photo, caption, **_):
        return await self.send_message(chat_id, caption)

    async def edit_message_text(self, text, chat_id, message_id, **_):
        self.edited.setdefault(chat_id, []).append(text)


@pytest.fixture
def sink(tmp_path):
    langs = ChatLangs.in_dir(tmp_path)
    langs.set(KO_CHAT, Lang.KO)  # the Korean chat chose /lang ko; the other never did
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    sink = TelegramSink([KO_CHAT, EN_CHAT], langs=langs)
    sink.attach(FakeBot(), loop)
    yield sink
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def run_started():
    return RunStarted("r1", "p1", T0, T0.replace(hour=11), slices=10, resumed=False)


def test_a_fill_reaches_a_korean_chat_in_korean_and_an_english_chat_in_english(sink):
    notifier = Notifier(sink, batch_seconds=0, min_gap_seconds=0)
    notifier.handle(run_started())
    notifier.handle(Filled("r1", "005930", "삼성전자", OrderSide.BUY, 1, 71_000, done_qty=1, order_qty=10,
                           progress=0.1))
    notifier.flush()
    ko, en = sink.bot.sent[KO_CHAT], sink.bot.sent[EN_CHAT]
    assert len(ko) == len(en) == 2  # the progress message and the fills
    assert t("fills.title", Lang.KO) in ko[1] and t("fills.title", Lang.EN) in en[1]
    assert t("notify.running", Lang.KO) in ko[0] and t("notify.running", Lang.EN) in en[0]
    assert not hangul(en[0].replace("삼성전자", ""))


def test_the_progress_edit_and_the_summary_follow_each_chats_language(sink):
    notifier = Notifier(sink, batch_seconds=0, min_gap_seconds=0)
    notifier.handle(run_started())
    notifier.handle(Finished("r1", ()))
    assert t("notify.word_finished", Lang.KO) in sink.bot.edited[KO_CHAT][-1]
    assert t("notify.word_finished", Lang.EN) in sink.bot.edited[EN_CHAT][-1]
    assert t("notify.finished", Lang.KO) in sink.bot.sent[KO_CHAT][-1]
    assert t("notify.finished", Lang.EN) in sink.bot.sent[EN_CHAT][-1]


def test_a_chat_without_lang_reads_pushes_in_the_telegram_language_of_its_last_update(sink):
    sink.seen(EN_CHAT, "ko-KR")  # its user's Telegram is Korean
    sink.send(Push(lambda: Reply(t("service_replies.no_run", hint=""))))
    assert sink.bot.sent[EN_CHAT] == [t("service_replies.no_run", Lang.KO, hint="")]


def test_a_push_is_put_into_words_once_per_language_not_once_per_chat(tmp_path, sink):
    calls = []

    def render():
        calls.append(1)
        return [Reply(t("service_replies.nothing_to_cancel"), kind="report")]

    sink.chat_ids = [KO_CHAT, EN_CHAT, 333]  # 333 reads English too
    sink.send(Push(render, kind="report"))
    assert len(calls) == 2
    assert sink.bot.sent[KO_CHAT] == [t("service_replies.nothing_to_cancel", Lang.KO)]
    assert sink.bot.sent[333] == sink.bot.sent[EN_CHAT] == [t("service_replies.nothing_to_cancel", Lang.EN)]


def test_a_reply_already_in_words_goes_to_every_chat_as_it_is(sink):
    sink.send(Reply("kisbot 0.1"))
    assert sink.bot.sent[KO_CHAT] == sink.bot.sent[EN_CHAT] == ["kisbot 0.1"]


def test_the_consoles_pushes_follow_the_sessions_language_not_the_notifier_threads():
    import io
    import threading as th

    from bot.console import ConsoleChat, ConsoleSink

    out = io.StringIO()
    sink = ConsoleSink(out, th.Lock(), lambda data: "chart.png")
    chat = ConsoleChat(None, io.StringIO(), th.Lock(), lambda data: "chart.png", echo=False)
    chat.sink = sink
    chat.set_lang(["ko"])
    worker = th.Thread(target=lambda: Notifier(sink).handle(Push(lambda: Reply(t("service_replies.no_run", hint="")))))
    worker.start()
    worker.join(5)
    assert t("service_replies.no_run", Lang.KO, hint="") in out.getvalue()


def test_why_a_run_failed_reaches_each_chat_in_its_language(sink):
    from rebalance.events import Failed, ToCheck, UnresolvedOrder
    from rebalance.i18n import Msg

    order = UnresolvedOrder("005930", "삼성전자", OrderSide.BUY, 3, T0)
    reason = Msg("run_failure.also", reason=Msg("run_failure.unexpected", error="ValueError: x"),
                 checks=ToCheck((order,)))
    Notifier(sink).handle(Failed("r1", reason))
    ko, en = sink.bot.sent[KO_CHAT][-1], sink.bot.sent[EN_CHAT][-1]
    assert "예상하지 못한 오류" in ko and "확인할 주문" in ko and "주문체결조회" in ko
    assert "unexpected error" in en and "Also:" in en and "look for it in today's orders" in en
