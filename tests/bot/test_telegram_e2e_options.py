"""Through the fake Bot API to the sim: the saved model, /model, and /plan with options, confirmed and run."""
from __future__ import annotations

import re

from kis.models import OrderSide
from test_telegram_e2e import bot, clock, texts, upload, wait_text  # noqa: F401 - fixtures
from tg_harness import OWNER


def last_photo(api, count):
    photos = api.wait_for(lambda a: len(a.calls_to("sendPhoto")) >= count and a.calls_to("sendPhoto"))
    stored = api.wait_for(lambda a: (lambda ids: ids if len(ids) >= count else None)(
        [k[1] for k, m in a._messages.items() if "photo" in m]))
    message_id = max(stored)
    return photos[-1], message_id


def test_the_saved_model_is_shown_and_planned_buy_only_keep_and_the_run_never_sells(api, bot, sim):  # noqa: F811
    upload(api)
    api.send_text(OWNER, "/model")
    model = wait_text(api, "Model model.xlsx")
    assert "005930" in model and "10 stocks" in model
    held_outside = {c: sim.exchange.holding_qty(c) for c in ("035720", "011200")}
    api.send_text(OWNER, "/plan buy keep")
    wait_text(api, "Planning the saved model model.xlsx")
    photo, message_id = last_photo(api, 2)
    plan_text = "\n".join(texts(api))
    assert "Options: buy only; keep holdings outside the model" in plan_text
    api.press(OWNER, message_id, photo.buttons[0]["callback_data"])
    wait_text(api, "started")
    wait_text(api, "Run finished", timeout=30)
    assert not [o for o in sim.exchange.order_log if o.side is OrderSide.SELL]
    assert {c: sim.exchange.holding_qty(c) for c in held_outside} == held_outside


def test_plan_band_and_sell_words_and_a_bad_word_in_the_chat(api, bot, sim):  # noqa: F811
    upload(api)
    api.send_text(OWNER, "/plan band 2")
    wait_text(api, "Options: band ±2 %p")
    api.send_text(OWNER, "/plan sell 1000000")
    wait_text(api, "Options: sell only, raise 1,000,000 won")
    api.send_text(OWNER, "/plan buy sell 5")
    refusal = wait_text(api, "contradict")
    assert refusal == "buy and sell contradict each other: use /plan buy [AMOUNT] or /plan sell AMOUNT, not both."


def test_a_caption_with_options_plans_the_file_with_them(api, bot):  # noqa: F811
    from test_telegram_e2e import EXAMPLES

    api.send_document(OWNER, "model.xlsx", (EXAMPLES / "model.xlsx").read_bytes(), caption="/plan buy 300000")
    wait_text(api, "Options: buy only, up to 300,000 won")


def test_caption_amounts_in_fullwidth_digits_or_man_are_read_and_a_misspelt_caption_refuses_the_file(api, bot):  # noqa: F811
    from test_telegram_e2e import EXAMPLES

    data = (EXAMPLES / "model.xlsx").read_bytes()
    api.send_document(OWNER, "model.xlsx", data, caption="/plan buy ５００００００")  # a Korean IME's digits
    wait_text(api, "Options: buy only, up to 5,000,000 won")
    api.send_text(OWNER, "/plan buy 50만")
    wait_text(api, "Options: buy only, up to 500,000 won")
    last_photo(api, 2)  # both plans are offered
    photos = len(api.calls_to("sendPhoto"))
    api.send_document(OWNER, "model.xlsx", data, caption="/plan bye 1000000")
    refusal = wait_text(api, "I do not understand bye 1000000")
    assert "did you mean buy?" in refusal and "nothing is planned" in refusal
    api.send_document(OWNER, "model.xlsx", data, caption="/plan buy 5m")
    wait_text(api, "'5m' after buy is not read")
    assert len(api.calls_to("sendPhoto")) == photos  # no plan, no Confirm button


def test_the_completion_summary_carries_the_receipt_and_status_after_the_run_offers_it_in_full(api, bot, sim):  # noqa: F811
    import re

    photo, message_id = upload(api)
    api.press(OWNER, message_id, photo.buttons[0]["callback_data"])
    summary = wait_text(api, "Run finished", timeout=30)
    assert "Receipt" in summary and "slippage" in summary and "fees+tax est" in summary
    cash = int(re.search(r"cash after ([\d,]+) \(plan", summary)[1].replace(",", ""))
    assert cash == sim.exchange.cash  # the exchange's own cash after the run
    assert re.search(r"^\s+[\d,]+→[\d,]+ +slip (?:[+-][\d,]+|0) \((?:[+-][\d.]+|0\.0)bp\)$", summary, flags=re.M)
    api.send_text(OWNER, "/status")
    status = wait_text(api, "No run is active · last run")
    assert len(status.splitlines()) == 3 and "Receipt" not in status
    message = api.wait_for(lambda a: [c for c in a.calls_to("sendMessage") if c.text == status])[0]
    pressed = api.shown(OWNER)[-1]
    assert [b["text"] for b in message.buttons] == ["Full receipt", "Refresh"]
    api.press(OWNER, pressed["message_id"], message.buttons[0]["callback_data"])
    receipt = api.wait_for(lambda a: [t for t in texts(a) if t.startswith("<b>Receipt of plan")])[0]
    assert receipt.count("- = in your favour") == 1


def test_after_a_restart_of_the_bot_the_confirm_button_runs_the_plan_shown(api, sim, sim_client, clock, tmp_path):  # noqa: F811
    from bot.service import open_service
    from test_telegram_e2e import env_source
    from tg_harness import BotRunner

    def build(on_event):
        return open_service(sim_client, source=env_source(tmp_path), on_event=on_event, clock=clock,
                            poll_seconds=2.0, catch_up_seconds=20.0, settle_seconds=2.0, max_slices=3)

    first = BotRunner(api, build, batch_seconds=0.2, min_gap_seconds=0.2).start()
    photo, message_id = upload(api)
    shown = re.search(r"Plan <b>(\w+)</b>", photo.text)[1]
    first.stop()
    first.service.executor.wait(1)
    second = BotRunner(api, build, batch_seconds=0.2, min_gap_seconds=0.2).start()
    try:
        api.press(OWNER, message_id, photo.buttons[0]["callback_data"])
        started = wait_text(api, "started")
        assert f"plan {shown}" in started
        wait_text(api, "Run finished", timeout=30)
    finally:
        second.finish()
