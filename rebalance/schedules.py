"""Schedules: plans the bot offers on its own (a monthly buy, cash that arrived, a periodic band plan), the
allowance that lets buy-only ones start without a tap, and what is due now (pure).

Kinds (typed after `/schedule`):
- `dca DAY AMOUNT`: from the first trading day on or after DAY of each month, once that month, when at least
  AMOUNT won is free above the cash buffer: a buy-only plan for AMOUNT.
- `cash AMOUNT`: when free cash above the buffer exceeds AMOUNT, once per arrival: cash rising above AMOUNT
  after having been at or below it, or a rise of at least AMOUNT on top of cash already free (a new deposit):
  a buy-only plan for the free cash.
- `monthly`, `quarterly`, `half`: from the first trading day of the period, once: the band plan.

Every event has a key (`dca:3:2026-12`, `cash:4:7`, `quarterly:5:2026-Q4`); the store claims a key before
its offer goes out, so no event is offered twice, across restarts and processes. An event counts only from
the day its schedule was added. Nothing is due outside a session (weekends, KRX holidays, before the open,
after the close). The allowance is a cap in won per calendar month (KST); each run it starts is recorded at
its planned cost before it starts, inside one transaction with the cap check.
"""
from __future__ import annotations

import calendar as _calendar
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Collection, Mapping, Sequence

from kis.krx import KST, session_hours
from rebalance.amounts import MAX_AMOUNT, AmountError, amount_words, korean_won, parse_amount
from rebalance.i18n import Msg, t
from rebalance.account_db import AccountDb
from rebalance.sessions import MAX_DAYS_AHEAD, is_trading_day

MAX_SCHEDULES = 20  # a chat list stays readable; more is a typo loop


class Kind(StrEnum):
    DCA = "dca"
    CASH = "cash"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF = "half"

    @property
    def buy_only(self) -> bool:
        return self in (Kind.DCA, Kind.CASH)


PERIODS = {Kind.MONTHLY: 1, Kind.QUARTERLY: 3, Kind.HALF: 6}  # months per period

_WORDS = {"dca": Kind.DCA, "적립": Kind.DCA, "cash": Kind.CASH, "현금": Kind.CASH, "monthly": Kind.MONTHLY,
          "매월": Kind.MONTHLY, "월간": Kind.MONTHLY, "quarterly": Kind.QUARTERLY, "분기": Kind.QUARTERLY,
          "half": Kind.HALF, "반기": Kind.HALF}
_REMOVE = {"rm", "remove", "del", "delete", "삭제"}
_ALLOW = {"allow", "허용"}
_OFF = {"off", "끄기", "해제"}
_PER_MONTH = ("/month", "/mo", "/월", "permonth", "amonth", "month", "월", "매월")


class ScheduleError(ValueError):
    """Words `/schedule` cannot use; `msg` says what to type (in the language where it is shown)."""

    def __init__(self, msg: Msg) -> None:
        self.msg = msg
        super().__init__(msg.key)

    def __str__(self) -> str:
        return str(self.msg)


@dataclass(frozen=True)
class Schedule:
    """One kept schedule; `id` is the number `/schedule rm N` names (never reused)."""

    id: int
    kind: Kind
    created: datetime
    day: int | None = None  # dca: day of the month, 1-31 (a shorter month uses its last day)
    amount: int | None = None  # dca: won to buy; cash: the threshold of free cash


@dataclass(frozen=True)
class Watch:
    """What a `cash` schedule saw at its last check: free cash above the buffer, D+2 cash, arrivals so far."""

    free: int
    cash: int
    arrivals: int = 0


@dataclass(frozen=True)
class Offer:
    """A plan due now: its event key, the schedule, and the plan words (`buy AMOUNT` or none: the band plan)."""

    key: str
    schedule: Schedule
    amount: int | None  # buy-only: won to buy; None for a band plan

    @property
    def buy_only(self) -> bool:
        return self.schedule.kind.buy_only

    @property
    def words(self) -> tuple[str, ...]:
        if self.schedule.kind is Kind.DCA:
            return ("buy", str(self.amount))
        return ("buy",) if self.buy_only else ()  # cash: all the free cash, as `/plan buy` counts it


