"""Drift: a stock's weight of total value against its target, outside its band or not."""
from __future__ import annotations

import pytest

from rebalance.drift_watch import ModelStock, SavedModel, drift, load_saved_model, save_model

MODEL = SavedModel((ModelStock("005930", "삼성전자", 0.5, 5.0), ModelStock("000660", "SK하이닉스", 0.3, 5.0),
                    ModelStock("035720", "카카오", 0.1, 0.0)), "model.xlsx")


def test_weights_count_cash_and_holdings_outside_the_model():
    rows = drift(MODEL, {"005930": 560_000, "000660": 240_000, "999990": 100_000}, 100_000)
    by_code = {r.code: r for r in rows}
    assert by_code["005930"].weight == pytest.approx(0.56) and by_code["005930"].outside  # +6 pp > 5
    assert by_code["000660"].off_by == pytest.approx(-6.0) and by_code["000660"].outside
    assert by_code["035720"].value == 0 and not by_code["035720"].outside  # band 0: never flagged


def test_inside_the_band_is_not_drift():
    rows = drift(MODEL, {"005930": 540_000, "000660": 260_000, "035720": 100_000}, 100_000)
    assert not any(r.outside for r in rows)


def test_an_empty_account_has_no_weight_and_no_division_by_zero():
    assert all(r.weight == 0 for r in drift(MODEL, {}, 0))


def test_the_saved_model_is_per_account_and_missing_is_none(tmp_path):
    assert load_saved_model(tmp_path, "50000000-01") is None
    save_model(tmp_path, "50000000-01", MODEL)
    assert load_saved_model(tmp_path, "50000000-01") == MODEL
    assert load_saved_model(tmp_path, "12345678-01") is None
