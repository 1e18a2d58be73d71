"""The paper exchange's book: fills, money, holdings and refusals, without HTTP."""
from __future__ import annotations

from datetime import datetime

import pytest

from kis.models import Account
from kis.sim.clock import KST, ManualClock
from kis.sim.exchange import BUY, LIMIT, MARKET, SELL, BEST_LIMIT, Exchange, Rejected, commission
from kis.sim.market import Market, StockSpec


@pytest.fixture
def clock():
    return ManualClock(datetime(2026, 11, 24, 10, 0, tzinfo=KST))


@pytest.fixture
def market(clock):
    specs = [StockSpec("005930", "삼성전자", 97_000), StockSpec("035720", "카카오", 58_300)]
    return Market(specs, seed=7, clock=clock, step_seconds=0)  # prices move only by set_price


@pytest.fixture
def ex(market, clock):
    return Exchange(market, account=Account.parse("50000000-01"), cash=10_000_000,
                    holdings={"035720": (100, 60_000)}, clock=clock)


def test_market_buy_fills_at_the_price_and_pays_commission(ex):
    order = ex.place("005930", BUY, MARKET, 10, 0)
    assert (order.filled_qty, order.remaining, order.avg_price) == (10, 0, 97_000)
    fee = 970_000 * 150 // 1_000_000  # 0.015 %
    assert ex.cash == 10_000_000 - 970_000 - fee
    assert ex.holding_qty("005930") == 10
    assert ex.positions["005930"].cost == 970_000


def test_sell_pays_commission_and_transaction_tax_and_keeps_the_average_cost(ex):
    ex.place("035720", SELL, BEST_LIMIT, 40, 0)
    amount = 40 * 58_300
    assert ex.cash == 10_000_000 + amount - commission(amount) - amount * 2_000 // 1_000_000
    assert ex.holding_qty("035720") == 60
    assert ex.positions["035720"].cost == 60 * 60_000


def test_buy_beyond_orderable_cash_is_refused_with_kis_message(ex):
    with pytest.raises(Rejected) as err:
        ex.place("005930", BUY, MARKET, 104, 0)  # 10,088,000 won > 10,000,000
    assert err.value.msg_cd == "APBK0952"
    assert "주문가능금액" in err.value.msg1
    assert ex.orders == [] and ex.cash == 10_000_000


def test_fee_counts_against_cash(ex):
    ex.set_cash(97_000 * 10)  # exactly ten shares, no room for the commission
    with pytest.raises(Rejected):
        ex.place("005930", BUY, LIMIT, 10, 97_000)
    assert ex.place("005930", BUY, LIMIT, 9, 97_000).filled_qty == 9


