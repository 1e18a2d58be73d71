"""TWAP executor benchmarks: idle CPU, slice lateness, and a chaos run of kills and restarts.

1. idle   CPU share of a process whose executor holds 200 pending slices, over N seconds, beside
          the seed chapter's `while True: schedule.run_pending()` loop holding the same 200 jobs.
2. late   how late each order leaves against its slice's scheduled time, on the simulator at the
          real account limit (18 calls/s): p50, p99, max.
3. chaos  the simulator runs in this process with 10 % of requests failing (5xx) while the executor
          runs in a child process that is killed (SIGKILL) 20 times at random and restarted; the
          exchange's order log then shows the orders accepted, any shares beyond the plan (a doubled
          order) and the largest |target - actual| holding.
          chaos-late does the same (a third of the kills) while the exchange lists new orders 10 s late
          and loses the answer of 5 accepted orders: the client never re-sends, the executor counts
          each unanswered order as live until it is listed; orders are ruled out only after 1.5 x the lag.
4. mock   (full run or --only mock) a 10-stock rebalance over 120 s at mock's 1 call/s must finish.
5. cash   KIS's rules on the sim (buys without a price reserve qty x the upper limit), new orders listed
          30 s late and 1 answer in 8 lost after acceptance, over several seeds (runs in parallel): shares
          past target (goal 0), runs at target within the window plus the settle horizon, APBK0952 refusals.

    .venv/bin/python bench/twap.py            # 30 s idle each, 60 s lateness, 20 kills over 90 s
    .venv/bin/python bench/twap.py --quick    # 5 s idle each, 20 s lateness, 6 kills over 40 s
    .venv/bin/python bench/twap.py --only cash --seeds 5
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import schedule  # noqa: E402

from kis.client import KisClient  # noqa: E402
from kis.config import SIM_ACCOUNT, SIM_APP_KEY, SIM_APP_SECRET, KisConfig  # noqa: E402
from kis.models import Account, Balance, Env  # noqa: E402
from kis.sim import SimServer  # noqa: E402
from kis.krx import KST  # noqa: E402
from rebalance.journal import Journal, plan_from_json, plan_to_json  # noqa: E402
from rebalance.model import Plan, PlanLine  # noqa: E402
from rebalance.twap import TwapExecutor  # noqa: E402
from rebalance.window import TwapSettings, Window  # noqa: E402

REAL_RATE = 18.0  # the client paces itself to KIS's real-account limit...
SIM_RATE = 20.0  # ...and the sim refuses above 20/s, as KIS did before 2026-04
REAL_PAGE_ROWS, REAL_DAILY_ROWS = 50, 100  # balance and daily-orders rows per page on real
CHAOS_SETTINGS = dict(calendar="always", max_slices=10, poll_seconds=3, catch_up_seconds=8, call_rate=REAL_RATE,
                      settle_seconds=2)


# -- 1. idle CPU ----------------------------------------------------------------------------------------
class _IdleClient:
    """A client that counts calls: an idle executor (every slice in the future) should make none."""

    config = type("Config", (), {"account": SIM_ACCOUNT, "rate_limit": REAL_RATE})()

    def __init__(self):
        self.calls = 0

    def orders_today(self, code=None):
        self.calls += 1
        return []

    def balance(self):
        self.calls += 1
        return Balance((), 0, 0, 0, 0, 0)


def _plan(lines: list[PlanLine], plan_id: str = "bench") -> Plan:
    now = datetime.now(KST)
    total = sum(ln.price * max(ln.current_qty, ln.target_qty) for ln in lines)
    return Plan(plan_id, tuple(lines), total, 2 * total, 2 * total, 0, now, now + timedelta(minutes=10))


def _cpu_share(seconds: float, body) -> float:
    wall0, cpu0 = time.monotonic(), time.process_time()
    body(seconds)
    return (time.process_time() - cpu0) / (time.monotonic() - wall0)


def bench_idle(seconds: float) -> None:
    lines = [PlanLine(f"{i:06d}", f"stock {i}", 10_000, 0, 100, 0.0, 0.0) for i in range(10)]
    later = datetime.now(KST) + timedelta(hours=1)
    with tempfile.TemporaryDirectory() as tmp:
        client = _IdleClient()
        executor = TwapExecutor(client, Journal.in_dir(tmp), TwapSettings(calendar="always", call_rate=REAL_RATE),
                                lambda event: None)
        run_id = executor.start(_plan(lines), Window(later, later + timedelta(hours=5)))
        pending = len(executor.journal.slices(run_id))
        ours = _cpu_share(seconds, lambda s: time.sleep(s))  # the worker thread waits on its event meanwhile
        idle_calls = client.calls
        executor.cancel()
        executor.wait(5)

    def seed_loop(s: float) -> None:
        at = (datetime.now() + timedelta(hours=1)).replace(microsecond=0)
        for i in range(pending):
            schedule.every().day.at((at + timedelta(seconds=i)).strftime("%H:%M:%S")).do(lambda: None)
        end = time.time() + s
        while True:  # the seed's loop, bounded so the bench ends
            schedule.run_pending()
            if time.time() > end:
                break
        schedule.clear()

    seed = _cpu_share(seconds, seed_loop)
    print(f"idle CPU, {pending} pending slices over {seconds:.0f} s: executor {ours * 100:.2f} % of a core, "
          f"seed loop {seed * 100:.1f} % of a core; client calls while idle {idle_calls}")


# -- 2. lateness ----------------------------------------------------------------------------------------
class _Stamping:
    """The real client, noting when each order call starts."""

    def __init__(self, client: KisClient):
        self.client = client
        self.sent: list[tuple[str, datetime]] = []

    def __getattr__(self, name):
        return getattr(self.client, name)

    def order(self, code, *args, **kwargs):
        self.sent.append((code, datetime.now(KST)))
        return self.client.order(code, *args, **kwargs)


def _sim_config(url: str, data_dir: Path, rate: float) -> KisConfig:
    return KisConfig(env=Env.SIM, app_key=SIM_APP_KEY, app_secret=SIM_APP_SECRET, account=Account.parse(SIM_ACCOUNT),
                     base_url=url, rate_limit=rate, data_dir=data_dir)


def _sim_plan(sim: SimServer, buys: int = 6) -> Plan:
    """Sell the seed account's holdings down, buy a few large caps: sells and buys both."""
    ex, price = sim.exchange, sim.market.price
    lines = [PlanLine(code, code, price(code), ex.holding_qty(code), ex.holding_qty(code) // 4, 0.0, 0.0)
             for code in ("005930", "035720", "011200", "015760")]
    for code in ("000270", "105560", "068270", "035420", "005380", "051910")[:buys]:
        lines.append(PlanLine(code, code, price(code), 0, max(20, 3_000_000 // price(code)), 0.0, 0.0))
    return _plan(lines, "bench-sim")


def bench_lateness(seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, SimServer(0, rate_limit=SIM_RATE, page_rows=REAL_PAGE_ROWS,
                                                             daily_page_rows=REAL_DAILY_ROWS, always_open=True).start() as sim:
        client = _Stamping(KisClient(_sim_config(sim.url, Path(tmp), REAL_RATE)))
        settings = TwapSettings(calendar="always", call_rate=REAL_RATE, catch_up_seconds=3)
        executor = TwapExecutor(client, Journal.in_dir(tmp), settings, lambda event: None)
        start = datetime.now(KST) + timedelta(seconds=1)
        run_id = executor.start(_sim_plan(sim), Window(start, start + timedelta(seconds=seconds)))
        executor.wait(seconds + 60)
        slices = executor.journal.slices(run_id)
    due: dict[str, list[datetime]] = {}
    for s in slices:
        due.setdefault(s.code, []).append(s.at)
    late = []
    seen = Counter()
    for code, at in client.sent:  # the k-th order of a stock answers its k-th slice
        k = seen[code]
        seen[code] += 1
        if k < len(due.get(code, [])):
            late.append((at - due[code][k]).total_seconds())
    late.sort()
    p50 = statistics.median(late)
    p99 = late[min(len(late) - 1, int(round(0.99 * (len(late) - 1))))]
    print(f"slice lateness on the sim at {REAL_RATE:.0f} calls/s, {len(late)} slices over {seconds:.0f} s: "
          f"p50 {p50:.3f} s, p99 {p99:.3f} s, max {late[-1]:.3f} s")


# -- 4. mock pace ---------------------------------------------------------------------------------------
def bench_mock_pace(seconds: float) -> None:
    """A 10-stock rebalance over a short window at mock's 1 call/s: it must finish, in bigger slices."""
    with tempfile.TemporaryDirectory() as tmp, SimServer(0, rate_limit=1.0, always_open=True).start() as sim:
        client = KisClient(_sim_config(sim.url, Path(tmp), 1.0))
        plan = _sim_plan(sim, buys=6)
        executor = TwapExecutor(client, Journal.in_dir(tmp), TwapSettings(calendar="always"), lambda event: None)
        start = datetime.now(KST) + timedelta(seconds=2)
        run_id = executor.start(plan, Window(start, start + timedelta(seconds=seconds)))
        executor.wait(seconds + 300)
        overrun = (datetime.now(KST) - (start + timedelta(seconds=seconds))).total_seconds()
        journal = executor.journal
        run = journal.run(run_id)
        orders = len(journal.orders(run_id))
        worst = max(abs(ln.target_qty - sim.exchange.holding_qty(ln.code)) for ln in plan.lines)
    print(f"mock pace: {len(plan.lines)} stocks over {seconds:.0f} s at 1 call/s: run {run.state} "
          f"{overrun:+.1f} s after the window end, {orders} orders ({len(journal.slices(run_id))} slices), "
          f"largest |target - actual| {worst}")


# -- 3. chaos -------------------------------------------------------------------------------------------
def worker(args) -> int:
    """One executor process: resume the run, or start it from the plan file when none was journaled."""
    logging.basicConfig(level=logging.ERROR)  # the client's retry warnings are expected here
    data = Path(args.data)
    spec = json.loads((data / "chaos.json").read_text())
    settle = spec.get("settle_seconds", 2)
    client = KisClient(_sim_config(args.url, data, REAL_RATE))
    journal = Journal.in_dir(data)

    def on_event(event) -> None:
        with open(data / "events.log", "a") as log:
            log.write(f"{os.getpid()} {event!r}\n")
        if getattr(event, "shortfalls", None) is not None:  # the run's end: where it stopped, and why
            short = [{"code": s.code, "short": s.short, "why": [[r.value, q] for r, q in s.parts]}
                     for s in event.shortfalls]
            (data / "shortfalls.json").write_text(json.dumps(short))

    settings = TwapSettings(**{**CHAOS_SETTINGS, "settle_seconds": settle})
    executor = TwapExecutor(client, journal, settings, on_event)
    if executor.resume() is None:
        if journal.latest_run(SIM_ACCOUNT) is not None:
            return 0  # the run already ended
        plan = plan_from_json(spec["plan"])
        window = Window(datetime.fromisoformat(spec["start"]), datetime.fromisoformat(spec["end"]))
        executor.start(plan, window)
    executor.wait()
    return 0


def bench_chaos(seconds: float, kills: int, fault_rate: float, seed: int, *, listing_lag: float = 0.0,
                lost_answers: int = 0) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, SimServer(0, rate_limit=SIM_RATE, page_rows=REAL_PAGE_ROWS,
                                                             daily_page_rows=REAL_DAILY_ROWS, always_open=True).start() as sim:
        data = Path(tmp)
        plan = _sim_plan(sim)
        start = datetime.now(KST) + timedelta(seconds=3)
        end = start + timedelta(seconds=seconds)
        # An order is ruled out only after settle_seconds: that must exceed how late the exchange lists
        # orders, or a replacement and the late original both trade.
        settle = max(2.0, listing_lag * 1.5)
        (data / "chaos.json").write_text(json.dumps({"plan": plan_to_json(plan), "start": start.isoformat(),
                                                     "end": end.isoformat(), "settle_seconds": settle}))
        sim.faults.error_rate = fault_rate
        sim.faults.listing_lag = listing_lag  # KIS lists same-day orders late
        sim.faults.drop_after_order(lost_answers)  # accepted, but the answer never arrives
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--url", sim.url, "--data", tmp]
        kill_at = sorted(rng.uniform(0, seconds) for _ in range(kills))
        t0 = time.monotonic() + (start - datetime.now(KST)).total_seconds()
        proc = subprocess.Popen(cmd)
        killed = 0
        for at in kill_at:
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed += 1
            proc = subprocess.Popen(cmd)
        proc.wait(timeout=seconds + 120)
        while _still_active(data):  # the last kill may have come after the worker ended its window
            proc = subprocess.Popen(cmd)
            proc.wait(timeout=120)
        sim.faults.clear()

        accepted = Counter()
        numbers = []
        for entry in sim.exchange.order_log:
            if entry.kind == "new":
                accepted[entry.code] += entry.qty
                numbers.append(entry.order_no)
        goal = {ln.code: abs(ln.order_qty) for ln in plan.lines}
        doubled = sum(max(0, accepted[c] - goal[c]) for c in goal)
        journal = Journal.in_dir(data)
        known = {n.lstrip("0") for n in journal.known_order_nos(datetime.now(KST).date())}
        unknown = [n for n in numbers if n.lstrip("0") not in known]  # accepted but never journaled: sent blind
        worst = max(abs(ln.target_qty - sim.exchange.holding_qty(ln.code)) for ln in plan.lines)
        state = journal.latest_run(SIM_ACCOUNT).state
        told = json.loads((data / "shortfalls.json").read_text()) if (data / "shortfalls.json").exists() else None
        off = {ln.code: ln.target_qty - sim.exchange.holding_qty(ln.code) for ln in plan.lines}
    short = ("summary: at target" if told == [] else "summary: none" if told is None else
             "summary short: " + "; ".join(f"{s['code']} {s['short']} ({', '.join(f'{q} {r}' for r, q in s['why'])})"
                                          for s in told))
    untold = sum(1 for code, gap in off.items() if gap and not any(s["code"] == code for s in told or []))
    late = (f", orders listed {listing_lag:.0f} s late and {lost_answers} answers lost after acceptance "
            f"(settle {settle:.0f} s)" if listing_lag or lost_answers else "")
    print(f"chaos: {killed} SIGKILLs over a {seconds:.0f} s window, {fault_rate * 100:.0f} % faults{late}: "
          f"{len(numbers)} orders accepted, run {state}, duplicate shares {doubled}, "
          f"orders unknown to the journal {len(unknown)}, largest |target - actual| {worst}; {short}; "
          f"stocks off target the summary does not explain {untold}")


# -- 5. KIS's cash rule, late listings, lost answers ------------------------------------------------------
def _cash_run(seed: int, seconds: float, lag: float, lost_rate: float, settle: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp, SimServer(0, rate_limit=SIM_RATE, page_rows=REAL_PAGE_ROWS,
                                                             daily_page_rows=REAL_DAILY_ROWS, seed=seed,
                                                             listing_lag=lag, listing_jitter=0.0,
                                                             always_open=True).start() as sim:
        sim.faults.lost_answer_rate = lost_rate
        sim.faults._rng = random.Random(seed)
        plan = _sim_plan(sim)
        # Enough cash, barely: the buys at plan prices plus 2 % (the sells add their proceeds as they fill).
        sim.exchange.set_cash(int(sum(ln.order_qty * ln.price for ln in plan.lines if ln.order_qty > 0) * 1.02))
        plan = replace(plan, cash=sim.exchange.cash)
        client = KisClient(_sim_config(sim.url, Path(tmp), REAL_RATE))
        events = []
        settings = TwapSettings(calendar="always", call_rate=REAL_RATE, max_slices=8, poll_seconds=3,
                                catch_up_seconds=10, settle_seconds=settle)
        executor = TwapExecutor(client, Journal.in_dir(tmp), settings, events.append)
        start = datetime.now(KST) + timedelta(seconds=1)
        end = start + timedelta(seconds=seconds)
        executor.start(plan, Window(start, end))
        executor.wait(seconds + settle + 120)
        ended = datetime.now(KST)
        ex = sim.exchange
        past = sum(max(0, ex.holding_qty(ln.code) - ln.target_qty) if ln.order_qty > 0
                   else max(0, ln.target_qty - ex.holding_qty(ln.code)) for ln in plan.lines)
        on_target = all(ex.holding_qty(ln.code) == ln.target_qty for ln in plan.lines)
        finished = [e for e in events if type(e).__name__ == "Finished"]
        return {"past": past, "on_target": on_target and bool(finished) and not finished[0].unresolved,
                "in_time": ended <= end + timedelta(seconds=settle + 5), "refusals": ex.cash_refusals,
                "lost": sim.faults.answers_lost, "orders": sum(1 for e in ex.order_log if e.kind == "new"),
                "halted": sum(1 for e in events if type(e).__name__ == "PriceBeyondGuard")}


def bench_cash_rule(seconds: float, seeds: int, lag: float = 30.0, lost_rate: float = 1 / 8,
                    settle: float = 45.0) -> None:
    import concurrent.futures

    logging.basicConfig(level=logging.ERROR)
    with concurrent.futures.ThreadPoolExecutor(seeds) as pool:
        runs = list(pool.map(lambda s: _cash_run(s, seconds, lag, lost_rate, settle), range(1, seeds + 1)))
    print(f"cash rule: {seeds} seeds, {seconds:.0f} s window, cash = buys + 2 %, upper-limit reserve on, "
          f"orders listed {lag:.0f} s late, "
          f"1 answer in {round(1 / lost_rate)} lost (settle {settle:.0f} s): "
          f"{sum(r['orders'] for r in runs)} orders, {sum(r['lost'] for r in runs)} answers lost, "
          f"shares past target {sum(r['past'] for r in runs)}, "
          f"runs at target within window + horizon {sum(r['on_target'] and r['in_time'] for r in runs)}/{seeds}, "
          f"APBK0952 refusals {sum(r['refusals'] for r in runs)}, stocks halted by the price guard "
          f"{sum(r['halted'] for r in runs)}")


def _still_active(data: Path) -> bool:
    journal = Journal.in_dir(data)
    try:
        latest = journal.latest_run(SIM_ACCOUNT)
        return latest is None or latest.state == "active"
    finally:
        journal.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--only", choices=["idle", "late", "chaos", "chaos-late", "mock", "cash"],
                        help="run one benchmark")
    parser.add_argument("--seed", type=int, default=7, help="random kill times")
    parser.add_argument("--seeds", type=int, default=4, help="cash: runs with seeds 1..N")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    idle, late, chaos, kills = (5, 20, 40, 6) if args.quick else (30, 60, 90, 20)
    if args.only in (None, "idle"):
        bench_idle(idle)
    if args.only in (None, "late"):
        bench_lateness(late)
    if args.only in (None, "chaos"):
        bench_chaos(chaos, kills, 0.10, args.seed)
    if args.only in (None, "chaos-late"):
        # Each restart may wait settle_seconds (15 s here) before trading again: fewer kills, or the
        # window is spent settling (safe, but the stocks end short).
        bench_chaos(chaos, max(3, kills // 3), 0.10, args.seed, listing_lag=10.0, lost_answers=5)
    if args.only == "mock" or (args.only is None and not args.quick):
        bench_mock_pace(120)
    if args.only in (None, "cash"):
        bench_cash_rule(40 if args.quick else 60, args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
