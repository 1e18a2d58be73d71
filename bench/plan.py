"""How long a rebalance plan takes for 10, 50 and 200 stocks, against the floor KIS's call limit sets.

Everything runs against the simulator started in-process on 127.0.0.1 (port 0). Two limits:
  mock  1 call/s, no multi-stock quote: one inquire-price per code (the client's mock tr_id table)
  real 18 calls/s with the 30-code multi-stock quote (the sim tr_id table, which serves it)
Each is timed for our `make_plan` (one balance inquiry, one batched price request, paced by the
client's limiter) and for the seed chapter's approach (balance pages, then one inquire-price per
stock with `time.sleep(0.1)` after each). The seed as printed crashes on the first EGW00201; here it
retries a refused call after its 0.1 s sleep, and the refusals are counted.

    .venv/bin/python bench/plan.py            # 10, 50, 200 stocks: about 9 minutes (1 call/s is slow)
    .venv/bin/python bench/plan.py --quick    # 5 and 10 stocks: about 1 minute
    .venv/bin/python bench/plan.py --limits real --latency 0.03   # real limit only, 30 ms per answer
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kis import endpoints as ep  # noqa: E402
from kis.client import KisClient  # noqa: E402
from kis.config import SIM_ACCOUNT, SIM_APP_KEY, SIM_APP_SECRET, KisConfig  # noqa: E402
from kis.limits import RateLimiter  # noqa: E402
from kis.models import Account, Env  # noqa: E402
from kis.sim import SimServer  # noqa: E402
from kis.sim.market import load_seed  # noqa: E402
from rebalance import Portfolio, Target, make_plan  # noqa: E402

SEED_SLEEP = 0.1  # the seed's get_price sleeps this long after every quote
WINDOW_CLEAR = 1.1  # pause between runs so one run's calls never count against the next


@dataclass(frozen=True)
class Limit:
    label: str
    rate: float
    env: Env  # MOCK: no multi-stock quote; SIM: mock protocol plus the multi-stock quote, as real
    page_rows: int


LIMITS = (Limit("mock", 1.0, Env.MOCK, 20), Limit("real", 18.0, Env.SIM, 50))


@dataclass(frozen=True)
class Result:
    seconds: float
    calls: int  # calls the sim answered (balance pages + quotes)
    refused: int  # calls the sim refused with EGW00201


def model_of(n: int) -> Portfolio:
    """N stocks at equal weight: the sim's 30 KRX large caps first, then its synthetic stocks."""
    codes = [s["code"] for s in load_seed()["stocks"]][:n]
    codes += [f"{900000 + i:06d}" for i in range(1, n - len(codes) + 1)]
    return Portfolio(tuple(Target(code, 1 / n) for code in codes), f"bench-{n}")


class SeedPlanner:
    """The seed's 17.7.1, against the same server: check_account(), then get_price() per stock."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.headers = {"Content-Type": "application/json", "authorization": f"Bearer {token}",
                        "appKey": SIM_APP_KEY, "appSecret": SIM_APP_SECRET}
        self.account = Account.parse(SIM_ACCOUNT)
        self.refused = 0

    def _get(self, path: str, tr_id: str, params: dict[str, str], tr_cont: str = "") -> requests.Response:
        while True:
            res = requests.get(self.base_url + path, headers={**self.headers, "tr_id": tr_id, "tr_cont": tr_cont},
                               params=params, timeout=10)
            if res.json().get("msg_cd") != "EGW00201":
                return res
            self.refused += 1
            time.sleep(SEED_SLEEP)

    def check_account(self) -> tuple[list[tuple[str, int]], dict]:
        held: list[tuple[str, int]] = []
        nk, fk, tr_cont = "", "", ""
        while True:
            params = {"CANO": self.account.cano, "ACNT_PRDT_CD": self.account.product, "AFHR_FLPR_YN": "N",
                      "UNPR_DVSN": "01", "FUND_STTL_ICLD_YN": "N", "FNCG_AMT_AUTO_RDPT_YN": "N", "OFL_YN": "",
                      "INQR_DVSN": "01", "PRCS_DVSN": "00", "CTX_AREA_FK100": fk, "CTX_AREA_NK100": nk}
            res = self._get(ep.BALANCE, "VTTC8434R", params, tr_cont)
            body = res.json()
            held += [(row["pdno"], int(row["hldg_qty"])) for row in body["output1"]]
            nk, fk = body["ctx_area_nk100"].strip(), body["ctx_area_fk100"].strip()
            if res.headers.get("tr_cont") not in ("M", "F") or not nk:
                return held, body["output2"][0]
            tr_cont = "N"

    def get_price(self, ticker: str) -> int:
        res = self._get(ep.PRICE, "FHKST01010100", {"fid_cond_mrkt_div_code": "J", "fid_input_iscd": ticker})
        price = int(res.json()["output"]["stck_prpr"])
        time.sleep(SEED_SLEEP)
        return price

    def plan(self, codes: list[str]) -> dict[str, int]:
        """The seed's 투자수량 per code (its own arithmetic, `round` and all)."""
        held, account = self.check_account()
        invest_per_stock = int(account["tot_evlu_amt"]) * 0.98 / len(codes)
        current = dict(held)
        universe = list(dict.fromkeys(codes + [c for c, _ in held]))
        prices = {c: self.get_price(c) for c in universe}
        return {c: (round(invest_per_stock / prices[c]) if c in codes else 0) - current.get(c, 0) for c in universe}


