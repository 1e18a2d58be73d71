"""What a person reads of a run across KRX and the US: each market's progress and when its window opens in
/status, and the receipt's US lines in dollars with their won value."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from bot import format as fmt
from kis.krx import KST
from kis.models import OrderSide
from rebalance.events import Filled
from rebalance.i18n import Lang, using
from rebalance.lifecycle import RunState
from rebalance.model import Plan, PlanLine
from rebalance.receipt import build_receipt
from rebalance.twap import RunStatus, StockProgress
from rebalance.twap.status import MarketProgress

NOW = datetime(2026, 12, 8, 14, 0, tzinfo=KST)


def _status() -> RunStatus:
    stocks = (StockProgress("005930", "Samsung", OrderSide.SELL, 10, 10, 0, False),
              StockProgress("AAPL", "Apple", OrderSide.BUY, 0, 6, 0, False, market="NASD"))
    markets = (MarketProgress("KRX", NOW - timedelta(hours=2), NOW - timedelta(minutes=30), 1.0),
               MarketProgress("US", NOW + timedelta(hours=9, minutes=40), NOW + timedelta(hours=15, minutes=40), 0.0))
    return RunStatus("r1", "p1", RunState.ACTIVE, markets[0].start, markets[1].end, stocks, 0.625,
                     timedelta(hours=15), "", markets, NOW)


def test_status_names_each_markets_progress_and_when_the_us_window_opens():
    text = fmt.status_text(_status()).plain()
    assert "KRX: 100% done, its window 12:00–13:30 KST is over" in text
    assert "US: 0% done, its window 23:40–05:40 KST opens in 9h 40m" in text


def test_status_in_korean_says_when_the_us_market_starts():
    with using(Lang.KO):
        text = fmt.status_text(_status()).plain()
    assert "미국: 0% 진행" in text and "후 거래 시작 (23:40–05:40 KST)" in text and "국내: 100% 진행" in text


def test_a_run_of_one_market_shows_no_market_lines():
    one = _status()
    plain = fmt.status_text(RunStatus(*[getattr(one, f) for f in ("run_id", "plan_id", "state", "start", "end",
                                                                  "stocks", "progress", "time_left")])).plain()
    assert "KRX:" not in plain and "US:" not in plain


def _mixed_plan() -> Plan:
    lines = (PlanLine("005930", "Samsung", 70_000, 10, 0, 0.0, 0.0),
             PlanLine("AAPL", "Apple", Decimal("233.12"), 0, 6, 0.0, 0.0, market="NASD", currency="USD",
                      rate=Decimal("1380.50")))
    return Plan("p1", lines, 0, 700_000, 700_000, 0, NOW, NOW + timedelta(minutes=10))


def test_the_receipt_shows_a_us_leg_in_dollars_and_its_won_value():
    orders = [SimpleNamespace(code="005930", side=OrderSide.SELL, filled_qty=10, filled_amount=700_000),
              SimpleNamespace(code="AAPL", side=OrderSide.BUY, filled_qty=6, filled_amount=140_000)]
    receipt = build_receipt("r1", _mixed_plan(), orders, 1_000_000)
    aapl = next(line for line in receipt.lines if line.code == "AAPL")
    assert (aapl.currency, aapl.plan_price, aapl.avg_price, aapl.filled_krw) == ("USD", 23_312, 23_333, 1_932_700)
    assert aapl.charged_costs == 350  # KIS's 0.25 % US commission on $1,400.00, in cents
    assert receipt.charged_costs == aapl.krw(350) + next(ln for ln in receipt.lines if ln.code == "005930").charged_costs
    text = fmt.receipt_text(receipt).plain()
    assert "$233.12→$233.33" in text and "filled $1,400.00 = 1,932,700 won at 1380.50 won a dollar" in text


def test_a_receipt_kept_before_us_legs_still_reads():
    receipt = build_receipt("r1", _mixed_plan(), [], 0)
    data = receipt.to_json().replace(', "currency": "KRW", "rate": null', "")
    assert type(receipt).from_json(data).lines[0].currency == "KRW"


def test_a_us_fill_is_told_in_dollars():
    fill = Filled("r1", "AAPL", "Apple", OrderSide.BUY, 2, 23_312, 2, 6, 0.3, "USD")
    assert "$233.12" in fmt.fills_text([fill]).plain()
