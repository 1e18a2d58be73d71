"""A slow command's progress as data: what it does, KIS calls made of about how many, time left.

The service says what it is doing (`counting`); whoever listens in this context (`listening`) formats
it: Telegram edits one status line, the console prints one line, the CLI draws a bar on stderr. The
listener is a context variable, as the language is (rebalance/i18n.py): `asyncio.to_thread` carries it
into the thread that runs the command, and the calls are counted where KIS's pace is kept
(`kis.limits.watching_turns`), with the estimate from the same pace.
"""
from __future__ import annotations

import contextvars
import logging
import math
import sys
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator

from kis.limits import Pace, watching_turns
from rebalance.i18n import Msg, t

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """`task` (a sentence such as "Planning 12 stocks") after `done` of about `total` KIS calls at `pace`."""

    task: Msg
    done: int = 0
    total: int = 0
    pace: Pace | None = None

    @property
    def seconds_left(self) -> float | None:
        """About how long the calls left take at the pace, or None without a pace."""
        if self.pace is None:
            return None
        return self.pace.seconds(max(0, self.total - self.done) + (1 if self.done else 0)) if self.total else 0.0


Listener = Callable[[Progress], None]
_listener: contextvars.ContextVar[Listener | None] = contextvars.ContextVar("kisbot_progress", default=None)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Within the block, the progress of commands run in this context goes to `listener`."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def report(progress: Progress) -> None:
    """Tell the listener of this context, if any; a listener's failure never stops the command."""
    listener = _listener.get()
    if listener is None:
        return
    try:
        listener(progress)
    except Exception:
        log.exception("progress listener failed")


@contextmanager
def counting(task: Msg, calls: int, pace: Pace | None) -> Iterator[None]:
    """Report `task` now (before any call), then once per KIS call this context makes."""
    state = Progress(task, 0, max(0, calls), pace)
    report(state)
    if _listener.get() is None:
        yield
        return

    def turn() -> None:
        nonlocal state
        done = state.done + 1
        state = replace(state, done=done, total=max(state.total, done))
        report(state)

    with watching_turns(turn):
        yield


def _seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def progress_text(progress: Progress) -> str:
    """One line: the task, and either the pace and how long it takes (first) or calls n/N and time left."""
    task = progress.task.render()
    left = progress.seconds_left
    if progress.pace is None or left is None:
        if progress.done and progress.total:
            return t("progress.calls_no_pace", task=task, done=progress.done, total=progress.total)
        return t("progress.working", task=task)
    if progress.done == 0:
        return t("progress.paced", task=task, env=env_name(progress.pace.env), rate=f"{progress.pace.rate:g}",
                 seconds=_seconds(left))
    return t("progress.calls", task=task, done=progress.done, total=progress.total, seconds=_seconds(left))


def env_name(env: str) -> str:
    """`mock` -> "mock" / "모의투자": the environment as the user calls it."""
    return t(f"progress.env_{env}") if env in ("mock", "real", "sim") else env


@contextmanager
def terminal_bar(stream: Any = None, *, enabled: bool = True) -> Iterator[None]:
    """A tqdm bar on `stream` (stderr) for the progress reported within: only on a terminal, never when
    piped or asked for JSON (`enabled` False), so scripts read clean output."""
    stream = stream if stream is not None else sys.stderr
    if not enabled or not _is_tty(stream):
        yield
        return
    from tqdm import tqdm

    bar: Any = None

    def show(state: Progress) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=state.total or None, desc=state.task.render(), unit=" KIS calls", file=stream,
                       leave=False, dynamic_ncols=True)
            if state.pace is not None:
                bar.set_postfix_str(t("progress.bar_pace", env=env_name(state.pace.env), rate=f"{state.pace.rate:g}"))
        bar.total = state.total or None
        bar.n = state.done
        bar.refresh()

    with listening(show):
        try:
            yield
        finally:
            if bar is not None:
                bar.close()


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
