"""The Telegram front end through a fake Bot API on loopback, with an in-memory service behind."""
from __future__ import annotations

import re
import threading

from kis.models import OrderSide
from rebalance.events import Filled, Finished, RunStarted, StockResult
from bot_fakes import T0, FakeStatus, make_service
from tg_harness import OWNER, STRANGER, BotRunner


def sent(api, chat=OWNER):
    return api.calls_to("sendMessage", "sendPhoto", chat_id=chat)


def test_unknown_chat_gets_its_id_and_no_data(api, caplog):
    service, client, executor, *_ = make_service()
    with BotRunner(api, service):
        api.send_text(STRANGER, "/balance")
        api.send_text(STRANGER, "/price 005930")
        refusals = api.wait_sent(STRANGER, 2)
        api.send_text(OWNER, "/help")  # the owner is still served afterwards
        api.wait_sent(OWNER, 1)
    assert all(f"Your chat id is {STRANGER}" in c.text for c in refusals)
    assert all("71,000" not in c.text and "Balance" not in c.text for c in refusals)
    assert client.calls == []
    assert sum(f"refused update from chat {STRANGER}" in r.getMessage() for r in caplog.records) == 2


def test_unknown_chat_cannot_press_buttons_or_send_files(api):
    service, client, executor, *_ = make_service()
    with BotRunner(api, service):
        api.send_document(OWNER, "model.xlsx", b"005930")
        offer = api.wait_for(lambda a: [c for c in a.calls_to("sendPhoto")])[0]
        plan_data = offer.buttons[0]["callback_data"]
        api.press(STRANGER, 1, plan_data)
        api.send_document(STRANGER, "model.xlsx", b"005930")
        api.wait_sent(STRANGER, 2)
    assert executor.started == []
    assert len(api.downloads) == 1  # only the owner's file was fetched


def test_price_and_balance_round_trip(api):
    service, *_ = make_service()
    with BotRunner(api, service):
        api.send_text(OWNER, "/price 005930 000660")
        api.send_text(OWNER, "/balance")
        replies = api.wait_sent(OWNER, 2)
    text = "\n".join(c.text for c in replies)
    assert "71,000" in text and "180,000" in text and "-1.10%" in text
    assert "1,710,000" in text
    assert all(c.params.get("parse_mode") == "HTML" for c in replies)


def test_menu_is_set_on_start(api):
    service, *_ = make_service()
    with BotRunner(api, service):
        api.wait_for(lambda a: a.calls_to("setMyCommands"))
    commands = api.calls_to("setMyCommands")[0].params["commands"]
    assert {c["command"] for c in commands} >= {"price", "balance", "plan", "confirm", "cancel", "status"}


def test_xlsx_upload_gives_plan_chart_and_buttons_then_confirm_once(api):
    service, client, executor, *_ = make_service()
    with BotRunner(api, service):
        api.send_document(OWNER, "model.xlsx", b"005930 000660", caption="/plan")
        photo = api.wait_for(lambda a: a.calls_to("sendPhoto"))[0]
        assert photo.files["photo"] == b"\x89PNG fake"
        labels = [b["text"] for b in photo.buttons]
        assert labels == ["Confirm", "Cancel"]
        data = photo.buttons[0]["callback_data"]
        message_id = api.wait_for(lambda a: a._messages and max(k[1] for k in a._messages))
        photo_id = api.wait_for(lambda a: [k[1] for k, m in a._messages.items() if "photo" in m])[0]
        api.press(OWNER, photo_id, data)
        api.wait_for(lambda a: any("started" in c.text for c in sent(a)))
        api.press(OWNER, photo_id, data)  # e.g. a second tap before the buttons went away
        api.wait_for(lambda a: any("already confirmed" in c.text for c in sent(a)))
    assert len(executor.started) == 1
    assert api.calls_to("editMessageReplyMarkup") and api.calls_to("answerCallbackQuery")
    assert message_id


def test_other_files_and_oversized_ones_are_refused_without_download(api):
    service, *_ = make_service()
    with BotRunner(api, service):
        api.send_document(OWNER, "report.pdf", b"%PDF")
        api.send_document(OWNER, "huge.xlsx", b"005930", declared_size=20_000_000)
        replies = api.wait_sent(OWNER, 2)
    assert "only read .xlsx" in replies[0].text and "report.pdf" in replies[0].text
    assert "20,000,000 bytes" in replies[1].text
    assert api.downloads == [] and api.calls_to("getFile") == []


def test_cancel_is_answered_while_a_plan_is_still_being_made(api):
    service, client, executor, planner, clock = make_service()
    release = threading.Event()
    slow_make_plan = service._make_plan

    def blocked(*args, **kwargs):
        release.wait(10)
        return slow_make_plan(*args, **kwargs)

    service._make_plan = blocked
    with BotRunner(api, service):
        api.send_document(OWNER, "model.xlsx", b"005930")
        api.wait_for(lambda a: a.downloads)
        api.send_text(OWNER, "/cancel")
        cancel_reply = api.wait_sent(OWNER, 1)[0]
        release.set()
        api.wait_for(lambda a: a.calls_to("sendPhoto"))
    assert "Nothing to cancel" in cancel_reply.text


