"""The real KisClient against the paper exchange: the two were written apart, from KIS's documents,
so every test here is a check that the client and the sim meet on the actual protocol."""
from __future__ import annotations

import pytest

from kis import endpoints as ep
from kis.errors import KisError, KisTransportError, OrderUncertain, UnknownStock
from kis.models import OrderSide, OrderType
from kis.sim import SimServer
from kis.sim.clients import client_for as make_sim_client

BUY, SELL = OrderSide.BUY, OrderSide.SELL


def no_sleep(_seconds: float) -> None:
    """Backoff waits cost nothing here; the pacing limiter keeps its own clock."""


# quotes ------------------------------------------------------------------------------------------

def test_price_of_one_stock(sim, sim_client):
    quote = sim_client.price("005930")
    assert quote.price == sim.market.price("005930") == 97_000
    assert (quote.upper_limit, quote.lower_limit) == (126_100, 67_900)


def test_price_follows_the_market(sim, sim_client):
    sim.exchange.set_price("000660", 500_000)
    quote = sim_client.price("000660")
    assert (quote.price, quote.change) == (500_000, -24_000)
    assert quote.change_rate == pytest.approx(-4.58)


def test_unknown_code_is_reported_not_priced_at_zero(sim_client):
    with pytest.raises(UnknownStock) as err:
        sim_client.price("999999")
    assert err.value.codes == ("999999",)


def test_prices_of_thirty_codes_take_one_call(sim, sim_client):
    codes = sim.market.codes()[:30]
    quotes = sim_client.prices(codes)
    assert {c: q.price for c, q in quotes.items()} == {c: sim.market.price(c) for c in codes}
    assert quotes["035720"].name == "카카오"
    assert sim.count(ep.MULTI_PRICE) == 1 and sim.count(ep.PRICE) == 0


def test_prices_of_two_hundred_and_thirty_eight_codes_take_eight_calls(sim_clock, tmp_path):
    with SimServer(0, rate_limit=500, clock=sim_clock, synthetic=200, always_open=True) as big:
        client = make_sim_client(big, tmp_path)
        quotes = client.prices(big.market.codes())
        assert len(quotes) == 238 and big.count(ep.MULTI_PRICE) == 8  # 38 seed + 200 synthetic; ceil(238 / 30)


def test_prices_name_every_unknown_code(sim_client):
    with pytest.raises(UnknownStock) as err:
        sim_client.prices(["005930", "999998", "000660", "999999"])
    assert set(err.value.codes) == {"999998", "999999"}


# balance -----------------------------------------------------------------------------------------

def test_balance_reads_every_page(sim, sim_client):
    for code in sim.market.codes()[:12]:
        sim.exchange.set_holding(code, 7, 50_000)
    balance = sim_client.balance()
    assert len(balance.holdings) == 14  # 12 + 2 seed holdings outside them, pages of 5
    assert sim.count(ep.BALANCE) == 3
    assert {h.code: h.qty for h in balance.holdings} == {c: p.qty for c, p in sim.exchange.positions.items()}
    assert balance.total_value == balance.stock_value + balance.cash_d2
    assert balance.stock_value == sum(h.value for h in balance.holdings)


def test_balance_matches_the_seed_account(sim_client):
    balance = sim_client.balance()
    assert {h.code: (h.qty, h.avg_price) for h in balance.holdings} == {
        "005930": (120, 88_400), "035720": (250, 61_200), "011200": (400, 18_750), "015760": (180, 41_200)}
    assert balance.cash == balance.cash_d2 == 100_000_000
    samsung = next(h for h in balance.holdings if h.code == "005930")
    assert samsung.value == 120 * 97_000 and samsung.pnl == 120 * (97_000 - 88_400)


def test_balance_restarts_when_the_rows_move_between_pages(sim, sim_client, monkeypatch):
    for code in sim.market.codes()[:8]:
        sim.exchange.set_holding(code, 3, 50_000)
    real = sim.protocol._balance
    calls = []

    def first_page_then_a_new_row(req, tr_id):
        reply = real(req, tr_id)
        calls.append(req.header("tr_cont"))
        if len(calls) == 1:
            sim.exchange.set_holding("000270", 5, 100_000)  # a fill of a new stock lands mid-inquiry
        return reply

    monkeypatch.setattr(sim.protocol, "_balance", first_page_then_a_new_row)
    balance = sim_client.balance()
    assert "000270" in {h.code for h in balance.holdings}
    assert len(balance.holdings) == len(sim.exchange.positions)
    assert [c.status for c in sim.calls if c.path == ep.BALANCE].count(200) >= 3


