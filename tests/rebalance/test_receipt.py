"""The receipt of a run: plan price vs average fill, slippage in won and bp, costs, cash after."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kis.models import OrderSide
from rebalance import Plan, PlanLine
from rebalance.receipt import Receipt, ReceiptStore, build_receipt

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=ZoneInfo("Asia/Seoul"))


@dataclass
class Order:
    code: str
    side: OrderSide
    filled_qty: int
    filled_amount: int


def plan() -> Plan:
    lines = (PlanLine("035720", "카카오", 40_000, 5, 0, 0.1, 0.0),
             PlanLine("069500", "KODEX 200", 40_000, 10, 0, 0.2, 0.0, tax_free=True),
             PlanLine("005930", "삼성전자", 70_000, 10, 13, 0.37, 0.48))
    return Plan("abcd1234", lines, 1_000_000, 1_900_000, 1_862_000, 522, NOW, NOW + timedelta(minutes=5))


def test_the_receipt_compares_fills_with_the_plan_per_stock_and_in_total():
    orders = [Order("035720", OrderSide.SELL, 5, 199_500),  # 39,900 average: 500 won below the plan
              Order("069500", OrderSide.SELL, 10, 400_000),
              Order("005930", OrderSide.BUY, 2, 140_200), Order("005930", OrderSide.BUY, 1, 70_100)]
    receipt = build_receipt("run1", plan(), orders, cash_after=1_389_000)
    kakao, etf, samsung = receipt.lines
    assert (kakao.avg_price, kakao.slippage) == (39_900, 500)
    assert kakao.slippage_bp == pytest.approx(25.0)
    assert (samsung.avg_price, samsung.filled_qty, samsung.slippage) == (70_100, 3, 300)
    assert etf.slippage == 0
    # sell 199,500 x 0.215 % = 428.9 -> 429; the ETF pays only the 0.015 % fee: 60
    assert (kakao.charged_costs, etf.charged_costs) == (429, 60)
    assert (kakao.est_costs, etf.est_costs) == (430, 60)
    assert receipt.slippage == 800 and receipt.cash_after == 1_389_000
    assert receipt.cash_after_plan == plan().cash_after


def test_the_last_receipt_is_kept_per_account(tmp_path):
    store = ReceiptStore(tmp_path / "journal.sqlite3", "50000000-01")
    assert store.last() is None
    receipt = build_receipt("run1", plan(), [], cash_after=None, state="cancelled")
    store.save(receipt)
    assert ReceiptStore(tmp_path / "journal.sqlite3", "50000000-01").last() == receipt
    assert ReceiptStore(tmp_path / "journal.sqlite3", "99999999-01").last() is None
    assert Receipt.from_json(receipt.to_json()) == receipt


def test_the_receipt_keeps_where_a_short_run_stopped_and_an_older_receipt_still_reads(tmp_path):
    from dataclasses import replace

    from rebalance.shortfall import Shortfall, ShortReason

    short = Shortfall("005930", "삼성전자", OrderSide.BUY, 3, 1, ((ShortReason.UNFILLED, 1), (ShortReason.CASH, 1)))
    receipt = replace(build_receipt("run1", plan(), [], cash_after=None), shortfalls=(short,))
    store = ReceiptStore(tmp_path / "journal.sqlite3", "50000000-01")
    store.save(receipt)
    assert store.last() == receipt and store.last().shortfalls[0].short == 2
    older = receipt.to_json().replace(', "shortfalls": [', ', "ignored": [')  # saved before issue 19
    assert Receipt.from_json(older.split(', "ignored"')[0] + "}").shortfalls == ()
