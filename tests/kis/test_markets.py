"""A market is one seam: each of KRX, NASD, NYSE, AMEX says its codes, currency, sessions, grid, exchange
codes and tr_ids, and `market_of` finds a symbol's."""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest

from kis.codes import BadSymbol
from kis.errors import NotServed
from kis.krx import KST
from kis.markets import (AMEX, KRW, KRX, MARKETS, NASD, NYSE, USD, is_us_symbol, market_named, market_of, to_krw)
from kis.models import Env, OrderSide
from kis.ticks import is_on_us_tick, round_us_price, us_tick


@pytest.mark.parametrize("symbol, market", [
    ("005930", KRX), ("0013V0", KRX), (5930, KRX), ("NYSE:KO", NYSE), ("nasd:aapl", NASD), ("AMEX:SPY", AMEX),
    ("NASDAQ:QQQ", NASD), ("NYS:KO", NYSE), ("AAPL", None), ("BRK.B", None),
])
def test_market_of_a_symbol_is_krx_for_a_code_the_prefixed_exchange_or_none_for_a_bare_ticker(symbol, market):
    assert market_of(symbol) is market


def test_a_prefix_that_is_no_us_exchange_is_one_sentence():
    with pytest.raises(BadSymbol) as err:
        market_of("LSE:VOD")
    assert str(err.value) == "'LSE' in 'LSE:VOD' is not a US exchange: write NASD:, NYSE: or AMEX: before the ticker"
    with pytest.raises(BadSymbol):
        market_of("KRX:KO")
    with pytest.raises(BadSymbol):
        market_of("ABCDEF")


def test_is_us_symbol_tells_tickers_from_krx_codes_without_a_call():
    assert is_us_symbol("AAPL") and is_us_symbol("NYSE:KO") and is_us_symbol("brk.b")
    assert not is_us_symbol("005930") and not is_us_symbol("ABCDEF") and not is_us_symbol("")


def test_one_table_maps_order_codes_to_quote_codes_and_back():
    assert [(m.order_code, m.quote_code, m.product_type) for m in (NASD, NYSE, AMEX)] == [
        ("NASD", "NAS", "512"), ("NYSE", "NYS", "513"), ("AMEX", "AMS", "529")]
    for m in MARKETS:
        assert market_named(m.order_code) is m
    assert market_named("NAS") is NASD and market_named("ams") is AMEX and market_named("NYS") is NYSE
    with pytest.raises(KeyError):
        market_named("TSE")


def test_each_market_has_its_currency_in_its_minor_unit():
    assert KRX.currency is KRW and all(m.currency is USD for m in (NASD, NYSE, AMEX))
    assert USD.minor(Decimal("233.125")) == 23313 and USD.major(23312) == Decimal("233.12")
    assert KRW.minor("71000") == 71000 and KRW.major(71000) == Decimal("71000")


def test_dollars_become_won_at_kis_rate_rounded_half_up():
    assert to_krw(23312, Decimal("1380.50")) == 321_822  # 233.12 * 1380.50 = 321,822.16
    assert to_krw(1, Decimal("1380.50")) == 14  # 13.805
    assert to_krw(0, Decimal("1380.50")) == 0


@pytest.mark.parametrize("price, tick", [("1", "0.01"), ("233.12", "0.01"), ("0.9999", "0.0001"), ("0.5", "0.0001")])
def test_the_us_tick_is_a_cent_at_one_dollar_and_above_and_a_hundredth_of_a_cent_below(price, tick):
    assert us_tick(Decimal(price)) == Decimal(tick) and NASD.tick(Decimal(price)) == Decimal(tick)


@pytest.mark.parametrize("price, side, on", [
    ("233.126", OrderSide.BUY, "233.12"), ("233.121", OrderSide.SELL, "233.13"), ("233.125", "nearest", "233.12"),
    ("0.12345", OrderSide.BUY, "0.1234"), ("0.12345", OrderSide.SELL, "0.1235"), ("0.99995", OrderSide.SELL, "1.00"),
    ("1.004", OrderSide.BUY, "1.00"), ("5", "nearest", "5.00"),
])
def test_a_us_price_goes_on_the_grid_with_exactly_its_places(price, side, on):
    rounded = round_us_price(Decimal(price), side)
    assert str(rounded) == on and is_on_us_tick(rounded)
    assert NYSE.round_price(Decimal(price), side) == rounded


def test_a_us_price_off_the_grid_is_told():
    assert not is_on_us_tick(Decimal("233.125")) and not is_on_us_tick(Decimal("1.0001"))
    assert is_on_us_tick(Decimal("0.0001")) and not is_on_us_tick(Decimal("0"))
    with pytest.raises(ValueError):
        round_us_price(Decimal("0"))


def test_krx_rounds_on_its_own_grid():
    assert KRX.tick(71_234) == 100 and KRX.round_price(71_234, OrderSide.BUY) == 71_200


def test_the_us_session_is_half_past_nine_to_four_in_new_york_through_daylight_time():
    winter = NASD.session(date(2025, 1, 15))
    summer = NYSE.session(date(2025, 7, 15))
    assert winter[0].astimezone(KST).time() == time(23, 30) and winter[1].astimezone(KST).time() == time(6, 0)
    assert summer[0].astimezone(KST).time() == time(22, 30) and summer[1].astimezone(KST).time() == time(5, 0)


def test_us_holidays_and_early_closes_come_from_the_nyse_calendar():
    assert AMEX.session(date(2025, 7, 4)) is None  # Independence Day
    assert NASD.session(date(2025, 11, 29)) is None  # a Saturday
    black_friday = NASD.session(date(2025, 11, 28))
    assert black_friday[1].time() == time(13, 0)


def test_krx_keeps_its_own_sessions():
    opens, closes = KRX.session(date(2025, 11, 24))
    assert (opens, closes) == (datetime(2025, 11, 24, 9, 0, tzinfo=KST), datetime(2025, 11, 24, 15, 30, tzinfo=KST))


@pytest.mark.parametrize("call, real, mock", [
    ("price", "HHDFS00000300", "HHDFS00000300"), ("balance", "TTTS3012R", "VTTS3012R"),
    ("present_balance", "CTRP6504R", "VTRP6504R"), ("buyable", "TTTS3007R", "VTTS3007R"),
    ("buy", "TTTT1002U", "VTTT1002U"), ("sell", "TTTT1006U", "VTTT1001U"), ("orders", "TTTS3035R", "VTTS3035R"),
])
def test_us_tr_ids_per_environment(call, real, mock):
    assert NASD.tr_id(call, Env.REAL) == real and NYSE.tr_id(call, Env.MOCK) == mock


@pytest.mark.parametrize("call", ["search_info", "price_detail", "open_orders", "daytime_buy"])
def test_what_kis_mock_does_not_serve_is_refused_before_any_call(call):
    assert NASD.endpoint(call).served(Env.REAL)
    with pytest.raises(NotServed) as err:
        NASD.tr_id(call, Env.MOCK)
    assert str(err.value) == f"KIS mock does not serve {NASD.endpoint(call).name}"


def test_the_simulator_serves_the_product_lookup_and_the_quote_detail():
    assert NASD.tr_id("search_info", Env.SIM) == "CTPF1702R"
    assert NASD.tr_id("price_detail", Env.SIM) == "HHDFS76200200"


def test_krx_tr_ids_are_the_domestic_table():
    assert KRX.tr_id("price", Env.MOCK) == "FHKST01010100" and KRX.tr_id("balance", Env.REAL) == "TTTC8434R"
    with pytest.raises(NotServed):
        KRX.tr_id("multi_price", Env.MOCK)
