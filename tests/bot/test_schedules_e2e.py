"""`/schedule` end to end: Telegram (fake Bot API) -> pushes -> the schedule check on its own thread ->
KisClient -> sim: a `cash` schedule sees the paper account's deposit and the plan arrives with Confirm."""
from __future__ import annotations

from test_pushes_e2e import clock, save_drifting_model, start_bot, wait_text  # noqa: F401 - fixtures
from tg_harness import OWNER


def test_a_cash_schedule_offers_the_deposit_in_the_chat_with_confirm(api, sim, sim_client, clock, tmp_path):
    save_drifting_model(sim_client)
    sim.exchange.set_cash(50_000)  # nothing free above the buffer yet
    bot = start_bot(api, sim_client, clock, tmp_path)
    try:
        wait_text(api, "kisbot is up")
        api.send_text(OWNER, "/schedule cash 30만")
        assert "Added: 1. cash" in wait_text(api, "Added").text
        sim.deposit(2_000_000)
        offer = wait_text(api, "Schedule 1 (cash over 300,000 won)", timeout=30)
        assert "free above the buffer" in offer.text
        confirm = api.wait_for(lambda a: [c for c in a.calls_to("sendMessage", "sendPhoto", chat_id=OWNER)
                                          if any(b.get("callback_data", "").startswith("confirm:")
                                                 for b in c.buttons)], 30)
        assert confirm and not sim.exchange.orders  # offered, nothing ordered without a tap
        api.send_text(OWNER, "/schedule")
        assert "1. cash" in wait_text(api, "Schedules (").text
    finally:
        bot.finish()


def test_with_an_allowance_the_deposit_is_bought_without_a_tap_and_announced_with_cancel(api, sim, sim_client, clock,
                                                                                        tmp_path):
    save_drifting_model(sim_client)
    sim.exchange.set_cash(50_000)
    bot = start_bot(api, sim_client, clock, tmp_path)
    try:
        wait_text(api, "kisbot is up")
        api.send_text(OWNER, "/schedule allow 500만/month")
        wait_text(api, "Allowance set")
        api.send_text(OWNER, "/schedule cash 30만")
        wait_text(api, "Added")
        sim.deposit(2_000_000)  # the buffer (2 % of the account) keeps some of it
        announce = wait_text(api, "Started without a tap", timeout=30)
        assert [b["text"] for b in announce.buttons] == ["Cancel"]
        assert announce.buttons[0]["callback_data"].startswith("stop:")
        assert not [c for c in api.calls_to("sendMessage", "sendPhoto", chat_id=OWNER)
                    if any(b.get("callback_data", "").startswith("confirm:") for b in c.buttons)]
        api.wait_for(lambda a: sim.exchange.orders, 30)  # it trades
    finally:
        bot.finish()
