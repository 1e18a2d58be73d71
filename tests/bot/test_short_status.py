"""Shorter after a run: /status in three lines, the full receipt without untraded stocks and with the
slippage sign said once, Refresh buttons, the shortcut keyboard in the chat's language, and /version."""
from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from datetime import timedelta

import pytest

from bot import format as fmt
from bot import version
from bot.console import ConsoleChat, show
from bot.service import Reply
from bot.short_status import summary_lines, when_text
from bot.shortcuts import SHORTCUTS, all_labels, command_for, label, labels, typed
from bot.tg_shortcuts import answer_press, keyboard_markup, press_work
from bot_fakes import a_run, make_service
from kis.krx import KST
from rebalance.i18n import Lang, t, using
from rebalance.receipt import Receipt, ReceiptLine, ReceiptStore

ACCOUNT = "50000000-01"


def a_receipt(run_id: str = "r1", state: str = "finished", *, untraded: bool = True) -> Receipt:
    """A run that bought Samsung in full, sold SK hynix in full and (when `untraded`) never bought Kakao."""
    lines = [
        # bought 10 planned at 70,000 for 699,000: 1,000 won in the buyer's favour
        ReceiptLine("005930", "삼성전자", "buy", 10, 10, 70_000, 699_000, est_costs=105, charged_costs=104),
        # sold 2 planned at 500,000 for 999,000: 1,000 won against the seller
        ReceiptLine("000660", "SK하이닉스", "sell", 2, 2, 500_000, 999_000, est_costs=2_150, charged_costs=2_148),
    ]
    if untraded:
        lines.append(ReceiptLine("035720", "카카오", "buy", 5, 0, 40_000, 0, est_costs=30, charged_costs=0))
    return Receipt(run_id, "p1", state, tuple(lines), cash_after_plan=1_000_000, cash_after=1_000_500)


def kept(tmp_path, receipt: Receipt, at) -> ReceiptStore:
    store = ReceiptStore(tmp_path / "journal.sqlite3", ACCOUNT)
    store.save(receipt, at=at)
    return store


def texts(replies: list[Reply]) -> str:
    return "\n".join(r.plain for r in replies)


# --- /status after a run ------------------------------------------------------------------------

def test_status_after_a_run_is_three_lines_with_full_receipt_and_refresh_buttons(tmp_path):
    service, *_, clock = make_service()
    service.receipts = kept(tmp_path, a_receipt(), clock() - timedelta(minutes=5))
    replies = service.status()
    assert len(replies) == 1
    lines = replies[0].plain.split("\n")
    assert len(lines) == 3, replies[0].plain
    assert lines[0] == ("No run is active · last run r1: ended 1 stock(s) short of target "
                        f"(today {clock() - timedelta(minutes=5):%H:%M} KST)")
    assert lines[1] == "2/3 stocks filled · bought ₩699,000 · sold ₩999,000"
    assert lines[2] == "Fees and tax ₩2,252 (estimated ₩2,285) · slippage none"  # -1,000 + 1,000
    assert [(b.label, b.data) for b in replies[0].buttons] == [("Full receipt", "receipt:r1"),
                                                               ("Refresh", "refresh:status")]


def test_the_summary_says_a_run_reached_its_target_or_was_cancelled_and_which_way_slippage_went(tmp_path):
    now = a_now()
    done = summary_lines(a_receipt(untraded=False), None, now)
    assert done[0] == "No run is active · last run r1: reached its target"  # no time known: none said
    stopped = summary_lines(a_receipt(state="cancelled"), None, now)
    assert "cancelled before the end" in stopped[0]
    favour = Receipt("r2", "p2", "finished", (a_receipt().lines[0],), 0, None)
    assert summary_lines(favour, None, now)[2].endswith("slippage ₩1,000 in your favour")
    against = Receipt("r3", "p3", "finished", (a_receipt().lines[1],), 0, None)
    assert summary_lines(against, None, now)[2].endswith("slippage ₩1,000 against you")


def test_the_summary_in_korean_is_three_lines_with_korean_amounts(tmp_path):
    now = a_now()
    with using(Lang.KO):
        lines = summary_lines(a_receipt(), now - timedelta(days=3), now)
    assert lines[0] == (f"실행 중인 계획 없음 · 지난 실행 r1: 1종목 목표 미달 "
                        f"({now - timedelta(days=3):%Y-%m-%d %H:%M})")
    assert lines[1] == "3종목 중 2종목 체결 완료 · 매수 699,000원 · 매도 999,000원"
    assert lines[2].startswith("수수료·세금 2,252원 (예상 2,285원)")


def test_a_pending_plan_is_named_under_the_summary(tmp_path):
    service, *_, clock = make_service()
    service.receipts = kept(tmp_path, a_receipt(), clock())
    replies = service.plan_file(b"005930 000660", "model.xlsx")
    service.shown(replies[-1].offers)
    status = service.status()[0].plain.split("\n")
    assert len(status) == 4 and status[3] == f"Plan {replies[-1].offers} is pending: /confirm runs it."


