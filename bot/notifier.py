"""Executor events -> chat messages: fills batched and silent, one progress message edited in place,
rejections and failures with sound, a summary at the end.

The executor calls `on_event` from its worker thread; that only queues. A delivery thread of our own
does the sending, so a slow chat (Telegram allows about one message a second) never slows trading.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from bot import format as fmt
from bot.service import Reply
from rebalance.i18n import t
from rebalance.events import (
    Cancelled,
    Event,
    Failed,
    Filled,
    Finished,
    NeedsCheck,
    NoticeStatus,
    OrderRejected,
    OrderSent,
    PriceBeyondGuard,
    RunStarted,
    WaitingForCash,
)

log = logging.getLogger(__name__)

BATCH_SECONDS = 3.0  # fills arriving within this of the first one share a message
MIN_GAP_SECONDS = 15.0  # at most one fill message per this: a one-share-per-slice run stays readable
PROGRESS_ROWS = 40  # stocks listed in the progress message, which must stay one message
HOLD_SECONDS = 30.0  # the longest a command's answer may hold pushes back (see `held`)


@dataclass(frozen=True)
class Push:
    """A push put into words where it is sent: a sink that serves chats of several languages calls
    `replies()` once per language (inside `using(lang)`), so a Korean chat and an English one each read
    their own; any other sink gets the replies in the sending thread's language."""

    render: Callable[[], "Reply | list[Reply]"]
    kind: str = ""

    def replies(self) -> list[Reply]:
        said = self.render()
        return said if isinstance(said, list) else [said]


class PushSink(Protocol):
    """Where pushes go (a Telegram chat, a terminal). `send` returns a handle `edit` accepts; a sink with
    `per_language = True` is given `Push`es and renders them per chat, any other one `Reply`s."""

    def send(self, reply: Reply) -> Any: ...

    def edit(self, handle: Any, reply: Reply) -> None: ...


@dataclass
class _StockProgress:
    code: str
    name: str
    side_label: str
    done: int
    target: int


