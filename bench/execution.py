"""What execution costs on the simulator's book: one 20-stock rebalance three ways, liquid and thin, several seeds.

(a) chapter  the seed chapter's TWAP loop (shared/seed/chapter17-api-trading.md, 17.7): one share per
             scheduled time, evenly over the window (`pd.date_range(start, end, periods=n)`), each a
             market-type order as its `trading()` sends it (ORD_DVSN 03, 최유리지정가), no checks;
(b) cross    kisbot's TWAP, every slice a marketable limit at the guard price (KISBOT_EXECUTION=cross);
(c) passive  kisbot's TWAP, each slice first at the own side's best, revised to the guard price after
             `passive_seconds`, when behind the schedule, or at the catch-up pass (the bot's default).

Each way runs on a fresh simulator with the same seed (same walk, same crowd), on its manual clock (the
executor's waits move the exchange's time), so a 30-minute window takes seconds. Per way it prints:
the implementation shortfall of each stock's fills against its arrival mid (the crowd's mid at the window's
start) in bp, mean and p95 over stocks; the spread paid (each fill against the crowd's mid when its order was
accepted) in won and bp of the traded value; the share filled passively; runs ending at target within the
window; and shares past target at any moment (accepted = filled + open beyond the goal, or a holding past
its target). It prints figures and asserts nothing.

    .venv/bin/python bench/execution.py                 # liquid and thin, 5 seeds
    .venv/bin/python bench/execution.py --seeds 3 --only liquid
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from kis.models import OrderSide, OrderType  # noqa: E402
from kis.sim import SimServer  # noqa: E402
from kis.sim.clients import client_for  # noqa: E402
from kis.sim.clock import KST, ManualClock  # noqa: E402
from rebalance.journal import Journal  # noqa: E402
from rebalance.model import Plan, PlanLine  # noqa: E402
from rebalance.twap import TwapExecutor  # noqa: E402
from rebalance.window import TwapSettings, Window  # noqa: E402

START = datetime(2026, 11, 24, 10, 0, tzinfo=KST)
WINDOW = timedelta(minutes=30)
RATE = 50.0  # calls per second, sim and client: the bench is about prices, not pacing
TRADE_WON = 3_000_000  # each stock trades about this much
SETTINGS = dict(calendar="always", max_slices=10, poll_seconds=10, catch_up_seconds=180, call_rate=20,
                settle_seconds=15, record_book=True, passive_seconds=60.0)
WAYS = ("chapter", "cross", "passive")


class SimTime:
    """The executor's clock is the sim's ManualClock: a wait moves the exchange's time instead of sleeping."""

    def __init__(self, manual: ManualClock):
        self.manual = manual

    def now(self) -> datetime:
        return self.manual.now()

    def wait(self, seconds: float, cancel: threading.Event) -> bool:
        if not cancel.is_set():
            self.manual.advance(max(0.0, seconds))
        return cancel.is_set()


@dataclass
class Outcome:
    """One run of one way: per stock its shortfall in bp; the spread paid; at target; shares past target."""

    shortfall_bp: list[float] = field(default_factory=list)
    spread2: int = 0  # twice the won paid past the mid at each order's acceptance
    traded2: int = 0  # twice the traded value at those mids
    filled: int = 0
    passive: int = 0
    at_target: bool = False
    past: int = 0
    orders: int = 0
    revisions: int = 0