def test_when_a_receipt_was_kept_reads_today_or_its_day_in_kst():
    now = a_now()
    assert when_text(now.replace(hour=14, minute=2), now.replace(hour=15)) == " (today 14:02 KST)"
    assert when_text(None, now) == ""
    with using(Lang.KO):
        assert when_text(now.replace(hour=14, minute=2), now.replace(hour=15)) == " (오늘 14:02)"


# --- the full receipt ---------------------------------------------------------------------------

def test_the_full_receipt_leaves_out_stocks_that_never_traded_and_names_them_once():
    text = fmt.receipt_text(a_receipt()).plain()
    rows = text.split("\n\n")[0]
    assert "005930" in rows and "000660" in rows and "035720" not in rows and "카카오" not in text
    assert text.count("035720") == 1
    assert "Never traded, left out above: 1 stock(s) (035720)." in text


@pytest.mark.parametrize("lang", list(Lang))
def test_the_full_receipt_explains_the_slippage_sign_exactly_once(lang):
    with using(lang):
        text = fmt.receipt_text(a_receipt()).plain()
        sign = t("shortstatus.sign")
    assert text.count(sign) == 1
    assert text.count("in your favour" if lang is Lang.EN else "유리하게") == 1
    assert "slip -1,000" in text or "슬리피지 -1,000" in text  # the buy came in under the plan price


def test_the_full_receipt_is_korean_in_a_korean_chat():
    with using(Lang.KO):
        text = fmt.receipt_text(a_receipt()).plain()
    assert text.startswith("체결 내역: 계획 p1 (실행 r1)")
    assert "매수 005930 삼성전자" in text and "매도 000660" in text
    assert "실행 후 예수금 1,000,500 (계획 1,000,000)" in text


def test_a_receipt_with_nothing_traded_says_so_and_has_no_sign_to_explain():
    receipt = Receipt("r1", "p1", "cancelled", (a_receipt().lines[2],), 0, None)
    text = fmt.receipt_text(receipt).plain()
    assert "nothing traded" in text and t("shortstatus.sign") not in text


def test_receipt_and_its_button_show_the_full_receipt_of_the_run_named(tmp_path):
    service, *_, clock = make_service()
    store = kept(tmp_path, a_receipt("r1"), clock())
    store.save(a_receipt("r2"), at=clock())
    service.receipts = store
    assert texts(service.receipt()).startswith("Receipt of plan p1 (run r2)")
    assert texts(service.receipt("r1")).startswith("Receipt of plan p1 (run r1)")
    assert texts(service.receipt("gone")) == ("The receipt of run gone is no longer kept; "
                                              "/receipt shows the last run's.")
    assert texts(make_service()[0].receipt()) == "No run has finished yet, so there is no receipt."


def test_the_store_knows_when_each_receipt_was_kept(tmp_path):
    at = a_now()
    store = kept(tmp_path, a_receipt("r1"), at)
    assert store.kept_at("r1") == at and store.kept_at("r0") is None
    assert store.find("r1") == a_receipt("r1") and store.find("r0") is None


# --- Refresh ------------------------------------------------------------------------------------

def test_status_of_an_active_run_and_balance_carry_a_refresh_button():
    service, client, executor, *_ = make_service()
    assert [b.data for b in service.balance()[-1].buttons] == ["refresh:balance"]
    assert [b.data for b in service.status()[-1].buttons] == ["refresh:status"]  # no run, no receipt
    executor.active = a_run("run1", progress=0.5)
    replies = service.status()
    assert "Run run1" in replies[0].plain and [b.data for b in replies[-1].buttons] == ["refresh:status"]


def test_a_refresh_press_asks_the_command_again():
    service, client, executor, *_ = make_service()
    executor.active = a_run("run1", progress=0.25)
    work = press_work(service, "refresh", "status", chat=7)
    executor.active = a_run("run1", progress=0.75)
    assert "75% done" in texts(work())
    balance = press_work(service, "refresh", "balance", chat=7)
    assert texts(balance()) == texts(service.balance())
    assert press_work(service, "confirm", "p1", chat=7) is None  # other buttons keep their own handling
    assert press_work(service, "refresh", "plan", chat=7) is None


class FakeQuery:
    """A pressed button's callback query: records edits and answers; `refuse` is the edit's BadRequest."""

    def __init__(self, refuse: str | None = None):
        self.edits: list[tuple[str, object]] = []
        self.answers: list[str | None] = []
        self.refuse = refuse

    async def edit_message_text(self, text, *, parse_mode, reply_markup, link_preview_options):
        from telegram.error import BadRequest

        if self.refuse:
            raise BadRequest(self.refuse)
        self.edits.append((text, reply_markup))

    async def answer(self, text=None):
        self.answers.append(text)


def press(query: FakeQuery, action: str, replies: list[Reply]) -> list[Reply]:
    from bot.telegram import markup

    sent: list[Reply] = []

    async def send(reply):
        sent.append(reply)

    asyncio.run(answer_press(query, action, replies, markup=markup, send=send))
    return sent


