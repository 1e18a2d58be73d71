"""Performance from the value history (rebalance/performance.py) against a reference written apart with numpy
and pandas: 90 sessions, three deposits, buys after each, prices on a seeded random walk."""
from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from kis.krx import KST
from kis.models import Balance, Holding
from rebalance.costs import CostRates
from rebalance.history import HeldValue, Snapshot, ValueHistory
from rebalance.performance import Period, flow, measure, parse_period, xirr

CODES = ("005930", "000660", "069500")
DEPOSITS = {20: 3_000_000, 45: 5_000_000, 70: -2_000_000}  # session index -> won in (+) or out (−)


def synthetic(seed: int = 23):
    """90 weekday sessions: (snapshots as kisbot records them, the true flows, the true values)."""
    rng = random.Random(seed)
    rates = CostRates()
    day = date(2026, 3, 2)
    price = {"005930": 70_000, "000660": 180_000, "069500": 35_000}
    qty = {"005930": 50, "000660": 20, "069500": 100}
    cash = 1_000_000
    rows, flows = [], []
    for i in range(90):
        while day.weekday() >= 5:
            day += timedelta(days=1)
        price = {c: max(1_000, round(p * math.exp(rng.gauss(0.0004, 0.015)))) for c, p in price.items()}
        bought = 0
        flows.append(DEPOSITS.get(i, 0))
        cash += DEPOSITS.get(i, 0)
        if DEPOSITS.get(i, 0) > 0:  # the deposit is invested the same day, as a buy plan would
            code = CODES[i % 3]
            n = DEPOSITS[i] // 2 // price[code]
            qty[code] += n
            bought = n * price[code]
            cash -= bought + rates.buy_cost(bought)
        holdings = tuple(HeldValue(c, c, q, q * price[c]) for c, q in qty.items())
        stock = sum(h.value for h in holdings)
        at = datetime.combine(day, datetime.min.time(), KST).replace(hour=15, minute=40)
        rows.append(Snapshot(day, at, stock + cash, cash, stock, 0, holdings, bought, 0))
        day += timedelta(days=1)
    return rows, flows


def reference_twr(values: np.ndarray, flows: np.ndarray) -> float:
    """Chained daily Modified Dietz, flows at mid-day, written as array arithmetic."""
    v0, v1, f = values[:-1], values[1:], flows[1:]
    return float(np.prod(1 + (v1 - v0 - f) / (v0 + f / 2)) - 1)


def reference_xirr(days: pd.DatetimeIndex, amounts: np.ndarray) -> float:
    """Newton's method on the NPV polynomial in years, started at 0: a different solver from the module's."""
    years = np.asarray((days - days[0]).days, dtype=float) / 365.0
    rate = 0.0
    for _ in range(100):
        disc = (1 + rate) ** -years
        npv = float(np.sum(amounts * disc))
        slope = float(np.sum(-years * amounts * disc / (1 + rate)))
        rate -= npv / slope
    return rate


def test_perf_over_90_sessions_with_three_deposits_matches_a_reference_within_a_hundredth_of_a_point():
    rows, flows = synthetic()
    frame = pd.DataFrame({"day": pd.to_datetime([r.day for r in rows]), "value": [r.total_value for r in rows],
                          "flow": flows})
    twr = reference_twr(frame["value"].to_numpy(float), frame["flow"].to_numpy(float))
    cash = frame["flow"].to_numpy(float) * -1
    cash[0] = -frame["value"].iloc[0]
    cash[-1] += frame["value"].iloc[-1]
    annual = reference_xirr(pd.DatetimeIndex(frame["day"]), cash)
    span = (frame["day"].iloc[-1] - frame["day"].iloc[0]).days
    mwr = (1 + annual) ** (span / 365) - 1

    perf = measure(rows, Period.ALL, rows[-1].day)
    assert perf is not None and perf.sessions == 90
    assert [a for _, a in perf.flows] == [f for f in flows if f]  # the three flows, found from cash alone
    print(f"perf: TWR {100 * perf.twr:.4f}% vs reference {100 * twr:.4f}%; "
          f"MWR {100 * perf.mwr:.4f}% vs reference {100 * mwr:.4f}%")
    assert abs(100 * perf.twr - 100 * twr) < 0.01
    assert abs(100 * perf.mwr - 100 * mwr) < 0.01
    assert abs(100 * perf.mwr_annual - 100 * annual) < 0.01
    assert perf.net_deposits == 6_000_000 and perf.deposits == 8_000_000 and perf.withdrawals == 2_000_000
    # The holdings' gains and the fees paid on buys add up to the market gain.
    fees = sum(CostRates().buy_cost(r.bought) for r in rows[1:])
    assert sum(c.gain for c in perf.contributions) - fees == perf.gain


