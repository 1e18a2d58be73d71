"""What KIS's order/fill notices change: a 10-stock rebalance at mock pace (1 call/s), with and without.

For each run it prints the KIS calls per order placed (every REST request the exchange answered, the
approval key included, over the orders it accepted), the fill-to-chat latency p50/p95 (from the
exchange filling an order to the executor pushing the Filled event; the chat's own batching comes
after and is the same either way), and when the run ended against its window's end.

    .venv/bin/python bench/notices.py                # two 120 s runs
    .venv/bin/python bench/notices.py --seconds 60   # shorter
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kis import endpoints as ep  # noqa: E402
from kis.auth import ApprovalKeys  # noqa: E402
from kis.client import KisClient  # noqa: E402
from kis.notices import NoticeStream, StreamState  # noqa: E402
from kis.sim import SimServer  # noqa: E402
from kis.sim.clients import sim_config  # noqa: E402
from kis.krx import KST  # noqa: E402
from rebalance.events import Filled, Finished  # noqa: E402
from rebalance.journal import Journal  # noqa: E402
from rebalance.model import Plan, PlanLine  # noqa: E402
from rebalance.twap import TwapExecutor  # noqa: E402
from rebalance.window import TwapSettings, Window  # noqa: E402

MOCK_RATE = 1.0


def _plan(sim: SimServer) -> Plan:
    """Sell four holdings down, buy six large caps: ten stocks, sells and buys (as bench/twap.py's mock run)."""
    ex, price = sim.exchange, sim.market.price
    lines = [PlanLine(code, code, price(code), ex.holding_qty(code), ex.holding_qty(code) // 4, 0.0, 0.0)
             for code in ("005930", "035720", "011200", "015760")]
    for code in ("000270", "105560", "068270", "035420", "005380", "051910"):
        lines.append(PlanLine(code, code, price(code), 0, max(20, 3_000_000 // price(code)), 0.0, 0.0))
    now = datetime.now(KST)
    total = sum(ln.price * max(ln.current_qty, ln.target_qty) for ln in lines)
    return Plan("bench-notices", tuple(lines), total, 2 * total, 2 * total, 0, now, now + timedelta(minutes=10))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_once(seconds: float, notices: bool) -> str:
    with tempfile.TemporaryDirectory() as tmp, SimServer(0, rate_limit=MOCK_RATE, always_open=True).start() as sim:
        config = sim_config(sim, Path(tmp), rate_limit=MOCK_RATE)
        client = KisClient(config)
        plan = _plan(sim)
        lock = threading.Lock()
        fills: dict[str, list[tuple[float, int]]] = {}  # per stock: (exchange time, shares) of each fill
        told: dict[str, list[float]] = {}  # per stock: push time of each share the executor told
        finished: list[datetime] = []

        def on_fill(kind, order, qty, price):
            if kind == "filled":
                with lock:
                    fills.setdefault(order.code, []).append((time.monotonic(), qty))

        def on_event(event):
            if isinstance(event, Filled):
                with lock:
                    told.setdefault(event.code, []).extend([time.monotonic()] * event.qty)
            elif isinstance(event, Finished):
                finished.append(datetime.now(KST))

        sim.exchange.listeners.append(on_fill)
        stream = None
        if notices:
            stream = NoticeStream(sim.ws_url, ep.NOTICE_TR_IDS[config.env], sim.hts_id, config.account,
                                  ApprovalKeys(config).key).start()
            end = time.monotonic() + 10
            while stream.state is not StreamState.LIVE and time.monotonic() < end:
                time.sleep(0.02)
        calls_before = sum(1 for c in list(sim.calls) if c.path != "/sim/health")
        executor = TwapExecutor(client, Journal.in_dir(tmp), TwapSettings(calendar="always"), on_event,
                                notices=stream)
        start = datetime.now(KST) + timedelta(seconds=2)
        window = Window(start, start + timedelta(seconds=seconds))
        executor.start(plan, window)
        executor.wait(seconds + 600)
        if stream is not None:
            stream.stop()
        calls = sum(1 for c in list(sim.calls) if c.path != "/sim/health") - calls_before
        orders = sum(1 for e in sim.exchange.order_log if e.kind == "new")
        kinds = Counter(c.path.rsplit("/", 1)[-1] for c in list(sim.calls) if c.path != "/sim/health")
        latencies = []
        for code, done in fills.items():  # a fill is told when its last share is
            pushed, shares = told.get(code, []), 0
            for at, qty in done:
                shares += qty
                if shares <= len(pushed):
                    latencies.append(pushed[shares - 1] - at)
        worst = max(abs(ln.target_qty - sim.exchange.holding_qty(ln.code)) for ln in plan.lines)
        end_vs_window = (finished[0] - window.end).total_seconds() if finished else float("nan")
        stats = executor.notice_stats
        sources = executor.quote_sources or {}
    label = "with notices   " if notices else "without notices"
    extra = (f", notices {stats.notices} (repeats {stats.repeats}, fills first told by a notice {stats.fills}, "
             f"distrusts {stats.distrusts}), order prices streamed {sources.get('streamed', 0)}, "
             f"asked {sources.get('asked', 0)}" if stats else "")
    once = kinds.get("tokenP", 0) + kinds.get("Approval", 0)  # issued once a day, then cached on disk
    return (f"{label}: {len(plan.lines)} stocks over {seconds:.0f} s at {MOCK_RATE:g} call/s: "
            f"{calls} KIS calls / {orders} orders = {calls / max(1, orders):.2f} calls per order "
            f"({(calls - once) / max(1, orders):.2f} without the day's one token and approval key) "
            f"({dict(kinds)}); fill-to-chat p50 {statistics.median(latencies):.2f} s, "
            f"p95 {_percentile(latencies, 0.95):.2f} s over {len(latencies)} fills; run ended "
            f"{end_vs_window:+.1f} s after the window end; largest |target - actual| {worst}{extra}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="window of each run (default 120)")
    parser.add_argument("--only", choices=["with", "without"], default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.only != "with":
        print(run_once(args.seconds, notices=False), flush=True)
    if args.only != "without":
        print(run_once(args.seconds, notices=True), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
