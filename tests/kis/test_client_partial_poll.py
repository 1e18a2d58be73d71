"""`orders_today(wanted=...)`: a confirming poll reads only the newest pages that hold the wanted orders."""
from __future__ import annotations

from kis import endpoints as ep
from kis.models import OrderSide, OrderType


def test_reading_stops_at_the_page_that_holds_the_last_wanted_order(sim, sim_client):
    acks = [sim_client.order("005930", OrderSide.BUY, 1, OrderType.MARKET) for _ in range(12)]
    sim.pass_listing_lag()
    before = sim.count(ep.DAILY_ORDERS)
    everything = sim_client.orders_today()
    full_pages = sim.count(ep.DAILY_ORDERS) - before
    assert len(everything) == 12 and full_pages > 1

    before = sim.count(ep.DAILY_ORDERS)
    newest = sim_client.orders_today(wanted=[acks[-1].order_no])
    assert sim.count(ep.DAILY_ORDERS) - before == 1 and acks[-1].order_no in {o.order_no for o in newest}

    before = sim.count(ep.DAILY_ORDERS)
    oldest = sim_client.orders_today(wanted=[acks[0].order_no, acks[-1].order_no])
    assert sim.count(ep.DAILY_ORDERS) - before == full_pages and len(oldest) == 12


def test_a_wanted_order_that_is_not_listed_means_reading_every_page(sim, sim_client):
    for _ in range(12):
        sim_client.order("005930", OrderSide.BUY, 1, OrderType.MARKET)
    sim.pass_listing_lag()
    assert len(sim_client.orders_today(wanted=["9999999"])) == 12
