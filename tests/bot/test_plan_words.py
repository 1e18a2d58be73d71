"""The words of a plan are read by one parser whatever the way in (a file's caption, a typed /plan, the
console): each word is read, or the whole is refused with the same sentence, never dropped in silence."""
from __future__ import annotations

import io
import threading

import pytest

from bot.console import ConsoleChat
from rebalance.options import PlanOptions
from rebalance.saved_model import ModelStore, load_model
from bot_fakes import make_service

ACCOUNT = "50087375-01"


def texts(replies) -> str:
    return "\n".join(r.text for r in replies)


@pytest.mark.parametrize("caption, options", [
    ("/plan buy ５００００００", PlanOptions(buy_only=True, amount=5_000_000)),  # a Korean IME's fullwidth digits
    ("/plan buy 500만", PlanOptions(buy_only=True, amount=5_000_000)),
    ("/plan 매수 1억 2천만 keep", PlanOptions(buy_only=True, amount=120_000_000, keep_others=True)),
    ("/plan sell 5천만원", PlanOptions(sell_amount=50_000_000)),
    ("/plan buy 5,000,000원 min 5만", PlanOptions(buy_only=True, amount=5_000_000, min_trade=50_000)),
])
def test_caption_amounts_are_read_as_koreans_write_them(tmp_path, caption, options):
    service, _, _, planner, _ = make_service(models=ModelStore(tmp_path, ACCOUNT))
    replies = service.plan_file(b"005930 000660", "m.xlsx", args=caption.split())
    assert replies[-1].buttons, texts(replies)
    assert planner.options[-1] == options


@pytest.mark.parametrize("words, says", [
    ("buy 5m", "'5m' after buy is not read"),
    ("bye 1000000", "I do not understand bye 1000000 (did you mean buy?)"),
    ("buy abc", "'abc' after buy is not an amount of won"),
    ("buy 1.5", "'1.5' after buy is not a whole number of won"),
    ("buy " + "9" * 5000, "the amount after buy is more than any account holds"),
    ("min " + "9" * 5000, "the amount after min is more than any account holds"),
    ("keep my march model", "I do not understand my march model"),
])
def test_caption_words_that_are_not_read_refuse_the_file_with_the_sentence_a_typed_plan_gets(tmp_path, words, says):
    service, _, _, planner, _ = make_service(models=ModelStore(tmp_path, ACCOUNT))
    service.plan_file(b"005930", "saved.xlsx")
    made = len(planner.made)
    captioned = service.plan_file(b"005930 000660", "new.xlsx", args=["/plan", *words.split()])
    typed = service.plan(words.split())
    assert says in texts(captioned) and not any(r.buttons for r in captioned)
    assert [r.text for r in typed] == [r.text for r in captioned if "dropped" not in r.text]
    assert len(planner.made) == made  # nothing planned, so nothing to confirm
    assert load_model(tmp_path, ACCOUNT).file_name == "saved.xlsx"  # the refused file is not the model
    assert len(texts(captioned)) < 400  # a 5,000-digit paste is not echoed back


@pytest.mark.parametrize("line, says", [
    ("/plan buy abc", "'abc' after buy is not an amount of won"),
    ("/plan buy " + "9" * 5000, "the amount after buy is more than any account holds"),
    ("/plan min " + "9" * 5000, "the amount after min is more than any account holds"),
    ("/plan band " + "9" * 5000, "is not a band between 0 and 50"),
])
def test_the_console_says_the_amount_was_not_understood_not_that_there_is_no_file(line, says):
    service, *_ = make_service()
    out = io.StringIO()
    chat = ConsoleChat(service, out, threading.Lock(), lambda data: "chart.png", echo=False)
    text = texts(chat.replies(line))
    assert says in text and "There is no file" not in text and "Something went wrong" not in text


def test_the_console_refuses_words_after_a_path_it_does_not_understand(tmp_path):
    service, _, _, planner, _ = make_service()
    chat = ConsoleChat(service, io.StringIO(), threading.Lock(), lambda data: "chart.png", echo=False)
    path = tmp_path / "model.xlsx"
    path.write_bytes(b"005930")
    text = texts(chat.replies(f"/plan {path} bye 1000000"))
    assert "I do not understand bye 1000000" in text and planner.made == []
    replies = chat.replies(f"/plan {path} buy 50만")
    assert replies[-1].buttons and planner.options[-1] == PlanOptions(buy_only=True, amount=500_000)


def test_the_smallest_trade_setting_reads_amounts_the_same_way_and_refuses_a_huge_one_with_a_sentence():
    from bot.settings import options_from
    from kis.config import ConfigError

    assert options_from({"KISBOT_MIN_TRADE": "5만"}).min_trade == 50_000
    assert options_from({"KISBOT_MIN_TRADE": "１０，０００원"}).min_trade == 10_000
    for bad in ("9" * 5000, "10k"):
        with pytest.raises(ConfigError) as caught:
            options_from({"KISBOT_MIN_TRADE": bad})
        assert "KISBOT_MIN_TRADE=" in str(caught.value) and len(str(caught.value)) < 300