class Notifier:
    """Turns events into pushes. `handle`/`flush_due` are the synchronous core the tests drive
    with a fake clock; `start` runs them on a thread fed by `on_event`."""

    def __init__(self, sink: PushSink, *, clock: Callable[[], float] = time.monotonic,
                 batch_seconds: float = BATCH_SECONDS, min_gap_seconds: float = MIN_GAP_SECONDS):
        self.sink = sink
        self.clock = clock
        self.batch_seconds = batch_seconds
        self.min_gap_seconds = min_gap_seconds
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition()
        self._busy = 0  # events queued or being handled, for `drain`
        self._holds = 0  # commands whose answer must reach the chat before any push (see `held`)
        self._open = threading.Event()
        self._open.set()
        self._reset(None)

    def _reset(self, run_id: str | None) -> None:
        self._run_id = run_id
        self._fills: list[Filled] = []
        self._first_fill_at: float | None = None
        self._last_fill_message_at: float | None = None
        self._stocks: dict[str, _StockProgress] = {}
        self._progress = 0.0
        self._orders_sent = 0
        self._progress_handle: Any = None
        self._progress_shown = ""
        self._head: Callable[[], fmt.Rich] = fmt.Rich

    # --- thread side ------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Called by the executor's worker thread: queue and return at once."""
        with self._idle:
            self._busy += 1
        self._queue.put(event)

    def push(self, reply: "Reply | Push") -> None:
        """Queue any message (an alert, a report) for the delivery thread, behind pending events."""
        self.on_event(reply)  # type: ignore[arg-type]

    @contextmanager
    def held(self) -> Iterator[None]:
        """Pushes wait (at most HOLD_SECONDS) until the block ends: /confirm's "started" precedes "running"."""
        with self._idle:
            self._holds += 1
            self._open.clear()
        try:
            yield
        finally:
            with self._idle:
                self._holds -= 1
                if self._holds == 0:
                    self._open.set()

    def start(self) -> "Notifier":
        self._thread = threading.Thread(target=self._loop, name="kisbot-notifier", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Deliver what is queued (pending fills included), then end the thread."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued event is handled (pending fills may still wait for their batch)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def _loop(self) -> None:
        while True:
            wait = self.seconds_until_due()
            try:
                event = self._queue.get(timeout=wait)
            except queue.Empty:
                event = None
                stopping = False
            else:
                stopping = event is None
            if event is not None:
                if not self._open.wait(HOLD_SECONDS):
                    log.warning("a command held pushes for over %.0f s; sending them anyway", HOLD_SECONDS)
                self._safely(self.handle, event)
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()
            if stopping:
                self._safely(self.flush)
                return
            self._safely(self.flush_due)

    def _safely(self, func: Callable[..., None], *args: Any) -> None:
        try:
            func(*args)
        except Exception:  # a failed push must not end pushing: the next event still goes out
            log.exception("push failed")

    # --- synchronous core -------------------------------------------------------------------

    def _send(self, render: "Reply | Push | Callable[[], Reply | list[Reply]]") -> Any:
        """Send a reply, or one put into words per chat language (see `Push`); the last handle."""
        if isinstance(render, Reply):
            return self.sink.send(render)
        push = render if isinstance(render, Push) else Push(render)
        if getattr(self.sink, "per_language", False):
            return self.sink.send(push)  # type: ignore[arg-type]
        handle = None
        for reply in push.replies():
            handle = self.sink.send(reply)
        return handle

    def _edit(self, handle: Any, render: Callable[[], Reply]) -> None:
        self.sink.edit(handle, Push(render) if getattr(self.sink, "per_language", False) else render())  # type: ignore[arg-type]

    def handle(self, event: Event | Reply | Push) -> None:
        if isinstance(event, (Reply, Push)):
            self._send(event)
        elif isinstance(event, RunStarted):
            self._reset(event.run_id)
            self._head = lambda: (fmt.bold(t("notify.run", run_id=event.run_id))
                                  + t("notify.head", verb=t("notify.resumed") if event.resumed else t("notify.running"),
                                      plan_id=event.plan_id, slices=event.slices,
                                      start=fmt.clock_text(event.start), end=fmt.clock_text(event.end)))
            self._progress_handle = self._send(lambda: Reply(self._progress_text(), silent=True))
            self._progress_shown = self._progress_text()
        elif isinstance(event, OrderSent):
            self._orders_sent += 1
        elif isinstance(event, Filled):
            self._fills.append(event)
            if self._first_fill_at is None:
                self._first_fill_at = self.clock()
            self._progress = max(self._progress, event.progress)
            self._stocks[event.code] = _StockProgress(event.code, event.name, event.side.label,
                                                      event.done_qty, event.order_qty)
        elif isinstance(event, OrderRejected):
            self.flush()
            self._send(lambda: Reply(
                fmt.bold(t("notify.rejected"))
                + t("notify.rejected_detail", side=fmt.side_text(event.side), code=event.code, qty=f"{event.qty:,}",
                    message=event.message) + (f" ({event.msg_cd})" if event.msg_cd else ""),
                kind="error",
            ))
        elif isinstance(event, WaitingForCash):
            self.flush()
            key = "usexec.waiting_for_dollars" if event.currency == "USD" else "notify.waiting_for_cash"
            self._send(lambda: Reply(
                t(key, code=event.code, needed=fmt.money(event.needed, event.currency),
                  available=fmt.money(event.available, event.currency)),
                silent=True,
            ))
        elif isinstance(event, NeedsCheck):
            self.flush()
            self._send(lambda: Reply(fmt.bold(t("notify.please_check"))
                                 + t("notify.please_check_detail", what=event.order.what_to_check)))
        elif isinstance(event, PriceBeyondGuard):
            self.flush()
            self._send(lambda: Reply(
                fmt.bold(t(f"notify.stopped_{event.side.label}", code=event.code))
                + t("notify.stopped_detail", name=event.name, price=fmt.money(event.price, event.currency),
                    guard=f"{event.guard * 100:g}", limit=fmt.money(event.limit, event.currency))))
        elif isinstance(event, Finished):
            if event.unresolved:
                self._end(lambda: t("notify.word_unresolved"),
                          lambda: fmt.bold(t("notify.ended_unresolved", n=len(event.unresolved))),
                          event.results, event.unresolved, event.receipt, event.shortfalls)
            elif event.shortfalls:
                self._end(lambda: t("notify.word_short"),
                          lambda: fmt.bold(t("run.ended_short", stocks=len(event.shortfalls),
                                             shares=fmt.won(sum(s.short for s in event.shortfalls)))),
                          event.results, receipt=event.receipt, shortfalls=event.shortfalls)
            else:
                self._end(lambda: t("notify.word_finished"), lambda: fmt.bold(t("notify.finished")), event.results,
                          receipt=event.receipt, done=True)
        elif isinstance(event, Cancelled):
            self._end(lambda: t("notify.word_cancelled"),
                      lambda: fmt.bold(t("notify.cancelled")) + t("notify.cancelled_detail", n=event.cancelled_orders),
                      event.results, event.unresolved, event.receipt, event.shortfalls)
        elif isinstance(event, NoticeStatus):
            self._send(lambda: Reply(str(event.text), silent=True))
        elif isinstance(event, Failed):
            self.flush()
            self._edit_progress(lambda: " – " + fmt.bold(t("notify.word_failed")))
            self._send(lambda: Reply(fmt.bold(t("notify.failed", run_id=event.run_id)) + f": {event.reason}", kind="error"))

    def seconds_until_due(self) -> float | None:
        """How long the pending fills may wait; None when there are none."""
        if not self._fills or self._first_fill_at is None:
            return None
        due = self._first_fill_at + self.batch_seconds
        if self._last_fill_message_at is not None:
            due = max(due, self._last_fill_message_at + self.min_gap_seconds)
        return max(0.0, due - self.clock())

    def flush_due(self) -> None:
        wait = self.seconds_until_due()
        if wait is not None and wait <= 0:
            self.flush()

    def flush(self) -> None:
        """Send the pending fills now, as one silent message, and bring the progress message up to date."""
        if not self._fills:
            return
        fills, self._fills, self._first_fill_at = self._fills, [], None
        self._last_fill_message_at = self.clock()
        self._send(lambda: [Reply(part, silent=True, kind="fills") for part in fmt.fills_text(fills).split()])
        self._edit_progress()

    def _end(self, word: Callable[[], str], title: Callable[[], fmt.Rich], results: tuple, unresolved: tuple = (),
             receipt: object = None, shortfalls: tuple = (), done: bool = False) -> None:
        self.flush()
        if done:
            self._progress = 1.0
        self._edit_progress(lambda: " – " + fmt.bold(word()))
        run_id = self._run_id or ""

        def summary() -> list[Reply]:
            checks = "".join(f"\n• {u.what_to_check}" for u in unresolved)
            text = title() + t("notify.of_run", run_id=run_id) + "\n" + fmt.results_table(results) + checks
            if shortfalls:
                text += "\n" + fmt.shortfall_text(shortfalls)
            if receipt is not None:
                text += "\n" + fmt.receipt_text(receipt)
            return [Reply(part, kind="summary") for part in text.split()]  # a viewer gets it too
        self._send(summary)

    def _progress_text(self, suffix: Callable[[], fmt.Rich | str] | None = None) -> fmt.Rich:
        stocks = list(self._stocks.values())
        lines = [f"{fmt.pad(fmt.side_text(s.side_label), 4)} {s.code} {fmt.pad(fmt.clip(s.name, 10), 10)} "
                 f"{s.done:>6,}/{s.target:<6,}" for s in stocks[:PROGRESS_ROWS]]
        if len(stocks) > PROGRESS_ROWS:
            lines.append(t("notify.more", n=len(stocks) - PROGRESS_ROWS))
        body = "\n" + fmt.pre(lines) if lines else ""
        return (self._head() + (suffix() if suffix else "") + "\n" + t("notify.progress", done=f"{self._progress * 100:.0f}",
                                                 orders=self._orders_sent) + body)

    def _edit_progress(self, suffix: Callable[[], fmt.Rich | str] | None = None) -> None:
        text = self._progress_text(suffix)
        if self._progress_handle is None or text == self._progress_shown:
            return  # Telegram refuses an edit that changes nothing (the same in every language)
        self._progress_shown = text
        self._edit(self._progress_handle, lambda: Reply(self._progress_text(suffix), silent=True))
