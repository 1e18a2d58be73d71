"""Prices of the paper exchange: reproducible, on the KRX tick grid, inside the ±30 % band."""
from __future__ import annotations

from datetime import datetime

from hypothesis import given, settings, strategies as st

from kis.sim.clock import KST, ManualClock
from kis.sim.market import Market, StockSpec, load_seed, price_limits, seed_specs, synthetic_specs
from kis.ticks import is_on_tick

START = datetime(2026, 11, 24, 9, 0, tzinfo=KST)
SEED_TEN = {"005930", "373220", "000660", "207940", "051910", "035420", "005380", "006400", "035720", "105560"}


def path(seed: int, code: str, minutes: int, order: list[str] | None = None) -> list[int]:
    clock = ManualClock(START)
    market = Market(seed_specs(load_seed()), seed=seed, clock=clock, step_seconds=5)
    prices = []
    for _ in range(minutes):
        clock.advance(60)
        for other in order or []:
            market.quote(other)
        prices.append(market.price(code))
    return prices


def test_the_seed_file_lists_the_chapter_ten_plus_enough_for_a_20_stock_portfolio():
    seed = load_seed()
    codes = [s["code"] for s in seed["stocks"]]
    assert SEED_TEN <= set(codes)
    assert len(codes) >= 25 and len(set(codes)) == len(codes)
    assert all(is_on_tick(spec.price, spec.grid) for spec in seed_specs(seed))
    assert seed["cash"] == 100_000_000
    assert {h["code"] for h in seed["holdings"]} - SEED_TEN  # something to sell in a rebalance to the ten


def test_same_seed_and_clock_give_the_same_prices_whatever_else_is_asked():
    alone = path(7, "005930", 30)
    busy = path(7, "005930", 30, order=["000660", "035720"])
    assert alone == busy
    assert path(8, "005930", 30) != alone
    assert len(set(alone)) > 1  # it does move


def test_prices_hold_still_while_the_clock_does():
    clock = ManualClock(START)
    market = Market(seed_specs(load_seed()), clock=clock)
    first = market.quote("000660")
    assert first.price == 524_000 and first.prev_close == 524_000
    assert market.quote("000660").price == first.price


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), hours=st.integers(1, 60))
def test_every_price_is_on_the_tick_grid_and_inside_the_daily_band(seed, hours):
    clock = ManualClock(START)
    # a wild walk (200 % daily vol) to reach the limits quickly
    market = Market([StockSpec("011200", "HMM", 19_960), StockSpec("000660", "SK하이닉스", 524_000)],
                    seed=seed, clock=clock, step_seconds=60, daily_vol=2.0)
    for _ in range(hours):
        clock.advance(3600)
        for code in ("011200", "000660"):
            q = market.quote(code)
            upper, lower = price_limits(q.prev_close)
            assert is_on_tick(q.price)
            assert lower <= q.price <= upper
            assert (q.upper, q.lower) == (upper, lower)


def test_limits_are_thirty_percent_on_the_grid():
    assert price_limits(97_000) == (126_100, 67_900)
    assert price_limits(19_960) == (25_900, 13_980)


def test_set_price_pins_the_price_and_the_walk_carries_on_from_it():
    clock = ManualClock(START)
    market = Market(seed_specs(load_seed()), clock=clock, step_seconds=5)
    market.set_price("005930", 100_000)
    assert market.price("005930") == 100_000
    clock.advance(3600)
    assert abs(market.price("005930") - 100_000) < 10_000


def test_unknown_codes_have_no_quote():
    market = Market(seed_specs(load_seed()), clock=ManualClock(START))
    assert market.quote("999999") is None and not market.knows("999999")


def test_synthetic_stocks_are_marked_and_distinct():
    specs = synthetic_specs(200)
    assert len({s.code for s in specs}) == 200
    assert all(s.synthetic and s.name.startswith("SYNTHETIC") and is_on_tick(s.price) for s in specs)
    assert not {s.code for s in specs} & {s["code"] for s in load_seed()["stocks"]}


def test_state_round_trips_to_the_same_future():
    clock = ManualClock(START)
    market = Market(seed_specs(load_seed()), clock=clock, step_seconds=5)
    clock.advance(600)
    market.quote("005930")
    copy = Market([], clock=clock, step_seconds=5)
    copy.load_state(market.to_state())
    clock.advance(600)
    assert copy.price("005930") == market.price("005930")


def test_a_user_facing_sim_opens_mid_session_with_prices_moved_off_the_previous_close():
    from kis.sim import SimServer

    clock = ManualClock(datetime(2026, 11, 24, 11, 0, tzinfo=KST))
    fresh = SimServer(0, clock=clock).market
    traded = SimServer(0, clock=clock, traded_seconds=2 * 3600).market
    codes = fresh.codes()
    assert all(fresh.quote(c).change == 0 for c in codes)  # tests start at the previous close
    moved = [c for c in codes if traded.quote(c).change != 0]
    assert len(moved) > len(codes) // 2
    assert all(is_on_tick(traded.quote(c).price, traded.quote(c).grid) for c in codes)


def test_the_seed_lists_codes_with_letters_a_stock_and_an_etf_on_its_own_grid():
    specs = {s.code: s for s in seed_specs(load_seed())}
    assert specs["0013V0"].kind == "stock" and specs["0126Z0"].kind == "etf"
    clock = ManualClock(START)
    market = Market(specs.values(), seed=7, clock=clock, step_seconds=5)
    etf_prices = set()
    for _ in range(200):
        clock.advance(60)
        quote = market.quote("0126Z0")
        assert quote.tick == 5 and quote.price % 5 == 0 and quote.upper % 5 == 0 and quote.lower % 5 == 0
        etf_prices.add(quote.price)
    assert any(p % 10 for p in etf_prices)  # it walks between the stock grid's 50-won steps
