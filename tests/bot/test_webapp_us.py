"""The Mini App editor's weights now of a mixed model: of the whole account in won at KIS's rate, US tickers too."""
from __future__ import annotations

from decimal import Decimal

from bot.webapp import weights_now
from kis.models import OrderSide
from rebalance.model import Target
from rebalance.model_store import ModelState


def test_a_mixed_models_weights_now_count_us_holdings_in_won(sim, sim_client):
    sim.faults.listing_lag = 0.0
    sim.us_market.set_price("AAPL", "200.00")
    sim_client.us_order("AAPL", OrderSide.BUY, 5, Decimal("210.00"))  # fills at $200 on the always-open sim
    state = ModelState(targets=(Target("005930", 0.5), Target("AAPL", 0.3), Target("KO", 0.2, market="NYSE")))
    now = weights_now(sim_client, state, cash_buffer=0.02)
    assert set(now) == {"005930", "AAPL", "KO"}
    assert now["AAPL"] > 0 and now["KO"] == 0
    krx_only = weights_now(sim_client, ModelState(targets=(Target("005930", 1.0),)), cash_buffer=0.02)
    assert krx_only["005930"] >= now["005930"]  # the US side adds to the whole the weights are of
