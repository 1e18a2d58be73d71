"""/price mixes markets (US in dollars with cents, change and rate) and /balance adds the US side, through a real
client on the paper exchange."""
from __future__ import annotations


import pytest

from kis.errors import KisError, KisTransportError
from kis.markets import to_krw
from rebalance.i18n import using
from bot_fakes import make_service


def texts(replies) -> str:
    return "\n".join(r.text for r in replies)


@pytest.fixture
def service(sim_client):
    service, *_ = make_service(client=sim_client)
    return service


def test_price_mixes_us_tickers_in_dollars_with_krx_codes_in_won_in_the_order_asked(sim, service):
    sim.us_market.set_price("AAPL", "240.55")  # previous close 233.12
    sim.us_market.set_price("KO", "66.05")  # previous close 69.41
    sim.market.set_price("005930", 98_000)  # previous close 97,000
    text = texts(service.price(["AAPL", "KO", "005930"]))
    assert "AAPL APPLE INC  NASD" in text and "$240.55  +7.43 (+3.19%)" in text
    assert "KO COCA-COLA CO  NYSE" in text and "$66.05  -3.36 (-4.84%)" in text
    assert "98,000 won  +1,000 (+1.03%)" in text
    assert text.index("AAPL") < text.index("KO COCA") < text.index("005930")


def test_a_us_price_below_a_dollar_shows_its_four_places(sim, service):
    sim.us_market.set_price("SNDL", "0.8123")
    assert "$0.8123" in texts(service.price(["SNDL"]))


def test_a_ticker_no_exchange_lists_or_on_the_wrong_exchange_is_named_beside_the_known_ones(service):
    text = texts(service.price(["ZZZZ", "NYSE:AAPL", "QQQ"]))
    assert "QQQ" in text and "NASD" in text
    assert ("Unknown US ticker(s): ZZZZ, NYSE:AAPL; check the ticker, or write its exchange first "
            "(NASD:, NYSE:, AMEX:).") in text


def test_a_word_that_is_no_ticker_and_a_prefix_that_is_no_exchange_are_one_sentence_without_a_call(sim, service):
    before = len(sim.calls)
    assert texts(service.price(["ABCDEF"])) == "'ABCDEF' is not a US ticker such as AAPL or BRK.B."
    assert texts(service.price(["LSE:VOD"])) == ("'LSE' in 'LSE:VOD' is not a US exchange: write NASD:, NYSE: or "
                                                 "AMEX: before the ticker.")
    assert texts(service.price(["AAPL1", "ABCDEF"])) == ("'AAPL1', 'ABCDEF' are not stock codes such as 005930 or "
                                                         "US tickers such as AAPL.")
    assert len(sim.calls) == before


def test_a_korean_chat_reads_the_us_price_in_korean(sim, service):
    with using("ko"):
        text = texts(service.price(["ZZZZ"]))
    assert text.startswith("알 수 없는 미국 티커: ZZZZ")


def test_balance_adds_the_us_side_in_dollars_with_won_values_the_rate_and_the_total_in_won(sim, sim_client, service):
    sim.us_book.set_holding("AAPL", 10, "200.00")
    sim.us_market.set_price("AAPL", "250.00")
    text = texts(service.balance())
    krx = sim_client.balance()
    us = sim_client.us_balance()
    value_krw = to_krw(250_000, us.rate)
    cash_krw = to_krw(2_000_000, us.rate)
    assert "US stocks" in text and "AAPL" in text and "NASD" in text
    assert "10 sh  avg $200.00  now $250.00" in text
    assert f"value $2,500.00 ({value_krw:,} won)  P/L +$500.00 (+25.00%)" in text
    assert "$20,000.00" in text and "USD orderable" in text
    assert f"{us.rate:,} won a dollar, read at 2026-11-24 10:00" in text
    assert f"{krx.total_value + value_krw + cash_krw:,}" in text
    assert text.index("Balance") < text.index("US stocks")


def test_balance_of_an_account_with_no_us_side_stays_krx_only(sim_clock, tmp_path):
    from kis.sim import SimServer
    from kis.sim.clients import client_for

    with SimServer(0, clock=sim_clock, always_open=True, usd_cash="0", notices=False, rate_limit=500) as sim:
        service, *_ = make_service(client=client_for(sim, tmp_path))
        text = texts(service.balance())
    assert "Balance" in text and "US stocks" not in text and "USD" not in text


def test_balance_of_an_account_kis_refuses_the_overseas_balance_for_stays_krx_only(sim_client, service, monkeypatch):
    def refused():
        raise KisError("OPSQ0002", "없는 서비스 코드 입니다")

    monkeypatch.setattr(sim_client, "us_balance", refused)
    text = texts(service.balance())
    assert "Balance" in text and "US" not in text and "OPSQ0002" not in text


def test_balance_when_the_us_side_does_not_answer_still_shows_the_krx_side_and_says_so(sim_client, service,
                                                                                          monkeypatch):
    def lost():
        raise KisTransportError("connection dropped")

    monkeypatch.setattr(sim_client, "us_balance", lost)
    text = texts(service.balance())
    assert "Balance" in text and "The US side could not be read: " in text and "Traceback" not in text


def test_balance_in_korean_names_the_dollar_cash_and_the_total_in_won(sim, service):
    with using("ko"):
        text = texts(service.balance())
    assert "미국 주식" in text and "달러 예수금" in text and "원화 환산 총평가" in text and "1달러" in text