@dataclass(frozen=True)
class Due:
    """The offers due and each `cash` schedule's watch after this check (to keep once its offer is out)."""

    offers: tuple[Offer, ...]
    watches: Mapping[int, Watch]


# --- the calendar --------------------------------------------------------------------------------------

@lru_cache(maxsize=2048)  # days: a few years of checks
def _trading(day: date, calendar: str) -> bool:
    return is_trading_day(day, calendar)


@lru_cache(maxsize=2048)  # days: a few years of checks
def _hours(day: date) -> tuple[datetime, datetime] | None:
    return session_hours(day)


def session_of(now: datetime, calendar: str) -> tuple[datetime, datetime] | None:
    """(open, close) of the session `now` is inside, or None (a weekend, a holiday, before or after it).
    The `always` calendar is always in session, to the end of the KST day."""
    day = now.astimezone(KST).date()
    if calendar == "always":
        start = datetime.combine(day, datetime.min.time(), KST)
        return start, start + timedelta(days=1)
    if not _trading(day, calendar):
        return None
    hours = _hours(day) if calendar == "krx" else None
    if hours is None or not (hours[0] <= now < hours[1]):
        return None
    return hours


def first_trading_day(day: date, calendar: str) -> date:
    """`day` when it is a trading day, else the next one."""
    for _ in range(MAX_DAYS_AHEAD):
        if _trading(day, calendar):
            return day
        day += timedelta(days=1)
    raise ValueError(f"no trading day in the {MAX_DAYS_AHEAD} days after {day:%Y-%m-%d}")


def _month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _dca_day(month: date, day: int) -> date:
    return month.replace(day=min(day, _calendar.monthrange(month.year, month.month)[1]))


def period_label(kind: Kind, day: date) -> tuple[date, str]:
    """The first day of the period `day` is in, and its label (2026-12, 2026-Q4, 2026-H2)."""
    size = PERIODS[kind]
    first_month = (day.month - 1) // size * size + 1
    label = {1: f"{day.year}-{day.month:02d}", 3: f"{day.year}-Q{(first_month - 1) // 3 + 1}",
             6: f"{day.year}-H{(first_month - 1) // 6 + 1}"}[size]
    return date(day.year, first_month, 1), label


def month_of(now: datetime) -> str:
    """The calendar month (KST) an allowance's spend counts in."""
    return f"{now.astimezone(KST):%Y-%m}"


# --- what is due -------------------------------------------------------------------------------------

def due(schedules: Sequence[Schedule], now: datetime, calendar: str, *, free: int, cash: int,
        offered: Collection[str], watches: Mapping[int, Watch], rebase: bool = False) -> Due:
    """The offers due at `now` (pure): `free` is cash above the buffer, `cash` the D+2 cash, `offered` the
    event keys already offered, `watches` each `cash` schedule's last check; `rebase`: kisbot's own run
    moved the cash since then, so a change is no arrival."""
    kept = dict(watches)
    if session_of(now, calendar) is None:
        return Due((), kept)
    today = now.astimezone(KST).date()
    offers: list[Offer] = []
    for s in schedules:
        since = s.created.astimezone(KST).date()
        if s.kind is Kind.CASH:
            offer, kept[s.id] = _cash_arrival(s, watches.get(s.id), free, cash, rebase)
            if offer is not None and offer.key not in offered:
                offers.append(offer)
            continue
        if s.kind is Kind.DCA:
            starts = [(first_trading_day(_dca_day(_month_start(today, back), s.day or 1), calendar),
                       _month_start(today, back)) for back in (0, 1)]
            begun = [(start, month) for start, month in starts if start <= today]
            if not begun:
                continue
            start, month = max(begun)
            key = f"dca:{s.id}:{month:%Y-%m}"
            if start >= since and key not in offered and free >= (s.amount or 0):
                offers.append(Offer(key, s, s.amount))
            continue
        first, label = period_label(s.kind, today)
        start = first_trading_day(first, calendar)
        key = f"{s.kind.value}:{s.id}:{label}"
        if since <= start <= today and key not in offered:
            offers.append(Offer(key, s, None))
    return Due(tuple(offers), kept)


