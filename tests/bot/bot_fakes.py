"""In-memory stand-ins for the KIS client, the planner and the TWAP executor, for service tests."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.format import Rich, pre
from kis.errors import UnknownStock
from kis.krx import KST
from kis.models import Balance, Holding, OrderType, Quote
from rebalance.journal import RunActive
from rebalance.lifecycle import RunState
from rebalance.model import Plan, PlanLine, Portfolio, Target
from rebalance.portfolio import PortfolioError
from rebalance.twap import RunStatus, StockProgress
from rebalance.window import TwapSettings, Window

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=KST)


class FakeClock:
    def __init__(self, start: datetime = T0):
        self.at = start

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kwargs) -> None:
        self.at += timedelta(**kwargs)


class FakeClient:
    """Prices for known codes, one balance; records calls; can be told to fail."""

    def __init__(self):
        self.quotes = {
            "005930": Quote("005930", 71_000, 500, 0.71, name="삼성전자"),
            "000660": Quote("000660", 180_000, -2_000, -1.10, name="SK하이닉스"),
            "035720": Quote("035720", 40_000, 0, 0.0, name="카카오 <b>"),
        }
        self.balance_value = Balance(
            holdings=(Holding("005930", "삼성전자", 10, 10, 70_000, 71_000, 710_000, 700_000, 10_000, 1.43),),
            cash=1_000_000, cash_d2=1_000_000, stock_value=710_000, total_value=1_710_000, pnl=10_000,
        )
        self.calls: list[tuple] = []
        self.fail: Exception | None = None

    def prices(self, codes):
        codes = list(codes)
        self.calls.append(("prices", tuple(codes)))
        if self.fail:
            raise self.fail
        unknown = [c for c in codes if c not in self.quotes]
        if unknown:
            raise UnknownStock(unknown)
        return {c: self.quotes[c] for c in codes}

    def balance(self):
        self.calls.append(("balance",))
        if self.fail:
            raise self.fail
        return self.balance_value


def a_run(run_id: str, *, stocks: tuple[StockProgress, ...] = (), progress: float = 0.0, end: datetime | None = None,
          active: bool = True, now: datetime = T0) -> RunStatus:
    """The status the executor reports for a run in its window from `now` (default an hour) to `end`."""
    end = end or now + timedelta(hours=1)
    return RunStatus(run_id, "plan1", RunState.ACTIVE if active else RunState.FINISHED, now, end, stocks, progress,
                     end - now if active else timedelta(0))


class FakeExecutor:
    """Starts "runs" instantly; remembers every plan started and every cancel."""

    def __init__(self):
        self.started: list[tuple[Plan, object]] = []
        self.cancels = 0
        self.active: RunStatus | None = None
        self.resumable: RunStatus | None = None
        self.start_gate: threading.Event | None = None  # set -> start() proceeds
        self.start_error: Exception | None = None
        self.other_process: int | None = None  # pid of another process that executes the active run

    def start(self, plan, window):
        if self.start_gate is not None:
            self.start_gate.wait(5)
        if self.start_error:
            raise self.start_error
        if self.active is not None:
            raise RunActive(self.active.run_id)
        run_id = f"run{len(self.started) + 1}"
        self.started.append((plan, window))
        self.active = a_run(run_id, end=window.end)
        return run_id

    def cancel(self):
        self.cancels += 1

    def run_owner(self):
        if self.other_process is not None:
            return self.other_process
        return os.getpid() if self.active is not None else None

    def status(self):
        return self.active

    def resume(self):
        self.active = self.resumable
        return self.resumable

    def wait(self, timeout=None):
        return True


def fake_window(now, settings, duration=None):
    return Window(now, now + (duration or timedelta(hours=5)))


@dataclass
class FakePlanner:
    """read_portfolio/make_plan/plan_messages/plan_chart over a tiny "file format": lines of codes."""

    clock: FakeClock
    made: list[Plan] = field(default_factory=list)
    options: list = field(default_factory=list)  # the options each plan was made with (None = defaults)
    on_target: bool = False
    manual: bool = False  # plans are manual order lists (an IRP account)

    def read_portfolio(self, data: bytes, *, name: str = "") -> Portfolio:
        text = data.decode()
        if "bad" in text:
            raise PortfolioError(["종목코드 '5930A' is not a 6-character stock code such as 005930 or 0013V0 (row 4)"])
        codes = [c for c in text.split() if c]
        return Portfolio(tuple(Target(c, 1 / len(codes)) for c in codes), source=name)

    def make_plan(self, client, portfolio, settings=None, now=None, options=None, names=None) -> Plan:
        client.prices(portfolio.codes)  # the real one prices every code, so unknown codes surface
        now = now or self.clock()
        lines = tuple(
            PlanLine(t.code, "", 1_000, 0 if self.on_target else 0, 0 if self.on_target else 10, 0.0, t.weight)
            for t in portfolio.targets
        )
        plan = Plan(f"p{len(self.made) + 1:07d}", lines, cash=1_000_000, total_value=1_000_000,
                    investable=980_000, est_costs=100, priced_at=now, expires_at=now + timedelta(minutes=5),
                    manual=self.manual)
        self.made.append(plan)
        self.options.append(options)
        return plan

    @staticmethod
    def plan_messages(plan: Plan) -> list[Rich]:
        return [pre([f"plan {plan.id}: {len(plan.lines)} lines"])]

    @staticmethod
    def plan_chart(plan: Plan) -> bytes:
        return b"\x89PNG fake"


def make_service(**overrides):
    """A BotService on fakes; returns (service, client, executor, planner, clock)."""
    from bot.service import BotService

    clock = overrides.pop("clock", None) or FakeClock()
    client = overrides.pop("client", None) or FakeClient()
    executor = overrides.pop("executor", None) or FakeExecutor()
    planner = overrides.pop("planner", None) or FakePlanner(clock)
    # Best-limit orders: no price guard to explain in the offer.
    twap_settings = overrides.pop("twap_settings", None) or TwapSettings(order_type=OrderType.BEST_LIMIT)
    service = BotService(
        client, executor, twap_settings=twap_settings, now=clock,
        read_portfolio=planner.read_portfolio, make_plan=planner.make_plan,
        plan_messages=planner.plan_messages, plan_chart=planner.plan_chart,
        execution_window=fake_window,
        **overrides,
    )
    return service, client, executor, planner, clock

