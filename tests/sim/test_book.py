"""The simulator's order book: levels on the grid, spreads and depth per liquidity, a large order walking the
book, queue places, partial fills, the asking-price inquiry and H0STASP0, all reproducible from a seed."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import requests

from kis import endpoints as ep
from kis.config import SIM_APP_KEY, SIM_APP_SECRET
from kis.models import Account
from kis.notices import BOOK_FIELDS, NOTICE_FIELDS, PRICE_FIELDS
from kis.sim import SimServer
from kis.sim.book import LEVELS, Book
from kis.sim.clock import KST, ManualClock
from kis.sim.exchange import BUY, LIMIT, MARKET, SELL, Exchange
from kis.sim.market import Market, StockSpec
from kis.sim.quotes import ASKING_FIELDS, EXPECTED_FIELDS
from kis.ticks import ETF, STOCK, is_on_tick

START = datetime(2026, 11, 24, 10, 0, tzinfo=KST)
SPECS = [StockSpec("005930", "삼성전자", 97_000), StockSpec("000660", "SK하이닉스", 524_000),
         StockSpec("011200", "HMM", 19_960), StockSpec("252670", "KODEX 200선물인버스2X", 2_100, kind="etf"),
         StockSpec("0013V0", "모의신규상장", 24_350), StockSpec("030200", "KT", 50_300)]


def make(mode="listed", *, seed=7, step_seconds=5.0, cash=10_000_000_000, holdings=None):
    """A market, an exchange and its book on a manual clock; 0013V0 is listed thin, the rest liquid."""
    clock = ManualClock(START)
    market = Market(SPECS, seed=seed, clock=clock, step_seconds=step_seconds)
    ex = Exchange(market, account=Account.parse("50000000-01"), cash=cash, clock=clock, holdings=holdings)
    book = Book(market, seed=seed, mode=mode, listed={"0013V0": "thin"}, clock=clock)
    ex.book = book
    fills = []
    ex.listeners.append(lambda kind, order, qty, price: kind == "filled" and fills.append((order.order_no, qty, price)))
    return clock, market, ex, book, fills


def grid_of(code):
    return ETF if code == "252670" else STOCK


def test_ten_levels_a_side_sit_on_the_tick_grid_in_order_inside_the_day_band():
    for mode in ("liquid", "thin"):
        clock, market, ex, book, _ = make(mode)
        for _ in range(20):
            clock.advance(37)
            for spec in SPECS:
                snap = book.snapshot(spec.code)
                quote = market.quote(spec.code)
                asks, bids = [p for p, _ in snap.asks], [p for p, _ in snap.bids]
                assert len(asks) == len(bids) == LEVELS
                assert all(is_on_tick(p, grid_of(spec.code)) for p in asks + bids)
                assert asks == sorted(asks) and bids == sorted(bids, reverse=True)
                assert len(set(asks)) == len(set(bids)) == LEVELS
                assert bids[0] < asks[0] and quote.lower <= bids[-1] and asks[-1] <= quote.upper
                assert all(q > 0 for _, q in snap.asks + snap.bids)


def ticks_between(low, high, grid):
    n, p = 0, low
    while p < high:
        p += grid.tick(p)
        n += 1
    return n


def test_a_liquid_stock_has_a_one_tick_spread_and_a_thin_one_two_to_five():
    seen = {"liquid": set(), "thin": set()}
    for seed in range(1, 8):
        for mode in seen:
            clock, _, _, book, _ = make(mode, seed=seed)
            for spec in SPECS:
                snap = book.snapshot(spec.code)
                seen[mode].add(ticks_between(snap.best_bid, snap.best_ask, grid_of(spec.code)))
    assert seen["liquid"] == {1}
    assert seen["thin"] <= {2, 3, 4, 5} and len(seen["thin"]) >= 3


def test_as_listed_each_stock_takes_its_own_liquidity():
    _, _, _, book, _ = make("listed")
    assert book.liquidity("0013V0").name == "thin" and book.liquidity("005930").name == "liquid"
    assert book.spread_ticks("005930") == 1 and 2 <= book.spread_ticks("0013V0") <= 5


def won_over(levels, n=5):
    return sum(p * q for p, q in levels[:n])


def test_depth_is_hundreds_of_millions_of_won_for_a_large_cap_and_a_few_million_for_a_thin_stock():
    _, _, _, liquid, _ = make("liquid")
    _, _, _, thin, _ = make("thin")
    for code in ("005930", "000660"):
        snap = liquid.snapshot(code)
        assert 100_000_000 <= won_over(snap.asks) <= 1_000_000_000
        assert 100_000_000 <= won_over(snap.bids) <= 1_000_000_000
    snap = thin.snapshot("0013V0")
    assert 1_000_000 <= won_over(snap.asks) <= 10_000_000 and 1_000_000 <= won_over(snap.bids) <= 10_000_000


def test_a_large_market_buy_walks_the_book_filling_at_several_prices_worse_than_the_best():
    _, _, ex, book, fills = make("liquid", step_seconds=0)
    before = book.snapshot("005930")
    qty = sum(q for _, q in before.asks[:3]) + 1  # more than the first three levels hold
    order = ex.place("005930", BUY, MARKET, qty, 0)
    prices = [p for _, _, p in fills]
    assert order.filled_qty == qty and sum(q for _, q, _ in fills) == qty
    assert prices == sorted(prices) and prices[:3] == [p for p, _ in before.asks[:3]] and len(prices) == 4
    assert order.avg_price > before.best_ask
    assert [q for _, q, _ in fills[:3]] == [q for _, q in before.asks[:3]]  # each level taken whole
    assert book.snapshot("005930").best_ask == before.asks[3][0]  # the book shows what is left


def test_a_large_sell_walks_the_bids_down():
    _, _, ex, book, fills = make("liquid", step_seconds=0, holdings={"005930": (100_000, 90_000)})
    before = book.snapshot("005930")
    qty = before.bids[0][1] + before.bids[1][1] + 5
    order = ex.place("005930", SELL, MARKET, qty, 0)
    assert order.filled_qty == qty and [p for _, _, p in fills] == [p for p, _ in before.bids[:3]]
    assert order.avg_price < before.best_bid


def test_a_marketable_limit_takes_the_levels_up_to_its_limit_and_rests_with_the_rest():
    _, _, ex, book, fills = make("liquid", step_seconds=0)
    before = book.snapshot("005930")
    limit = before.asks[1][0]
    order = ex.place("005930", BUY, LIMIT, sum(q for _, q in before.asks[:2]) + 100, limit)
    assert order.filled_qty == sum(q for _, q in before.asks[:2]) and order.remaining == 100
    assert all(p <= limit for _, _, p in fills)
    after = book.snapshot("005930", ex.open_orders())
    assert after.bids[0] == (limit, 100)  # it is the best bid now, the book uncrossed
    assert after.best_ask > limit


def queue_fill_run(seed, qty=300):
    """A fixed price (no walk), a bid joined at the best: (initial shares ahead, crowd sells until the first
    fill, the fills, the order)."""
    clock, market, ex, book, fills = make("liquid", seed=seed, step_seconds=0)
    bid = book.snapshot("005930").best_bid
    order = ex.place("005930", BUY, LIMIT, qty, bid)
    ahead = book._places[order.order_no].ahead
    sold, start = 0, clock()
    for _ in range(1800):
        before = clock()
        clock.advance(1)
        if not fills:
            sold += sum(q for _, side, q in book.trades("005930", before, clock()) if side == SELL)
        ex.match()
        if order.remaining == 0:
            break
    return ahead, sold, fills, order, (clock() - start).total_seconds()


def test_a_resting_best_bid_fills_only_once_the_shares_ahead_of_it_have_traded_and_then_in_parts():
    parted = 0
    for seed in (1, 2, 3, 4, 5):
        ahead, sold, fills, order, _ = queue_fill_run(seed)
        assert ahead > 0 and order.filled_qty == order.qty == sum(q for _, q, _ in fills)
        assert sold > ahead  # the crowd's sells went through the queue first
        assert {p for _, _, p in fills} == {order.price}
        parted += len(fills) > 1
    assert parted >= 3  # most fill in several parts


def test_a_resting_best_bid_of_a_liquid_stock_fills_within_two_minutes_when_the_price_walks():
    took = []
    for seed in range(1, 11):
        clock, market, ex, book, fills = make("liquid", seed=seed)
        order = ex.place("005930", BUY, LIMIT, 50, book.snapshot("005930").best_bid)
        for second in range(1, 601):
            clock.advance(1)
            ex.match()
            if order.remaining == 0:
                took.append(second)
                break
    assert len(took) >= 8 and sorted(took)[len(took) // 2] <= 120


def test_a_bid_below_the_best_waits_until_the_market_comes_down_to_it_and_fills_at_its_own_price():
    clock, market, ex, book, fills = make("liquid", step_seconds=0)
    bids = book.snapshot("005930").bids
    order = ex.place("005930", BUY, LIMIT, 40, bids[3][0])
    for _ in range(300):
        clock.advance(1)
        ex.match()
    assert order.filled_qty == 0
    ex.set_price("005930", bids[6][0])  # the market trades down through the bid
    assert order.filled_qty == 40 and {p for _, _, p in fills} == {bids[3][0]}


def test_partial_fills_add_up_and_each_notice_carries_its_own_part():
    from kis.sim.faults import Faults
    from kis.sim.notices import ApprovalBook, NoticeServer

    clock, market, ex, book, fills = make("thin", step_seconds=0)
    notices = NoticeServer(ex, account=ex.account, hts_id="kisbotsim", approvals=ApprovalBook(),
                           faults=Faults(7), clock=clock, book=book)
    records = []
    ex.listeners.append(lambda kind, order, qty, price: kind == "filled"
                        and records.append(dict(zip(NOTICE_FIELDS, notices._record(kind, order, qty, price).split("^")))))
    snap = book.snapshot("0013V0")
    qty = snap.asks[0][1] + snap.asks[1][1] + 3
    order = ex.place("0013V0", BUY, LIMIT, qty, snap.asks[1][0])
    for _ in range(3600):
        if order.remaining == 0:
            break
        clock.advance(5)
        ex.match()
    assert len(fills) >= 3 and order.filled_qty == qty == sum(q for _, q, _ in fills)
    assert [int(r["CNTG_QTY"]) for r in records] == [q for _, q, _ in fills]
    assert {r["ODER_QTY"] for r in records} == {str(qty)} and all(r["CNTG_YN"] == "2" for r in records)
    assert order.filled_amount == sum(q * p for _, q, p in fills)


def test_a_resting_sell_at_the_best_ask_is_lifted_by_the_crowds_buys():
    clock, market, ex, book, fills = make("liquid", step_seconds=0, holdings={"005930": (1_000, 90_000)})
    ask = book.snapshot("005930").best_ask
    order = ex.place("005930", SELL, LIMIT, 200, ask)
    assert order.filled_qty == 0
    for _ in range(1800):
        clock.advance(1)
        ex.match()
        if order.remaining == 0:
            break
    assert order.filled_qty == 200 and {p for _, _, p in fills} == {ask}


def test_a_cancelled_rest_never_fills():
    clock, market, ex, book, fills = make("liquid", step_seconds=0)
    snap = book.snapshot("005930")
    order = ex.place("005930", BUY, LIMIT, 10_000, snap.best_bid)
    ex.cancel(order.order_no, order.org_no, None)
    for _ in range(600):
        clock.advance(1)
        ex.match()
    assert fills == [] and order.filled_qty == 0
    assert book.snapshot("005930", ex.open_orders()).bids[0][1] < 10_000  # gone from the book too


def run_script(seed):
    clock, market, ex, book, fills = make("listed", seed=seed)
    orders = [ex.place("005930", BUY, MARKET, 900, 0)]
    snap = book.snapshot("0013V0")
    orders.append(ex.place("0013V0", BUY, LIMIT, 200, snap.best_bid))
    orders.append(ex.place("005930", BUY, LIMIT, 300, book.snapshot("005930").best_bid))
    for _ in range(120):
        clock.advance(3)
        ex.match()
    return fills, book.snapshot("005930"), book.snapshot("0013V0"), [o.filled_qty for o in orders]


def test_the_same_seed_gives_the_same_book_and_fills_and_another_seed_another():
    assert run_script(11) == run_script(11)
    assert run_script(11) != run_script(12)


def test_with_the_book_off_orders_fill_at_the_walks_price_as_before():
    clock, market, ex, book, fills = make("off", step_seconds=0)
    ex.book = None  # as SimServer does for "off"
    order = ex.place("005930", BUY, MARKET, 5_000, 0)
    assert order.avg_price == market.price("005930") and len(fills) == 1


def test_a_bad_book_mode_is_refused_in_one_sentence():
    with pytest.raises(ValueError, match="not one of off, listed, liquid, thin"):
        Book(Market(SPECS, clock=ManualClock(START)), mode="deep")


# the sim over HTTP and websocket ------------------------------------------------------------------------------
@pytest.fixture
def book_sim():
    server = SimServer(0, rate_limit=1000, seed=7, clock=ManualClock(START), always_open=True, book="listed").start()
    try:
        yield server
    finally:
        server.stop()


def asking(sim, code, tr_id=ep.ASKING_PRICE_TR):
    token = requests.post(sim.url + ep.TOKEN, timeout=5, data=json.dumps(
        {"grant_type": "client_credentials", "appkey": SIM_APP_KEY, "appsecret": SIM_APP_SECRET})).json()["access_token"]
    headers = {"authorization": f"Bearer {token}", "appkey": SIM_APP_KEY, "appsecret": SIM_APP_SECRET,
               "tr_id": tr_id, "custtype": "P"}
    return requests.get(sim.url + ep.ASKING_PRICE, headers=headers, timeout=5,
                        params={"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": code})


def test_the_asking_price_inquiry_answers_every_documented_field_from_the_book(book_sim):
    reply = asking(book_sim, "005930")
    body = reply.json()
    assert reply.status_code == 200 and body["rt_cd"] == "0"
    out1, out2 = body["output1"], body["output2"]
    assert list(out1) == list(ASKING_FIELDS) and list(out2) == list(EXPECTED_FIELDS)
    assert all(isinstance(v, str) for v in list(out1.values()) + list(out2.values()))
    snap = book_sim.book.snapshot("005930")
    assert [int(out1[f"askp{i}"]) for i in range(1, 11)] == [p for p, _ in snap.asks]
    assert [int(out1[f"bidp_rsqn{i}"]) for i in range(1, 11)] == [q for _, q in snap.bids]
    assert int(out1["askp1"]) - int(out1["bidp1"]) == 100  # one tick at 97,000
    assert int(out1["total_askp_rsqn"]) == sum(int(out1[f"askp_rsqn{i}"]) for i in range(1, 11))
    assert int(out1["ntby_aspr_rsqn"]) == int(out1["total_bidp_rsqn"]) - int(out1["total_askp_rsqn"])
    assert out2["stck_prpr"] == str(book_sim.market.price("005930")) and out2["stck_shrn_iscd"] == "005930"
    assert int(out1["bidp1"]) <= int(out2["stck_prpr"]) <= int(out1["askp1"])


def test_the_asking_price_inquiry_shows_the_accounts_resting_order_and_a_thin_stocks_wide_spread(book_sim):
    snap = book_sim.book.snapshot("0013V0")
    inside = snap.best_bid + 50  # one tick better than the crowd's best bid: the account's bid is the best
    book_sim.exchange.place("0013V0", BUY, LIMIT, 7, inside)
    out1 = asking(book_sim, "0013V0").json()["output1"]
    assert (out1["bidp1"], out1["bidp_rsqn1"]) == (str(inside), "7")
    assert int(out1["askp1"]) - inside >= 50


def test_an_unknown_code_gets_a_zeroed_book_and_a_real_tr_id_is_refused(book_sim):
    body = asking(book_sim, "999999").json()
    assert body["rt_cd"] == "0" and body["output1"]["askp1"] == "0" and body["output1"]["total_bidp_rsqn"] == "0"
    assert asking(book_sim, "005930", tr_id="FHKST01010299").json()["rt_cd"] == "1"


def test_the_websocket_sends_h0stasp0_and_h0unasp0_books_in_kis_field_order_and_h0stcnt0_its_best_prices(
        book_sim, tmp_path):
    from websockets.sync.client import connect

    from kis.auth import ApprovalKeys
    from kis.notices import subscribe_frame
    from kis.sim.clients import sim_config

    key = ApprovalKeys(sim_config(book_sim, tmp_path)).key()
    records = {}
    with connect(book_sim.ws_url) as ws:
        for tr_id in ("H0STASP0", "H0UNASP0", "H0STCNT0"):
            ws.send(subscribe_frame(key, tr_id, "005930"))
        while len(records) < 3:
            text = ws.recv(5)
            if text.startswith("0|"):
                _, tr_id, count, payload = text.split("|", 3)
                fields = BOOK_FIELDS.get(tr_id, PRICE_FIELDS)
                records[tr_id] = (count, dict(zip(fields, payload.split("^"))), payload)
            elif text.startswith("{") and "PINGPONG" not in text:
                assert json.loads(text)["body"]["rt_cd"] == "0"
    snap = book_sim.book.snapshot("005930")
    trade = records.pop("H0STCNT0")[1]
    assert (trade["ASKP1"], trade["BIDP1"]) == (str(snap.best_ask), str(snap.best_bid))
    for tr_id, (count, rec, payload) in records.items():
        assert count == "001" and len(payload.split("^")) == len(BOOK_FIELDS[tr_id])
        assert rec["MKSC_SHRN_ISCD"] == "005930"
        assert [int(rec[f"ASKP{i}"]) for i in range(1, 11)] == [p for p, _ in snap.asks]
        assert int(rec["TOTAL_BIDP_RSQN"]) == sum(int(rec[f"BIDP_RSQN{i}"]) for i in range(1, 11))


def test_a_market_orders_rest_fills_at_the_crowds_prices_as_the_depth_comes_back_not_at_the_day_limit():
    clock, market, ex, book, fills = make("thin", step_seconds=0)
    quote = market.quote("0013V0")
    order = ex.place("0013V0", BUY, MARKET, 60_000, 0)  # more than the whole band holds (~1.2 bn won)
    swept = len(fills)
    for _ in range(60):
        clock.advance(10)
        ex.match()
    assert swept > 100 and order.filled_qty == 60_000 and len(fills) > swept  # the rest filled later, in parts
    assert sum(p < quote.upper for _, _, p in fills[swept:]) > (len(fills) - swept) // 2


# queue places ------------------------------------------------------------------------------------------------
def timed_fills(ex, clock, orders, seconds, step=1):
    """Run the book `seconds` long: (second, order_no, qty) of each fill, and the crowd's sells meanwhile."""
    got = []
    ex.listeners.append(lambda kind, order, qty, price: kind == "filled" and got.append((clock(), order.order_no, qty)))
    book, sells = ex.book, 0
    for _ in range(seconds // step):
        before = clock()
        clock.advance(step)
        sells += sum(q for _, side, q in book.trades(orders[0].code, before, clock()) if side == SELL)
        ex.match()
        if all(o.remaining == 0 for o in orders):
            break
    return got, sells


def test_a_bid_that_improves_the_crowds_best_has_nobody_ahead_and_the_crowds_next_sell_fills_it():
    clock, market, ex, book, fills = make("thin", step_seconds=0)
    snap = book.snapshot("0013V0")
    inside = snap.best_bid + 50  # one tick better; a thin stock's spread is 2-5 ticks, so it rests
    order = ex.place("0013V0", BUY, LIMIT, 1, inside)
    assert order.filled_qty == 0 and book._places[order.order_no].ahead == 0
    got, _ = timed_fills(ex, clock, [order], 3600)
    first_sell = next(at for at, side, _ in book.trades("0013V0", START, clock()) if side == SELL)
    assert order.filled_qty == 1 and got[0][0] - first_sell < timedelta(seconds=1)
    assert {p for _, _, p in fills} == {inside}


def test_a_bid_below_the_best_queues_behind_the_crowds_shares_at_its_price_and_the_better_levels_trade_first():
    clock, market, ex, book, fills = make("liquid", step_seconds=0)
    bids = book.snapshot("005930").bids
    order = ex.place("005930", BUY, LIMIT, 10, bids[1][0])  # the second level
    assert book._places[order.order_no].ahead == bids[1][1]  # every crowd share at that price is ahead of it
    for _ in range(600):
        clock.advance(1)
        ex.match()
    assert order.filled_qty == 0  # the crowd's sells meet the better price first; the walk stands still


def test_a_later_own_bid_at_the_same_price_waits_for_the_earlier_one_and_no_crowd_sell_fills_more_than_it_sold():
    for mode, code, improve in (("thin", "0013V0", 50), ("liquid", "005930", 0)):
        clock, market, ex, book, fills = make(mode, step_seconds=0)
        price = book.snapshot(code).best_bid + improve
        first = ex.place(code, BUY, LIMIT, 30, price)
        second = ex.place(code, BUY, LIMIT, 30, price)
        assert book._places[second.order_no].ahead == book._places[first.order_no].ahead + 30
        got, sells = timed_fills(ex, clock, [first, second], 7200)
        assert first.filled_qty == 30, mode
        done = max(at for at, no, _ in got if no == first.order_no)
        assert all(at >= done for at, no, _ in got if no == second.order_no), mode  # time priority
        assert first.filled_qty + second.filled_qty <= sells, mode  # fills come out of the crowd's sells
