"""The chart names stocks in Hangul with a real font (no empty boxes) and shows the cash bar."""
from __future__ import annotations

import io
import warnings
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from matplotlib.image import imread

from rebalance import Plan, PlanLine, plan_chart
from rebalance.render import _hangul_font

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=ZoneInfo("Asia/Seoul"))


def test_the_chart_draws_korean_names_with_a_hangul_font_and_no_missing_glyphs():
    lines = (PlanLine("005930", "삼성전자", 70_000, 10, 13, 0.37, 0.48),
             PlanLine("373220", "LG에너지솔루션", 381_000, 1, 2, 0.2, 0.4))
    plan = Plan("abcd1234", lines, 1_000_000, 1_900_000, 1_862_000, 522, NOW, NOW + timedelta(minutes=5))
    assert _hangul_font() is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = plan_chart(plan)
    assert not [w for w in caught if "missing from font" in str(w.message)]
    assert imread(io.BytesIO(png)).shape[0] > 100
