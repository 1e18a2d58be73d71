"""`kisbot demo`: the console chat over the in-process simulator, as a new user pipes it."""
from __future__ import annotations

import io
import re
import threading
from pathlib import Path

from bot.console import ConsoleChat, _finish, _read_loop, demo
from bot_fakes import a_run, make_service

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class Args:
    speed = 200.0


def run_demo(script: str) -> str:
    out = io.StringIO()
    assert demo(Args(), stdin=io.StringIO(script), stdout=out) == 0
    return out.getvalue()


def test_piped_demo_prices_balance_plan_and_cancel():
    text = run_demo(
        "/price 005930 999999\n/balance\n"
        f"/plan {EXAMPLES / 'broken' / 'bad_code.xlsx'}\n/plan {EXAMPLES / 'model.xlsx'}\n/cancel\n/status\n"
    )
    assert "Nothing here touches a real account" in text  # the first screen says where we are
    assert "> /price 005930 999999" in text  # piped lines are echoed so the output reads as a chat
    assert "삼성전자" in text and "Unknown stock code: 999999" in text
    assert "Balance" in text and "cash" in text
    assert "'5930A' is not a 6-character stock code such as 005930 or 0013V0 (row 4)" in text
    assert "Rebalance plan" in text
    assert re.search(r"\[buttons: Confirm [0-9a-f]{8} = /confirm @main, Cancel = /cancel @main\]", text)  # names its plan and account
    chart = Path(text.split("[chart: ")[1].split("]")[0])
    assert not chart.exists() and "charts were thrown away" in text  # the demo leaves nothing on disk
    assert "dropped; nothing of it was ordered" in text and "No run is active" in text
    assert "<b>" not in text and "&lt;" not in text  # terminal text, not HTML


def test_the_demo_prices_codes_with_letters_and_its_help_shows_one():
    text = run_demo("/price 0013V0 0126z0\n/help\n")
    assert "/price 005930 0013V0" in text.split("> /price")[0]  # the first screen shows a code with letters
    assert "모의신규상장" in text and "모의200 ETF" in text and "Unknown stock code" not in text
    assert "/price 005930 0013V0 – price" in text  # and so does /help


def test_unknown_input_gets_guidance_and_quit_leaves():
    text = run_demo("hello\n/frobnicate\n/plan\nquit\n/balance\n")
    assert "/help lists them all" in text and "I do not know /frobnicate" in text
    assert "/plan examples/model.xlsx" in text
    assert "> /balance" not in text  # nothing after quit runs


def test_end_of_piped_input_waits_for_the_run():
    service, _, executor, *_ = make_service()
    executor.active = a_run("r5")
    waits = []

    def wait(timeout=None):
        waits.append(timeout)
        if len(waits) == 3:
            executor.active = None
            return True
        return False

    executor.wait = wait
    out = io.StringIO()
    _finish(service, out, threading.Lock(), cancel=False)
    assert "waiting for run r5 to finish" in out.getvalue()
    assert len(waits) == 3 and executor.cancels == 0


def test_leaving_an_interactive_demo_stops_the_run():
    service, _, executor, *_ = make_service()
    executor.active = a_run("r6")
    executor.wait = lambda timeout=None: True
    out = io.StringIO()
    _finish(service, out, threading.Lock(), cancel=True)
    assert executor.cancels == 1 and "Stopping the running plan" in out.getvalue()


def test_quit_means_leave_and_the_end_of_piped_input_does_not():
    service, *_ = make_service()
    out = io.StringIO()
    chat = ConsoleChat(service, out, threading.Lock(), lambda data: "chart.png", echo=True)
    assert _read_loop(chat, io.StringIO("/status\nquit\n/balance\n"), out, threading.Lock(), False) is True
    assert "> /balance" not in out.getvalue()  # nothing after quit is run
    assert _read_loop(chat, io.StringIO("/status\n"), out, threading.Lock(), False) is False


def test_a_plan_path_may_hold_spaces(tmp_path):
    service, *_ = make_service()
    chat = ConsoleChat(service, io.StringIO(), threading.Lock(), lambda data: "chart.png", echo=False)
    path = tmp_path / "my model.xlsx"
    path.write_bytes(b"005930")
    replies = chat.replies(f"/plan {path}")
    assert replies[-1].buttons, [r.text for r in replies]


def test_console_survives_a_failing_command():
    service, *_ = make_service()

    def broken():
        raise RuntimeError("boom")

    service.balance = broken
    out = io.StringIO()
    chat = ConsoleChat(service, out, threading.Lock(), lambda data: "/dev/null", echo=False)
    assert chat.handle("/balance") and "Something went wrong" in out.getvalue()


def test_the_demo_help_shows_plan_buy_and_band_and_plans_the_saved_model_with_them():
    text = run_demo(f"/help\n/plan {EXAMPLES / 'model.xlsx'}\n/plan buy\n/plan band 2\n/model\n/cancel\n")
    intro = text.split("> /help")[0]
    assert "/plan buy" in intro and "/plan band 2" in intro
    help_text = text.split("> /help")[1].split("> /plan")[0]
    assert "/plan buy" in help_text and "/plan band 2" in help_text
    assert "Options: buy only" in text and "Options: band ±2 %p" in text
    assert "Model model.xlsx" in text and "005930 삼성전자" in text


