"""The receipt against the book: per stock and in total, the shortfall of the fills against the arrival mid
(won and bp), the spread paid against the mid at each order's send, and the share filled passively."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kis.models import OrderSide
from rebalance import Plan, PlanLine
from rebalance.i18n import t, using
from rebalance.receipt import Receipt, build_receipt

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=ZoneInfo("Asia/Seoul"))


@dataclass
class Order:
    id: int
    code: str
    side: OrderSide
    filled_qty: int
    filled_amount: int
    bid: int = 0
    ask: int = 0
    passive: bool = False
    sent_at: datetime = NOW


def plan() -> Plan:
    lines = (PlanLine("035720", "카카오", 40_000, 10, 0, 0.1, 0.0),
             PlanLine("005930", "삼성전자", 70_000, 10, 20, 0.37, 0.48))
    return Plan("abcd1234", lines, 1_000_000, 1_900_000, 1_862_000, 522, NOW, NOW + timedelta(minutes=5))


def orders():
    later = NOW + timedelta(minutes=2)
    return [
        # the buy: 6 joined the bid (70,000 with the ask at 70,100: mid 70,050) and filled there, 4 crossed
        # later at 70,200 with the book then 70,100/70,200 (mid 70,150)
        Order(1, "005930", OrderSide.BUY, 6, 420_000, 70_000, 70_100, passive=True),
        Order(2, "005930", OrderSide.BUY, 4, 280_800, 70_100, 70_200, sent_at=later),
        # the sell: all 10 crossed at the bid 39,950 (book 39,950/40,000: mid 39,975)
        Order(3, "035720", OrderSide.SELL, 10, 399_500, 39_950, 40_000),
    ]


def test_the_shortfall_is_against_the_mid_of_the_stocks_first_send_in_won_and_bp():
    receipt = build_receipt("run1", plan(), orders(), cash_after=None)
    kakao, samsung = receipt.lines
    assert samsung.arrival_mid2 == 140_100  # 70,000 + 70,100, from the first order sent
    # paid 700,800 for 10 against 10 x 70,050 = 700,500: 300 won, 300 / 700,500 = 4.28 bp
    assert samsung.shortfall == 300 and samsung.shortfall_bp == pytest.approx(4.2827, abs=1e-3)
    # sold 10 at 39,950 against the mid 39,975: 250 won short, 250 / 399,750
    assert kakao.shortfall == 250 and kakao.shortfall_bp == pytest.approx(6.254, abs=1e-3)
    assert receipt.shortfall == 550
    assert receipt.shortfall_bp == pytest.approx(10_000 * 1_100 / (10 * 140_100 + 10 * 79_950))


def test_the_spread_paid_is_each_fill_against_the_mid_at_its_own_send_and_passive_fills_earn_it():
    receipt = build_receipt("run1", plan(), orders(), cash_after=None)
    kakao, samsung = receipt.lines
    # passive: 6 x (70,000 - 70,050) = -300; crossed: 4 x (70,200 - 70,150) = +200
    assert samsung.spread_paid == -100
    assert kakao.spread_paid == 250  # 10 x (39,975 - 39,950)
    assert receipt.spread_paid == 150
    assert samsung.spread_bp == pytest.approx(10_000 * -200 / (6 * 140_100 + 4 * 140_300))


def test_the_share_filled_passively_counts_only_orders_that_joined_their_own_side():
    receipt = build_receipt("run1", plan(), orders(), cash_after=None)
    kakao, samsung = receipt.lines
    assert (samsung.passive_share, kakao.passive_share) == (0.6, 0.0)
    assert receipt.passive_share == pytest.approx(6 / 20)


def test_a_run_without_the_book_read_has_no_book_figures_and_an_older_receipt_still_reads():
    bare = [Order(1, "005930", OrderSide.BUY, 10, 700_800), Order(2, "035720", OrderSide.SELL, 10, 399_500)]
    receipt = build_receipt("run1", plan(), bare, cash_after=None)
    assert not receipt.booked and receipt.shortfall == receipt.spread_paid == 0
    data = json.loads(receipt.to_json())
    for line in data["lines"]:  # as a receipt kept before issue 25
        for key in ("arrival_mid2", "booked_qty", "booked_amount", "spread_paid2", "passive_qty"):
            del line[key]
    assert Receipt.from_json(json.dumps(data)) == receipt
    booked = build_receipt("run1", plan(), orders(), cash_after=None)
    assert Receipt.from_json(booked.to_json()) == booked


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_full_receipt_says_the_book_figures_per_stock_and_in_total(lang):
    from bot.format import receipt_text

    receipt = build_receipt("run1", plan(), orders(), cash_after=None)
    with using(lang):
        text = receipt_text(receipt).plain()
        assert t("passive.row_book", shortfall="+300", bp="+4.3", spread="-100", spread_bp="-1.4",
                 passive="60") in text
        assert t("passive.total_book", shortfall="+550", bp=f"{receipt.shortfall_bp:+.1f}", spread="+150",
                 spread_bp=f"{receipt.spread_bp:+.1f}", passive="30") in text
        assert t("passive.sign_book") in text
    bare = build_receipt("run1", plan(), [Order(1, "005930", OrderSide.BUY, 10, 700_800)], cash_after=None)
    assert t("passive.sign_book") not in receipt_text(bare).plain()
