"""A slow command's progress as data: reported before the first KIS call, once per call, with an estimate
from the account's pace; only the calls of the command's own context count."""
from __future__ import annotations

import io
import threading

from bot.progress import Progress, counting, listening, progress_text, terminal_bar
from kis.limits import Pace, RateLimiter
from rebalance.i18n import Msg, using

MOCK = Pace("mock", 1.0)


def fake_limiter() -> RateLimiter:
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    return RateLimiter(1.0, clock=lambda: now[0], sleep=sleep)


def test_the_first_line_says_the_task_the_pace_and_how_long_it_takes():
    line = progress_text(Progress(Msg("progress.plan", n=12), 0, 13, MOCK))
    assert line == "Planning 12 stocks: mock allows 1 KIS call/s, about 13 s"
    with using("ko"):
        assert progress_text(Progress(Msg("progress.plan", n=12), 0, 13, MOCK)) == \
            "12개 종목 계획 중: 모의투자는 KIS 호출을 초당 1회 허용합니다, 약 13초"


def test_later_lines_count_the_calls_and_the_time_left():
    assert progress_text(Progress(Msg("progress.plan", n=12), 5, 13, MOCK)) == \
        "Planning 12 stocks: KIS calls 5/13, about 9 s left"


def test_counting_reports_before_any_call_then_once_per_call_of_its_own_context():
    limiter = fake_limiter()
    seen: list[Progress] = []
    with listening(seen.append):
        with counting(Msg("progress.plan", n=2), 3, MOCK):
            assert [p.done for p in seen] == [0]
            limiter.acquire()
            other = threading.Thread(target=limiter.acquire)  # another thread (a TWAP worker) is not counted
            other.start()
            other.join()
            limiter.acquire()
            limiter.acquire()
            limiter.acquire()  # one more call than estimated: the total grows, never shows 4/3
    assert [(p.done, p.total) for p in seen] == [(0, 3), (1, 3), (2, 3), (3, 3), (4, 4)]
    limiter.acquire()
    assert len(seen) == 5  # outside the block nothing is reported


def test_without_a_listener_counting_costs_nothing_and_says_nothing():
    limiter = fake_limiter()
    with counting(Msg("progress.plan", n=2), 3, MOCK):
        limiter.acquire()


def test_a_pace_knows_how_many_calls_quotes_take():
    assert Pace("mock", 1.0).quote_calls(12) == 12
    assert Pace("real", 18.0, 30).quote_calls(31) == 2
    assert Pace("real", 18.0, 30).quote_calls(0) == 0


class Terminal(io.StringIO):
    def isatty(self):
        return True


def plan_three(limiter: RateLimiter) -> None:
    with counting(Msg("progress.plan", n=3), 4, MOCK):
        for _ in range(4):
            limiter.acquire()


def test_a_terminal_gets_a_bar_of_the_calls_on_stderr():
    stream = Terminal()
    with terminal_bar(stream):
        plan_three(fake_limiter())
    drawn = stream.getvalue()
    assert "Planning 3 stocks" in drawn and "4/4" in drawn and "mock: 1 calls/s" in drawn


def test_a_pipe_or_json_gets_no_bar():
    piped, terminal = io.StringIO(), Terminal()
    with terminal_bar(piped):
        plan_three(fake_limiter())
    with terminal_bar(terminal, enabled=False):  # --json
        plan_three(fake_limiter())
    assert piped.getvalue() == "" and terminal.getvalue() == ""


def test_the_demo_says_in_one_line_what_a_plan_does_and_how_long_it_takes():
    from pathlib import Path

    from bot.console import demo

    class Args:
        speed = 200.0

    model = Path(__file__).resolve().parents[2] / "examples" / "model.xlsx"
    out = io.StringIO()
    assert demo(Args(), stdin=io.StringIO(f"/plan {model}\n"), stdout=out) == 0
    lines = [line for line in out.getvalue().splitlines() if line.startswith("  … ")]
    assert lines == ["  … Planning 10 stocks: the simulator allows 200 KIS call/s, about 1 s"]
