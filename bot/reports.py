"""The daily report: value, day change, P/L, cash, the day's fills, drift against the saved model, a chart.

`Reports.build` asks KIS (balance, today's orders; the US side where the client has one), writes the day's value
row (US holdings and dollar cash in won at KIS's rate of the day) and returns a `Report`;
`report_replies` turns it into chat messages. `ReportScheduler` sends it once per trading day at
KISBOT_REPORT_AT, in the project's `schedule` worker style on an injected clock; `/report` and
`kisbot report` give the same on demand.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Callable

from bot import format as fmt
from bot.service import Button, Reply, describe_error, text_replies
from bot.notifier import Push
from bot.ticking import TickThread
from kis.errors import KisError, KisTransportError, OverseasNotEnabled
from kis.markets import to_krw
from kis.models import Balance, Holding, OrderSide, UsBalance
from kis.krx import KST
from rebalance.charts import value_chart
from rebalance.clock import Clock, ClockScheduler
from rebalance.deposit import Deposit, deposit_sentence, report_deposit
from rebalance.drift import Drift, UsHeld, drift, us_held_of
from rebalance.plan import is_us_code
from rebalance import saved_model
from rebalance.saved_model import SavedModel
from rebalance.history import Snapshot, ValueHistory
from rebalance.i18n import t
from rebalance.sessions import DEFAULT_REPORT_AT, is_trading_day, next_report_at, session_day

log = logging.getLogger(__name__)

CHART_SESSIONS = 30
RETRY_AFTER = timedelta(minutes=5)  # a report KIS could not answer for is tried again, the same day only
PLAN_BUTTON = "bandplan"  # callback data prefix of the drift report's Plan button


@dataclass(frozen=True)
class DayFill:
    """What one stock traded today on one side (all of the day's orders together)."""

    code: str
    name: str
    side: OrderSide
    qty: int
    amount: int


@dataclass(frozen=True)
class Report:
    day: date
    at: datetime
    snapshot: Snapshot
    previous: Snapshot | None
    fills: tuple[DayFill, ...]
    drift: tuple[Drift, ...] | None  # None: no saved model
    model_source: str
    history: tuple[Snapshot, ...]
    deposit: Deposit | None = None  # the deposit that rebalances without selling (issue 23); None: no model
    us: UsBalance | None = None  # the US side as KIS valued it (None: none read, or nothing there)
    us_held: UsHeld | None = None  # the US holdings and dollars at KIS's rate, as drift and the total count them
    us_note: str = ""  # why the US side is missing from a report whose model names US tickers

    @property
    def change(self) -> int | None:
        return None if self.previous is None else self.snapshot.total_value - self.previous.total_value

    @property
    def outside(self) -> tuple[Drift, ...]:
        """Stocks outside a band of their own or the default one (a stock without a band never alarms)."""
        return tuple(d for d in self.drift or () if watched(d))


def watched(d: Drift) -> bool:
    return d.band > 0 and d.outside


class Reports:
    """Builds reports for one account and keeps the value history."""

    def __init__(self, client: Any, history: ValueHistory, *, calendar: str, now: Callable[[], datetime],
                 load_model: Callable[[], SavedModel | None] | None = None, band: float = 0.0,
                 cash_buffer: float = 0.02):
        self.client = client
        self.history = history
        self.calendar = calendar
        self.now = now
        self.account = str(client.config.account)
        self.band = band  # KISBOT_BAND, percentage points: the default for stocks without their own
        self.cash_buffer = cash_buffer  # the planner's, so drift and the band plan agree
        data_dir = client.config.data_dir
        self.load_model = load_model or (lambda: saved_model.load_model(data_dir, self.account))

    def build(self) -> Report:
        """Ask KIS for the balance and today's orders, write the day's value row, and report."""
        balance = self.client.balance()
        orders = self.client.orders_today()
        model = self.load_model()
        us, us_held, us_note = self._us_side(model)
        now = self.now()
        day = session_day(now, self.calendar)
        today = day == now.astimezone(KST).date()
        traded = (sum(o.filled_amount for o in orders if o.side is OrderSide.BUY),
                  sum(o.filled_amount for o in orders if o.side is OrderSide.SELL)) if today else None
        if us_note and us is None and not self._had_us(model, day):
            us_note = ""  # an account that never showed a US side: its silence is no news (logged)
        # fills tell deposits (/perf); US holdings and dollars count in won at the day's rate
        snapshot = self.history.record(self.account, day, with_us(balance, us, us_held), now, traded)
        drifts = None
        deposit = None
        mixed = model is not None and any(is_us_code(c) for c in model.portfolio.codes)
        if model is not None and (us_held is not None or not mixed):
            prices = {h.code: h.price for h in balance.holdings if h.qty > 0}
            unpriced = [c for c in model.portfolio.codes if c not in prices and not is_us_code(c)]
            if unpriced:  # model stocks not held: one batched quote
                prices.update({c: q.price for c, q in self.client.prices(unpriced).items()})
            drifts = drift(model.portfolio, balance, prices, band=self.band, cash_buffer=self.cash_buffer, us=us_held)
            if not mixed:  # the deposit figure is the KRX planner's
                deposit = report_deposit(model.portfolio, balance, prices, band=self.band,
                                         cash_buffer=self.cash_buffer)
        fills = _day_fills(orders) if day == now.astimezone(KST).date() else ()
        return Report(day, now, snapshot, self.history.before(self.account, day), fills, drifts,
                      model.file_name if model else "", tuple(self.history.recent(self.account, CHART_SESSIONS,
                                                                                until=day)), deposit,
                      us, us_held, us_note)

    def _had_us(self, model: SavedModel | None, day: date) -> bool:
        """The model names a US ticker, or the last value row before `day` held a US stock."""
        if model is not None and any(is_us_code(c) for c in model.portfolio.codes):
            return True
        previous = self.history.before(self.account, day)
        return previous is not None and any(is_us_code(h.code) for h in previous.holdings)

    def _us_side(self, model: SavedModel | None) -> tuple[UsBalance | None, UsHeld | None, str]:
        """KIS's US balance and the dollar prices drift needs (model tickers not held), where the client has a US
        side; nothing when the account has none (no overseas trading, nothing there and no US ticker in the
        model). A US side KIS does not answer for leaves the rest of the report standing, said once."""
        tickers = [t for t in (model.portfolio.targets if model is not None else ()) if is_us_code(t.code)]
        if not hasattr(self.client, "us_balance"):
            return None, None, t("usplan.no_us_side", tickers=", ".join(x.code for x in tickers)) if tickers else ""
        try:
            us = self.client.us_balance()
            if us.empty and not tickers:
                return None, None, ""
            held = us_held_of(self.client, tickers, us)
        except OverseasNotEnabled as exc:
            return None, None, describe_error(exc) if tickers else ""
        except (KisError, KisTransportError) as exc:  # the KRX side still reports
            log.warning("daily report: the US side was not read (%s)", exc)
            return None, None, t("usmore.report_us_unread", reason=describe_error(exc))
        return us, held, ""

    def on_demand(self) -> list[Reply]:
        """`/report`: the same report now; KIS trouble is one sentence."""
        try:
            report = self.build()
        except (KisError, KisTransportError) as exc:
            return [Reply(describe_error(exc))]
        return report_replies(report)

    def daily(self, *, send: bool = True) -> list[Reply] | None:
        """The scheduled report of today, or None when this day was already reported (by any process)
        or `send` is off (the day's value row is written all the same).

        Raises KisError/KisTransportError when KIS cannot answer (the caller tries again later).
        """
        report = self.daily_report(send=send)
        return None if report is None else report_replies(report, kind="report")

    def daily_report(self, *, send: bool = True) -> Report | None:
        """`daily` before it is put into words (a push renders it in each chat's language)."""
        report = self.build()
        if not send or not self.history.claim_report(self.account, report.day, report.at):
            return None
        return report


def with_us(balance: Balance, us: UsBalance | None, held: UsHeld | None) -> Balance:
    """The KRX balance with the US side added in won at KIS's rate: each US holding a row (its cents to won half
    up, the plan's rule), the dollar cash in the total (won cash stays the cash a deposit is told by)."""
    if us is None or held is None:
        return balance
    rows = tuple(Holding(h.symbol, h.name, h.qty, h.orderable_qty, 0, 0, held.won(h.symbol), to_krw(h.cost, us.rate),
                         to_krw(h.pnl, us.rate), float(h.pnl_rate)) for h in us.holdings if h.qty > 0)
    stocks = sum(r.value for r in rows)
    return dataclasses.replace(balance, holdings=balance.holdings + rows, stock_value=balance.stock_value + stocks,
                               total_value=balance.total_value + held.value,
                               pnl=balance.pnl + sum(r.pnl for r in rows))


def _day_text(day: date, *, year: bool = False) -> str:
    """'Mon 23 Nov' ('11월 23일 (월)'), with the year when asked."""
    return t("report_lines.date_year" if year else "report_lines.date",
             weekday=t(f"service_replies.weekday_{day.weekday()}"), day=day.day,
             month=t(f"report_lines.month_{day.month}"), year=day.year)


def _day_fills(orders: list) -> tuple[DayFill, ...]:
    groups: dict[tuple[str, OrderSide], DayFill] = {}
    for o in orders:
        if o.filled_qty <= 0:
            continue
        key = (o.code, o.side)
        old = groups.get(key)
        groups[key] = DayFill(o.code, o.name or (old.name if old else ""), o.side,
                              o.filled_qty + (old.qty if old else 0), o.filled_amount + (old.amount if old else 0))
    return tuple(groups.values())


# --- the report as chat messages ------------------------------------------------------------------

def report_replies(report: Report, *, kind: str = "") -> list[Reply]:
    """The report as messages: text first (drift first of all, with the Plan button), then the chart."""
    snap = report.snapshot
    parts: list[fmt.Rich | str] = []
    buttons: tuple[Button, ...] = ()
    if report.outside:
        lines = [t("report_lines.drift_line", code=d.code, name=fmt.clip(d.name, 12), now=100 * d.now,
                   target=100 * d.target, band=100 * d.band) for d in report.outside]
        title = "report_lines.drift_title_many" if len(report.outside) > 1 else "report_lines.drift_title_one"
        parts.append(fmt.bold(t(title, n=len(report.outside))) + "\n" + "\n".join(lines) +
                     "\n" + t("report_lines.drift_plan"))
        buttons = (Button(t("report_lines.plan_button"), f"{PLAN_BUTTON}:{report.day:%Y%m%d}"),)
    at = report.at.astimezone(KST)
    late = "" if report.day == at.date() else t("report_lines.last_session", date=_day_text(report.day))
    head = fmt.bold(t("report_lines.title")) + t("report_lines.head", date=_day_text(at.date(), year=True),
                                                 time=f"{at:%H:%M}", late=late)
    change = report.change
    change_text = t("report_lines.first_day") if change is None else (
        f"{fmt.signed(change)}" + (f" ({100 * change / report.previous.total_value:+.2f}%)"
                                   if report.previous and report.previous.total_value else ""))
    rows = [f"{fmt.pad(t('report_lines.' + label), 12)}{value:>15}"
            for label, value in (("total_value", fmt.won(snap.total_value)), ("day_change", change_text),
                                 ("pnl", fmt.signed(snap.pnl)), ("cash", fmt.won(snap.cash)))]
    if report.us is not None and report.us_held is not None:
        us_stocks = sum(report.us_held.won(c) for c in report.us_held.qty)
        rows += [f"{fmt.pad(t('usmore.report_us_stocks'), 12)}{fmt.won(us_stocks):>15}",
                 f"{fmt.pad(t('usmore.report_usd_cash'), 12)}{'$' + format(report.us_held.usd_cash / 100, ',.2f'):>15}"]
    parts.append(head + "\n" + fmt.pre(rows))
    if report.us is not None:
        rate_at = report.us.rate_at.astimezone(KST) if report.us.rate_at else None
        parts.append(t("usmore.report_rate", rate=f"{report.us.rate:,.2f}",
                       at=f"{rate_at:%H:%M}" if rate_at else t("usmore.report_rate_no_time")))
    if report.us_note:
        parts.append(report.us_note)
    if report.fills:
        fill_rows = [f"{fmt.pad(fmt.side_text(f.side), 4)} {f.code} {fmt.pad(fmt.clip(f.name, 10), 10)} {f.qty:>7,} "
                     f"{t('report_lines.shares')} {fmt.won(f.amount):>12}" for f in report.fills]
        parts.append(fmt.bold(t("report_lines.fills_title")) + "\n" + fmt.pre(fill_rows))
    else:
        parts.append(t("report_lines.no_fills"))
    if report.drift is None:
        parts.append(t("report_lines.no_model"))
    elif report.drift:
        drift_rows = [f"{fmt.pad(t('table.code'), 6)} {fmt.pad(t('table.name'), 10)} "
                      f"{fmt.pad(t('report_lines.now'), 6, right=True)} {fmt.pad(t('report_lines.target'), 6, right=True)} "
                      f"{fmt.pad(t('table.band'), 5, right=True)}"]
        drift_rows += [f"{d.code} {fmt.pad(fmt.clip(d.name, 10), 10)} {100 * d.now:>5.1f}% {100 * d.target:>5.1f}% "
                       f"{('±' + format(100 * d.band, 'g')) if d.band else '-':>5}{' !' if watched(d) else ''}"
                       for d in report.drift]
        parts.append(fmt.bold(t("report_lines.drift")) + t("report_lines.against", source=report.model_source
                                                            or t("report_lines.the_saved_model")) + "\n"
                     + fmt.pre(drift_rows))
    if report.deposit is not None:
        parts.append(deposit_sentence(report.deposit))
    replies = [dataclasses.replace(r, kind=kind) for r in text_replies(fmt.join(parts, "\n\n"), buttons=buttons)]
    try:
        chart = value_chart(report.history)
    except Exception:  # a chart is a nicety; the report stands without it
        log.exception("value chart failed")
        return replies
    if chart is not None:  # a line needs two sessions
        replies.append(Reply(t("chart.value_caption", n=len(report.history)), photo=chart, silent=True, kind=kind))
    return replies


# --- the schedule ------------------------------------------------------------------------------------

class ReportScheduler:
    """Sends the daily report once per trading day at `at` (KST), even across restarts.

    `tick()` is the synchronous core the tests drive on a fake clock; `start()` runs it on a thread
    that sleeps (on the clock) until the next job.
    """

    def __init__(self, reports: Reports, at: time | None, clock: Clock, push: Callable[[Reply], None]):
        self.reports = reports
        self.send = at is not None  # KISBOT_REPORT_AT=off: no report, but the day's value is still kept
        self.at = at or DEFAULT_REPORT_AT
        self.clock = clock
        self.push = push
        self.scheduler = ClockScheduler(clock)
        self._done: date | None = None  # the last day this scheduler dealt with, sent or not
        # the thread: the next tick when this one says, an hour after a failure (the schedule outlives a bad day)
        self._ticks = TickThread("kisbot-report", lambda: self.tick(), clock, every=3600.0,
                                 failure="report schedule failed", log=log)

    def tick(self) -> float | None:
        """Run what is due, plan the next report; seconds until it is due."""
        self.scheduler.run_pending()
        if not self.scheduler.get_jobs("report"):
            self._schedule_next()
        return self.scheduler.idle_seconds

    def _schedule_next(self) -> None:
        now = self.clock.now()
        done = [d for d in (self._done, self.reports.history.last_report(self.reports.account)) if d]
        try:
            due = next_report_at(now, self.at, self.reports.calendar, max(done, default=None))
        except ValueError as exc:  # beyond the calendar: say so in the log, look again tomorrow
            log.error("no daily report scheduled: %s", exc)
            due = now + timedelta(days=1)
        self.scheduler.at(due, self._run, due, tag="report")

    def _run(self, due: datetime) -> None:
        now = self.clock.now()
        day = now.astimezone(KST).date()
        if day != due.astimezone(KST).date():
            return  # a day the bot slept through: its report is not sent a day late
        self._done = day
        try:
            if not is_trading_day(day, self.reports.calendar):
                return
            report = self.reports.daily_report(send=self.send)
        except (KisError, KisTransportError) as exc:
            retry = now + RETRY_AFTER
            if retry.astimezone(KST).date() == day:
                log.warning("daily report: KIS did not answer (%s); trying again at %s", exc, f"{retry:%H:%M}")
                self.scheduler.at(retry, self._run, retry, tag="report")
            else:
                log.error("daily report of %s not sent: KIS did not answer (%s)", day, exc)
            return
        except Exception:
            log.exception("daily report failed")
            return
        if report is not None:
            self.push(Push(lambda: report_replies(report, kind="report"), kind="report"))

    def start(self) -> "ReportScheduler":
        self._ticks.start()
        return self

    def stop(self) -> None:
        self._ticks.stop()


# --- the command line --------------------------------------------------------------------------------

def report(args: argparse.Namespace, *, client_factory: Callable[[], Any] | None = None) -> int:
    """`kisbot report [--chart FILE]`: the report now, as text; the value row is written as on /report."""
    from kis import open_client
    from kis.config import Source
    from bot.settings import load_twap_settings

    source = Source()
    calendar = load_twap_settings(source).calendar
    client = (client_factory or open_client)()
    reports = Reports(client, ValueHistory.in_dir(client.config.data_dir), calendar=calendar,
                      now=lambda: datetime.now(KST))
    try:
        result = reports.build()
    except (KisError, KisTransportError) as exc:
        print(f"kisbot: {describe_error(exc)}", file=sys.stderr)
        return 1
    print(f"{client.config.env.value} account {client.config.account}")
    for reply in report_replies(result):
        if reply.photo is None:
            print(reply.plain)
            print()
    chart = getattr(args, "chart", None)
    png = value_chart(result.history) if chart else None
    if chart and png is None:
        print(t("chart.value_needs_two", n=len(result.history)))
    elif chart:
        try:
            Path(chart).write_bytes(png)
        except OSError as exc:
            print("kisbot: " + t("chart.unwritable", path=chart, reason=exc.strerror), file=sys.stderr)
            return 1
        print(t("chart.written", path=chart))
    return 0
