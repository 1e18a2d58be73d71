"""The client's US side against the paper exchange: quotes in dollars, the exchange of a bare ticker (asked once,
kept), and the US balance in cents with KIS's rate. Never a float."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from kis.client import KisClient
from kis.errors import NotServed, UnknownStock
from kis.markets import AMEX, NASD, NYSE, to_krw, us
from kis.models import Env
from kis.overseas import cents, dollars
from kis.sim.clients import sim_config


def test_a_us_quote_is_in_dollars_on_the_grid_signed_with_its_rate(sim, sim_client):
    sim.us_market.set_price("KO", "66.05")  # prev close 69.41
    quote = sim_client.overseas_price("NYSE:KO")
    assert (quote.symbol, quote.market, quote.price, quote.prev_close) == ("KO", "NYSE", Decimal("66.05"),
                                                                            Decimal("69.41"))
    assert quote.change == Decimal("-3.36") and quote.change_rate == Decimal("-4.84")
    assert all(isinstance(v, Decimal) for v in (quote.price, quote.change, quote.change_rate))


def test_a_bare_ticker_is_looked_up_once_through_search_info_and_kept(sim, sim_client):
    assert sim_client.us_market("SPY") is AMEX
    asked = sim.count(us.SEARCH_INFO.path)
    assert asked == 3  # Nasdaq, then NYSE, then AMEX
    quote = sim_client.overseas_price("SPY")
    assert quote.market == "AMEX" and quote.name == "SPDR S&P 500 ETF TRUST"
    assert sim_client.us_market("spy") is AMEX and sim.count(us.SEARCH_INFO.path) == asked
    assert sim.count(us.PRICE.path, "HHDFS00000300") == 1


def test_a_prefix_skips_the_exchange_lookup_and_asks_its_own_exchange_once_for_the_name(sim, sim_client):
    quote = sim_client.overseas_price("NASD:AAPL")
    assert quote.market == "NASD" and quote.name == "APPLE INC"
    assert sim.count(us.SEARCH_INFO.path) == 1
    sim_client.overseas_price("NASD:AAPL")
    sim_client.overseas_price("AAPL")
    assert sim.count(us.SEARCH_INFO.path) == 1


def test_mock_has_no_product_lookup_so_the_exchange_is_the_one_whose_quote_knows_the_ticker(sim, tmp_path):
    config = dataclasses.replace(sim_config(sim, tmp_path), env=Env.MOCK)
    client = KisClient(config, wall=sim.clock)
    with pytest.raises(NotServed):
        client.overseas.search_info("KO", NYSE)
    assert sim.count(us.SEARCH_INFO.path) == 0  # refused before any call
    assert client.us_market("KO") is NYSE
    assert sim.count(us.PRICE.path) == 2  # NAS answered APBK0656, NYS knew it
    assert client.overseas_price("KO").price > 0 and sim.count(us.PRICE.path) == 3
    assert client.overseas_price("SPY").market == "AMEX"
    assert sim.count(us.PRICE.path) == 6  # NAS, NYS refused; AMS's answer is the quote itself


def test_unknown_tickers_are_named_after_asking_for_all(sim, sim_client):
    with pytest.raises(UnknownStock) as err:
        sim_client.overseas_prices(["AAPL", "ZZZZ", "NYSE:AAPL", "QQQ"])
    assert err.value.codes == ("ZZZZ", "NYSE:AAPL")  # AAPL is not on NYSE
    quotes = sim_client.overseas_prices(["AAPL", "qqq", "NASD:AAPL"])
    assert list(quotes) == ["AAPL", "QQQ"]


def test_a_krx_code_is_not_a_us_ticker(sim_client):
    with pytest.raises(UnknownStock):
        sim_client.overseas_price("005930")


def test_the_us_balance_is_in_cents_with_the_won_value_at_kis_rate(sim, sim_client):
    sim.us_book.set_holding("AAPL", 10, "200.00")
    sim.us_book.set_holding("SCHD", 100, "25.00")
    sim.us_market.set_price("AAPL", "250.00")
    sim.us_market.set_price("SCHD", "27.50")
    balance = sim_client.us_balance()
    assert [(h.symbol, h.market, h.qty) for h in balance.holdings] == [("AAPL", "NASD", 10), ("SCHD", "AMEX", 100)]
    aapl = balance.holdings[0]
    assert (aapl.value, aapl.cost, aapl.pnl, aapl.price, aapl.avg_price) == (
        250_000, 200_000, 50_000, Decimal("250.00"), Decimal("200.00"))
    assert aapl.pnl_rate == Decimal("25.00")
    assert Decimal("1300") < balance.rate < Decimal("1460") and balance.rate == balance.rate.quantize(Decimal("0.01"))
    assert aapl.value_krw == to_krw(250_000, balance.rate)
    usd = balance.usd()
    assert (usd.deposit, usd.orderable) == (2_000_000, 2_000_000)
    assert balance.value == 525_000 and balance.rate_at == sim.clock() and not balance.empty
    assert balance.cash_krw == to_krw(2_000_000, balance.rate)
    assert balance.value_krw == aapl.value_krw + to_krw(275_000, balance.rate)
    assert sim_client.us_market("SCHD") is AMEX and sim.count(us.SEARCH_INFO.path) == 0  # the balance told it


def test_an_account_with_no_us_side_is_empty(sim_clock, tmp_path):
    from kis.sim import SimServer
    from kis.sim.clients import client_for

    with SimServer(0, clock=sim_clock, always_open=True, usd_cash="0", notices=False, rate_limit=500) as sim:
        assert client_for(sim, tmp_path).us_balance().empty


def test_every_page_of_the_overseas_balance_is_read(sim, sim_client):
    for n, symbol in enumerate(("AAPL", "MSFT", "NVDA", "QQQ", "TLT", "SNDL", "KO"), start=1):
        sim.us_book.set_holding(symbol, n, "10.00")
    rows = sim_client.overseas.holdings(NASD)
    assert [r.symbol for r in rows] == ["AAPL", "MSFT", "NVDA", "QQQ", "TLT", "SNDL"]
    assert (rows[1].qty, rows[1].avg_price, rows[1].cost, rows[1].market) == (2, Decimal("10.00"), 2_000, "NASD")
    assert sim.count(us.BALANCE.path) == 2


@pytest.mark.parametrize("text, value", [("233.1200", "233.12"), ("0.87345", "0.8735"), ("", "0.00"),
                                         ("+1.5", "1.50"), ("-0.0500", "-0.0500")])
def test_kis_dollar_strings_become_decimals_with_the_grid_places(text, value):
    assert str(dollars(text)) == value


def test_kis_dollar_amounts_become_int_cents():
    assert cents("20000.00") == 2_000_000 and cents("0.005") == 1 and cents("") == 0


def test_the_exchanges_found_are_kept_in_the_data_dir_so_a_restart_asks_no_more(sim, tmp_path):
    from kis.sim.clients import client_for

    first = client_for(sim, tmp_path)
    assert first.us_market("KO") is NYSE and first.overseas_price("GLD").market == "AMEX"
    asked = sim.count(us.SEARCH_INFO.path)
    assert first.overseas.cache_path.name.startswith("us-exchanges-127.0.0.1_")
    again = client_for(sim, tmp_path)
    assert again.us_market("KO") is NYSE and again.us_market("GLD") is AMEX
    assert again.overseas_price("GLD").name == "SPDR GOLD SHARES"
    assert sim.count(us.SEARCH_INFO.path) == asked


def test_an_unreadable_exchange_cache_is_asked_again(sim, tmp_path):
    from kis.sim.clients import client_for

    client = client_for(sim, tmp_path)
    client.overseas.cache_path.parent.mkdir(parents=True, exist_ok=True)
    client.overseas.cache_path.write_text("{not json")
    assert client.us_market("KO") is NYSE
    assert client_for(sim, tmp_path).us_market("KO") is NYSE


def test_a_change_is_written_with_the_places_of_its_price(sim, sim_client):
    sim.us_market.set_price("AAPL", "233.17")  # prev close 233.12
    assert str(sim_client.overseas_price("AAPL").change) == "0.05"
    sim.us_market.set_price("SNDL", "0.8800")  # prev close 0.8734
    assert str(sim_client.overseas_price("SNDL").change) == "0.0066"


def test_a_market_is_hashed_by_identity():
    assert len({NASD, NYSE, AMEX, NASD}) == 3
