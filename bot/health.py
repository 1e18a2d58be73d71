"""`/health` and `kisbot health`, the startup message, and the alert when KIS stops (and starts) answering.

Counts come from the client's `CallStats` (kis/stats.py); the alert listens to its state changes, so
it rings once when KIS goes down and once when it is back, never once per failed call.
"""
from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from bot import format as fmt, version
from bot.cli_doctor import mask_account
from bot.service import Reply
from kis.models import Env
from kis.stats import KisState
from kis.krx import KST
from rebalance.journal import JOURNAL_FILE
from rebalance.twap import RunStatus

log = logging.getLogger(__name__)

TOKEN_LIFETIME = timedelta(hours=24)  # KIS tokens live 24 h; the cache keeps only the expiry


def _ago(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 90:
        return f"{seconds}s ago"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    return f"{seconds / 3600:.1f} h ago"


def health_lines(client: Any, *, active_run: Any = None, journal_path: Path | None = None,
                 notices: Callable[[], str] | None = None) -> list[str]:
    """The health figures as `label: value` lines, plain text (escape for HTML)."""
    counts = client.stats.counts()
    now = counts.at
    config = client.config
    token = client.tokens.current()
    if token is None:
        token_text = "none yet (one is issued at the first call)"
    else:
        issued = token.expires_at - TOKEN_LIFETIME
        left = token.expires_at - now
        state = "expired" if left.total_seconds() <= 0 else f"expires {token.expires_at.astimezone(KST):%m-%d %H:%M} KST"
        token_text = f"issued about {_ago(issued, now)}, {state}"
    journal = journal_path or Path(config.data_dir) / JOURNAL_FILE
    try:
        size = f"{journal.stat().st_size / 1024:,.0f} KB"
    except FileNotFoundError:
        size = "not created yet"
    except OSError as exc:  # e.g. the data dir is a file: say so, not "not created yet"
        size = f"cannot be read: {exc.strerror or exc}"
    if active_run is None:
        run_text = "none"
    else:
        run_text = f"{getattr(active_run, 'run_id', '?')}, {100 * float(getattr(active_run, 'progress', 0.0)):.0f}% done"
    if counts.state is not KisState.UP:
        kis_text = f"NOT answering: {counts.reason}"
    elif counts.last_ok is None:  # nothing asked yet: "answering" would be a guess
        kis_text = "not asked yet by this process (kisbot doctor checks the connection)"
    else:
        kis_text = "answering"
    return [
        f"environment: {config.env.value}",
        f"account: {mask_account(config.account)}",
        f"KIS: {kis_text}",
        f"token: {token_text}",
        f"tokens issued today: {counts.tokens_issued}"
        + ("" if config.env is Env.SIM else " (each one a KakaoTalk alert from KIS)"),
        f"KIS calls today: {counts.calls}, EGW00201 refusals: {counts.refusals}",
        "last good KIS call: " + (f"{counts.last_ok.astimezone(KST):%H:%M:%S} KST ({_ago(counts.last_ok, now)})"
                                  if counts.last_ok else "none since start"),
        "notice stream: " + (notices() if notices else "not used (fills are polled)"),
        f"active run: {run_text}",
        f"journal: {journal} ({size})",
        f"version: {version()}",
    ]


def notice_text(stream: Any) -> Callable[[], str] | None:
    """What /health says about the running notice stream (None when there is none: "not used")."""
    if stream is None:
        return None
    from rebalance.notices import stream_health

    return lambda: str(stream_health(stream))


def notice_news(on_event: Callable[[Any], None]) -> Callable[[Any], None]:
    """The stream's `on_message` for a front end: its news as a NoticeStatus event, in the user's words."""
    from rebalance.events import NoticeStatus
    from rebalance.notices import stream_news

    return lambda news: on_event(NoticeStatus(str(stream_news(news))))


def health_replies(client: Any, **kwargs: Any) -> list[Reply]:
    lines = health_lines(client, **kwargs)
    return [Reply(fmt.bold("Health") + "\n" + fmt.pre(lines))]


def startup_text(client: Any, resumed: RunStatus | None = None) -> str:
    """"kisbot is up: mock, account 50****75-01, run X resumed"."""
    config = client.config
    run = f"run {resumed.run_id} resumed" if resumed is not None else "no run active"
    return f"kisbot is up: {config.env.value}, account {mask_account(config.account)}, {run}."


class KisAlert:
    """One ringing message when KIS stops answering (or no token can be had), one when it answers again."""

    def __init__(self, push: Callable[[Reply], None], now: Callable[[], datetime]):
        self.push = push
        self.now = now
        self._down_since: datetime | None = None

    def attach(self, client: Any) -> "KisAlert":
        client.stats.add_listener(self.on_change)
        return self

    def on_change(self, state: KisState, reason: str) -> None:
        if state is KisState.DOWN and self._down_since is None:
            self._down_since = self.now()
            self.push(Reply(fmt.bold("KIS is not answering") + f": {reason}. kisbot keeps trying and never "
                            "re-sends an order on its own; you will hear when KIS answers again.", kind="alert"))
        elif state is KisState.UP and self._down_since is not None:
            since, self._down_since = self._down_since, None
            self.push(Reply(fmt.bold("KIS answers again") + f" (it did not for {fmt.duration_text(self.now() - since)}). "
                            "/status and /health show where things stand.", kind="alert"))


def health(args: argparse.Namespace, *, client_factory: Callable[[], Any] | None = None) -> int:
    """`kisbot health`: the same figures in a terminal (counts are this process's, tokens every process's)."""
    from kis import open_client
    from rebalance.journal import Journal
    from rebalance.twap import run_status

    client = (client_factory or open_client)()
    active = None
    journal_path = Path(client.config.data_dir) / JOURNAL_FILE
    if journal_path.exists():
        try:
            journal = Journal(journal_path)
            run = journal.active_run(str(client.config.account))
            active = None if run is None else run_status(journal, run.id, datetime.now(KST))
            journal.close()
        except Exception as exc:  # health must answer even when the journal cannot be read
            print(f"kisbot: the journal could not be read ({exc})", file=sys.stderr)
    for line in health_lines(client, active_run=active, journal_path=journal_path):
        print(line)
    print("(calls and refusals are this process's; /health in the chat shows the running bot's)")
    return 0