def test_refresh_edits_the_pressed_message_and_says_when_nothing_changed():
    service, *_ = make_service()
    replies = service.balance()
    query = FakeQuery()
    assert press(query, "refresh", replies) == []
    (text, markup), = query.edits
    assert text == replies[0].text and markup.inline_keyboard[0][0].callback_data == "refresh:balance"
    assert query.answers == [None]
    same = FakeQuery(refuse="Message is not modified: specified new message content and reply markup are "
                            "exactly the same")
    assert press(same, "refresh", replies) == [] and same.answers == ["Nothing has changed."]
    gone = FakeQuery(refuse="Message to edit not found")
    assert press(gone, "refresh", replies) == replies  # sent anew instead


def test_a_refresh_that_meets_an_error_leaves_the_old_view_and_says_so_below():
    from kis.errors import KisTransportError

    service, client, *_ = make_service()
    client.fail = KisTransportError("down")
    query = FakeQuery()
    sent = press(query, "refresh", service.balance())
    assert query.edits == [] and "KIS did not answer" in texts(sent)


def test_a_full_receipt_press_sends_the_receipt_below_and_leaves_the_summary_alone(tmp_path):
    service, *_, clock = make_service()
    service.receipts = kept(tmp_path, a_receipt(), clock())
    query = FakeQuery()
    sent = press(query, "receipt", press_work(service, "receipt", "r1", chat=1)())
    assert query.edits == [] and query.answers == [None]
    assert sent[0].plain.startswith("Receipt of plan p1 (run r1)")


# --- the shortcut keyboard ----------------------------------------------------------------------

def test_a_korean_shortcut_label_maps_to_its_command():
    assert labels(Lang.KO) == ("잔고", "진행 현황", "오늘 리포트", "리밸런싱 계획")
    assert [command_for(label(c, Lang.KO)) for c in SHORTCUTS] == list(SHORTCUTS)
    assert command_for("잔고") == "balance" and command_for(" 진행  현황 ") == "status"
    assert command_for("잔고 보여줘") is None and command_for("balance") is None  # a label, exactly
    assert command_for("Status") == "status"  # the English keyboard a chat kept after /lang ko still works
    assert len(all_labels()) == len(SHORTCUTS) * len(Lang)  # no label means two commands


def test_help_sets_the_shortcut_keyboard_in_the_chats_language():
    service, *_ = make_service()
    with using(Lang.KO):
        replies = service.help()
    assert replies[-1].keyboard == labels(Lang.KO)
    assert "/receipt" in replies[-1].plain and "/version" in replies[-1].plain
    markup = keyboard_markup(replies[-1].keyboard)
    assert [[b.text for b in row] for row in markup.keyboard] == [["잔고", "진행 현황"], ["오늘 리포트", "리밸런싱 계획"]]
    assert markup.is_persistent and markup.resize_keyboard


def test_telegram_puts_inline_buttons_or_the_keyboard_on_a_message():
    from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup

    from bot.telegram import markup

    service, *_ = make_service()
    assert isinstance(markup(service.help()[-1]), ReplyKeyboardMarkup)
    assert isinstance(markup(service.balance()[-1]), InlineKeyboardMarkup)
    assert markup(Reply("plain")) is None


def console(service) -> tuple[ConsoleChat, io.StringIO]:
    out = io.StringIO()
    return ConsoleChat(service, out, threading.Lock(), lambda data: "chart.png", echo=False), out


def test_the_console_runs_a_typed_shortcut_label_and_shows_the_keyboard_and_refresh_as_commands():
    service, *_ = make_service()
    chat, out = console(service)
    with using(Lang.KO):
        assert texts(chat.replies("잔고")) == texts(service.balance())
    show(service.help()[-1], out, threading.Lock(), lambda data: "")
    show(service.balance()[-1], out, threading.Lock(), lambda data: "")
    printed = out.getvalue()
    assert "[shortcuts: Balance = /balance, Status = /status, Report = /report, Plan = /plan]" in printed
    assert "[buttons: Refresh = /balance]" in printed
    assert typed("receipt:r1") == "/receipt" and typed("refresh:status") == "/status" and typed("x:y") is None


# --- /version -----------------------------------------------------------------------------------

def test_version_says_what_kisbot_dash_dash_version_prints():
    from bot.cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.raises(SystemExit):
        main(["--version"])
    service, *_ = make_service()
    assert texts(service.version()) == printed.getvalue().strip() == f"kisbot {version()}"
    chat, _ = console(service)
    assert texts(chat.replies("/version")) == f"kisbot {version()}"
    assert texts(chat.replies("/receipt")) == "No run has finished yet, so there is no receipt."


def a_now():
    """Now in KST, whatever the day the suite runs."""
    from datetime import datetime

    return datetime.now(KST).replace(hour=12, minute=0, second=0, microsecond=0)
