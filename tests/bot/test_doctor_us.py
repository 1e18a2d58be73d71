"""kisbot doctor's overseas side against the paper exchange: the US quote, psamount, balance and rate; with --orders
one resting US limit buy, listed, cancelled and confirmed; a refusal while the US market is shut is a warning."""
from __future__ import annotations

import json
from decimal import Decimal

from bot.cli_doctor import doctor
from bot.doctor_orders import load_records
from bot.doctor_us import resting_us_price
from kis.config import load_kis_config
from test_cli_doctor import args, sim, sim_source  # noqa: F401 (sim: the doctor's own fixture, real clock)


def test_doctor_reads_the_us_price_psamount_balance_and_rate(sim, tmp_path, capsys):
    assert doctor(args(json=True), source=sim_source(sim, tmp_path)) == 0
    report = json.loads(capsys.readouterr().out)
    check = next(c for c in report["checks"] if c["name"] == "overseas")
    assert check["status"] == "ok"
    assert report["overseas"]["symbol"] == "AAPL" and report["overseas"]["market"] == "NASD"
    assert report["overseas"]["psamount_max_qty"] > 0 and Decimal(report["overseas"]["rate"]) > 1000
    assert report["us_orders_placed"] == 0 and sim.us_exchange.orders == []


def test_doctor_orders_rests_one_us_buy_far_below_the_price_and_leaves_it_cancelled(sim, tmp_path, capsys):
    sim.faults.listing_lag = 0.3
    source = sim_source(sim, tmp_path)
    assert doctor(args(orders=True, json=True), source=source) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["us_orders_placed"] == 1 and report["us_cancelled"] is True
    new = [o for o in sim.us_exchange.orders if o.kind == "new"]
    assert len(new) == 1 and new[0].filled_qty == 0 and new[0].remaining == 0
    assert new[0].price < sim.us_market.price("AAPL") * 85 // 100
    assert report["us_listing_lag_s"] is not None
    assert load_records(load_kis_config(source)) == []  # nothing left in the record


def test_a_us_test_order_refused_while_the_us_market_is_shut_is_a_warning_and_places_nothing(tmp_path):
    from datetime import datetime
    from types import SimpleNamespace

    from bot.doctor_us import check_us_test_order
    from kis.errors import KisError
    from kis.markets.us import NEW_YORK
    from kis.models import UsQuote

    def refuse(*_a, **_k):
        raise KisError("40580000", "모의투자 장종료 입니다.")

    quote = UsQuote("AAPL", "NASD", Decimal("233.12"), Decimal("230"), Decimal("3.12"), Decimal("1.36"))
    client = SimpleNamespace(_wall=lambda: datetime(2026, 11, 24, 20, 0, tzinfo=NEW_YORK), us_order=refuse,
                             overseas_price=lambda s: quote)
    config = SimpleNamespace(data_dir=tmp_path, env=SimpleNamespace(value="sim"), base_url="http://127.0.0.1:1")
    found = check_us_test_order(SimpleNamespace(client=client, config=config, us_quote=quote))
    assert found.status == "warn" and "09:30" in found.text and "40580000" in found.text
    assert load_records(config) == []


def test_the_resting_us_price_is_a_fifth_below_on_the_grid():
    assert resting_us_price(Decimal("233.12")) == Decimal("186.49")
    assert resting_us_price(Decimal("0.8734")) == Decimal("0.6987")