def test_a_rate_limited_balance_page_is_retried_never_returned_short(sim, sim_client_factory):
    for code in sim.market.codes()[:8]:
        sim.exchange.set_holding(code, 3, 50_000)
    client = sim_client_factory(faults={"force_rate_limit": 2}, sleep=no_sleep)
    balance = client.balance()
    assert len(balance.holdings) == len(sim.exchange.positions) == 11  # 8 + 4 seed rows, one shared


def test_sold_out_rows_are_not_holdings(sim, sim_client):
    sim_client.order("011200", SELL, 400, OrderType.MARKET)
    balance = sim_client.balance()
    assert "011200" not in {h.code for h in balance.holdings}
    assert balance.qty("011200") == 0


# orders ------------------------------------------------------------------------------------------

def test_market_buy_fills_and_moves_cash_and_holdings(sim, sim_client):
    ack = sim_client.order("000660", BUY, 3, OrderType.MARKET)
    assert len(ack.order_no) == 10 and ack.org_no and ack.time == "100000"
    balance = sim_client.balance()
    assert balance.qty("000660") == 3
    ask = 524_000 + 1_000  # the book's best ask: one tick (1,000 won above 500,000) over the walk's price
    fee = 3 * ask * 150 // 1_000_000
    assert balance.cash_d2 == 100_000_000 - 3 * ask - fee
    sim.pass_listing_lag()
    status = next(o for o in sim_client.orders_today("000660") if o.order_no == ack.order_no)
    assert (status.filled_qty, status.remaining_qty, status.avg_fill_price) == (3, 0, ask)


def test_best_limit_sell_reduces_the_holding(sim, sim_client):
    ack = sim_client.order("035720", SELL, 50, OrderType.BEST_LIMIT)
    assert ack.side is SELL
    assert sim_client.balance().qty("035720") == 200
    assert sim.exchange.order_log[-1].side == SELL.value


def test_limit_price_off_the_grid_is_put_on_it_before_sending(sim, sim_client):
    ack = sim_client.order("005930", BUY, 1, OrderType.LIMIT, 96_950)
    assert ack.price == 96_900  # a buy rounds down, never paying more than asked
    assert sim.exchange.order_log[-1].price == 96_900


def test_partial_fills_show_filled_and_remaining(sim, sim_clock, sim_client):
    sim.exchange.partial_fill_shares = 3
    sim.exchange.partial_fill_seconds = 10.0
    ack = sim_client.order("005930", BUY, 10, OrderType.MARKET)
    sim.pass_listing_lag()
    first = next(o for o in sim_client.orders_today("005930") if o.order_no == ack.order_no)
    assert (first.filled_qty, first.remaining_qty, first.is_open) == (3, 7, True)
    sim_clock.advance(6)
    second = next(o for o in sim_client.orders_today("005930") if o.order_no == ack.order_no)
    assert (second.filled_qty, second.remaining_qty) == (6, 4)
    sim_clock.advance(20)
    done = next(o for o in sim_client.orders_today("005930") if o.order_no == ack.order_no)
    assert (done.filled_qty, done.remaining_qty, done.is_open) == (10, 0, False)
    assert sim_client.balance().qty("005930") == 130


def test_resting_limit_order_is_cancelled_and_frees_the_cash(sim, sim_client):
    before = sim_client.buying_power("005930").cash
    ack = sim_client.order("005930", BUY, 100, OrderType.LIMIT, 90_000)
    assert sim_client.buying_power("005930").cash == before - 9_001_350
    sim.pass_listing_lag()
    status = next(o for o in sim_client.orders_today("005930") if o.order_no == ack.order_no)
    assert status.is_open and status.remaining_qty == 100
    cancel = sim_client.cancel(ack.order_no, ack.org_no)
    assert cancel.order_no != ack.order_no and cancel.qty == 100
    sim.pass_listing_lag()
    after = {o.order_no: o for o in sim_client.orders_today("005930")}
    assert not after[ack.order_no].is_open and after[ack.order_no].remaining_qty == 0
    assert after[cancel.order_no].cancelled and after[cancel.order_no].orig_order_no == ack.order_no
    assert sim_client.buying_power("005930").cash == before
    sim.exchange.set_price("005930", 89_000)
    assert sim.exchange.holding_qty("005930") == 120  # the cancelled order never fills


def test_resting_limit_order_fills_when_the_price_comes(sim, sim_client):
    ack = sim_client.order("005930", BUY, 5, OrderType.LIMIT, 95_000)
    sim.exchange.set_price("005930", 94_500)
    sim.pass_listing_lag()
    status = next(o for o in sim_client.orders_today("005930") if o.order_no == ack.order_no)
    assert (status.filled_qty, status.avg_fill_price) == (5, 95_000)  # a resting limit fills at its own price


def test_buy_beyond_cash_is_refused_with_apbk0952(sim, sim_client):
    with pytest.raises(KisError) as err:
        sim_client.order("207940", BUY, 100, OrderType.MARKET)  # 110 million won
    assert err.value.msg_cd == "APBK0952"
    assert sim.exchange.order_log == []