def _cash_arrival(s: Schedule, seen: Watch | None, free: int, cash: int, rebase: bool) -> tuple[Offer | None, Watch]:
    threshold = s.amount or 0
    arrivals = seen.arrivals if seen else 0
    arrived = free > threshold and not rebase and (
        seen is None or seen.free <= threshold or cash - seen.cash >= threshold)
    if not arrived:
        return None, Watch(free, cash, arrivals)
    return Offer(f"cash:{s.id}:{arrivals + 1}", s, free), Watch(free, cash, arrivals + 1)


# --- the words of /schedule ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    """What `/schedule` words ask: `list`, `add` (kind, day, amount), `rm` (number), `allow` (cap or None)."""

    action: str
    kind: Kind | None = None
    day: int | None = None
    amount: int | None = None
    number: int | None = None


def _word(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


def parse_command(words: Sequence[str]) -> Command:
    """The `/schedule` words as a Command; ScheduleError says what to type instead."""
    words = [w for w in words if w.strip()]
    if not words or _word(words[0]) in ("list", "목록"):
        if len(words) > 1:
            raise ScheduleError(Msg("schedule.usage"))
        return Command("list")
    head, rest = _word(words[0]), words[1:]
    if head in _REMOVE:
        number = _word(rest[0]).lstrip("#") if len(rest) == 1 else ""
        if not number.isdigit() or not 0 < int(number) < 10**9:
            raise ScheduleError(Msg("schedule.rm_usage"))
        return Command("rm", number=int(number))
    if head in _ALLOW:
        if len(rest) == 1 and _word(rest[0]) in _OFF:
            return Command("allow", amount=None)
        text = "".join(_word(w) for w in rest)
        for suffix in _PER_MONTH:
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)]
                break
        return Command("allow", amount=_won(text, "allow", "schedule.allow_usage"))
    kind = _WORDS.get(head)
    if kind is None:
        raise ScheduleError(Msg("schedule.usage"))
    if kind is Kind.DCA:
        if len(rest) < 2:
            raise ScheduleError(Msg("schedule.dca_usage"))
        day_text = _word(rest[0]).removesuffix("일")
        if not day_text.isdigit() or not 1 <= int(day_text) <= 31:
            raise ScheduleError(Msg("schedule.day_range", text=rest[0][:12]))
        used = amount_words(rest, 1)
        if 1 + used != len(rest):
            raise ScheduleError(Msg("schedule.dca_usage"))
        return Command("add", kind, day=int(day_text), amount=_won(" ".join(rest[1:]), "dca", "schedule.dca_usage"))
    if kind is Kind.CASH:
        if not rest or amount_words(rest, 0) != len(rest):
            raise ScheduleError(Msg("schedule.cash_usage"))
        return Command("add", kind, amount=_won(" ".join(rest), "cash", "schedule.cash_usage"))
    if rest:
        raise ScheduleError(Msg("schedule.period_usage", kind=kind.value))
    return Command("add", kind)


def _won(text: str, what: str, usage: str) -> int:
    if not text.strip():
        raise ScheduleError(Msg(usage))
    try:
        value = parse_amount(text)
    except AmountError as exc:
        raise ScheduleError(exc.message(what, text[:24])) from None
    if not 0 < value <= MAX_AMOUNT:
        raise ScheduleError(Msg("schedule.amount_positive", what=what))
    return value


def describe(s: Schedule) -> str:
    """One schedule as one line of the current language."""
    if s.kind is Kind.DCA:
        return t("schedule.item_dca", id=s.id, day=s.day, amount=s.amount, won=korean_won(s.amount or 0))
    if s.kind is Kind.CASH:
        return t("schedule.item_cash", id=s.id, amount=s.amount, won=korean_won(s.amount or 0))
    return t(f"schedule.item_{s.kind.value}", id=s.id)


# --- the store -----------------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    account TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT NOT NULL, day INTEGER, amount INTEGER,
    created_at TEXT NOT NULL, PRIMARY KEY (account, id));
