"""With a band, the plan table still shows where the model wants a stock that the band leaves alone."""
from __future__ import annotations

import json

from rebalance.i18n import Lang, using
from rebalance.journal import plan_from_json, plan_to_json
from rebalance.options import PlanOptions
from rebalance.render import plan_sections, plan_text
from tests.rebalance.test_plan import balance, holding, portfolio
from tests.rebalance.test_plan_options import PRICES, plan_with

MODEL = portfolio(("005930", 0.5), ("000660", 0.3))
ACCOUNT = balance(1_000_000, holding("005930", 10, 70_000), holding("000660", 2, 200_000))


def table(plan) -> list[str]:
    return next(s for s in plan_sections(plan) if s.title.startswith("Stocks")).units


def test_a_stock_held_inside_its_band_shows_the_models_target_and_the_band():
    plan = plan_with(MODEL, ACCOUNT, PRICES, PlanOptions(band=20))
    samsung = next(u for u in table(plan) if u.startswith("005930"))
    assert "33.3→33.3" in samsung  # where it is and stays
    assert samsung.splitlines()[2] == "   model 46.7% ±20%p: in band, no trade"  # and where the model wants it
    with using(Lang.KO):
        assert "목표 46.7% ±20%p" in plan_text(plan)


def test_a_stock_the_band_lets_trade_goes_to_the_target_shown_as_its_goal():
    plan = plan_with(MODEL, ACCOUNT, PRICES, PlanOptions(band=5))
    samsung = next(u for u in table(plan) if u.startswith("005930"))
    assert "33.3→46.7" in samsung and len(samsung.splitlines()) == 2


def test_every_row_stays_within_a_phones_monospace_width():
    plan = plan_with(MODEL, ACCOUNT, PRICES, PlanOptions(band=20))
    assert max(len(row) for unit in table(plan) for row in unit.splitlines()) <= 39


def test_the_model_target_survives_the_journal_and_an_older_plan_without_it_still_loads():
    plan = plan_with(MODEL, ACCOUNT, PRICES, PlanOptions(band=20))
    assert plan_from_json(plan_to_json(plan)) == plan
    old = json.loads(plan_to_json(plan))
    for line in old["lines"]:
        del line["model_weight"], line["band"], line["in_band"]
    loaded = plan_from_json(json.dumps(old))
    assert all(not line.in_band for line in loaded.lines) and "model" not in "".join(table(loaded))
