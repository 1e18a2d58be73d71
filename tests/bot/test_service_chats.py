"""Several allowed chats over one account: each chat's offered plan is its own; the run is the account's."""
from __future__ import annotations

from bot.service import Reply
from bot_fakes import make_service
from rebalance.pending import PendingPlans
from rebalance.saved_model import ModelStore

ALICE, BOB = 111, 222
ACCOUNT = "50087375-01"


def texts(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


def offer_in(service, chat, codes="005930 000660"):
    replies = service.plan_file(codes.encode(), "model.xlsx", chat=chat)
    assert replies[-1].buttons, texts(replies)
    service.shown(replies[-1].offers, chat)  # the transport delivered the offer to that chat
    return replies[-1].offers


def test_a_typed_confirm_in_another_chat_does_not_run_the_plan_offered_in_the_first():
    service, _, executor, *_ = make_service()
    offer_in(service, ALICE)
    said = texts(service.confirm(["1m"], chat=BOB))
    assert executor.started == [] and "no plan to confirm" in said
    assert "started" in texts(service.confirm(["1m"], chat=ALICE)) and len(executor.started) == 1


def test_status_in_another_chat_does_not_name_the_plan_offered_in_the_first():
    service, *_ = make_service()
    plan_id = offer_in(service, ALICE)
    assert plan_id not in texts(service.status(chat=BOB))
    assert plan_id in texts(service.status(chat=ALICE))


def test_a_confirm_press_naming_another_chats_plan_runs_nothing():
    service, _, executor, *_ = make_service()
    plan_id = offer_in(service, ALICE)
    said = texts(service.confirm((), plan_id, chat=BOB))
    assert executor.started == [] and "another chat" in said
    assert "another chat" in texts(service.cancel(plan_id, chat=BOB))
    assert "started" in texts(service.confirm((), plan_id, chat=ALICE))  # still Alice's to run


def test_an_offer_delivered_to_another_chat_does_not_make_the_plan_confirmable_by_typing():
    service, _, executor, *_ = make_service()
    replies = service.plan_file(b"005930", "model.xlsx", chat=ALICE)
    service.shown(replies[-1].offers, BOB)  # delivered somewhere else: Alice has not seen it
    assert "still on its way" in texts(service.confirm(chat=ALICE)) and executor.started == []


def test_each_chat_confirms_its_own_plan_and_a_file_in_one_chat_does_not_drop_the_others_plan():
    service, _, executor, *_ = make_service()
    alice = offer_in(service, ALICE, "005930")
    bob = offer_in(service, BOB, "000660")
    assert "started" in texts(service.confirm(chat=BOB))
    assert executor.started[0][0].id == bob != alice


def test_cancel_in_another_chat_drops_only_its_own_plan():
    service, _, executor, *_ = make_service()
    alice = offer_in(service, ALICE)
    assert "Nothing to cancel" in texts(service.cancel(chat=BOB))
    assert "started" in texts(service.confirm(chat=ALICE)) and executor.started[0][0].id == alice


def test_a_bare_cancel_from_another_chat_names_the_run_and_offers_stop_instead_of_stopping_it():
    service, _, executor, *_ = make_service()
    offer_in(service, ALICE)
    service.confirm(chat=ALICE)
    replies = service.cancel(chat=BOB)
    assert executor.cancels == 0
    assert "run1" in texts(replies) and str(ALICE) in texts(replies) and "did not stop" in texts(replies)
    assert replies[-1].buttons[0].data == "stop:run1"
    stopped = texts(service.stop("run1", chat=BOB))  # the explicit Stop press stops it for every chat
    assert executor.cancels == 1 and str(ALICE) in stopped and "Stopping" in stopped


def test_cancel_in_the_chat_that_confirmed_stops_the_run():
    service, _, executor, *_ = make_service()
    offer_in(service, ALICE)
    service.confirm(chat=ALICE)
    assert "Stopping the run" in texts(service.cancel(chat=ALICE)) and executor.cancels == 1


def test_status_in_another_chat_shows_the_accounts_run_and_whose_it_is():
    service, _, executor, *_ = make_service()
    offer_in(service, ALICE)
    service.confirm(chat=ALICE)
    said = texts(service.status(chat=BOB))
    assert "another chat" in said and str(ALICE) in said
    assert "another chat" not in texts(service.status(chat=ALICE))


def test_one_run_at_a_time_for_the_account_whichever_chat_confirms():
    service, _, executor, *_ = make_service()
    offer_in(service, ALICE, "005930")
    service.confirm(chat=ALICE)
    assert "still executing" in texts(service.plan_file(b"000660", "b.xlsx", chat=BOB))
    assert len(executor.started) == 1


def test_a_newer_file_in_another_chat_does_not_supersede_a_file_being_planned():
    service, *_ = make_service()
    alice_file = service.file_received(ALICE)
    service.file_received(BOB)  # Bob sends a file while Alice's is being planned
    replies = service.plan_file(b"005930", "a.xlsx", alice_file)
    assert replies[-1].buttons and "not offered" not in texts(replies)


def test_each_chats_pending_plan_survives_a_restart_in_its_own_chat(tmp_path):
    store = lambda: PendingPlans(tmp_path / "journal.sqlite3", ACCOUNT)  # noqa: E731
    service, *_ = make_service(pending_store=store())
    alice = offer_in(service, ALICE, "005930")
    again, _, executor, *_ = make_service(pending_store=store())
    assert "no plan to confirm" in texts(again.confirm(chat=BOB)) and executor.started == []
    assert "started" in texts(again.confirm(chat=ALICE)) and executor.started[0][0].id == alice


def test_confirm_after_a_plan_with_nothing_to_trade_says_so_and_not_that_no_model_is_saved(tmp_path):
    service, _, executor, planner, _ = make_service(models=ModelStore(tmp_path, ACCOUNT))
    planner.on_target = True
    service.plan_file(b"005930", "m.xlsx")
    said = texts(service.confirm())
    assert "had nothing to trade" in said and "send a model portfolio" not in said and not executor.started


def test_with_a_saved_model_the_refusals_point_to_plan_not_to_sending_the_file_again(tmp_path):
    service, _, executor, *_ = make_service(models=ModelStore(tmp_path, ACCOUNT))
    plan_id = offer_in(service, ALICE)
    service.cancel(chat=ALICE)
    said = texts(service.confirm((), plan_id, chat=ALICE))
    assert "/plan" in said and "send the portfolio" not in said
    offer_in(service, ALICE)
    service.confirm(chat=ALICE)
    busy = texts(service.plan(chat=ALICE))
    assert "still executing" in busy and "/plan" in busy and "send the portfolio" not in busy