CREATE TABLE IF NOT EXISTS schedule_offers (
    account TEXT NOT NULL, key TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (account, key));
CREATE TABLE IF NOT EXISTS schedule_watch (
    account TEXT NOT NULL, id INTEGER NOT NULL, free INTEGER NOT NULL, cash INTEGER NOT NULL,
    arrivals INTEGER NOT NULL, PRIMARY KEY (account, id));
CREATE TABLE IF NOT EXISTS schedule_allowance (
    account TEXT PRIMARY KEY, cap INTEGER NOT NULL, set_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS schedule_spend (
    account TEXT NOT NULL, key TEXT NOT NULL, month TEXT NOT NULL, amount INTEGER NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (account, key));
CREATE TABLE IF NOT EXISTS schedule_open_offers (
    account TEXT NOT NULL, key TEXT NOT NULL, chat INTEGER NOT NULL, plan_id TEXT NOT NULL, until TEXT NOT NULL,
    PRIMARY KEY (account, key, chat));
CREATE TABLE IF NOT EXISTS schedule_marks (
    account TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (account, name));
"""


class ScheduleStore(AccountDb):
    """One account's schedules, offered event keys, cash watches, allowance and its spend, in the journal's
    SQLite file (several processes may share it: claims and spend are single transactions)."""

    schema = SCHEMA

    def _one(self, sql: str, *args: object) -> tuple | None:
        with self._lock:
            return self._db.execute(sql, (self.account, *args)).fetchone()

    def _write(self, sql: str, *args: object) -> int:
        with self._lock:
            return self._db.execute(sql, (self.account, *args)).rowcount

    # schedules
    def schedules(self) -> tuple[Schedule, ...]:
        with self._lock:
            rows = self._db.execute("SELECT id, kind, day, amount, created_at FROM schedules WHERE account = ? "
                                    "ORDER BY id", (self.account,)).fetchall()
        return tuple(Schedule(i, Kind(k), datetime.fromisoformat(c), d, a) for i, k, d, a, c in rows)

    def add(self, kind: Kind, now: datetime, day: int | None = None, amount: int | None = None) -> Schedule | None:
        """Keep a new schedule (its number never reused); None when MAX_SCHEDULES are kept already."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                count = self._db.execute("SELECT COUNT(*) FROM schedules WHERE account = ?",
                                         (self.account,)).fetchone()[0]
                if count >= MAX_SCHEDULES:
                    self._db.execute("ROLLBACK")
                    return None
                row = self._db.execute("SELECT value FROM schedule_marks WHERE account = ? AND name = 'next_id'",
                                       (self.account,)).fetchone()
                ident = int(row[0]) if row else 1
                self._db.execute("INSERT OR REPLACE INTO schedule_marks VALUES (?, 'next_id', ?)",
                                 (self.account, str(ident + 1)))
                self._db.execute("INSERT INTO schedules VALUES (?, ?, ?, ?, ?, ?)",
                                 (self.account, ident, kind.value, day, amount, now.isoformat()))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return Schedule(ident, kind, now, day, amount)

    def remove(self, ident: int) -> Schedule | None:
        """Drop schedule `ident`; the one dropped, or None when there is none of that number."""
        found = next((s for s in self.schedules() if s.id == ident), None)
        if found is not None:
            self._write("DELETE FROM schedules WHERE account = ? AND id = ?", ident)
            self._write("DELETE FROM schedule_watch WHERE account = ? AND id = ?", ident)
        return found

    # offered events
    def offered(self) -> frozenset[str]:
        with self._lock:
            rows = self._db.execute("SELECT key FROM schedule_offers WHERE account = ?", (self.account,)).fetchall()
        return frozenset(r[0] for r in rows)

    def claim(self, key: str, now: datetime) -> bool:
        """True for the one caller (of any process) that may offer event `key`."""
        return self._write("INSERT OR IGNORE INTO schedule_offers VALUES (?, ?, ?)", key, now.isoformat()) == 1

    def release(self, key: str) -> None:
        """The offer of `key` never went out (KIS did not answer): a later check may offer it."""
        self._write("DELETE FROM schedule_offers WHERE account = ? AND key = ?", key)

    # cash watches
    def watches(self) -> dict[int, Watch]:
        with self._lock:
            rows = self._db.execute("SELECT id, free, cash, arrivals FROM schedule_watch WHERE account = ?",
                                    (self.account,)).fetchall()
        return {i: Watch(f, c, a) for i, f, c, a in rows}

    def keep_watch(self, ident: int, watch: Watch) -> None:
        self._write("INSERT OR REPLACE INTO schedule_watch VALUES (?, ?, ?, ?, ?)", ident, watch.free, watch.cash,
                    watch.arrivals)

    # marks
    def mark(self, name: str) -> str | None:
        row = self._one("SELECT value FROM schedule_marks WHERE account = ? AND name = ?", name)
        return row[0] if row else None

    def set_mark(self, name: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO schedule_marks VALUES (?, ?, ?)", name, value)

    # offers open until their session ends
    def keep_open_offer(self, key: str, chat: int, plan_id: str, until: datetime) -> None:
        self._write("INSERT OR REPLACE INTO schedule_open_offers VALUES (?, ?, ?, ?, ?)", key, int(chat), plan_id,
                    until.isoformat())

    def ended_offers(self, now: datetime) -> list[tuple[str, int, str]]:
        """(key, chat, plan id) of every offer whose session has ended by `now`; forgotten once returned."""
        with self._lock:
            rows = self._db.execute("SELECT key, chat, plan_id, until FROM schedule_open_offers WHERE account = ?",
                                    (self.account,)).fetchall()
            ended = [(k, c, p) for k, c, p, u in rows if datetime.fromisoformat(u) <= now]
            for key, chat, _ in ended:
                self._db.execute("DELETE FROM schedule_open_offers WHERE account = ? AND key = ? AND chat = ?",
                                 (self.account, key, chat))
        return ended

    # the allowance
    def allowance(self) -> int | None:
        """The monthly cap in won, or None when plans wait for a tap (the default)."""
        row = self._one("SELECT cap FROM schedule_allowance WHERE account = ?")
        return int(row[0]) if row else None

    def set_allowance(self, cap: int | None, now: datetime) -> None:
        if cap is None:
            self._write("DELETE FROM schedule_allowance WHERE account = ?")
        else:
            self._write("INSERT OR REPLACE INTO schedule_allowance VALUES (?, ?, ?)", int(cap), now.isoformat())

    def spent(self, month: str) -> int:
        row = self._one("SELECT COALESCE(SUM(amount), 0) FROM schedule_spend WHERE account = ? AND month = ?", month)
        return int(row[0]) if row else 0

    def spend_by_month(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT month, SUM(amount) FROM schedule_spend WHERE account = ? GROUP BY month "
                                    "ORDER BY month", (self.account,)).fetchall()
        return {m: int(a) for m, a in rows}

    def reserve(self, key: str, amount: int, now: datetime) -> int | None:
        """Record `amount` won of this month's allowance for event `key` before its run starts; the allowance
        left after it, or None (nothing recorded) when the allowance is off or `amount` does not fit under it."""
        month = month_of(now)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # the cap check and the record in one write: no two processes
            try:
                row = self._db.execute("SELECT cap FROM schedule_allowance WHERE account = ?",
                                       (self.account,)).fetchone()
                spent = self._db.execute("SELECT COALESCE(SUM(amount), 0) FROM schedule_spend WHERE account = ? "
                                         "AND month = ?", (self.account, month)).fetchone()[0]
                if row is None or amount <= 0 or spent + amount > int(row[0]):
                    self._db.execute("ROLLBACK")
                    return None
                self._db.execute("INSERT INTO schedule_spend VALUES (?, ?, ?, ?, ?)",
                                 (self.account, key, month, int(amount), now.isoformat()))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return int(row[0]) - spent - amount

    def unreserve(self, key: str) -> None:
        """The run of `key` did not start: its spend is given back."""
        self._write("DELETE FROM schedule_spend WHERE account = ? AND key = ?", key)
