"""Slicing: even sizes, evenly spaced times, sells before buys, and never more calls than the budget."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings, strategies as st

from kis.models import OrderSide
from rebalance.slicing import CALLS_PER_SLICE, slice_cost, slice_plan, split_qty
from rebalance.window import TwapSettings, Window
from tests.rebalance.twap_fakes import T0, line

SETTINGS = TwapSettings(calendar="always", catch_up_seconds=300)
DAY = Window(T0, T0 + timedelta(hours=5))


def by_code(schedule):
    out = defaultdict(list)
    for s in schedule.slices:
        out[s.code].append(s)
    return out


def test_a_large_quantity_gets_bigger_slices_not_more_of_them():
    schedule = slice_plan([line("000010", 1_000, 0, 10_007)], DAY, SETTINGS, rate=18)
    sizes = [s.qty for s in schedule.slices]
    assert len(sizes) == SETTINGS.max_slices and sum(sizes) == 10_007
    assert max(sizes) - min(sizes) == 1


def test_a_small_quantity_gets_one_share_slices():
    schedule = slice_plan([line("000010", 1_000, 0, 3)], DAY, SETTINGS, rate=18)
    assert [s.qty for s in schedule.slices] == [1, 1, 1]


def test_slices_are_evenly_spaced_inside_the_window_and_before_the_catch_up():
    schedule = slice_plan([line("000010", 1_000, 0, 100)], DAY, SETTINGS, rate=18)
    times = [s.at for s in schedule.slices]
    gaps = {b - a for a, b in zip(times, times[1:])}
    assert len(gaps) == 1  # pd.date_range: one step
    assert times[0] == DAY.start and times[-1] < schedule.catch_up_at < DAY.end
    assert schedule.catch_up_at == DAY.end - timedelta(seconds=300)


def test_sells_take_the_first_part_of_the_window_and_buys_the_rest():
    lines = [line("000010", 1_000, 100, 0), line("000020", 1_000, 0, 100), line("000030", 1_000, 50, 10)]
    schedule = slice_plan(lines, DAY, SETTINGS, rate=18)
    sells = [s.at for s in schedule.slices if s.side is OrderSide.SELL]
    buys = [s.at for s in schedule.slices if s.side is OrderSide.BUY]
    assert max(sells) < min(buys)
    split = DAY.start + (schedule.catch_up_at - DAY.start) * SETTINGS.sell_share
    assert max(sells) < split <= min(buys)


def test_stocks_of_one_phase_take_turns_instead_of_firing_together():
    lines = [line(f"{i:06d}", 1_000, 0, 100) for i in range(1, 5)]
    schedule = slice_plan(lines, DAY, SETTINGS, rate=18)
    times = [s.at for s in schedule.slices]
    assert len(set(times)) == len(times)


def test_only_buys_use_the_whole_window():
    schedule = slice_plan([line("000020", 1_000, 0, 100)], DAY, SETTINGS, rate=18)
    assert schedule.slices[0].at == DAY.start


def test_on_mock_a_ten_stock_rebalance_in_two_minutes_fits_the_call_budget():
    # Each guarded order reads the latest price first: a sell costs 2 calls, a buy 3 (cash check).
    lines = [line(f"{i:06d}", 10_000, 100, 0) for i in range(5)]
    lines += [line(f"{i:06d}", 10_000, 0, 57) for i in range(5, 10)]
    window = Window(T0, T0 + timedelta(seconds=120))
    schedule = slice_plan(lines, window, SETTINGS, rate=1.0)
    calls = sum(CALLS_PER_SLICE[s.side] for s in schedule.slices)
    catch_up = sum(CALLS_PER_SLICE[ln.side] for ln in lines)
    assert calls + catch_up <= 120 * SETTINGS.order_share
    for code, slices in by_code(schedule).items():  # every stock is placed in full
        assert sum(s.qty for s in slices) == (100 if int(code) < 5 else 57)
    polls = 120 / schedule.poll_seconds
    assert polls <= 120 * SETTINGS.poll_share


def test_a_passive_run_pays_for_its_book_reads_and_revisions_with_fewer_slices_in_the_same_call_budget():
    # A passive slice reads the asking price at its send and may be revised once: 2 calls more than crossing.
    lines = [line(f"{i:06d}", 10_000, 100, 0) for i in range(5)]
    lines += [line(f"{i:06d}", 10_000, 0, 57) for i in range(5, 10)]
    window = Window(T0, T0 + timedelta(seconds=300))
    passive = replace(SETTINGS, execution="passive")
    crossing = slice_plan(lines, window, SETTINGS, rate=1.0)
    joined = slice_plan(lines, window, passive, rate=1.0)
    assert slice_cost(OrderSide.BUY, passive) == CALLS_PER_SLICE[OrderSide.BUY] + 2
    assert len(joined.slices) < len(crossing.slices)
    calls = sum(slice_cost(s.side, passive) for s in joined.slices) + sum(slice_cost(ln.side, passive) for ln in lines)
    assert calls <= 300 * SETTINGS.order_share
    for code, slices in by_code(joined).items():  # still every share of every stock
        assert sum(s.qty for s in slices) == (100 if int(code) < 5 else 57)


def test_a_budget_smaller_than_the_plan_still_gives_every_stock_one_slice():
    lines = [line(f"{i:06d}", 10_000, 0, 10) for i in range(30)]
    schedule = slice_plan(lines, Window(T0, T0 + timedelta(seconds=20)), SETTINGS, rate=1.0)
    assert sorted(len(v) for v in by_code(schedule).values()) == [1] * 30


@settings(max_examples=200, deadline=None)
@given(
    qtys=st.lists(st.integers(-5_000, 5_000).filter(bool), min_size=1, max_size=12),
    seconds=st.integers(30, 6 * 3600),
    rate=st.sampled_from([1.0, 2.0, 18.0]),
)
def test_slicing_properties(qtys, seconds, rate):
    lines = [line(f"{i:06d}", 5_000, max(0, -q), max(0, q)) for i, q in enumerate(qtys)]
    window = Window(T0, T0 + timedelta(seconds=seconds))
    schedule = slice_plan(lines, window, SETTINGS, rate)
    groups = by_code(schedule)
    budget = int(rate * seconds * SETTINGS.order_share)
    calls = sum(CALLS_PER_SLICE[s.side] for s in schedule.slices) + sum(CALLS_PER_SLICE[ln.side] for ln in lines)
    assert calls <= max(budget, 2 * sum(CALLS_PER_SLICE[ln.side] for ln in lines))  # over only at one slice each
    for ln in lines:
        sizes = [s.qty for s in groups[ln.code]]
        assert sum(sizes) == abs(ln.order_qty) and min(sizes) >= 1
        assert len(sizes) <= min(abs(ln.order_qty), SETTINGS.max_slices)
        assert max(sizes) - min(sizes) <= 1
        assert all(s.side is ln.side for s in groups[ln.code])
    assert all(window.start <= s.at < schedule.catch_up_at for s in schedule.slices)
    assert [s.seq for s in schedule.slices] == list(range(len(schedule.slices)))


def test_split_qty_differs_by_at_most_one_share():
    assert split_qty(10, 3) == [4, 3, 3]
    assert split_qty(3, 3) == [1, 1, 1]
