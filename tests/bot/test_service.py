"""The bot's commands, transport-free: what a user is told, and what reaches the account."""
from __future__ import annotations

import threading
from datetime import time, timedelta

import pytest

from bot.service import Reply, parse_duration
from kis.errors import KisError, KisTransportError, RateLimited
from kis.models import OrderType
from rebalance.window import TwapSettings
from bot_fakes import a_run, make_service

XLSX = "model.xlsx"


def texts(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


def offer(service, codes="005930 000660"):
    replies = service.plan_file(codes.encode(), XLSX)
    last = replies[-1]
    assert last.buttons, texts(replies)
    service.shown(last.offers)  # what the transport does once the offer is delivered
    return replies, last.offers


# --- help, price, balance ----------------------------------------------------------------------

def test_help_lists_every_command():
    service, *_ = make_service()
    text = texts(service.help())
    for command in ("/price", "/balance", "/plan", "/confirm", "/cancel", "/status", "/help"):
        assert command in text
    assert "90s, 45m, 2h" in text


def test_price_shows_price_change_and_rate_escaped():
    service, client, *_ = make_service()
    text = texts(service.price(["005930", "035720", "005930"]))
    assert "71,000" in text and "+500" in text and "+0.71%" in text
    assert "카카오 &lt;b&gt;" in text and "<b>" not in text.replace("<pre>", "")
    assert client.calls == [("prices", ("005930", "035720"))]  # one call, duplicates dropped


def test_price_rejects_malformed_codes_without_calling_kis():
    service, client, *_ = make_service()
    text = texts(service.price(["5930A", "<x>"]))
    assert text == "'5930A', '&lt;x&gt;' are not 6-character stock codes such as 005930 or 0013V0."
    assert texts(service.price(["13V0"])) == "'13V0' is not a 6-character stock code such as 005930 or 0013V0."
    assert client.calls == []
    assert "Which stock" in texts(service.price([]))


def test_price_takes_codes_with_letters_in_either_case():
    service, client, *_ = make_service()
    service.price(["0013v0", "0013V0", "5930"])
    assert client.calls[0] == ("prices", ("0013V0", "005930"))  # one call, duplicates dropped


def test_price_names_unknown_codes_and_still_shows_known_ones():
    service, client, *_ = make_service()
    text = texts(service.price(["005930", "999999"]))
    assert "71,000" in text
    assert "Unknown stock code: 999999" in text


def test_price_of_only_unknown_codes():
    service, *_ = make_service()
    assert texts(service.price(["999998", "999999"])) == "Unknown stock codes: 999998, 999999; check the code."


@pytest.mark.parametrize("error, says", [
    (RateLimited("EGW00201", "초당 거래건수를 초과하였습니다."), "try again in a few seconds"),
    (KisError("OPSQ0001", "<bad> thing"), "KIS refused: &lt;bad&gt; thing (OPSQ0001)."),
    (KisTransportError("connection refused to https://secret"), "KIS did not answer"),
])
def test_kis_errors_become_one_sentence(error, says):
    service, client, *_ = make_service()
    client.fail = error
    for replies in (service.price(["005930"]), service.balance()):
        assert len(replies) == 1 and says in replies[0].text
        assert "secret" not in replies[0].text and "Traceback" not in replies[0].text


def test_balance_shows_holdings_cash_total_and_weight():
    service, *_ = make_service()
    text = texts(service.balance())
    assert "005930" in text and "삼성전자" in text
    for figure in ("10 sh", "avg 70,000", "now 71,000", "710,000", "+10,000", "+1.43%", "1,000,000", "1,710,000"):
        assert figure in text
    assert "41.5%" in text  # 710,000 / 1,710,000


# --- files and plans ---------------------------------------------------------------------------

def test_other_files_refused_before_download():
    service, *_ = make_service()
    assert "only read .xlsx" in texts(service.check_document("photo.jpg", 1000))
    assert "only read .xlsx" in texts(service.check_document(None, 1000))
    assert "under 1,000,000 bytes" in texts(service.check_document("big.xlsx", 5_000_000))
    assert service.check_document("model.XLSX", 10_000) is None


def test_plan_file_offers_table_chart_and_buttons_with_the_plan_id():
    service, client, executor, planner, _ = make_service()
    replies, plan_id = offer(service)
    assert replies[0].text.startswith("<pre>plan")
    last = replies[-1]
    assert last.photo == b"\x89PNG fake"
    assert [b.label for b in last.buttons] == [f"Confirm {plan_id}", "Cancel"]  # Confirm names its plan
    assert [b.data for b in last.buttons] == [f"confirm:{plan_id}", f"cancel:{plan_id}"]
    assert executor.started == []  # nothing runs before a confirm


def test_the_plan_says_its_orders_are_guarded_limit_orders():
    from rebalance.window import TwapSettings

    service, *_ = make_service(twap_settings=TwapSettings(calendar="always", price_guard=0.015))
    replies, _ = offer(service)
    assert "at most 1.5% past the latest price" in replies[-1].text


def test_bad_portfolio_is_explained_and_nothing_pending():
    service, *_ = make_service()
    text = texts(service.plan_file(b"bad", "<m>.xlsx"))
    assert "Cannot use &lt;m&gt;.xlsx" in text and "(row 4)" in text
    assert "no plan to confirm" in texts(service.confirm())


def test_unknown_code_in_portfolio_is_a_clear_reply():
    service, *_ = make_service()
    text = texts(service.plan_file(b"005930 999999", XLSX))
    assert "Unknown" in text or "unknown" in text
    assert "no plan to confirm" in texts(service.confirm())


def test_portfolio_already_on_target_offers_no_buttons():
    service, _, _, planner, _ = make_service()
    planner.on_target = True
    replies = service.plan_file(b"005930", XLSX)
    assert "nothing to trade" in replies[-1].text and not replies[-1].buttons


def test_chart_failure_keeps_the_plan_and_its_buttons():
    service, _, _, planner, _ = make_service()

    def broken(plan):
        raise RuntimeError("no fonts")

    service._plan_chart = broken
    replies = service.plan_file(b"005930", XLSX)
    assert replies[-1].photo is None and replies[-1].buttons


# --- confirm ----------------------------------------------------------------------------------

def test_confirm_button_starts_the_plan_once():
    service, _, executor, planner, clock = make_service()
    _, plan_id = offer(service)
    first = texts(service.confirm(plan_id=plan_id))
    assert "Run <b>run1</b> started" in first
    assert [p.id for p, _ in executor.started] == [plan_id]
    again = texts(service.confirm(plan_id=plan_id))
    assert "already confirmed (run run1)" in again
    assert len(executor.started) == 1


def test_confirm_with_duration_runs_from_now_for_that_long():
    service, _, executor, _, clock = make_service()
    offer(service)
    service.confirm(["45m"])
    _, window = executor.started[0]
    assert window.start == clock() and window.end - window.start == timedelta(minutes=45)


@pytest.mark.parametrize("arg", ["45", "soon", "-5m", "0s", "9h", "5s"])
def test_bad_durations_are_answered_and_start_nothing(arg):
    service, _, executor, *_ = make_service()
    offer(service)
    text = texts(service.confirm([arg]))
    assert arg in text or "duration" in text
    assert executor.started == []


def test_parse_duration_forms():
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("45m") == timedelta(minutes=45)
    assert parse_duration("2H") == timedelta(hours=2)
    assert parse_duration("1h30m") == timedelta(minutes=90)


def test_stale_plan_is_replanned_and_shown_not_executed():
    service, _, executor, planner, clock = make_service()
    _, old_id = offer(service)
    clock.advance(minutes=6)
    replies = service.confirm(plan_id=old_id)
    assert executor.started == []
    assert "expired" in replies[0].text and "nothing was ordered" in replies[0].text
    new_id = replies[-1].buttons[0].data.split(":")[1]
    assert new_id != old_id and planner.made[-1].id == new_id
    assert "no longer pending" in texts(service.confirm(plan_id=old_id)) or "replaced" in texts(service.confirm(plan_id=old_id))
    assert "started" in texts(service.confirm(plan_id=new_id))
    assert [p.id for p, _ in executor.started] == [new_id]


def test_a_replan_for_an_expired_confirm_keeps_the_duration_asked_for():
    service, _, executor, planner, clock = make_service()
    offer(service)
    clock.advance(minutes=6)
    replies = service.confirm(["20s"])
    assert executor.started == [] and "/confirm 20s runs it from now for 20s" in replies[-1].text


def test_pressing_an_older_plan_after_a_newer_one_is_refused():
    service, _, executor, *_ = make_service()
    _, first = offer(service)
    _, second = offer(service, "000660")
    assert f"replaced by plan {second}" in texts(service.confirm(plan_id=first))
    assert executor.started == []


def test_second_run_while_one_is_active_is_refused():
    service, _, executor, *_ = make_service()
    offer(service)
    service.confirm()
    assert "already active" in texts(service.confirm())
    assert len(executor.started) == 1


def test_no_new_plan_while_a_run_trades_so_one_cancel_means_one_thing():
    service, _, executor, *_ = make_service()
    offer(service)
    service.confirm()
    for replies in (service.plan_file(b"000660", XLSX), service.plan()):
        assert "still executing" in texts(replies) and not replies[-1].buttons
    assert "dropped" not in texts(service.cancel())  # only the run is stopped
    assert executor.cancels == 1


def test_executor_refusing_a_second_run_keeps_the_plan_pending():
    service, _, executor, *_ = make_service()
    from bot_fakes import a_run as S  # a run the service did not start (e.g. resumed elsewhere)

    _, plan_id = offer(service)
    executor.active = S("other", active=False)  # status says inactive, start still refuses
    from rebalance import RunActive

    executor.start_error = RunActive("other")
    assert "already active" in texts(service.confirm())
    executor.start_error = None
    executor.active = None
    assert "started" in texts(service.confirm(plan_id=plan_id))


def test_failed_start_keeps_the_plan_and_says_why():
    service, _, executor, *_ = make_service()
    offer(service)
    executor.start_error = KisTransportError("boom")
    assert "did not start: KIS did not answer" in texts(service.confirm())
    executor.start_error = None
    assert "started" in texts(service.confirm())


def test_two_simultaneous_presses_start_one_run():
    service, _, executor, *_ = make_service()
    _, plan_id = offer(service)
    executor.start_gate = threading.Event()
    answers: list[str] = []
    threads = [threading.Thread(target=lambda: answers.append(texts(service.confirm(plan_id=plan_id))))
               for _ in range(2)]
    for t in threads:
        t.start()
    executor.start_gate.set()
    for t in threads:
        t.join(5)
    assert len(executor.started) == 1
    assert sum("started" in a for a in answers) == 1 and sum("already confirmed" in a for a in answers) == 1


# --- cancel, status, resume --------------------------------------------------------------------

def test_cancel_drops_a_pending_plan():
    service, _, executor, *_ = make_service()
    _, plan_id = offer(service)
    assert f"Plan {plan_id} dropped" in texts(service.cancel())
    assert "no longer pending" in texts(service.confirm(plan_id=plan_id))
    assert executor.started == [] and executor.cancels == 0


def test_cancel_button_names_its_plan():
    service, *_ = make_service()
    _, first = offer(service)
    _, second = offer(service, "000660")
    assert "no longer pending" in texts(service.cancel(plan_id=first))
    assert f"Plan {second} dropped" in texts(service.cancel(plan_id=second))


def test_cancel_stops_the_active_run_without_waiting():
    service, _, executor, *_ = make_service()
    offer(service)
    service.confirm()
    assert "Stopping the run" in texts(service.cancel())
    assert executor.cancels == 1


def test_cancel_while_the_run_is_starting_stops_it_once_started():
    service, _, executor, *_ = make_service()
    offer(service)
    executor.start_gate = threading.Event()
    answer: list[str] = []
    t = threading.Thread(target=lambda: answer.append(texts(service.confirm())))
    t.start()
    while service._starting is None:  # the confirm holds the plan and waits in executor.start
        threading.Event().wait(0.001)
    assert "will be stopped" in texts(service.cancel())
    executor.start_gate.set()
    t.join(5)
    assert "being stopped" in answer[0] and executor.cancels == 1


def test_nothing_to_cancel():
    service, *_ = make_service()
    assert "Nothing to cancel" in texts(service.cancel())


def test_status_shows_progress_per_stock_and_time_left():
    from bot_fakes import T0
    from kis.models import OrderSide
    from rebalance import StockProgress

    service, _, executor, *_ = make_service()
    assert "No run is active" in texts(service.status())
    stock = StockProgress("005930", "삼성전자", OrderSide.BUY, done_qty=3, order_qty=10, open_qty=0, waiting_for_cash=False)
    executor.active = a_run("r9", stocks=(stock,),
                                 progress=0.3, end=T0 + timedelta(minutes=4, seconds=10))
    text = texts(service.status())
    assert "Run r9" in text and "30% done" in text and "4m 10s left" in text
    assert "buy  005930" in text and "3/10" in text


def test_resume_tells_the_user_only_when_a_run_was_left_active():
    service, _, executor, *_ = make_service()
    assert service.resume() == []
    executor.resumable = a_run("r7", progress=0.5)
    assert "Resumed a run" in texts(service.resume())


def test_every_reply_fits_a_telegram_message():
    service, client, *_ = make_service()
    from kis.models import Holding

    many = tuple(Holding(f"{i:06d}", "가" * 30, i, i, 1000, 1000, 1000 * i, 1000 * i, 0, 0.0) for i in range(400))
    client.balance_value = client.balance_value.__class__(holdings=many, cash=1, cash_d2=1, stock_value=1,
                                                         total_value=2, pnl=0)
    replies = service.balance()
    assert len(replies) > 1 and all(len(r.text) <= 4096 for r in replies)
    assert all(r.text.count("<pre>") == r.text.count("</pre>") for r in replies)


def test_stop_button_stops_only_the_run_it_belongs_to():
    service, _, executor, *_ = make_service()
    offer(service)
    service.confirm()
    assert "not running any more" in texts(service.stop("run-old"))
    assert executor.cancels == 0
    assert "Stopping the run" in texts(service.stop("run1"))
    assert executor.cancels == 1


def test_a_typed_confirm_runs_only_a_plan_whose_offer_was_delivered():
    service, _, executor, *_ = make_service()
    replies = service.plan_file(b"005930 000660", XLSX)  # made, but not yet on the user's screen
    assert "still on its way" in texts(service.confirm()) and executor.started == []
    service.shown(replies[-1].offers)
    assert "started" in texts(service.confirm())


def test_confirm_while_a_newer_file_is_planned_waits_for_that_plan():
    service, _, executor, *_ = make_service()
    offer(service)
    service.file_received()  # a new file arrived; its plan is not made yet
    assert "still being planned" in texts(service.confirm()) and executor.started == []


def test_an_absurdly_long_duration_is_a_sentence_not_an_internal_error():
    service, _, executor, *_ = make_service()
    offer(service)
    text = texts(service.confirm(["99999999999999999999999h"]))
    assert "too long" in text and "went wrong" not in text and executor.started == []


def test_help_names_the_configured_window_of_a_bare_confirm():
    service, *_ = make_service(twap_settings=TwapSettings(start=time(9, 30), end=time(14, 0),
                                                          order_type=OrderType.BEST_LIMIT))
    assert "/confirm – run the latest plan as time-sliced orders from 09:30 to 14:00 KST" in texts(service.help())


def test_status_after_a_run_that_ended_short_says_so_and_its_receipt_says_where_it_stopped(tmp_path):
    from dataclasses import replace

    from kis.models import OrderSide
    from rebalance.receipt import ReceiptStore, build_receipt
    from rebalance.shortfall import Shortfall, ShortReason
    from tests.rebalance.twap_fakes import line, make_plan

    store = ReceiptStore(tmp_path / "journal.sqlite3", "50000000-01")
    short = Shortfall("005930", "삼성전자", OrderSide.BUY, 10, 4, ((ShortReason.HALTED, 6),))
    store.save(replace(build_receipt("r9", make_plan(line("005930", 70_000, 0, 10)), [], None), shortfalls=(short,)))
    service, *_ = make_service(receipts=store)
    assert "last run r9: ended 1 stock(s) short of target" in texts(service.status())
    text = texts(service.receipt())
    assert "6 of 10 share(s) not traded" in text and "ran past the guard" in text


def test_a_manual_plan_of_a_read_only_account_has_no_confirm_button_and_cannot_be_confirmed():
    service, client, executor, planner, clock = make_service()
    planner.manual = True
    replies = service.plan_file(b"069500 148070", XLSX)
    assert not any(r.buttons for r in replies)
    answer = texts(service.confirm())
    assert executor.started == [] and "no plan" in answer.lower()


def test_the_service_plans_with_the_accounts_kind_from_its_configuration(sim_client, tmp_path):
    from dataclasses import replace as changed

    from bot.service import open_service
    from kis.accounts import AccountKind
    from kis.config import Source

    sim_client.config = changed(sim_client.config, kind=AccountKind.IRP)
    source = Source(environ={"MARKET_CALENDAR": "always"}, dotenv_path=tmp_path / "no.env", use_keyring=False)
    service = open_service(sim_client, source=source, on_event=lambda event: None)
    assert service.plan_settings.kind is AccountKind.IRP


def test_accounts_lists_each_account_with_its_kind_masked_number_and_what_it_may_do(tmp_path):
    from kis.accounts import Account, AccountKind, Credentials
    from kis.models import Account as Number
    from rebalance.i18n import using

    keys = Credentials("PSsecretkey", "secret")
    accounts = (Account("main", "main", Number("50087375", "01"), AccountKind.GENERAL, keys),
                Account("irp", "퇴직연금", Number("50087378", "29"), AccountKind.IRP, keys))
    service, *_ = make_service(accounts=accounts)
    with using("en"):
        text = texts(service.accounts())
    assert "Accounts (2):" in text
    assert "@main main: general, 5008****-01 (this chat's). It may hold any KRX stock or ETF" in text
    assert "@irp 퇴직연금: IRP, 5008****-29. It is read-only over the API" in text
    assert "50087378" not in text and "PSsecretkey" not in text
    with using("ko"):
        assert "계좌 (2개):" in texts(service.accounts())


def test_accounts_without_a_configured_list_shows_the_account_this_service_serves():
    service, *_ = make_service()
    assert "@main" in texts(service.accounts())
