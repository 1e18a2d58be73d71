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
from rebalance.i18n import t
from rebalance.journal import JOURNAL_FILE
from rebalance.twap import RunStatus

log = logging.getLogger(__name__)

TOKEN_LIFETIME = timedelta(hours=24)  # KIS tokens live 24 h; the cache keeps only the expiry


def _ago(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 90:
        return t("health.ago_seconds", n=seconds)
    if seconds < 90 * 60:
        return t("health.ago_minutes", n=seconds // 60)
    return t("health.ago_hours", n=f"{seconds / 3600:.1f}")


def health_lines(client: Any, *, active_run: Any = None, journal_path: Path | None = None,
                 notices: Callable[[], str] | None = None) -> list[str]:
    """The health figures as `label: value` lines, plain text (escape for HTML)."""
    counts = client.stats.counts()
    now = counts.at
    config = client.config
    token = client.tokens.current()
    if token is None:
        token_text = t("health.token_none")
    else:
        issued = token.expires_at - TOKEN_LIFETIME
        left = token.expires_at - now
        state = (t("health.token_expired") if left.total_seconds() <= 0
                 else t("health.token_expires", at=f"{token.expires_at.astimezone(KST):%m-%d %H:%M}"))
        token_text = t("health.token_issued", ago=_ago(issued, now), state=state)
    journal = journal_path or Path(config.data_dir) / JOURNAL_FILE
    try:
        size = f"{journal.stat().st_size / 1024:,.0f} KB"
    except FileNotFoundError:
        size = t("health.journal_none")
    except OSError as exc:  # e.g. the data dir is a file: say so, not "not created yet"
        size = t("health.journal_unreadable", reason=exc.strerror or exc)
    if active_run is None:
        run_text = t("health.run_none")
    else:
        run_text = t("health.run_done", run_id=getattr(active_run, "run_id", "?"),
                     done=f"{100 * float(getattr(active_run, 'progress', 0.0)):.0f}")
    if counts.state is not KisState.UP:
        kis_text = t("health.kis_down", reason=counts.reason)
    elif counts.last_ok is None:  # nothing asked yet: "answering" would be a guess
        kis_text = t("health.kis_unasked")
    else:
        kis_text = t("health.kis_up")
    last_ok = (t("health.last_ok_at", at=f"{counts.last_ok.astimezone(KST):%H:%M:%S}", ago=_ago(counts.last_ok, now))
               if counts.last_ok else t("health.last_ok_none"))
    kakao = "" if config.env is Env.SIM else t("health.kakao")  # the simulator sends no alert
    return [
        t("health.environment", env=config.env.value),
        t("health.account", account=mask_account(config.account)),
        t("health.kis", state=kis_text),
        t("health.token", state=token_text),
        t("health.tokens_today", n=counts.tokens_issued) + kakao,
        t("health.calls_today", calls=counts.calls, refusals=counts.refusals),
        t("health.last_ok", when=last_ok),
        t("health.notices", state=notices() if notices else t("health.notices_unused")),
        t("health.active_run", state=run_text),
        t("health.journal", path=journal, size=size),
        t("health.version", version=version()),
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
    return [Reply(fmt.bold(t("health.title")) + "\n" + fmt.pre(lines))]


def startup_text(client: Any, resumed: RunStatus | None = None, elsewhere: tuple[str, int] | None = None) -> str:
    """"kisbot is up: mock, account 50****75-01, run X resumed"; `elsewhere`: (run, pid) another process drives."""
    config = client.config
    if elsewhere is not None:
        run = t("run.startup_elsewhere", run_id=elsewhere[0], pid=elsewhere[1])
    else:
        run = t("misc_replies.resumed", run=resumed.run_id) if resumed is not None else t("misc_replies.no_run")
    return t("misc_replies.up", env=config.env.value, account=mask_account(config.account), run=run)


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
            self.push(Reply(fmt.bold(t("health.alert_down")) + t("health.alert_down_detail", reason=reason),
                            kind="alert"))
        elif state is KisState.UP and self._down_since is not None:
            since, self._down_since = self._down_since, None
            self.push(Reply(fmt.bold(t("health.alert_up"))
                            + t("health.alert_up_detail", lasted=fmt.duration_text(self.now() - since)), kind="alert"))


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
            print(t("start_lines.journal_unread", why=exc), file=sys.stderr)
    for line in health_lines(client, active_run=active, journal_path=journal_path):
        print(line)
    print(t("start_lines.health_note"))
    return 0