@pytest.mark.parametrize("order_type", [MARKET, BEST_LIMIT])
def test_a_buy_without_a_price_is_costed_at_the_upper_limit_and_refused_when_that_is_short(ex, order_type):
    upper = ex.market.quote("005930").upper  # +30 %
    ex.set_cash(97_000 * 10 * 12 // 10)  # ten shares at the price and then some, not at the upper limit
    with pytest.raises(Rejected) as err:
        ex.place("005930", BUY, order_type, 10, 0)
    assert err.value.msg_cd == "APBK0952" and ex.cash_refusals == 1
    assert ex.place("005930", BUY, LIMIT, 10, 97_000).filled_qty == 10  # the same shares at a limit fit
    ex.set_cash(upper * 10 + commission(upper * 10))
    order = ex.place("005930", BUY, order_type, 10, 0)
    # filled at once: the reserve is released and only the fill amount and its fee are charged
    assert order.filled_qty == 10 and ex.cash == upper * 10 + commission(upper * 10) - 970_000 - commission(970_000)


def test_buying_power_is_computed_at_the_price_the_order_type_implies(ex):
    upper = ex.market.quote("005930").upper
    assert ex.buying_power("005930", 0, MARKET)[1] == upper
    assert ex.buying_power("005930", 0, BEST_LIMIT)[1] == upper
    assert ex.buying_power("005930", 95_000, LIMIT)[1] == 95_000
    assert ex.buying_power("005930", 95_000, LIMIT)[2] > ex.buying_power("005930", 0, MARKET)[2]


def test_a_resting_market_type_buy_keeps_its_upper_limit_reserve(ex):
    ex.partial_fill_shares = 1
    ex.partial_fill_seconds = 3600
    upper = ex.market.quote("005930").upper
    ex.place("005930", BUY, BEST_LIMIT, 10, 0)  # one share fills, nine rest
    assert ex.reserved_cash() == 9 * upper + commission(9 * upper)


def test_sell_beyond_holdings_is_refused(ex):
    with pytest.raises(Rejected) as err:
        ex.place("035720", SELL, MARKET, 101, 0)
    assert err.value.msg_cd == "APBK0400"
    with pytest.raises(Rejected):
        ex.place("005930", SELL, MARKET, 1, 0)


def test_limit_price_off_the_tick_grid_or_outside_the_band_is_refused(ex):
    with pytest.raises(Rejected) as err:
        ex.place("005930", BUY, LIMIT, 1, 96_950)  # tick is 100 won at this price
    assert err.value.msg_cd == "APBK0506"
    with pytest.raises(Rejected) as err:
        ex.place("005930", BUY, LIMIT, 1, 127_000)  # above the +30 % upper limit (126,100)
    assert err.value.msg_cd == "APBK0510"
    assert ex.order_log == []


def test_unknown_code_and_zero_quantity_are_refused(ex):
    with pytest.raises(Rejected):
        ex.place("999999", BUY, MARKET, 1, 0)
    with pytest.raises(Rejected):
        ex.place("005930", BUY, MARKET, 0, 0)


def test_resting_limit_buy_reserves_cash_and_fills_when_the_price_comes_down(ex, market):
    order = ex.place("005930", BUY, LIMIT, 50, 95_000)
    assert order.filled_qty == 0 and order.remaining == 50
    assert ex.orderable_cash() == 10_000_000 - (4_750_000 + commission(4_750_000))
    assert ex.cash == 10_000_000  # nothing spent yet
    ex.set_price("005930", 94_800)
    assert order.filled_qty == 50
    assert order.avg_price == 94_800  # the exchange gives the better price
    assert ex.orderable_cash() == ex.cash


def test_resting_limit_sell_fills_when_the_price_rises_to_it(ex, market):
    order = ex.place("035720", SELL, LIMIT, 30, 60_000)
    assert order.remaining == 30
    assert ex.orderable_qty("035720") == 70  # the resting sell holds 30 back
    ex.set_price("035720", 59_900)
    assert order.filled_qty == 0
    ex.set_price("035720", 60_000)
    assert order.filled_qty == 30 and ex.holding_qty("035720") == 70


def test_cancel_takes_the_rest_and_gets_its_own_order_number(ex):
    order = ex.place("005930", BUY, LIMIT, 20, 90_000)
    cancel = ex.cancel(order.order_no, order.org_no, None)
    assert cancel.order_no != order.order_no and cancel.orig_order_no == order.order_no
    assert cancel.kind == "cancel" and cancel.qty == 20 and cancel.remaining == 0
    assert order.remaining == 0 and order.cancelled_qty == 20
    assert ex.orderable_cash() == ex.cash == 10_000_000
    with pytest.raises(Rejected) as err:
        ex.cancel(order.order_no, order.org_no, None)
    assert err.value.msg_cd == "APBK0344"


def test_partial_cancel_leaves_the_rest_working(ex):
    order = ex.place("005930", BUY, LIMIT, 20, 90_000)
    ex.cancel(order.order_no, order.org_no, 5)
    assert order.remaining == 15


def test_cancel_of_an_unknown_order_or_wrong_org_is_refused(ex):
    order = ex.place("005930", BUY, LIMIT, 20, 90_000)
    with pytest.raises(Rejected):
        ex.cancel("0000009999", "00950", None)
    with pytest.raises(Rejected):
        ex.cancel(order.order_no, "12345", None)


def test_revise_moves_the_rest_to_a_new_price(ex):
    order = ex.place("005930", BUY, LIMIT, 10, 90_000)
    revised = ex.revise(order.order_no, order.org_no, LIMIT, None, 97_000)
    assert order.remaining == 0
    assert revised.orig_order_no == order.order_no and revised.filled_qty == 10  # now marketable


def test_partial_fills_come_in_chunks_over_sim_time(ex, clock):
    ex.partial_fill_shares = 4
    ex.partial_fill_seconds = 2.0
    order = ex.place("005930", BUY, MARKET, 10, 0)
    assert order.filled_qty == 4
    ex.match()
    assert order.filled_qty == 4  # no time passed: nothing more
    clock.advance(2)
    ex.match()
    assert order.filled_qty == 8
    clock.advance(10)
    ex.match()
    assert order.filled_qty == 10 and ex.holding_qty("005930") == 10


def test_partially_filled_order_cancels_only_its_rest(ex, clock):
    ex.partial_fill_shares = 3
    order = ex.place("005930", BUY, MARKET, 10, 0)
    ex.cancel(order.order_no, order.org_no, None)
    clock.advance(60)
    ex.match()
    assert (order.filled_qty, order.cancelled_qty, order.remaining) == (3, 7, 0)
    assert ex.holding_qty("005930") == 3


def test_every_accepted_order_is_logged_once_in_order(ex):
    a = ex.place("005930", BUY, MARKET, 1, 0)
    b = ex.place("035720", SELL, MARKET, 1, 0)
    assert [e.order_no for e in ex.order_log] == [a.order_no, b.order_no]
    assert [len(e.order_no) for e in ex.order_log] == [10, 10]


def test_a_new_day_lapses_open_orders_and_settles_the_deposit(ex, clock):
    resting = ex.place("005930", BUY, LIMIT, 5, 90_000)
    ex.place("035720", SELL, MARKET, 100, 0)  # sold out: the row stays today, goes tomorrow
    assert "035720" in ex.positions and ex.ledger.cash_at_open == 10_000_000
    clock.advance(hours=24)
    ex.match()
    assert resting.remaining == 0
    assert "035720" not in ex.positions
    assert ex.ledger.cash_at_open == ex.cash


def test_state_round_trips(ex, market, clock):
    ex.place("005930", BUY, LIMIT, 5, 90_000)
    ex.place("005930", BUY, MARKET, 3, 0)
    again = Exchange(market, account=ex.account, cash=0, clock=clock)
    again.load_state(ex.to_state())
    assert again.cash == ex.cash
    assert again.holding_qty("005930") == 3
    assert [o.order_no for o in again.open_orders()] == [o.order_no for o in ex.open_orders()]
    assert again.place("005930", BUY, MARKET, 1, 0).order_no == "0000000003"


def test_orders_older_than_three_months_leave_the_book(ex, clock):
    old = ex.place("005930", BUY, MARKET, 1, 0)
    clock.advance(days=50)
    recent = ex.place("005930", BUY, MARKET, 1, 0)
    clock.advance(days=50)
    ex.match()
    assert ex.find(old.order_no) is None and ex.find(recent.order_no) is recent



# a 증거금40%계좌 (order_cash.py: a cash buy there may become 미수) -----------------------------------------

def test_on_a_40_percent_margin_account_a_cash_buy_beyond_cash_is_accepted_and_leaves_a_receivable(ex):
    ex.margin_percent = 40
    order = ex.place("005930", BUY, LIMIT, 200, 97_000)  # 19.4 M won on 10 M cash: 40 % of it fits
    assert order.filled_qty == 200
    assert ex.receivable == ex.receivable_peak == 19_400_000 + commission(19_400_000) - 10_000_000
    ex.add_cash(ex.receivable)
    assert ex.receivable == 0 and ex.receivable_peak > 0  # paid, but it happened


def test_an_account_without_margin_refuses_a_buy_beyond_cash_as_before(ex):
    with pytest.raises(Rejected) as refused:
        ex.place("005930", BUY, LIMIT, 200, 97_000)
    assert refused.value.msg_cd == "APBK0952" and ex.receivable_peak == 0


def test_asked_with_00_a_margin_account_counts_the_cash_its_resting_buys_will_take_and_01_does_not(ex):
    ex.margin_percent = 40
    ex.place("005930", BUY, LIMIT, 50, 90_000)  # rests below the price; holds 40 % of 4.5 M
    held = -(-(4_500_000 + commission(4_500_000)) * 40 // 100)
    limit, market = ex.buying_power("005930", 97_000, LIMIT), ex.buying_power("005930", 0, MARKET)
    assert limit.cash == market.cash == 10_000_000 - held
    assert limit.qty == ex.affordable(10_000_000 - held, 97_000)  # 00: 종목증거금율이 반영되지 않습니다
    free = 10_000_000 - 4_500_000 - commission(4_500_000)
    upper = ex.market.quote("005930").upper
    assert (market.amount, market.qty, market.unit) == (free, ex.affordable(free, upper), upper)
    assert market.max_qty == ex.affordable((10_000_000 - held) * 100 // 40, upper)  # what 미수 would allow


def test_on_an_account_without_margin_00_and_01_give_the_same_cash_without_credit(ex):
    ex.place("005930", BUY, LIMIT, 50, 90_000)
    limit, market = ex.buying_power("005930", 97_000, LIMIT), ex.buying_power("005930", 0, MARKET)
    assert limit.amount == market.amount == limit.cash == 10_000_000 - 4_500_000 - commission(4_500_000)
