"""The simulator's order book in figures: spread and depth per liquidity, what a large buy pays for walking the
book, and how long a resting order at the best bid waits for its fill (liquid and thin, several seeds).

Runs on a manual clock (1 s steps), so it takes seconds whatever the sim time; prints, asserts nothing.
    .venv/bin/python bench/book.py [--seeds 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kis.models import Account  # noqa: E402
from kis.sim.book import CLASSES, Book  # noqa: E402
from kis.sim.clock import KST, ManualClock  # noqa: E402
from kis.sim.exchange import BUY, LIMIT, MARKET, Exchange  # noqa: E402
from kis.sim.market import Market, StockSpec  # noqa: E402

START = datetime(2026, 11, 24, 10, 0, tzinfo=KST)
STOCKS = {"liquid": StockSpec("005930", "삼성전자", 97_000), "thin": StockSpec("0013V0", "모의신규상장", 24_350)}
CAP_SECONDS = 3600


def setup(mode: str, seed: int, *, step_seconds: float = 5.0):
    clock = ManualClock(START)
    # two hours into the session, as `kisbot sim` starts: the walk is off the previous close's grid price
    market = Market(STOCKS.values(), seed=seed, clock=clock, step_seconds=step_seconds,
                    start=START - timedelta(hours=2))
    ex = Exchange(market, account=Account.parse("50000000-01"), cash=100_000_000_000, clock=clock)
    ex.book = Book(market, seed=seed, mode=mode, clock=clock)
    return clock, market, ex


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def shape(mode: str, seeds: range) -> None:
    code = STOCKS[mode].code
    spreads, top5, all10 = [], [], []
    for seed in seeds:
        clock, market, ex = setup(mode, seed)
        for _ in range(10):
            clock.advance(61)
            snap = ex.book.snapshot(code)
            spreads.append(ex.book.spread_ticks(code))
            top5.append(sum(p * q for p, q in snap.asks[:5] + snap.bids[:5]) / 2)
            all10.append(sum(p * q for p, q in snap.asks + snap.bids) / 2)
    print(f"{mode:6} {code}: spread {min(spreads)}-{max(spreads)} ticks; depth a side over the top 5 levels "
          f"median {statistics.median(top5) / 1e6:,.1f} M won, over 10 levels {statistics.median(all10) / 1e6:,.1f} M won")


def walk_cost(mode: str, amounts: list[int], seeds: range) -> None:
    code = STOCKS[mode].code
    for amount in amounts:
        costs, levels = [], []
        for seed in seeds:
            clock, market, ex = setup(mode, seed, step_seconds=0)
            snap = ex.book.snapshot(code)
            fills = []
            ex.listeners.append(lambda kind, o, q, p: kind == "filled" and fills.append(p))
            order = ex.place(code, BUY, MARKET, max(1, amount // snap.best_ask), 0)
            mid = (snap.best_ask + snap.best_bid) / 2
            costs.append((order.avg_price - mid) / mid * 1e4)
            levels.append(len(set(fills)))
        print(f"{mode:6} market buy of {amount / 1e6:>6,.0f} M won: pays {statistics.mean(costs):6.1f} bp over the mid "
              f"(p95 {pct(costs, 0.95):6.1f}); fills at {statistics.median(levels):.0f} prices (median)")


def wait_times(mode: str, seeds: range, qty_won: int) -> None:
    code = STOCKS[mode].code
    first, whole, parts, unfilled = [], [], [], 0
    for seed in seeds:
        clock, market, ex = setup(mode, seed)
        snap = ex.book.snapshot(code)
        order = ex.place(code, BUY, LIMIT, max(1, qty_won // snap.best_bid), snap.best_bid)
        fills = []
        ex.listeners.append(lambda kind, o, q, p: kind == "filled" and fills.append(q))
        t_first = None
        for second in range(1, CAP_SECONDS + 1):
            clock.advance(1)
            ex.match()
            if fills and t_first is None:
                t_first = second
            if order.remaining == 0:
                break
        if order.remaining:
            unfilled += 1
            continue
        first.append(t_first)
        whole.append(second)
        parts.append(len(fills))
    n = len(seeds)
    liq = CLASSES[mode]
    print(f"{mode:6} best-bid buy of {qty_won / 1e6:.1f} M won ({liq.trades_per_second:g} crowd trades/s of "
          f"~{liq.trade_won / 1e6:g} M won), {n} seeds: filled {n - unfilled}/{n} within {CAP_SECONDS // 60} min; "
          + (f"first fill median {statistics.median(first):.0f} s, whole median {statistics.median(whole):.0f} s, "
             f"p90 {pct(whole, 0.9):.0f} s, max {max(whole)} s; within 2 min {sum(w <= 120 for w in whole)}/{n}; "
             f"parts median {statistics.median(parts):.0f}, max {max(parts)}" if whole else "none filled"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    seeds = range(1, args.seeds + 1)
    for mode in ("liquid", "thin"):
        shape(mode, seeds)
    walk_cost("liquid", [10_000_000, 100_000_000, 500_000_000], seeds)
    walk_cost("thin", [1_000_000, 5_000_000, 20_000_000], seeds)
    wait_times("liquid", seeds, 1_000_000)
    wait_times("liquid", seeds, 20_000_000)
    wait_times("thin", seeds, 500_000)
    wait_times("thin", seeds, 3_000_000)


if __name__ == "__main__":
    main()
