"""What the bot says unasked (startup, daily report, KIS alerts) and the commands about it:
/report, /health, /notify and the drift report's Plan button. Front ends call these methods.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from bot.health import KisAlert, health_replies, startup_text
from bot.notify import NotifyPrefs
from bot.reports import Reports, ReportScheduler
from bot.schedules import ScheduleDesk
from bot.service import BotService, Reply
from bot.settings import load_report_at
from kis.config import Source
from rebalance.clock import Clock, SystemClock
from rebalance.history import ValueHistory
from rebalance.journal import JOURNAL_FILE
from rebalance.plan import PlanSettings
from rebalance.schedules import ScheduleStore


@dataclass
class Pushes:
    service: BotService
    reports: Reports
    prefs: NotifyPrefs
    scheduler: ReportScheduler
    alert: KisAlert
    notices: Callable[[], str] | None = None  # the notice stream's state, where there is one
    schedules: Any = None  # bot.schedules.ScheduleDesk: /schedule and its check (issue 23)

    @property
    def client(self) -> Any:
        return self.service.client

    def report(self) -> list[Reply]:
        return self.reports.on_demand()

    def health(self) -> list[Reply]:
        return health_replies(self.client, active_run=self.service.active_run(),
                              journal_path=Path(self.client.config.data_dir) / JOURNAL_FILE, notices=self.notices)

    def perf(self, args: Sequence[str] = ()) -> list[Reply]:
        """`/perf [month|quarter|year|all]`: returns over time from the value history (bot/perf.py)."""
        from bot.perf import perf_replies

        receipts = self.service.receipts
        return perf_replies(self.reports.history, self.reports.account, list(args), self.reports.now(),
                            receipts.costs if receipts is not None and hasattr(receipts, "costs") else None)

    def notify(self, chat_id: int, args: Sequence[str]) -> list[Reply]:
        return self.prefs.command(chat_id, args)

    def band_plan(self, ident: str = "", chat: int = 0) -> list[Reply]:
        """The drift report's Plan button pressed in `chat`: the saved model planned with its bands
        (KISBOT_BAND and the file's own), as `/plan` does, and offered there with Confirm / Cancel."""
        return self.service.plan((), chat=chat)

    def startup(self) -> list[Reply]:
        """The startup message, with the run a restart left active (resumed here) if there is one."""
        resumed = self.service.resume()
        active = self.service.active_run() if resumed else None
        owner = self.service.executor.run_owner() if active is not None else None
        if active is not None and owner not in (None, os.getpid()):  # another process drives it: not resumed
            line = startup_text(self.client, elsewhere=(active.run_id, owner))
        else:
            line = startup_text(self.client, active)
        if not resumed:
            return [Reply(line)]
        return [dataclasses.replace(resumed[0], body=line + "\n" + resumed[0].body), *resumed[1:]]

    def schedule(self, args: Sequence[str] = ()) -> list[Reply]:
        """`/schedule ...` (bot/schedules.py)."""
        return self.schedules.command(args) if self.schedules is not None else []

    def start(self) -> None:
        self.scheduler.start()
        if self.schedules is not None:
            self.schedules.start()

    def stop(self) -> None:
        self.scheduler.stop()
        if self.schedules is not None:
            self.schedules.stop()


def open_pushes(service: BotService, *, source: Source, push: Callable[[Reply], None],
                clock: Clock | None = None, notices: Callable[[], str] | None = None,
                prefs: NotifyPrefs | None = None, chats: Sequence[int] = (0,),
                send_to: Callable[[int, Reply], Any] | None = None,
                lang_for: Callable[[int], Any] = lambda chat: None,
                hold: Callable[[], Any] | None = None) -> Pushes:
    """Pushes over a service; ConfigError (one sentence) when KISBOT_REPORT_AT is malformed."""
    report_at = load_report_at(source)
    client = service.client
    clock = clock or SystemClock()
    data_dir = client.config.data_dir
    reports = Reports(client, ValueHistory.in_dir(data_dir), calendar=service.twap_settings.calendar, now=clock.now,
                      band=service.plan_options.band,
                      cash_buffer=(service.plan_settings or PlanSettings()).cash_buffer)
    scheduler = ReportScheduler(reports, report_at, clock, push)
    alert = KisAlert(push, clock.now).attach(client)
    desk = ScheduleDesk(service, ScheduleStore.in_dir(data_dir, client.config.account), clock,
                        calendar=service.twap_settings.calendar, chats=chats,
                        send=send_to or (lambda chat, reply: push(reply)), lang_for=lang_for,
                        **({"hold": hold} if hold is not None else {}))
    return Pushes(service, reports, prefs or NotifyPrefs.in_dir(data_dir), scheduler, alert, notices, desk)
