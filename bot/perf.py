"""`/perf [month|quarter|year|all]` and `kisbot perf [...]`: returns over time from the value history, as chat
messages and terminal text (the arithmetic is `rebalance.performance`)."""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from datetime import datetime, time
from pathlib import Path
from typing import Callable, Sequence

from bot import format as fmt
from bot.service import Reply, text_replies
from kis.krx import KST
from rebalance.history import ValueHistory
from rebalance.i18n import t
from rebalance.options import shown
from rebalance.charts import perf_chart
from rebalance.performance import Performance, Period, measure, parse_period

log = logging.getLogger(__name__)

HISTORY_SESSIONS = 100_000  # every row: a day a row, so decades


def _pct(value: float) -> str:
    return f"{100 * value:+.2f}%"


def perf_text(perf: Performance) -> fmt.Rich | str:
    """The performance as one message: head, the figures, where the flows came from, contributions."""
    mwr = (t("perf.mwr", pct=_pct(perf.mwr), annual=_pct(perf.mwr_annual))
           if perf.mwr is not None and perf.mwr_annual is not None else t("perf.mwr_none"))
    rows = [t("perf.twr", pct=_pct(perf.twr)), mwr,
            t("perf.value", start=perf.start_value, end=perf.end_value),
            t("perf.net", net=perf.net_deposits, deposits=perf.deposits, withdrawals=perf.withdrawals),
            t("perf.gain", gain=perf.gain), t("perf.costs", costs=perf.costs)]
    head = fmt.bold(t("perf.head", period=t(f"perf.period_{perf.period.value}"), start=f"{perf.start:%Y-%m-%d}",
                      end=f"{perf.end:%Y-%m-%d}", sessions=perf.sessions))
    flows = t("perf.flows", days=len(perf.flows)) if perf.flows else t("perf.flows_none")
    parts: list[fmt.Rich | str] = [head + "\n" + fmt.pre(rows), t("perf.twr_note") + " " + t("perf.mwr_note"), flows]
    if perf.contributions:
        lines = [f"{c.code} {fmt.pad(fmt.clip(c.name, 10), 10)} {c.gain:>+13,} {c.points:>+7.2f}%p"
                 for c in perf.contributions]
        parts.append(fmt.bold(t("perf.contributions")) + "\n" + fmt.pre(lines))
    return fmt.join(parts, "\n\n")


def perf_replies(history: ValueHistory, account: str, words: Sequence[str], now: datetime,
                 costs: Callable[[datetime | None], int] | None = None) -> list[Reply]:
    """`/perf`: the period's figures and the chart; one sentence for a bad period or a history too short."""
    period = parse_period(list(words))
    if period is None:
        return [Reply(t("perf.usage", text=shown(" ".join(words))))]
    today = now.astimezone(KST).date()
    perf = measure(history.recent(account, HISTORY_SESSIONS, until=today), period, today)
    if perf is None:
        return [Reply(t("perf.too_short", period=t(f"perf.period_{period.value}")))]
    if costs is not None:
        since = None if period is Period.ALL else datetime.combine(perf.start, time(0), KST)
        try:
            perf = replace(perf, costs=costs(since))
        except Exception:  # the receipts are a part; the returns stand without them
            log.exception("/perf: reading the receipts failed")
    replies = text_replies(perf_text(perf))
    try:
        chart = chart_of(perf)
    except Exception:  # a chart is a nicety; the figures stand without it
        log.exception("performance chart failed")
        return replies
    caption = t("perf.chart_caption", start=f"{perf.start:%Y-%m-%d}", end=f"{perf.end:%Y-%m-%d}")
    return replies + [Reply(caption, photo=chart, silent=True)]


def chart_of(perf: Performance) -> bytes:
    return perf_chart(perf)


def perf(args: argparse.Namespace, *, config: object = None) -> int:
    """`kisbot perf [month|quarter|year|all] [--chart FILE]`: from the data dir's value history, no KIS call."""
    from kis.config import Source, load_kis_config
    from rebalance.journal import JOURNAL_FILE
    from rebalance.receipt import ReceiptStore

    words = list(getattr(args, "period", None) or ())
    if parse_period(words) is None:
        print("kisbot: " + t("perf.usage", text=shown(" ".join(words))), file=sys.stderr)
        return 2
    config = config or load_kis_config(Source())
    data_dir = Path(config.data_dir)
    account = str(config.account)
    if not (data_dir / "history.sqlite3").exists():
        print(t("perf.cli_no_history", path=data_dir), file=sys.stderr)
        return 1
    history = ValueHistory.in_dir(data_dir)
    receipts = ReceiptStore(data_dir / JOURNAL_FILE, account) if (data_dir / JOURNAL_FILE).exists() else None
    replies = perf_replies(history, account, words, datetime.now(KST),
                           receipts.costs if receipts is not None else None)
    for reply in replies:
        if reply.photo is None:
            print(reply.plain)
    chart = getattr(args, "chart", None)
    photo = next((r.photo for r in replies if r.photo is not None), None)
    if chart and photo is not None:
        try:
            Path(chart).write_bytes(photo)
        except OSError as exc:
            print("kisbot: " + t("chart.unwritable", path=chart, reason=exc.strerror), file=sys.stderr)
            return 1
        print(t("chart.written", path=chart))
    return 0
