"""Pushes from a run: fills batched and silent, one progress message edited, errors with sound."""
from __future__ import annotations

import re
import threading

from bot.notifier import Notifier
from bot.service import Reply
from kis.models import OrderSide
from rebalance.events import (Cancelled, Failed, Filled, Finished, OrderRejected, OrderSent, RunStarted,
                              StockResult, WaitingForCash)
from bot_fakes import T0
from rebalance.i18n import using
from rebalance.shortfall import Shortfall, ShortReason

RUN = "r1"


class RecordingSink:
    def __init__(self):
        self.sent: list[Reply] = []
        self.edits: list[tuple[int, Reply]] = []
        self.lock = threading.Lock()

    def send(self, reply):
        with self.lock:
            self.sent.append(reply)
            return len(self.sent) - 1

    def edit(self, handle, reply):
        with self.lock:
            self.edits.append((handle, reply))


class Ticker:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def started(resumed=False):
    return RunStarted(RUN, "p1", T0, T0.replace(hour=11), slices=500, resumed=resumed)


def fill(n, code="005930", qty=1, price=71_000, total=500):
    return Filled(RUN, code, "삼성전자", OrderSide.BUY, qty, price, done_qty=n, order_qty=total, progress=n / total)


def make(**kwargs):
    sink, clock = RecordingSink(), Ticker()
    return Notifier(sink, clock=clock, **kwargs), sink, clock


def test_run_start_sends_one_silent_progress_message():
    notifier, sink, _ = make()
    notifier.handle(started())
    assert len(sink.sent) == 1 and sink.sent[0].silent
    assert "Run r1</b> running" in sink.sent[0].text


def test_fills_within_the_batch_window_become_one_silent_message():
    notifier, sink, clock = make(batch_seconds=3, min_gap_seconds=3)
    notifier.handle(started())
    for n in range(1, 6):
        notifier.handle(fill(n, price=71_000 + 100 * n))
        clock.t += 0.5
        notifier.flush_due()
    assert len(sink.sent) == 1  # 2.5 s after the first fill: still gathering
    clock.t = 3.0
    notifier.flush_due()
    assert len(sink.sent) == 2
    message = sink.sent[1]
    assert message.silent and re.search(r"\b5 sh @ +71,300 +5/500", message.text)
    handle, progress = sink.edits[-1]
    assert handle == 0 and "1% done" in progress.text and "5/500" in progress.text


def test_five_hundred_one_share_fills_do_not_flood_the_chat():
    notifier, sink, clock = make(batch_seconds=3, min_gap_seconds=15)
    notifier.handle(started())
    for n in range(1, 501):  # one fill a second
        notifier.handle(fill(n))
        clock.t += 1.0
        notifier.flush_due()
    notifier.handle(Finished(RUN, (StockResult("005930", "삼성전자", 0, 500, 500),)))
    fill_messages = [r for r in sink.sent if "Filled" in r.text]
    assert 30 <= len(fill_messages) <= 36  # ~500 s / 15 s, not 500
    assert sum(shares(r.text) for r in fill_messages) == 500  # none lost
    assert len(sink.edits) <= len(fill_messages) + 1


def test_rejection_flushes_pending_fills_first_and_rings():
    notifier, sink, clock = make()
    notifier.handle(started())
    notifier.handle(fill(1))
    notifier.handle(OrderRejected(RUN, "000660", OrderSide.BUY, 3, "APBK0952", "주문가능금액을 초과 했습니다 <x>"))
    assert "Filled" in sink.sent[1].text
    rejected = sink.sent[2]
    assert not rejected.silent and "APBK0952" in rejected.text and "&lt;x&gt;" in rejected.text


def test_waiting_for_cash_is_said_once_and_silently():
    notifier, sink, _ = make()
    notifier.handle(started())
    notifier.handle(WaitingForCash(RUN, "000660", needed=360_000, available=100_000))
    assert sink.sent[-1].silent and "360,000" in sink.sent[-1].text and "not dropped" in sink.sent[-1].text


def test_finish_edits_progress_to_done_and_sends_the_summary_with_sound():
    notifier, sink, _ = make()
    notifier.handle(started())
    notifier.handle(OrderSent(RUN, "005930", OrderSide.BUY, 1, "0000000001"))
    notifier.handle(fill(499))
    notifier.handle(Finished(RUN, (StockResult("005930", "삼성전자", 0, 500, 499),
                                   StockResult("000660", "SK하이닉스", 10, 0, 0))))
    summary = sink.sent[-1]
    assert not summary.silent and "Run finished" in summary.text
    assert "005930" in summary.text and "500" in summary.text and "499" in summary.text and "+1" in summary.text
    assert "1 stock(s) off target" in summary.text
    assert "100% done" in sink.edits[-1][1].text and "finished" in sink.edits[-1][1].text
    assert "1 order(s) sent" in sink.edits[-1][1].text


def test_cancel_and_failure_are_reported():
    notifier, sink, _ = make()
    notifier.handle(started())
    notifier.handle(Cancelled(RUN, 2, (StockResult("005930", "", 0, 10, 4),)))
    assert "Run cancelled" in sink.sent[-1].text and "2 resting order(s)" in sink.sent[-1].text
    notifier.handle(started(resumed=True))
    assert "resumed after a restart" in sink.sent[-1].text
    notifier.handle(Failed(RUN, "journal <locked>"))
    assert not sink.sent[-1].silent and "journal &lt;locked&gt;" in sink.sent[-1].text