class Watch:
    """Listens to the exchange: the crowd's mid at each acceptance, every fill, and any moment past a goal."""

    def __init__(self, sim: SimServer, plan: Plan, passive_nos: set[str] | None = None):
        self.sim, self.plan = sim, plan
        self.goal = {ln.code: abs(ln.order_qty) for ln in plan.lines}
        self.target = {ln.code: (ln.target_qty, ln.order_qty > 0) for ln in plan.lines}
        self.mid2: dict[str, int] = {}
        self.accepted: Counter = Counter()
        self.fills: list[tuple[datetime, str, str, int, int]] = []  # (at, code, order_no, qty, price)
        self.past: dict[str, int] = defaultdict(int)
        self.orders = self.revisions = 0
        sim.exchange.listeners.append(self)

    def crowd_mid2(self, code: str) -> int:
        bid, ask, *_ = self.sim.book._touch(code)
        return bid + ask

    def __call__(self, kind, order, qty, price) -> None:
        if kind == "accepted":
            self.mid2[order.order_no] = self.crowd_mid2(order.code)
            if order.kind == "new":
                self.accepted[order.code] += qty
                self.orders += 1
            elif order.kind == "cancel":
                self.accepted[order.code] -= qty
            elif order.kind == "revise":
                self.revisions += 1
        elif kind == "filled":
            self.fills.append((self.sim.clock(), order.code, order.order_no, qty, price))
        for code, goal in self.goal.items():
            target, buy = self.target[code]
            held = self.sim.exchange.holding_qty(code)
            over = max(self.accepted[code] - goal, held - target if buy else target - held, 0)
            self.past[code] = max(self.past[code], over)

    def outcome(self, arrival2: dict[str, int], end: datetime, passive_nos: set[str]) -> Outcome:
        out = Outcome(orders=self.orders, revisions=self.revisions)
        by_code: dict[str, list] = defaultdict(list)
        for at, code, order_no, qty, price in self.fills:
            by_code[code].append((at, order_no, qty, price))
        done_in_window = True
        for ln in self.plan.lines:
            sign = 1 if ln.order_qty > 0 else -1
            fills = by_code.get(ln.code, [])
            qty = sum(q for _, _, q, _ in fills)
            amount = sum(q * p for _, _, q, p in fills)
            in_window = sum(q for at, _, q, _ in fills if at <= end)
            done_in_window &= in_window >= abs(ln.order_qty)
            if qty:
                mid2 = arrival2[ln.code]
                out.shortfall_bp.append(10_000 * sign * (2 * amount - qty * mid2) / (qty * mid2))
            for _, order_no, q, p in fills:
                m2 = self.mid2[order_no]
                out.spread2 += sign * (2 * p - m2) * q
                out.traded2 += m2 * q
                out.filled += q
                out.passive += q if order_no in passive_nos else 0
        held = {ln.code: self.sim.exchange.holding_qty(ln.code) for ln in self.plan.lines}
        out.at_target = done_in_window and all(held[ln.code] == ln.target_qty for ln in self.plan.lines)
        out.past = sum(self.past.values())
        return out


def make_sim(book: str, seed: int) -> SimServer:
    return SimServer(0, rate_limit=RATE * 10, page_rows=50, daily_page_rows=100, seed=seed,
                     clock=ManualClock(START), always_open=True, book=book, notices=False,
                     listing_lag=1.0, listing_jitter=0.5).start()