def test_sell_beyond_holdings_is_refused(sim, sim_client):
    with pytest.raises(KisError) as err:
        sim_client.order("005930", SELL, 121, OrderType.MARKET)
    assert err.value.msg_cd == "APBK0400"
    assert sim.exchange.order_log == []


@pytest.mark.parametrize("order_type,price", [(OrderType.LIMIT, 97_000), (OrderType.MARKET, 0)])
def test_buying_power_asked_as_kis_docs_say_agrees_with_what_the_exchange_accepts(sim, sim_client, order_type, price):
    # A limit buy is asked with 01 (00 does not reflect the stock's margin rate): its figures are costed
    # at the upper limit, its no-미수 amount is the cash; at the limit that amount buys 1,030 shares.
    power = sim_client.buying_power("005930", price, order_type)
    upper = sim.market.quote("005930").upper
    assert power.asked_with == "01" and power.unit_price == upper and power.max_qty == 792
    fits = sim.exchange.affordable(power.max_amount, price) if price else power.max_qty
    assert fits == (1030 if price else 792)
    with pytest.raises(KisError) as err:
        sim_client.order("005930", BUY, fits + 1, order_type, price)
    assert err.value.msg_cd == "APBK0952"
    sim_client.order("005930", BUY, fits, order_type, price)


def test_todays_orders_are_read_across_pages(sim, sim_client):
    acks = [sim_client.order("005930", BUY, 1, OrderType.MARKET) for _ in range(12)]
    sim.pass_listing_lag()
    orders = sim_client.orders_today()
    assert sorted(o.order_no for o in orders) == sorted(a.order_no for a in acks)
    assert sim.count(ep.DAILY_ORDERS) == 3  # pages of 5


def test_orders_from_many_threads_are_each_placed_once(sim, sim_client):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        acks = list(pool.map(lambda _: sim_client.order("000660", BUY, 1, OrderType.MARKET), range(40)))
    assert len({a.order_no for a in acks}) == 40 == len(sim.exchange.order_log)
    spent = sum(o.filled_amount + o.fees for o in sim.exchange.orders)
    assert sim_client.balance().cash_d2 == 100_000_000 - spent
    assert sim.exchange.holding_qty("000660") == 40


def test_hashkey_header_is_accepted_when_switched_on(sim, sim_client_factory):
    client = sim_client_factory(use_hashkey=True)
    client.order("005930", BUY, 1, OrderType.MARKET)
    assert sim.count(ep.HASHKEY) == 1 and len(sim.exchange.order_log) == 1


# lost answers: no order is lost or sent twice ------------------------------------------------------

def test_answer_lost_after_acceptance_is_uncertain_and_exactly_one_order_exists(sim, sim_client_factory):
    client = sim_client_factory(faults={"drop_after_order": 1}, sleep=no_sleep)
    with pytest.raises(OrderUncertain, match="may have reached KIS"):
        client.order("005930", BUY, 7, OrderType.MARKET)
    assert len(sim.exchange.order_log) == 1 and sim.count(ep.ORDER_CASH) == 1
    assert sim.exchange.holding_qty("005930") == 127  # it did trade: the executor will find it


def test_an_order_listed_late_is_not_in_todays_orders_until_the_lag_passes(sim, sim_client_factory):
    client = sim_client_factory(faults={"drop_after_order": 1, "listing_lag": 30.0, "listing_jitter": 0.0}, sleep=no_sleep)
    with pytest.raises(OrderUncertain):
        client.order("005930", BUY, 3, OrderType.MARKET)
    assert len(sim.exchange.order_log) == 1
    assert client.orders_today("005930") == []  # nothing listed yet
    sim.clock.advance(31)
    assert [o.order_no for o in client.orders_today("005930")] == [sim.exchange.order_log[0].order_no]


def test_an_order_lost_before_arrival_is_uncertain_too_and_not_sent_again(sim, sim_client_factory):
    client = sim_client_factory(faults={"drop_before_order": 1}, sleep=no_sleep)
    with pytest.raises(OrderUncertain):
        client.order("005930", BUY, 2, OrderType.MARKET)
    assert sim.exchange.order_log == [] and sim.count(ep.ORDER_CASH) == 1


def test_order_during_an_outage_is_uncertain_and_never_doubled(sim, sim_client_factory):
    client = sim_client_factory(sleep=no_sleep)
    client.price("005930")  # token first, so the outage hits the order
    sim.faults.error_rate = 1.0
    with pytest.raises((OrderUncertain, KisTransportError)):
        client.order("005930", BUY, 2, OrderType.MARKET)
    sim.faults.error_rate = 0.0
    assert sim.exchange.order_log == []
    assert sim.count(ep.ORDER_CASH) <= 2


