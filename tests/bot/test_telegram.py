"""The Telegram front end through a fake Bot API on loopback, with an in-memory service behind."""
from __future__ import annotations

import logging
import re
import threading
import time

from kis.models import OrderSide
from rebalance.events import Filled, Finished, RunStarted, StockResult
from bot_fakes import T0, a_run, make_service
from tg_harness import OWNER, STRANGER, BotRunner


def sent(api, chat=OWNER):
    """What the bot said to `chat`: messages, photos, and the status lines it edited into answers."""
    return api.calls_to("sendMessage", "sendPhoto", "editMessageText", chat_id=chat)


def test_unknown_chat_gets_its_id_and_no_data(api, caplog):
    caplog.set_level(logging.INFO, logger="bot.telegram")
    service, client, executor, *_ = make_service()
    with BotRunner(api, service):
        api.send_text(STRANGER, "/balance")
        api.send_text(STRANGER, "/price 005930")
        api.send_text(OWNER, "/help")  # the owner is still served afterwards
        api.wait_sent(OWNER, 1)
        refusals = api.wait_sent(STRANGER, 1)
    assert len(refusals) == 1  # the second try within a minute is only logged
    assert f"Your chat id is {STRANGER}" in refusals[0].text
    assert "71,000" not in refusals[0].text and "Balance" not in refusals[0].text
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
        api.send_text(OWNER, "/status")  # answered only after both of the stranger's updates were gated
        api.wait_for(lambda a: [c for c in sent(a) if "No run is active" in c.text])
        api.wait_sent(STRANGER, 1)
    assert executor.started == []
    assert len(api.downloads) == 1  # only the owner's file was fetched
    assert [c.params.get("text") for c in api.calls_to("answerCallbackQuery")] == ["Not allowed."]


def test_a_flood_from_a_stranger_is_refused_once_and_never_delays_the_owner(api, caplog):
    caplog.set_level(logging.INFO, logger="bot.telegram")
    service, *_ = make_service()
    with BotRunner(api, service):
        for n in range(300):
            api.send_text(STRANGER, f"/balance {n}")
        api.send_text(OWNER, "/status")
        answer = api.wait_for(lambda a: [c for c in sent(a) if "No run is active" in c.text])[0]
        api.wait_sent(STRANGER, 1)
    before_owner = [c for c in api.calls_to("sendMessage", "answerCallbackQuery") if c.at < answer.at
                    and c.chat_id != OWNER]
    assert len(before_owner) <= 1  # the owner's answer queued behind at most the one refusal
    assert len(api.calls_to("sendMessage", chat_id=STRANGER)) == 1
    assert sum(f"refused update from chat {STRANGER}" in r.getMessage() for r in caplog.records) == 300


def test_many_strangers_at_once_get_a_few_refusals_and_never_delay_the_owner(api):
    service, *_ = make_service()
    strangers = [STRANGER + n for n in range(60)]
    with BotRunner(api, service):
        for chat in strangers:
            api.send_text(chat, "/balance")
        api.send_text(OWNER, "/status")
        answer = api.wait_for(lambda a: [c for c in sent(a) if "No run is active" in c.text])[0]
    refusals = [c for c in api.calls_to("sendMessage") if c.chat_id in strangers]
    assert 1 <= len(refusals) <= 10
    assert len([c for c in refusals if c.at < answer.at]) <= 10


def test_a_stranger_hears_the_refusal_again_after_a_minute(api):
    service, *_ = make_service()
    now = [1000.0]
    with BotRunner(api, service, monotonic=lambda: now[0]):
        api.send_text(STRANGER, "hello")
        api.wait_sent(STRANGER, 1)
        now[0] += 59
        api.send_text(STRANGER, "hello?")
        api.send_text(OWNER, "/help")
        api.wait_sent(OWNER, 1)
        now[0] += 2
        api.send_text(STRANGER, "anyone?")
        api.wait_sent(STRANGER, 2)
    assert len(api.calls_to("sendMessage", chat_id=STRANGER)) == 2


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
        data = photo.buttons[0]["callback_data"]
        assert labels == [f"Confirm {data.removeprefix('confirm:')}", "Cancel"]
        message_id = api.wait_for(lambda a: a._messages and max(k[1] for k in a._messages))
        photo_id = offer_message(api)
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
        # The file's status line may come first; the cancel's answer must not wait for the plan.
        cancel_reply = api.wait_for(lambda a: [c for c in sent(a) if "cancel" in c.text.lower()])[0]
        assert not api.calls_to("sendPhoto")
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
    executor.resumable = a_run("r-crashed", progress=0.4)
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
    from bot.format import Rich
    from bot.service import Reply

    class Malformed(Rich):  # markup Telegram's parser refuses
        def html(self) -> str:
            return "<b>Run r1: 5 < 6 & broken"

    service, *_ = make_service()
    service.status = lambda **_: [Reply(Malformed((("", "Run r1: 5 < 6 & broken"),)))]
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


# --- consent: only a plan the user has seen can be confirmed ------------------------------------

def offer_message(api) -> int:
    """The message id of the first plan offer (a photo), once the fake Bot API has stored it."""
    return api.wait_for(lambda a: [k[1] for k, m in a._messages.items() if "photo" in m])[0]


