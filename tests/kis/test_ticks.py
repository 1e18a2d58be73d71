"""The KRX 2023 price grid: KIS rejects off-grid limit prices (APBK0506)."""
import pytest
from hypothesis import given, strategies as st

from kis.models import OrderSide
from kis.ticks import add_ticks, is_on_tick, round_to_tick, tick_size


@pytest.mark.parametrize("price,tick", [
    (1, 1), (1_999, 1), (2_000, 5), (4_999, 5), (5_000, 10), (19_999, 10), (20_000, 50),
    (49_999, 50), (50_000, 100), (199_999, 100), (200_000, 500), (499_999, 500),
    (500_000, 1_000), (3_000_000, 1_000),
])
def test_tick_size_follows_the_2023_table(price, tick):
    assert tick_size(price) == tick


def test_a_buy_rounds_down_and_a_sell_rounds_up():
    assert round_to_tick(71_234, OrderSide.BUY) == 71_200
    assert round_to_tick(71_234, OrderSide.SELL) == 71_300
    assert round_to_tick(71_200, OrderSide.SELL) == 71_200


def test_rounding_up_across_a_band_bound_lands_on_the_next_grid():
    assert round_to_tick(49_990, "up") == 50_000
    assert round_to_tick(199_950, "up") == 200_000
    assert round_to_tick(4_997, "up") == 5_000


def test_nearest_rounds_ties_down():
    assert round_to_tick(71_250, "nearest") == 71_200
    assert round_to_tick(71_251, "nearest") == 71_300


def test_a_price_that_is_not_positive_is_refused():
    with pytest.raises(ValueError):
        round_to_tick(0, "down")
    with pytest.raises(ValueError):
        round_to_tick(100, "sideways")


def test_add_ticks_walks_across_bands():
    assert add_ticks(49_950, 1) == 50_000
    assert add_ticks(50_000, 1) == 50_100
    assert add_ticks(50_000, -1) == 49_950
    assert add_ticks(2_000, -1) == 1_999
    assert add_ticks(2, -5) == 1


@given(st.integers(min_value=1, max_value=5_000_000))
def test_rounded_prices_are_on_the_grid_and_never_worse_than_asked(price):
    down, up = round_to_tick(price, OrderSide.BUY), round_to_tick(price, OrderSide.SELL)
    assert is_on_tick(down)
    assert is_on_tick(up)
    assert down <= price <= up
    assert up - down <= tick_size(up)