def test_order_refused_by_the_call_limit_is_sent_again_and_placed_once(sim, sim_client_factory):
    client = sim_client_factory(sleep=no_sleep)
    client.price("005930")
    sim.faults.force_rate_limit(1)
    ack = client.order("005930", BUY, 3, OrderType.MARKET)
    assert [c.status for c in sim.calls if c.path == ep.ORDER_CASH] == [500, 200]
    assert [e.order_no for e in sim.exchange.order_log] == [ack.order_no]


def test_order_with_an_expired_token_is_placed_once_after_renewal(sim, sim_client):
    sim_client.price("005930")
    sim.faults.expire_tokens()
    ack = sim_client.order("005930", SELL, 20, OrderType.MARKET)
    assert [c.status for c in sim.calls if c.path == ep.ORDER_CASH] == [500, 200]
    assert [e.order_no for e in sim.exchange.order_log] == [ack.order_no]
    assert sim.exchange.holding_qty("005930") == 100


def test_quotes_ride_out_a_flaky_gateway(sim, sim_client_factory):
    client = sim_client_factory(faults={"error_rate": 0.3}, sleep=no_sleep)
    prices = [client.price(code).price for code in sim.market.codes()[:10]]
    assert prices == [sim.market.price(code) for code in sim.market.codes()[:10]]
    assert any(c.status >= 500 for c in sim.calls)


# tokens and the call limit ---------------------------------------------------------------------------

def test_clients_sharing_a_data_dir_share_one_token(sim, sim_client_factory):
    first, second = sim_client_factory(), sim_client_factory()
    first.price("005930")
    second.balance()
    assert sim.tokens.issued == 1 and sim.count(ep.TOKEN) == 1


def test_a_second_machine_gets_the_same_token_back_within_six_hours(sim, sim_clock, tmp_path):
    make_sim_client(sim, tmp_path / "a").price("005930")
    sim_clock.advance(hours=1)
    make_sim_client(sim, tmp_path / "b").price("005930")
    assert sim.tokens.issued == 1


def test_expired_token_is_renewed_once_mid_run(sim, sim_client):
    sim_client.price("005930")
    sim.expire_tokens()
    assert sim_client.balance().holdings
    assert sim.tokens.issued == 2
    assert [c.status for c in sim.calls if c.path == ep.BALANCE] == [500, 200]


def test_token_refused_as_too_frequent_is_waited_for_not_hammered(sim, sim_clock, tmp_path):
    waits = []

    def wait(seconds):
        waits.append(seconds)
        sim_clock.advance(seconds)

    client = make_sim_client(sim, tmp_path / "a", sleep=wait)
    client.price("005930")
    token = sim.tokens._current(sim.protocol.app_key, sim_clock())
    sim.tokens.revoke(token.value, sim.protocol.app_key)  # KIS maintenance revoked it a moment after issue
    assert client.price("005930").price == sim.market.price("005930")
    # issued, refused with EGW00133 a second later, issued after the wait: no hammering in between
    assert [c.status for c in sim.calls if c.path == ep.TOKEN] == [200, 403, 200]
    assert max(waits) >= 60 and sim.tokens.issued == 2


def test_forced_rate_limit_answers_are_retried(sim, sim_client_factory):
    client = sim_client_factory(faults={"force_rate_limit": 2}, sleep=no_sleep)
    assert client.price("005930").price == 97_000
    assert [c.status for c in sim.calls if c.path == ep.PRICE] == [500, 500, 200]


def test_client_pacing_stays_under_the_sims_limit(sim_clock, tmp_path):
    with SimServer(0, rate_limit=20, clock=sim_clock, always_open=True) as paced:
        client = make_sim_client(paced, tmp_path)
        for _ in range(15):
            client.price("005930")
        assert paced.limiter.refused == 0
        assert paced.count(ep.PRICE) == 15


def test_a_limit_order_on_an_etf_is_priced_on_its_own_grid(sim, sim_client):
    quote = sim_client.price("0126Z0")
    assert quote.tick == 5  # aspr_unit: an ETF ticks by 5 won above 2,000
    ack = sim_client.order("0126Z0", OrderSide.BUY, 3, OrderType.LIMIT, quote.price + 7)
    assert ack.price == quote.price + 5  # the stock grid would have said a multiple of 50
    assert sim.exchange.order_log[-1].price == quote.price + 5


def test_the_sim_quote_carries_the_documented_fields_the_client_reads(sim, sim_client):
    stock, etf = sim_client.price("0013V0"), sim_client.price("0126z0")
    assert stock.code == "0013V0" and stock.tick == 50 and stock.upper_limit > stock.price > stock.lower_limit
    assert etf.code == "0126Z0" and etf.tick == 5
