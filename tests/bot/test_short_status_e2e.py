"""Through the fake Bot API: the shortcut keyboard in the chat's language, Refresh edits its message in place,
/status after a run in three lines with its Full receipt, and /version."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from bot import version
from bot.lang import ChatLangs
from bot_fakes import make_service
from test_telegram_e2e import bot, clock, upload, wait_text  # noqa: F401 - fixtures
from tests.conftest import SIM_START
from tg_harness import OWNER, BotRunner


def message_with(api, needle: str, chat: int = OWNER) -> dict:
    """The message the chat shows now whose text holds `needle` (the newest such)."""
    return api.wait_for(lambda a: [m for m in a.shown(chat) if needle in m.get("text", "")])[-1]


def inline(message: dict) -> list[tuple[str, str]]:
    return [(b["text"], b["callback_data"]) for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row]


def test_a_korean_chat_gets_the_shortcut_keyboard_whose_labels_run_their_commands_and_refresh_edits_in_place(
        api, tmp_path):
    service, client, *_ = make_service()
    api.language_codes[OWNER] = "ko"
    with BotRunner(api, service, langs=ChatLangs.in_dir(tmp_path)):
        api.send_text(OWNER, "/start")
        api.wait_for(lambda a: a.keyboard(OWNER))
        assert api.keyboard(OWNER) == ["잔고", "진행 현황", "오늘 리포트", "리밸런싱 계획"]
        start = message_with(api, "kisbot")
        assert "reply_markup" not in start  # the keyboard is the chat's, not part of the /start message

        api.press_key(OWNER, "잔고")
        balance = message_with(api, "<b>잔고</b>")
        assert inline(balance) == [("새로고침", "refresh:balance")]
        api.press(OWNER, balance["message_id"], "refresh:balance")  # nothing moved: Telegram's toast says so
        api.wait_for(lambda a: [c for c in a.calls_to("answerCallbackQuery")
                                if c.params.get("text") == "바뀐 내용이 없습니다."])
        client.balance_value = replace(client.balance_value, cash=client.balance_value.cash + 1_000_000)
        api.press(OWNER, balance["message_id"], "refresh:balance")
        cash = f"{client.balance_value.cash:,}"
        message_with(api, cash)  # the same message, now up to date
        edit = api.wait_for(lambda a: a.calls_to("editMessageText", chat_id=OWNER))[-1]
        assert edit.params["message_id"] == balance["message_id"] and cash in edit.text
        assert len([m for m in api.shown(OWNER) if "<b>잔고</b>" in m.get("text", "")]) == 1

        api.press_key(OWNER, "진행 현황")
        assert inline(message_with(api, "실행 중인 계획이 없습니다.")) == [("새로고침", "refresh:status")]

        api.send_text(OWNER, "/version")
        api.wait_for(lambda a: [m for m in a.shown(OWNER) if m.get("text") == f"kisbot {version()}"])

        api.send_text(OWNER, "/lang en")  # the keyboard follows the chat's language
        api.wait_for(lambda a: a.keyboard(OWNER) == ["Balance", "Status", "Report", "Plan"])
        api.press_key(OWNER, "Balance")
        message_with(api, "<b>Balance</b>")
        api.send_text(OWNER, "잔고")  # a Korean keyboard another device still shows runs /balance too
        api.wait_for(lambda a: len([m for m in a.shown(OWNER) if "<b>Balance</b>" in m.get("text", "")]) == 2)


def test_a_refresh_of_a_runs_status_becomes_the_three_line_summary_once_it_ended_and_offers_the_receipt(
        api, bot, sim, clock):  # noqa: F811
    sim.exchange.partial_fill_shares = 1  # orders fill one share at once and rest: the run is still going
    upload(api)
    clock.hold_at = SIM_START + timedelta(seconds=40)
    api.send_text(OWNER, "/confirm 90s")
    wait_text(api, "started")
    assert clock.holding.wait(15)
    api.send_text(OWNER, "/status")
    status = message_with(api, " left")
    assert inline(status) == [("Refresh", "refresh:status")]
    api.send_text(OWNER, "/cancel")
    wait_text(api, "Run cancelled", timeout=30)

    api.press(OWNER, status["message_id"], "refresh:status")
    summary = api.wait_for(lambda a: [m for m in a.shown(OWNER) if m["message_id"] == status["message_id"]
                                      and "No run is active" in m["text"]])[0]
    lines = summary["text"].split("\n")
    assert len(lines) == 3 and "cancelled before the end" in lines[0]
    assert re.fullmatch(r"\d+/\d+ stocks filled · bought ₩[\d,]+ · sold ₩[\d,]+", lines[1])
    (_, receipt_data), refresh = inline(summary)
    assert receipt_data.startswith("receipt:") and refresh == ("Refresh", "refresh:status")

    api.press(OWNER, summary["message_id"], receipt_data)
    receipt = api.wait_for(lambda a: [m for m in a.shown(OWNER) if m.get("text", "").startswith("<b>Receipt of plan")])[0]
    assert "Never traded, left out above: " in receipt["text"]  # LG화학, SK하이닉스, 삼성바이오 got no fill
    rows = re.findall(r"^(?:buy|sell) +\d{6} .*? +([\d,]+)/([\d,]+)$", receipt["text"], flags=re.M)
    assert rows and all(filled != "0" for filled, _ in rows)  # a stock that never traded is left out
    assert receipt["text"].count("in your favour") == 1
    assert inline(message_with(api, "No run is active")) == inline(summary)  # the summary keeps its buttons