def answered(sim: SimServer) -> int:
    return sum(1 for call in list(sim.calls) if call.path.startswith("/uapi/") and call.status == 200)


def time_ours(sim: SimServer, client: KisClient, model: Portfolio) -> Result:
    calls, refused = answered(sim), sim.limiter.refused
    start = time.perf_counter()
    plan = make_plan(client, model)
    seconds = time.perf_counter() - start
    assert len(plan.lines) >= len(model.targets)
    return Result(seconds, answered(sim) - calls, sim.limiter.refused - refused)


def time_seed(sim: SimServer, token: str, model: Portfolio) -> Result:
    seed = SeedPlanner(sim.url, token)
    calls = answered(sim)
    start = time.perf_counter()
    seed.plan(list(model.codes))
    seconds = time.perf_counter() - start
    return Result(seconds, answered(sim) - calls, seed.refused)


def run(sizes: list[int], latency: float, limits: tuple[Limit, ...] = LIMITS) -> None:
    print(f"sim on 127.0.0.1, added latency {latency * 1000:.0f} ms; floor = calls needed / calls per second")
    print(f"{'limit':<10}{'N':>4}{'calls':>6}{'floor s':>9}{'ours s':>9}{'vs floor':>10}{'refused':>8}"
          f"{'seed s':>9}{'refused':>8}{'seed/ours':>10}")
    for limit in limits:
        with tempfile.TemporaryDirectory() as data_dir, \
                SimServer(rate_limit=limit.rate, page_rows=limit.page_rows, synthetic=max(0, max(sizes) - 30)) as sim:
            sim.faults.latency = latency
            config = KisConfig(env=limit.env, app_key=SIM_APP_KEY, app_secret=SIM_APP_SECRET,
                               account=Account.parse(SIM_ACCOUNT), base_url=sim.url, rate_limit=limit.rate,
                               data_dir=Path(data_dir))
            client = KisClient(config, limiter=RateLimiter(limit.rate))
            token = client.tokens.token()  # issued once, outside the timings, as a cached token would be
            for n in sizes:
                model = model_of(n)
                time.sleep(WINDOW_CLEAR)
                ours = time_ours(sim, client, model)
                time.sleep(WINDOW_CLEAR)
                seed = time_seed(sim, token, model)
                floor = ours.calls / limit.rate
                over = 100 * (ours.seconds - floor) / floor
                print(f"{limit.label + f' {limit.rate:g}/s':<10}{n:>4}{ours.calls:>6}{floor:>9.2f}"
                      f"{ours.seconds:>9.2f}{over:>+9.1f}%{ours.refused:>8}{seed.seconds:>9.2f}{seed.refused:>8}"
                      f"{seed.seconds / ours.seconds:>9.1f}x", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 and 10 stocks only")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="numbers of stocks (default 10 50 200)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the sim adds to every answer")
    parser.add_argument("--limits", nargs="+", choices=[limit.label for limit in LIMITS],
                        default=[limit.label for limit in LIMITS], help="which call limits to run (default both)")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([5, 10] if args.quick else [10, 50, 200])
    if min(sizes) < 1:
        parser.error("sizes must be positive")
    run(sizes, args.latency, tuple(limit for limit in LIMITS if limit.label in args.limits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