def test_a_handler_crash_becomes_a_short_message_and_the_bot_stays_up(api, caplog):
    service, *_ = make_service()

    def broken():
        raise ZeroDivisionError("secret detail")

    service.balance = broken
    with BotRunner(api, service):
        api.send_text(OWNER, "/balance")
        api.wait_sent(OWNER, 1)
        api.send_text(OWNER, "/price 005930")
        replies = api.wait_sent(OWNER, 2)
    assert "Something went wrong" in replies[0].text and "secret" not in replies[0].text
    assert "71,000" in replies[1].text
    assert any("handler failed" in r.message for r in caplog.records)


def test_unknown_command_and_plain_text_get_guidance(api):
    service, *_ = make_service()
    with BotRunner(api, service):
        api.send_text(OWNER, "/buyeverything")
        api.send_text(OWNER, "hello")
        replies = api.wait_sent(OWNER, 2)
    assert "I do not know /buyeverything" in replies[0].text
    assert "/help" in replies[1].text


def test_resumed_run_is_announced_on_start(api):
    service, client, executor, *_ = make_service()
    executor.resumable = FakeStatus("r-crashed", progress=0.4)
    with BotRunner(api, service):
        reply = api.wait_sent(OWNER, 1)[0]
    assert "Resumed a run" in reply.text and "r-crashed" in reply.text and "40% done" in reply.text


def test_pushes_fills_silently_and_edit_one_progress_message(api):
    service, *_ = make_service()
    with BotRunner(api, service) as runner:
        notify = runner.notifier.on_event
        notify(RunStarted("r1", "p1", T0, T0, slices=3))
        for n in (1, 2, 3):
            notify(Filled("r1", "005930", "삼성전자", OrderSide.BUY, 1, 71_000, n, 3, n / 3))
        notify(Finished("r1", (StockResult("005930", "삼성전자", 0, 3, 3),)))
        summary = api.wait_for(lambda a: [c for c in sent(a) if "Run finished" in c.text])[0]
        edits = api.calls_to("editMessageText")
    messages = sent(api)
    progress = messages[0]
    assert progress.params.get("disable_notification") is True
    fills = [c for c in messages if "Filled" in c.text]
    assert fills and all(c.params.get("disable_notification") is True for c in fills)
    assert sum(shares(c.text) for c in fills) == 3
    assert summary.params.get("disable_notification") in (None, False)
    assert edits and all(int(e.params["message_id"]) == int(api._messages and progress_id(api)) for e in edits)
    assert "100% done" in edits[-1].text


def progress_id(api):
    return min(k[1] for k, m in api._messages.items() if "running" in m.get("text", ""))


def shares(text: str) -> int:
    """Shares a fill message reports, over all its lines."""
    return sum(int(n.replace(",", "")) for n in re.findall(r"([\d,]+) sh @", text))


def test_editing_an_old_confirm_does_not_confirm_again(api):
    service, client, executor, *_ = make_service()
    with BotRunner(api, service):
        api.send_document(OWNER, "model.xlsx", b"005930")
        api.wait_for(lambda a: a.calls_to("sendPhoto"))
        api.edit_text(OWNER, 77, "/confirm")  # an edit of some earlier message into /confirm
        api.send_text(OWNER, "/status")
        api.wait_for(lambda a: [c for c in sent(a) if "No run is active" in c.text])
    assert executor.started == []


def test_a_reply_telegram_cannot_parse_goes_out_as_plain_text(api):
    from bot.service import Reply

    service, *_ = make_service()
    service.status = lambda: [Reply("<b>Run r1: 5 < 6 & broken")]
    with BotRunner(api, service):
        api.send_text(OWNER, "/status")
        api.wait_for(lambda a: [c for c in a.calls_to("sendMessage") if c.params.get("parse_mode") is None
                                and c.chat_id == OWNER])
    attempts = api.calls_to("sendMessage", chat_id=OWNER)
    assert attempts[0].params["parse_mode"] == "HTML"  # refused by Telegram's parser
    assert attempts[-1].text == "Run r1: 5 < 6 & broken"


def test_a_failing_resume_is_reported_and_the_bot_still_serves(api):
    from kis.errors import KisTransportError

    service, *_ = make_service()

    def broken():
        raise KisTransportError("connection refused")

    service.resume = broken
    with BotRunner(api, service):
        told = api.wait_sent(OWNER, 1)[0]
        api.send_text(OWNER, "/price 005930")
        api.wait_sent(OWNER, 2)
    assert "could not be resumed: KIS did not answer" in told.text
