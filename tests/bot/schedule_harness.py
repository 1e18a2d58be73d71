"""Months of schedules on an injected clock: a paper account whose cash arrives on given days, the real
planner and service, an executor that fills a started plan at once, and the schedule check every few
minutes. Used by tests/bot/test_schedules.py and bench/schedules.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Callable, Iterable

import rebalance
from bot.schedules import ScheduleDesk
from bot.service import BotService, Reply
from kis.errors import KisTransportError
from kis.krx import KST
from kis.models import Account, Balance, Holding, OrderType, Quote
from rebalance.model import Plan, Portfolio, Target
from rebalance.pending import PendingPlans
from rebalance.saved_model import ModelStore
from rebalance.schedules import ScheduleStore, month_of
from rebalance.testing import FakeClock
from rebalance.window import TwapSettings, Window

PRICES = {"069500": 35_000, "360750": 20_000, "148070": 105_000}
MODEL = Portfolio((Target("069500", 0.4, "KODEX 200"), Target("360750", 0.4, "TIGER 미국S&P500"),
                   Target("148070", 0.2, "KOSEF 국고채10년")), "model.xlsx")


def kst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=KST)


@dataclass
class Config:
    account: Account
    data_dir: Path


class PaperAccount:
    """Holdings at fixed prices and D+2 cash; deposits change the cash, fills change both."""

    def __init__(self, data_dir: Path, cash: int, holdings: dict[str, int]):
        self.config = Config(Account.parse("50087375-01"), Path(data_dir))
        self.cash = cash
        self.qty = dict(holdings)
        self.quotes_down = False  # prices() fails as if KIS did not answer (the balance still answers)

    def balance(self) -> Balance:
        rows = tuple(Holding(c, "", q, q, PRICES[c], PRICES[c], q * PRICES[c], q * PRICES[c], 0, 0.0)
                     for c, q in self.qty.items() if q > 0)
        stocks = sum(h.value for h in rows)
        return Balance(rows, self.cash, self.cash, stocks, stocks + self.cash, 0)

    def prices(self, codes: Iterable[str]) -> dict[str, Quote]:
        if self.quotes_down:
            raise KisTransportError("no answer from KIS")
        return {c: Quote(c, PRICES[c], 0, 0.0) for c in codes}

    def fill(self, plan: Plan) -> int:
        """Every line of `plan` filled at its price; the won the buys cost with their costs."""
        spent = 0
        for line in plan.lines:
            self.qty[line.code] = self.qty.get(line.code, 0) + line.order_qty
            spent += line.order_qty * line.price
        self.cash -= spent + plan.est_costs
        return spent + plan.est_costs


class FillingExecutor:
    """Starts a run by filling its plan at once (the run is over before the next check); counts orders."""

    def __init__(self, account: PaperAccount, clock: FakeClock):
        self.account, self.clock = account, clock
        self.runs: list[tuple[datetime, Plan, int]] = []  # when, plan, won spent

    @property
    def orders(self) -> int:
        return sum(sum(1 for line in plan.lines if line.order_qty) for _, plan, _ in self.runs)

    def start(self, plan: Plan, window: Window) -> str:
        self.runs.append((self.clock.now(), plan, self.account.fill(plan)))
        return f"run{len(self.runs)}"

    def cancel(self) -> None:
        pass

    def status(self):
        return None

    def resume(self):
        return None

    def run_owner(self):
        return None

    def wait(self, timeout=None) -> bool:
        return True


@dataclass
class Sent:
    at: datetime
    chat: int
    reply: Reply


@dataclass
class Bot:
    """One "process" on the data dir: its own stores, service and schedule desk."""

    desk: ScheduleDesk
    service: BotService
    store: ScheduleStore


def open_bot(data_dir: Path, account: PaperAccount, executor: FillingExecutor, clock: FakeClock,
             sent: list[Sent], chats: tuple[int, ...] = (1,)) -> Bot:
    journal = Path(data_dir) / rebalance.journal.JOURNAL_FILE
    service = BotService(account, executor, twap_settings=TwapSettings(order_type=OrderType.BEST_LIMIT),
                         now=clock.now, models=ModelStore(data_dir, account.config.account),
                         pending_store=PendingPlans(journal, account.config.account),
                         plan_chart=lambda plan: b"", execution_window=lambda now, s, d=None: Window(now, now + timedelta(hours=1)))
    store = ScheduleStore.in_dir(data_dir, account.config.account)
    desk = ScheduleDesk(service, store, clock, calendar="krx", chats=chats,
                        send=lambda chat, reply: sent.append(Sent(clock.now(), chat, reply)))
    return Bot(desk, service, store)


@dataclass
class Result:
    offers: list[Sent]  # replies that carry a Confirm
    autos: list[Sent]  # announcements of runs started under the allowance
    runs: list[tuple[datetime, Plan, int]]
    orders: int
    spend: dict[str, int]  # calendar month -> won the allowance's runs cost
    recorded: dict[str, int]  # calendar month -> won recorded in the store
    expired: int
    sent: list[Sent] = field(default_factory=list)


def simulate(data_dir: Path, *, start: datetime, end: datetime, schedules: list[list[str]],
             deposits: dict[int, int], allowance: str | None = None, step: timedelta = timedelta(minutes=5),
             restart_days: Iterable[int] = (), cash: int = 100_000,
             holdings: dict[str, int] | None = None, deposit_at: time = time(6, 0),
             on_bot: Callable[[Bot], None] | None = None) -> Result:
    """Run the schedule check every `step` from `start` to `end`; `deposits` maps a day of the month to won
    paid in at `deposit_at` that day; on each of `restart_days` (day of month, at 12:00) the bot is opened
    again on the same data dir (a restart)."""
    clock = FakeClock(start)
    account = PaperAccount(data_dir, cash, holdings or {"069500": 40, "360750": 70, "148070": 13})
    executor = FillingExecutor(account, clock)
    sent: list[Sent] = []
    bot = open_bot(data_dir, account, executor, clock, sent)
    bot.service.models.save(MODEL, clock.now())
    for words in schedules:
        bot.desk.command(words)
    if allowance:
        bot.desk.command(["allow", allowance])
    paid: set[date] = set()
    restarted: set[date] = set()
    restart_days = set(restart_days)
    while clock.now() < end:
        now = clock.now()
        today = now.date()
        if today.day in deposits and today not in paid and now.time() >= deposit_at:
            account.cash += deposits[today.day]
            paid.add(today)
        if today.day in restart_days and today not in restarted and now.time() >= time(12, 0):
            restarted.add(today)
            bot.store.close()
            bot = open_bot(data_dir, account, executor, clock, sent)
            if on_bot is not None:
                on_bot(bot)
        bot.desk.tick()
        clock.advance(step.total_seconds())
    offers = [s for s in sent if s.reply.offers]
    autos = [s for s in sent if any(b.data.startswith("stop:") for b in s.reply.buttons)]
    spend: dict[str, int] = {}
    auto_runs = {s.reply.buttons[0].data.partition(":")[2] for s in autos}
    for i, (at, plan, won) in enumerate(executor.runs, 1):
        if f"run{i}" in auto_runs:
            spend[month_of(at)] = spend.get(month_of(at), 0) + won
    expired = sum(1 for s in sent if s.reply.silent and "expired" in s.reply.plain)
    result = Result(offers, autos, executor.runs, executor.orders, spend, bot.store.spend_by_month(), expired, sent)
    bot.store.close()
    return result


def trading(day: date) -> bool:
    from rebalance.sessions import is_trading_day
    return is_trading_day(day, "krx")