def test_a_deposit_is_not_a_return_but_a_price_rise_is():
    rows, _ = synthetic()
    flat = [Snapshot(r.day, r.at, 1_000_000 + (500_000 if i >= 1 else 0), 1_000_000 + (500_000 if i >= 1 else 0),
                     0, 0, (), 0, 0) for i, r in enumerate(rows[:3])]
    perf = measure(flat, Period.ALL, flat[-1].day)
    assert perf.twr == 0 and perf.flows == ((flat[1].day, 500_000),)


def test_rows_kept_before_fills_were_recorded_infer_trades_from_the_holdings():
    rows, flows = synthetic()
    old = [Snapshot(r.day, r.at, r.total_value, r.cash, r.stock_value, r.pnl, r.holdings) for r in rows]
    found = [flow(a, b) for a, b in zip(old, old[1:])]
    # A buy at the session's price is explained by the holding's growth; what is left is the deposit.
    assert [f for f in found if f] == [f for f in flows[1:] if f]


def test_a_period_starts_from_the_last_session_on_or_before_its_first_day():
    rows, _ = synthetic()
    month = measure(rows, Period.MONTH, rows[-1].day)
    assert month.start <= rows[-1].day - timedelta(days=31) < month.start + timedelta(days=4)
    assert month.sessions < 30


def test_fewer_than_two_sessions_give_no_performance():
    rows, _ = synthetic()
    assert measure(rows[:1], Period.ALL, rows[0].day) is None


def test_period_words_are_read_and_anything_else_is_refused():
    assert parse_period([]) is Period.ALL and parse_period(["Quarter"]) is Period.QUARTER
    assert parse_period(["분기"]) is Period.QUARTER and parse_period(["week"]) is None


def test_xirr_of_a_year_doubling_is_one_hundred_percent():
    assert abs(xirr([(date(2025, 1, 1), -100), (date(2026, 1, 1), 200)]) - 1.0) < 1e-9
    assert xirr([(date(2025, 1, 1), 100)]) is None


def test_old_history_files_gain_the_fill_columns_and_keep_their_rows(tmp_path):
    import sqlite3

    path = tmp_path / "history.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""CREATE TABLE snapshots (account TEXT NOT NULL, day TEXT NOT NULL, at TEXT NOT NULL,
        total_value INTEGER NOT NULL, cash INTEGER NOT NULL, stock_value INTEGER NOT NULL, pnl INTEGER NOT NULL,
        holdings_json TEXT NOT NULL, PRIMARY KEY (account, day));
        INSERT INTO snapshots VALUES ('a', '2026-11-02', '2026-11-02T15:40:00+09:00', 100, 100, 0, 0, '[]');""")
    db.commit()
    db.close()
    history = ValueHistory(path)
    assert history.recent("a")[0].bought is None
    balance = Balance((Holding("005930", "삼성전자", 1, 1, 10, 10, 10, 10, 0, 0.0),), 90, 90, 10, 100, 0)
    history.record("a", date(2026, 11, 3), balance, datetime(2026, 11, 3, 15, 40, tzinfo=KST), (10, 0))
    history.record("a", date(2026, 11, 3), balance, datetime(2026, 11, 3, 16, 0, tzinfo=KST))  # fills unknown
    assert [(s.bought, s.sold) for s in history.recent("a")] == [(None, None), (10, 0)]