def hold_big_plans(service, threshold=3):
    """Plans of more than `threshold` stocks wait for `release` (a big file prices slowly)."""
    release = threading.Event()
    make_plan = service._make_plan

    def slow(client, portfolio, *args, **kwargs):
        if len(portfolio.codes) > threshold:
            release.wait(10)
        return make_plan(client, portfolio, *args, **kwargs)

    service._make_plan = slow
    return release


def test_a_slower_plan_of_an_earlier_file_never_becomes_confirmable_under_a_newer_ones_buttons(api):
    service, client, executor, planner, _ = make_service()
    release = hold_big_plans(service)
    big = " ".join(["005930", "000660", "035720"] * 2)  # six lines: planned slowly
    with BotRunner(api, service):
        api.send_document(OWNER, "big.xlsx", big.encode())
        api.send_document(OWNER, "small.xlsx", b"005930 000660")  # moments later
        small_offer = api.wait_for(lambda a: a.calls_to("sendPhoto"))[0]
        release.set()  # the big plan is done only now, after the small one is on screen
        api.wait_for(lambda a: [c for c in sent(a) if "big.xlsx" in c.text])
        api.send_text(OWNER, "/confirm")
        api.wait_for(lambda a: [c for c in sent(a) if "started" in c.text])
    assert len(api.calls_to("sendPhoto")) == 1  # the big plan was never offered
    assert [len(p.lines) for p, _ in executor.started] == [2]
    assert small_offer.buttons[0]["callback_data"] == f"confirm:{executor.started[0][0].id}"


def test_a_newer_file_that_plans_nothing_drops_the_pending_plan(api):
    service, client, executor, planner, _ = make_service()
    with BotRunner(api, service):
        api.send_document(OWNER, "model.xlsx", b"005930 000660")
        first = api.wait_for(lambda a: a.calls_to("sendPhoto"))[0]
        planner.on_target = True
        api.send_document(OWNER, "same.xlsx", b"005930")
        api.wait_for(lambda a: [c for c in sent(a) if "nothing to trade" in c.text])
        api.send_text(OWNER, "/confirm")
        api.wait_for(lambda a: [c for c in sent(a) if "had nothing to trade" in c.text])
        photo_id = offer_message(api)
        api.press(OWNER, photo_id, first.buttons[0]["callback_data"])  # the old offer's Confirm
        api.wait_for(lambda a: [c for c in sent(a) if "no longer pending" in c.text])
    assert executor.started == []
    assert any("dropped: a newer file replaces it" in c.text for c in sent(api))


def test_a_file_refused_unread_also_drops_the_pending_plan(api):
    service, client, executor, *_ = make_service()
    with BotRunner(api, service):
        api.send_document(OWNER, "model.xlsx", b"005930 000660")
        api.wait_for(lambda a: a.calls_to("sendPhoto"))
        api.send_document(OWNER, "model.pdf", b"%PDF")
        api.wait_for(lambda a: [c for c in sent(a) if "only read .xlsx" in c.text])
        api.send_text(OWNER, "/confirm")
        api.wait_for(lambda a: [c for c in sent(a) if "no plan to confirm" in c.text])
    assert executor.started == []


def test_cancel_pressed_right_after_confirm_stops_the_run_that_is_starting(api):
    service, client, executor, *_ = make_service()
    executor.start_gate = threading.Event()  # the run takes a moment to start
    with BotRunner(api, service):
        api.send_document(OWNER, "model.xlsx", b"005930 000660")
        offer = api.wait_for(lambda a: a.calls_to("sendPhoto"))[0]
        photo_id = offer_message(api)
        confirm, cancel = (b["callback_data"] for b in offer.buttons)
        api.press(OWNER, photo_id, confirm)
        deadline = time.monotonic() + 10
        while service._starting is None and time.monotonic() < deadline:  # the confirm waits in start
            time.sleep(0.005)
        api.press(OWNER, photo_id, cancel)
        told = api.wait_for(lambda a: [c for c in sent(a) if "stopped as soon as it starts" in c.text])
        executor.start_gate.set()
        api.wait_for(lambda a: [c for c in sent(a) if "being stopped" in c.text])
    assert "nothing to drop" not in told[0].text
    assert len(executor.started) == 1 and executor.cancels == 1


def test_cancel_pressed_after_its_run_started_stops_that_run(api):
    service, client, executor, *_ = make_service()
    with BotRunner(api, service):
        api.send_document(OWNER, "model.xlsx", b"005930 000660")
        offer = api.wait_for(lambda a: a.calls_to("sendPhoto"))[0]
        photo_id = offer_message(api)
        confirm, cancel = (b["callback_data"] for b in offer.buttons)
        api.press(OWNER, photo_id, confirm)
        api.wait_for(lambda a: [c for c in sent(a) if "started" in c.text])
        api.press(OWNER, photo_id, cancel)  # a second tap, before the buttons went away
        api.wait_for(lambda a: [c for c in sent(a) if "Stopping the run" in c.text])
    assert executor.cancels == 1


def test_a_run_another_process_executes_is_not_claimed_stopped(api):
    service, client, executor, *_ = make_service()
    with BotRunner(api, service):
        executor.active = a_run("r-elsewhere", progress=0.2)  # after the start-up resume found none
        executor.other_process = 31337
        api.send_text(OWNER, "/cancel")
        reply = api.wait_sent(OWNER, 1)[0]
    assert "another kisbot process (pid 31337)" in reply.text and "Stopping" not in reply.text
    assert executor.cancels == 0
