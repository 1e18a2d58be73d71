"""A run across markets on the simulator: 10 KRX and 10 US stocks in one plan, at a slow (mock-like) pace.

Prints the calls the run made per market and kind, the calls per US order (its quotes, buying power, the
order itself, today's US orders and cancels, over the US orders sent), the floor the call limit sets for
those calls (calls / rate), how long the run took from its start to its end against that floor, and whether
every stock ended at its target. With notices (the default) the run takes KIS's notice session on the sim's
websocket: KRX's H0STCNI9 and the US's H0GSCNI9. Figures only; nothing is asserted.

    .venv/bin/python bench/mixed.py                 # 2 calls/s, a 120 s window, notices on
    .venv/bin/python bench/mixed.py --seconds 5     # a window shorter than the calls need: call-bound
    .venv/bin/python bench/mixed.py --no-notices    # polling only
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kis import endpoints as ep  # noqa: E402
from kis.auth import ApprovalKeys  # noqa: E402
from kis.client import KisClient  # noqa: E402
from kis.config import SIM_ACCOUNT, SIM_APP_KEY, SIM_APP_SECRET, KisConfig  # noqa: E402
from kis.krx import KST  # noqa: E402
from kis.models import Account, Env  # noqa: E402
from kis.notices import NoticeStream, StreamState  # noqa: E402
from kis.sim import SimServer  # noqa: E402
from kis.sim.overseas import UNIT  # noqa: E402
from rebalance.journal import Journal  # noqa: E402
from rebalance.model import Plan, PlanLine  # noqa: E402
from rebalance.twap import TwapExecutor  # noqa: E402
from rebalance.window import TwapSettings, Window  # noqa: E402

KRX_SELLS = ("005930", "035720", "011200", "015760")
KRX_BUYS = ("000270", "105560", "068270", "035420", "005380", "051910")
US_BUYS = ("AAPL", "MSFT", "NVDA", "BRK.B", "SPY", "QQQ", "TLT", "GLD", "SCHD")
RATE = Decimal("1380.50")


def plan_of(sim: SimServer) -> Plan:
    ex, price = sim.exchange, sim.market.price
    lines = [PlanLine(c, c, price(c), ex.holding_qty(c), ex.holding_qty(c) // 4, 0.0, 0.0) for c in KRX_SELLS]
    lines += [PlanLine(c, c, price(c), 0, max(5, 1_000_000 // price(c)), 0.0, 0.0) for c in KRX_BUYS]
    sim.us_book.set_holding("KO", 40, "60.00")

    def us(symbol: str, current: int, target: int) -> PlanLine:
        spec = sim.us_market.spec(symbol)
        dollars = (Decimal(sim.us_market.price(symbol)) / UNIT).quantize(Decimal("0.01"))
        return PlanLine(symbol, symbol, dollars, current, target, 0.0, 0.0, market=spec.exchange, currency="USD",
                        rate=RATE)

    lines.append(us("KO", 40, 10))
    lines += [us(s, 0, 3) for s in US_BUYS]
    now = datetime.now(KST)
    return Plan("bench-mixed", tuple(lines), ex.cash, 0, 0, 0, now, now + timedelta(minutes=30))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2.0, help="calls per second (mock-like: 1 or 2)")
    parser.add_argument("--seconds", type=float, default=120.0, help="the run's window")
    parser.add_argument("--no-notices", action="store_true", help="poll only (no notice session)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SimServer(0, rate_limit=args.rate, always_open=True).start() as sim:
        config = KisConfig(env=Env.SIM, app_key=SIM_APP_KEY, app_secret=SIM_APP_SECRET,
                           account=Account.parse(SIM_ACCOUNT), base_url=sim.url, rate_limit=args.rate,
                           data_dir=Path(tmp))
        client = KisClient(config)
        plan = plan_of(sim)
        stream = None
        if not args.no_notices:
            stream = NoticeStream(sim.ws_url, ep.NOTICE_TR_IDS[config.env], sim.hts_id, config.account,
                                  ApprovalKeys(config).key, us_tr_id=ep.US_NOTICE_TR_IDS[config.env]).start()
            end = time.monotonic() + 10
            while (stream.state is not StreamState.LIVE or not stream.us_live) and time.monotonic() < end:
                time.sleep(0.02)
        executor = TwapExecutor(client, Journal.in_dir(tmp), TwapSettings(calendar="always"), lambda event: None,
                                notices=stream)
        sim.calls.clear()
        began = time.monotonic()
        start = datetime.now(KST) + timedelta(seconds=1)
        run_id = executor.start(plan, Window(start, start + timedelta(seconds=args.seconds)))
        executor.wait(args.seconds + 600)
        elapsed = time.monotonic() - began
        us_live = bool(stream is not None and stream.us_live)
        if stream is not None:
            stream.stop()
        stats = executor.notice_stats
        journal = executor.journal
        orders = journal.orders(run_id)
        calls = list(sim.calls)
        off = [ln.code for ln in plan.lines if ln.is_us and (sim.us_book.positions.get(ln.code).qty
                                                             if sim.us_book.positions.get(ln.code) else 0)
               != ln.target_qty]
        off += [ln.code for ln in plan.lines if not ln.is_us and sim.exchange.holding_qty(ln.code) != ln.target_qty]
        state = journal.run(run_id).state
    kinds = Counter(("US" if "overseas" in c.path else "KRX", c.path.rsplit("/", 1)[-1]) for c in calls)
    us_calls = sum(n for (market, _), n in kinds.items() if market == "US")
    us_orders = sum(1 for o in orders if o.market != "KRX" and o.order_no)
    krx_orders = sum(1 for o in orders if o.market == "KRX" and o.order_no)
    calls = [c for c in calls if c.path != "/sim/health"]
    floor = len(calls) / args.rate
    print(f"mixed run: {len(plan.lines)} stocks (10 KRX, 10 US) over {args.seconds:.0f} s at {args.rate:g} call/s: "
          f"run {state}, {len(off)} stock(s) off target {off or ''}")
    print(f"orders: {krx_orders} KRX, {us_orders} US; calls {len(calls)} (floor {floor:.1f} s at the rate), "
          f"the run took {elapsed:.1f} s for a {args.seconds:.0f} s window "
          f"({elapsed / max(floor, args.seconds):.2f}x the larger of the window and the call floor)")
    if stats is not None:
        print(f"notices: {stats.notices} taken (repeats {stats.repeats}), fills first told by a notice {stats.fills}, "
              f"distrusts {stats.distrusts}; US notices live: {us_live}")
    for (market, path), n in sorted(kinds.items()):
        print(f"  {market:<4}{path:<28}{n:>5}")
    if us_orders:
        how = "with KRX and US notices" if stats is not None else "polling, no notices"
        print(f"US calls per US order: {us_calls / us_orders:.2f} ({how})")


if __name__ == "__main__":
    main()