def test_thread_delivers_in_order_and_survives_a_failing_sink():
    class Flaky(RecordingSink):
        def send(self, reply):
            if "Order rejected" in reply.text and not getattr(self, "failed", False):
                self.failed = True
                raise ConnectionError("chat down")
            return super().send(reply)

    sink = Flaky()
    notifier = Notifier(sink, batch_seconds=0.0, min_gap_seconds=0.0).start()
    notifier.on_event(started())
    notifier.on_event(OrderRejected(RUN, "000660", OrderSide.BUY, 1, "X", "no"))
    notifier.on_event(fill(1))
    notifier.on_event(Finished(RUN, ()))
    assert notifier.drain(5)
    notifier.stop()
    assert [r.text.split()[0] for r in sink.sent] == ["<b>Run", "<b>Filled</b>", "<b>Run"]


def shares(text: str) -> int:
    """Shares a fill message reports, over all its lines."""
    return sum(int(n.replace(",", "")) for n in re.findall(r"([\d,]+) sh @", text))


def test_stopping_delivers_fills_still_waiting_for_their_batch():
    sink = RecordingSink()
    notifier = Notifier(sink, batch_seconds=100.0, min_gap_seconds=100.0).start()
    notifier.on_event(started())
    notifier.on_event(fill(1))
    notifier.on_event(fill(2))
    assert notifier.drain(5)
    assert len(sink.sent) == 1  # the fills wait for their batch
    notifier.stop()
    assert shares(sink.sent[-1].text) == 2


def test_a_run_that_ends_with_an_unresolved_order_says_what_to_check_instead_of_finished():
    from rebalance.events import UnresolvedOrder

    notifier, sink, _ = make()
    notifier.handle(started())
    lost = UnresolvedOrder("005930", "삼성전자", OrderSide.BUY, 7, T0)
    notifier.handle(Finished(RUN, (StockResult("005930", "삼성전자", 0, 10, 3),), (lost,)))
    text = sink.sent[-1].text
    assert "ended with 1 unresolved order" in text and "Run finished" not in text
    assert f"buy order for 005930 x7 sent at {T0:%H:%M:%S} KST" in text and "today's orders" in text


def test_a_price_past_the_guard_and_an_ambiguous_order_are_told_with_sound():
    from rebalance.events import NeedsCheck, PriceBeyondGuard, UnresolvedOrder

    notifier, sink, _ = make()
    notifier.handle(started())
    notifier.handle(PriceBeyondGuard(RUN, "005930", "삼성전자", OrderSide.BUY, 71_700, 74_000, 0.01))
    notifier.handle(NeedsCheck(RUN, UnresolvedOrder("005930", "삼성전자", OrderSide.BUY, 7, T0, candidates=2)))
    guard, check = sink.sent[-2:]
    assert not guard.silent and "Stopped buying 005930" in guard.text and "74,000" in guard.text
    assert not check.silent and "2 of today's buy orders" in check.text


def test_the_summary_of_a_run_that_ended_short_names_each_stock_its_shares_and_why_in_both_languages():
    short = Shortfall("005930", "삼성전자", OrderSide.BUY, 40, 12, ((ShortReason.UNFILLED, 20), (ShortReason.CASH, 8)))
    for lang, words in (("en", ("28 of 40", "ended short", "waiting for cash", "rested unfilled")),
                        ("ko", ("40주 중 28주", "목표에 못 미친", "예수금", "매수"))):
        notifier, sink, _ = make()
        with using(lang):
            notifier.handle(Finished(RUN, (StockResult("005930", "삼성전자", 0, 40, 12),), shortfalls=(short,)))
        text = " ".join(str(r.text) for r in sink.sent)
        for word in words:
            assert word in text, (lang, word, text)


def test_a_korean_bot_pushes_the_run_start_fills_and_summary_in_korean():
    notifier, sink, _ = make(batch_seconds=0)
    with using("ko"):
        notifier.handle(started())
        notifier.handle(fill(500))
        notifier.flush()
        notifier.handle(Finished(RUN, (StockResult("005930", "삼성전자", 0, 500, 500),)))
    texts = [r.text for r in sink.sent] + [r.text for _, r in sink.edits]
    assert "실행 r1</b> 진행 중: 계획 p1, 500회 분할" in texts[0]
    assert any(text.startswith("<b>체결</b>") and "매수" in text for text in texts)
    assert any("<b>실행 완료</b> (실행 r1)" in text for text in texts)
    assert not any("Run " in text or "order(s) sent" in text for text in texts)


def test_pushes_wait_while_a_command_holds_them_and_go_out_in_order_after():
    notifier, sink, _ = make()
    notifier.start()
    try:
        with notifier.held():
            notifier.on_event(started())
            notifier.on_event(OrderSent(RUN, "005930", OrderSide.BUY, 1, "o1"))
            assert not notifier.drain(timeout=0.3) and sink.sent == []  # "running" waits for the answer
        assert notifier.drain(timeout=5) and len(sink.sent) == 1 and "running" in sink.sent[0].text
    finally:
        notifier.stop()
