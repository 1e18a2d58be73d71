"""The band column of a model file: percentage points per stock, empty for the plan's band."""
from __future__ import annotations

import pytest

from rebalance import PortfolioError, read_portfolio
from tests.rebalance.test_portfolio import xlsx


def test_a_band_column_gives_each_stock_its_own_band_in_percentage_points():
    data = xlsx(["종목코드", "비중", "밴드"], ["005930", 50, 2], ["000660", 30, "1.5%"], ["035720", 20, None])
    bands = {t.code: t.band for t in read_portfolio(data, name="m.xlsx").targets}
    assert bands == {"005930": pytest.approx(0.02), "000660": pytest.approx(0.015), "035720": None}


def test_a_band_that_is_not_a_number_names_its_row():
    data = xlsx(["code", "weight", "band"], ["005930", 0.5, "wide"], ["000660", 0.5, -1])
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(data, name="m.xlsx")
    assert caught.value.problems == (
        "band 'wide' is not a band in percentage points (row 2): write e.g. 2 for ±2 %p, or leave it empty",
        "band '-1' is not a band in percentage points (row 3): write e.g. 2 for ±2 %p, or leave it empty",
    )
