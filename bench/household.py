"""Three accounts of one household running at once at mock pace (1 call/s per app key), through the bot's household.

The three accounts (a general one, an ISA and a 연금저축 with ETFs) are on ONE paper exchange, each with its
own app key (so its own call limit), cash, orders and notice session on the one websocket (which sends every
account's notices to every session: each stream keeps its own by ACNT_NO); each model file is sent with
`@label` and its plan confirmed with `/confirm @label`, all three within a second. For each account it prints the exchange's EGW00201 refusals (calls beyond 1/s on its app key), the
fill-to-chat latency p50/p95 (from the exchange filling an order to the executor pushing the Filled event; the
chat's own batching comes after), the largest |target - actual| after the run, and when the run ended against
its window's end.

    .venv/bin/python bench/household.py                # 120 s windows
    .venv/bin/python bench/household.py --seconds 60
"""
from __future__ import annotations

import argparse
import io
import logging
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook  # noqa: E402

from bot import order_gate  # noqa: E402
from bot.household import Desk, Household  # noqa: E402
from bot.service import open_service  # noqa: E402
from kis.accounts import AccountKind  # noqa: E402
from kis.client import KisClient  # noqa: E402
from kis.config import Source, account_data_dir, sim_credentials  # noqa: E402
from kis.krx import KST  # noqa: E402
from kis.notices import open_notices  # noqa: E402
from kis.sim import SimServer  # noqa: E402
from kis.sim.clients import sim_config  # noqa: E402
from kis.sim.desks import SimAccountSpec  # noqa: E402
from rebalance.events import Filled, Finished  # noqa: E402

MOCK_RATE = 1.0
ACCOUNTS = (  # label, kind, number, cash (None: the seed's holdings and cash), model
    ("main", AccountKind.GENERAL, "50000000-01", None, (("005930", 40), ("000660", 30), ("035420", 20))),
    ("isa", AccountKind.ISA, "50000002-01", 20_000_000, (("005380", 40), ("105560", 30), ("069500", 30))),
    ("pension", AccountKind.PENSION, "50000001-22", 30_000_000, (("069500", 40), ("360750", 30), ("148070", 30))),
)


def _xlsx(rows) -> bytes:
    book = Workbook()
    book.active.append(["종목코드", "비중"])
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def run(seconds: float) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        labels = tuple(a[0] for a in ACCOUNTS)
        source = Source(environ={"MARKET_CALENDAR": "always"}, dotenv_path=root / "no.env", use_keyring=False)
        lock = threading.Lock()
        fills: dict[str, dict[str, list[tuple[float, int]]]] = {}  # account -> stock -> (exchange time, shares)
        told: dict[str, dict[str, list[float]]] = {}  # account -> stock -> push time of each share told
        finished: dict[str, datetime] = {}
        desks, streams = [], []
        specs = tuple(SimAccountSpec(number, *sim_credentials(label), label=label, cash=cash)
                      for label, _, number, cash, _ in ACCOUNTS)
        sim = SimServer(0, rate_limit=MOCK_RATE, always_open=True, accounts=specs).start()
        try:
            for label, kind, number, cash, _ in ACCOUNTS:
                def on_fill(kind_, order, qty, price, label=label):
                    if kind_ == "filled":
                        with lock:
                            fills.setdefault(label, {}).setdefault(order.code, []).append((time.monotonic(), qty))

                sim.desk(label).exchange.listeners.append(on_fill)
                config = replace(sim_config(sim, account_data_dir(root, label, labels), rate_limit=MOCK_RATE,
                                            account=label), label=label, kind=kind)
                client = KisClient(config)
                if kind in order_gate.GATED_KINDS:  # as if `kisbot doctor --orders --account` had passed on it
                    order_gate.record_pass(config, datetime.now(KST))

                def on_event(event, label=label):
                    if isinstance(event, Filled):
                        with lock:
                            told.setdefault(label, {}).setdefault(event.code, []).extend(
                                [time.monotonic()] * event.qty)
                    elif isinstance(event, Finished):
                        finished[label] = datetime.now(KST)

                stream = open_notices(client.config)
                streams.append(stream)
                service = open_service(client, source=source, on_event=on_event, notices=stream)
                desks.append(Desk(label, label, kind, service))
            house = Household(desks, data_dir=root)
            chat = 1
            plans = {}
            for label, _, _, _, model in ACCOUNTS:  # each model sent with its @label: planned, offered
                route = house.route(chat, "file", [f"@{label}"])
                with house.serving(route):
                    ticket = house.service.file_received(chat)
                    for reply in house.service.plan_file(_xlsx(model), f"{label}.xlsx", ticket, [f"@{label}"],
                                                         chat=chat):
                        if reply.offers:
                            house.service.shown(reply.offers, chat)
                plans[label] = house.desk(label).service._pending(chat).plan
            refused_before = {label: sim.limiter.refused_by[sim.desk(label).app_key] for label in labels}
            started = time.monotonic()
            for label in labels:  # three /confirm @label, one after another
                route = house.route(chat, "confirm", [f"@{label}", f"{int(seconds)}s"])
                with house.serving(route):
                    answer = "\n".join(r.plain for r in house.service.confirm(list(route.words), chat=chat))
                assert "started" in answer, answer
            confirmed = time.monotonic() - started
            house.wait_for_run(seconds + 600)
            lines = [f"3 accounts at once on one sim, {seconds:.0f} s windows at {MOCK_RATE:g} call/s per app key; "
                     f"the three confirms took {confirmed:.2f} s"]
            everyone = []
            for label in labels:
                plan, exchange = plans[label], sim.desk(label).exchange
                latencies = []
                for code, done in fills.get(label, {}).items():  # a fill is told when its last share is
                    pushed, shares = told.get(label, {}).get(code, []), 0
                    for at, qty in done:
                        shares += qty
                        if shares <= len(pushed):
                            latencies.append(pushed[shares - 1] - at)
                everyone += latencies
                worst = max(abs(ln.target_qty - exchange.holding_qty(ln.code)) for ln in plan.lines)
                orders = sum(1 for e in exchange.order_log if e.kind == "new")
                status = house.desk(label).service.executor.status()
                end = status.end if status is not None else None
                ended = (f"{(finished[label] - end).total_seconds():+.1f} s after its window end"
                         if label in finished and end is not None else
                         ("finished" if label in finished else "did not finish"))
                lines.append(f"  @{label:<8} {len(plan.lines)} stocks, {orders} orders, EGW00201 refusals "
                             f"{sim.limiter.refused_by[sim.desk(label).app_key] - refused_before[label]}, fill-to-chat p50 "
                             f"{statistics.median(latencies) if latencies else float('nan'):.2f} s p95 "
                             f"{_percentile(latencies, 0.95):.2f} s over {len(latencies)} fills, largest "
                             f"|target - actual| {worst}, run {ended}")
            lines.append(f"  all      fill-to-chat p50 {statistics.median(everyone) if everyone else float('nan'):.2f}"
                         f" s p95 {_percentile(everyone, 0.95):.2f} s over {len(everyone)} fills")
            return lines
        finally:
            for stream in streams:
                if stream is not None:
                    stream.stop()
            sim.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="each run's window (default 120)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    for line in run(args.seconds):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