def make_plan(sim: SimServer) -> Plan:
    """Sell part of ten holdings and buy ten new stocks, about TRADE_WON each, at the sim's prices now."""
    ex = sim.exchange
    codes = sim.market.codes()[:20]
    lines = []
    for i, code in enumerate(codes):
        price = sim.market.price(code)
        qty = max(2, TRADE_WON // price)
        if i < 10:
            ex.set_holding(code, 2 * qty, price)
            lines.append(PlanLine(code, sim.market.name(code), price, 2 * qty, qty, 0.0, 0.0))
        else:
            ex.set_holding(code, 0)
            lines.append(PlanLine(code, sim.market.name(code), price, 0, qty, 0.0, 0.0))
    ex.set_cash(200_000_000)
    total = ex.cash + sum(ln.price * ln.current_qty for ln in lines)
    return Plan("bench", tuple(lines), ex.cash, total, total, 0, START, START + timedelta(minutes=10))


def run_chapter(sim: SimServer, plan: Plan, client) -> None:
    """The chapter's loop: |n| one-share 03 orders per stock at evenly spaced times over the window."""
    start, end = START, START + WINDOW
    jobs = []
    for ln in plan.lines:
        n = ln.order_qty
        side = OrderSide.BUY if n > 0 else OrderSide.SELL
        for at in pd.date_range(start, end, periods=abs(n)).round(freq="s"):
            jobs.append((at.to_pydatetime(), ln.code, side))
    for at, code, side in sorted(jobs, key=lambda j: j[0]):
        now = sim.clock.now()
        if at > now:
            sim.clock.advance((at - now).total_seconds())
        try:
            client.order(code, side, 1, OrderType.BEST_LIMIT)
        except Exception as exc:  # the chapter's loop checks nothing; neither does its replay
            logging.getLogger(__name__).info("chapter order refused: %s", exc)
    now = sim.clock.now()
    if end > now:
        sim.clock.advance((end - now).total_seconds())
    sim.exchange.match()


def run_twap(sim: SimServer, plan: Plan, client, execution: str, journal: Path):
    executor = TwapExecutor(client, Journal(journal), TwapSettings(execution=execution, **SETTINGS),
                            lambda event: None, SimTime(sim.clock))
    run_id = executor.start(plan, Window(START, START + WINDOW))
    if not executor.wait(600):
        raise RuntimeError(f"{execution} run did not end")
    orders = Journal(journal).orders(run_id)
    return {o.order_no for o in orders if o.passive and o.order_no}, executor.pricing_counts


def one(book: str, seed: int, way: str, work: Path) -> Outcome:
    sim = make_sim(book, seed)
    try:
        plan = make_plan(sim)
        arrival2 = {ln.code: sum(sim.book._touch(ln.code)[:2]) for ln in plan.lines}
        watch = Watch(sim, plan)
        client = client_for(sim, work / f"{book}-{seed}-{way}", sleep=lambda seconds: None, rate_limit=RATE)
        passive_nos: set[str] = set()
        if way == "chapter":
            run_chapter(sim, plan, client)
        else:
            passive_nos, _ = run_twap(sim, plan, client, way, work / f"{book}-{seed}-{way}.sqlite3")
        return watch.outcome(arrival2, START + WINDOW, passive_nos)
    finally:
        sim.stop()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def report(book: str, results: dict[str, list[Outcome]]) -> None:
    print(f"\n{book} book, {len(next(iter(results.values())))} seed(s), 20 stocks, {WINDOW.seconds // 60}-minute window")
    print(f"{'way':8} {'shortfall bp mean':>17} {'p95':>7} {'spread won':>12} {'spread bp':>9} {'passive':>8} "
          f"{'at target':>9} {'past':>5} {'orders':>7} {'revised':>7}")
    spread = {}
    for way, outs in results.items():
        bps = [b for o in outs for b in o.shortfall_bp]
        spread2 = sum(o.spread2 for o in outs)
        traded2 = sum(o.traded2 for o in outs)
        spread[way] = spread2
        filled = sum(o.filled for o in outs)
        print(f"{way:8} {statistics.mean(bps) if bps else 0:17.1f} {pct(bps, 0.95):7.1f} "
              f"{spread2 / 2 / len(outs):12,.0f} {10_000 * spread2 / traded2 if traded2 else 0:9.1f} "
              f"{100 * sum(o.passive for o in outs) / filled if filled else 0:7.0f}% "
              f"{sum(o.at_target for o in outs):>5}/{len(outs):<3} {sum(o.past for o in outs):5} "
              f"{sum(o.orders for o in outs) / len(outs):7.0f} {sum(o.revisions for o in outs) / len(outs):7.0f}")
    if spread.get("cross"):
        print(f"passive pays {spread['passive'] / spread['cross']:.2f} x the spread cost of cross "
              f"(goal: at most 0.5 in the liquid book); spread won is per run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", choices=("liquid", "thin"))
    parser.add_argument("--ways", default=",".join(WAYS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    ways = [w for w in args.ways.split(",") if w in WAYS]
    books = [args.only] if args.only else ["liquid", "thin"]
    with tempfile.TemporaryDirectory() as tmp:
        for book in books:
            results: dict[str, list[Outcome]] = {w: [] for w in ways}
            began = time.monotonic()
            for seed in range(1, args.seeds + 1):
                for way in ways:
                    results[way].append(one(book, seed, way, Path(tmp)))
            report(book, results)
            print(f"({time.monotonic() - began:.0f} s of wall time)")


if __name__ == "__main__":
    main()
