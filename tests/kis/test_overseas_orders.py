"""The client's US orders against the paper exchange: limit buys and sells on the US grid, cancels, today's US
orders (paged), buying power; an order whose answer was lost raises OrderUncertain and is never sent again."""
from __future__ import annotations

from decimal import Decimal

import pytest

from kis.errors import KisError, OrderUncertain
from kis.markets import us
from kis.models import OrderSide


@pytest.fixture(autouse=True)
def no_lag(sim):
    sim.faults.listing_lag = sim.faults.cancel_confirm_delay = 0.0


def test_a_limit_buy_is_sent_once_on_the_grid_with_the_exchange_of_its_ticker(sim, sim_client):
    sim.us_market.set_price("KO", "69.41")
    ack = sim_client.us_order("KO", OrderSide.BUY, 2, Decimal("60.005"))
    assert (ack.symbol, ack.market, ack.qty, ack.price) == ("KO", "NYSE", 2, Decimal("60.00"))  # a buy rounds down
    assert ack.order_no and ack.org_no and ack.time
    order = sim.us_exchange.find(ack.order_no)
    assert (order.exchange, order.price, order.order_type) == ("NYSE", 600_000, "00")
    assert sim.count(us.BUY.path) == 1


def test_a_sell_rounds_up_and_below_a_dollar_keeps_four_places(sim, sim_client):
    sim.us_book.set_holding("SNDL", 100, "0.50")
    sim.us_market.set_price("SNDL", "0.80")
    ack = sim_client.us_order("NASD:SNDL", OrderSide.SELL, 10, Decimal("0.95001"))
    assert ack.price == Decimal("0.9501")
    assert sim.count(us.BUY.path, "VTTT1001U") == 1  # the documented mock sell tr_id


def test_a_float_price_or_a_fractional_quantity_is_refused_before_any_call(sim, sim_client):
    with pytest.raises(ValueError):
        sim_client.us_order("AAPL", OrderSide.BUY, 1, 200.0)
    with pytest.raises(ValueError):
        sim_client.us_order("AAPL", OrderSide.BUY, 1.5, Decimal("200"))
    with pytest.raises(ValueError):
        sim_client.us_order("AAPL", OrderSide.BUY, 0, Decimal("200"))
    assert sim.count(us.BUY.path) == 0


def test_an_order_whose_answer_is_lost_raises_order_uncertain_and_is_not_sent_again(sim, sim_client):
    sim.faults.drop_after_order()
    with pytest.raises(OrderUncertain):
        sim_client.us_order("AAPL", OrderSide.BUY, 1, Decimal("150"))
    assert sim.count(us.BUY.path) == 1 and len(sim.us_exchange.orders) == 1
    sim.faults.ledger_busy_after_order()
    with pytest.raises(OrderUncertain):
        sim_client.us_order("AAPL", OrderSide.BUY, 1, Decimal("151"))
    assert sim.count(us.BUY.path) == 2 and len(sim.us_exchange.orders) == 2


def test_a_refused_order_is_a_kis_error_that_says_why(sim, sim_client):
    with pytest.raises(KisError) as err:
        sim_client.us_order("AAPL", OrderSide.BUY, 10_000, Decimal("200"))
    assert err.value.msg_cd == "APBK0952" and not isinstance(err.value, OrderUncertain)


def test_a_cancel_takes_the_rest_off_and_today_shows_the_order_closed(sim, sim_client):
    sim.us_market.set_price("AAPL", "233.12")
    ack = sim_client.us_order("AAPL", OrderSide.BUY, 3, Decimal("150"))
    cancel = sim_client.us_cancel(ack.order_no)
    assert cancel.order_no != ack.order_no and cancel.qty == 3
    rows = {o.order_no: o for o in sim_client.us_orders_today()}
    assert rows[ack.order_no].remaining_qty == 0 and rows[ack.order_no].closed
    assert rows[cancel.order_no].kind == "cancel" and rows[cancel.order_no].orig_order_no == ack.order_no


def test_a_cancel_after_a_restart_finds_its_order_in_todays_orders(sim, sim_client, tmp_path):
    from kis.sim.clients import client_for

    ack = sim_client.us_order("AAPL", OrderSide.BUY, 1, Decimal("150"))
    fresh = client_for(sim, tmp_path / "fresh")
    assert fresh.us_cancel(ack.order_no).symbol == "AAPL"
    assert sim.us_exchange.find(ack.order_no).remaining == 0


def test_todays_us_orders_come_from_every_page_with_dollars_and_cents(sim, sim_client):
    sim.us_market.set_price("AAPL", "233.12")
    numbers = [sim_client.us_order("AAPL", OrderSide.BUY, 1, Decimal(100 + n)).order_no for n in range(7)]
    filled = sim_client.us_order("AAPL", OrderSide.BUY, 2, Decimal("240"))
    rows = sim_client.us_orders_today()
    assert [o.order_no for o in rows] == numbers + [filled.order_no]
    assert sim.count(us.ORDERS.path) == 2  # five rows a page
    done = rows[-1]
    assert (done.filled_qty, done.remaining_qty, done.avg_fill_price, done.filled_amount) == \
        (2, 0, Decimal("233.12"), 46624)
    assert isinstance(done.price, Decimal) and isinstance(done.filled_amount, int)


def test_a_listed_order_shows_up_only_after_the_listing_lag(sim, sim_client):
    sim.faults.listing_lag = 3.0
    ack = sim_client.us_order("AAPL", OrderSide.BUY, 1, Decimal("150"))
    assert ack.order_no not in [o.order_no for o in sim_client.us_orders_today()]
    sim.pass_listing_lag()
    assert ack.order_no in [o.order_no for o in sim_client.us_orders_today()]


def test_psamount_says_the_shares_a_buy_can_take_in_dollars_alone_and_with_integrated_margin(sim, sim_client):
    power = sim_client.us_psamount("AAPL", Decimal("200"))
    assert power.market == "NASD" and power.price == Decimal("200.00")
    assert power.max_qty == power.integrated_qty == 99  # $20,000 at $200 and 0.25 %
    assert power.orderable == 2_000_000 and power.rate > 1000
    sim.us_exchange.integrated_margin = True
    assert sim_client.us_psamount("AAPL", Decimal("200")).integrated_qty > 99
