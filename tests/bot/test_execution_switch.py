"""The execution style: KISBOT_EXECUTION (via TwapSettings) picks passive or cross for every plan, the plan
word `cross` makes one plan cross, the plan header says which, and the run is started with it."""
from __future__ import annotations

from dataclasses import replace

import pytest

from kis.models import OrderType
from rebalance.i18n import t, using
from rebalance.options import OptionsError, PlanOptions, plan_options
from rebalance.render import plan_sections
from rebalance.window import TwapSettings
from bot_fakes import FakeExecutor, make_service
from tests.rebalance.twap_fakes import line, make_plan

XLSX = "model.xlsx"


class StyledExecutor(FakeExecutor):
    """Remembers the style each run was started with (None: the settings' own)."""

    def __init__(self):
        super().__init__()
        self.styles: list[str | None] = []

    def start(self, plan, window, *, execution=None):
        self.styles.append(execution)
        return super().start(plan, window)


def offer_and_confirm(service, args=()):
    replies = service.plan_file(b"005930 000660", XLSX, args=args)
    service.shown(replies[-1].offers)
    service.confirm(plan_id=replies[-1].offers)


@pytest.mark.parametrize("style", ["passive", "cross"])
def test_the_setting_picks_the_style_of_every_plan_and_the_run_keeps_the_settings_own(style):
    executor = StyledExecutor()
    service, *_ = make_service(executor=executor,
                               twap_settings=TwapSettings(order_type=OrderType.LIMIT, execution=style))
    offer_and_confirm(service)
    (plan, _), = executor.started
    assert plan.execution == style and executor.styles == [None]


def test_the_word_cross_makes_one_plan_cross_when_the_setting_is_passive():
    executor = StyledExecutor()
    service, *_ = make_service(executor=executor,
                               twap_settings=TwapSettings(order_type=OrderType.LIMIT, execution="passive"))
    offer_and_confirm(service, ["cross"])
    executor.active = None  # that run ended
    offer_and_confirm(service)
    assert [p.execution for p, _ in executor.started] == ["cross", "passive"]
    assert executor.styles == ["cross", None]


@pytest.mark.parametrize("word", ["cross", "CROSS", "즉시"])
def test_the_plan_word_cross_is_read_in_both_languages(word):
    assert plan_options(["buy", word]) == PlanOptions(buy_only=True, cross=True)
    assert plan_options([]).cross is False


def test_cross_typed_twice_is_refused_in_one_sentence():
    with pytest.raises(OptionsError):
        plan_options(["cross", "cross"])


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("style", ["passive", "cross"])
def test_the_plan_header_says_the_style_in_both_languages(style, lang):
    plan = replace(make_plan(line("005930", 70_000, 0, 10)), execution=style)
    with using(lang):
        header = plan_sections(plan)[0].units
        assert t(f"passive.header_{style}") in header
        other = "cross" if style == "passive" else "passive"
        assert t(f"passive.header_{other}") not in header


def test_a_plan_without_a_style_and_a_manual_plan_say_none():
    plan = make_plan(line("005930", 70_000, 0, 10))
    for p in (plan, replace(plan, execution="passive", manual=True)):
        assert not [u for u in plan_sections(p)[0].units if u in (t("passive.header_passive"),
                                                                   t("passive.header_cross"))]