def test_a_plan_path_with_options_after_it(tmp_path):
    service, _, _, planner, _ = make_service()
    chat = ConsoleChat(service, io.StringIO(), threading.Lock(), lambda data: "chart.png", echo=False)
    path = tmp_path / "my model.xlsx"
    path.write_bytes(b"005930")
    replies = chat.replies(f"'/plan' '{path}' buy 500000 keep")
    assert replies[-1].buttons, [r.text for r in replies]
    from rebalance.options import PlanOptions
    assert planner.options[-1] == PlanOptions(buy_only=True, amount=500_000, keep_others=True)


def test_plan_without_a_saved_model_asks_the_demo_user_for_a_path_not_a_file_upload():
    service, *_ = make_service()
    chat = ConsoleChat(service, io.StringIO(), threading.Lock(), lambda data: "chart.png", echo=False)
    for line in ("/plan", "/plan buy 500000 keep"):
        text = " ".join(r.text for r in chat.replies(line))
        assert "give the path of an .xlsx after /plan, e.g. /plan examples/model.xlsx" in text
        assert "caption" not in text and "Send the model portfolio" not in text
    assert "after band is not a number" in " ".join(r.text for r in chat.replies("/plan band x"))


def test_health_in_the_demo_names_the_notice_stream_it_runs():
    text = run_demo("/health\n")
    assert "notice stream: " in text
    assert "notice stream: not used" not in text  # the demo's simulator sends notices and the demo listens


def test_the_demo_help_names_the_window_a_demo_confirm_really_runs_in():
    text = run_demo("/help\n").split("> /help")[1]
    assert "/confirm – run the latest plan as time-sliced orders from now for 1m 00s" in text, text
    assert "default window" not in text


def test_a_deposit_in_the_demo_brings_a_cash_schedules_offer():
    text = run_demo(f"/plan {EXAMPLES / 'model.xlsx'}\n/cancel\n/schedule cash 30만\n/deposit 50만\n"
                    "/dividend 005930 361\n/deposit lots\n")
    assert "The paper exchange deposited 500,000 won" in text
    assert "paid a dividend of" in text and "Type /deposit AMOUNT" in text
    offer = text.index("Schedule 1 (cash over 300,000 won)")
    assert "Confirm" in text[offer:] and "buy only" in text[offer:]


def test_the_demos_two_accounts_are_on_one_simulator_each_with_its_own_keys_and_cash(tmp_path):
    from bot.console import DEMO_PENSION_CASH, demo_client, demo_sims

    sims = demo_sims(200.0, tmp_path)
    try:
        assert len({id(server) for _, server in sims}) == 1
        main, pension = (demo_client(sims, label, tmp_path, 200.0) for label in ("main", "pension"))
        assert main.config.app_key != pension.config.app_key
        assert str(pension.config.account) == "50000001-22"
        assert pension.balance().cash_d2 == DEMO_PENSION_CASH and pension.balance().holdings == ()
        assert main.balance().holdings
    finally:
        sims[0][1].stop()


def test_the_demo_plans_the_pension_accounts_saved_etf_model_on_the_shared_simulator():
    text = run_demo("/balance @pension\n/plan @pension\n/cancel @pension\n")
    assert "on one paper exchange" in text
    balance = text.split("> /balance @pension")[1].split("> /plan")[0]
    assert "no holdings" in balance and "30,000,000" in balance
    plan = text.split("> /plan @pension")[1]
    assert "Account @pension (연금저축)" in plan and "Rebalance plan" in plan and "069500" in plan


def test_the_demos_two_accounts_run_at_once_on_its_one_simulator_and_both_end_on_target():
    text = run_demo(f"/plan {EXAMPLES / 'model.xlsx'}\n/confirm 10s\n/plan @pension\n/confirm @pension 10s\n")
    main_run = re.search(r"Run (\S+) started: plan \w+, 12 stocks", text).group(1)
    pension_run = re.search(r"Run (\S+) started: plan \w+, 3 stocks", text).group(1)
    started = text.index(f"Run {pension_run} started")
    assert text.index(f"[@main] Run finished (run {main_run})") > started  # main still ran when pension began
    for label, run in (("main", main_run), ("pension", pension_run)):
        summary = text.split(f"[@{label}] Run finished (run {run})")[1]
        assert summary.index("all on target") < summary.index("Receipt of plan"), label


def test_the_demo_runs_the_example_mixed_model_to_target_in_both_markets_in_30_seconds():
    # The demo's paper exchanges are always open: KRX and US legs share the one window, sells first.
    text = run_demo(f"/plan {EXAMPLES / 'mixed.xlsx'}\n/confirm 30s\n")
    started = text.split(" started: plan")[1].split("[buttons")[0]
    assert "KRX: 0% done, trading" in started and "US: 0% done, trading" in started  # a window per market
    table = text.split("Run finished")[1].split("all on target")[0]
    assert "all on target" in text and "Run failed" not in text
    for code in ("005930", "069500", "0013V0", "AAPL", "SPY", "TLT", "KO"):
        assert code in table, code
    receipt = text.split("Receipt of plan")[1]
    assert "filled $" in receipt and "won a dollar" in receipt  # the US legs in dollars and in won

