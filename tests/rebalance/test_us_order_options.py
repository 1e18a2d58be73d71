"""The plan words for how US legs are ordered on real accounts: `loc` (LOC, ORD_DVSN 34, for what is left before
the close) and `daytime` (주간거래, TTTS6036U/TTTS6037U, limit only); refused on mock and the sim before any call."""
from __future__ import annotations

import pytest

from kis.models import Env
from rebalance.i18n import Lang, using
from rebalance.options import OptionsError, PlanOptions, plan_options, refuse_real_only


@pytest.mark.parametrize("words", [["loc"], ["LOC"], ["장마감지정가"]])
def test_loc_is_a_plan_word_in_either_language(words):
    assert plan_options(words).loc is True and plan_options(words).daytime is False


@pytest.mark.parametrize("words", [["daytime"], ["주간거래"]])
def test_daytime_is_a_plan_word_in_either_language(words):
    assert plan_options(words).daytime is True and plan_options(words).loc is False


def test_loc_and_daytime_mix_with_the_other_words_and_are_off_by_default():
    options = plan_options(["buy", "50만", "loc", "keep", "daytime"])
    assert (options.buy_only, options.amount, options.keep_others, options.loc, options.daytime) == \
        (True, 500_000, True, True, True)
    assert (PlanOptions().loc, PlanOptions().daytime) == (False, False)


def test_a_word_said_twice_is_refused_as_any_other():
    with pytest.raises(OptionsError):
        plan_options(["loc", "LOC"])


def test_the_options_keep_loc_and_daytime_through_their_saved_form():
    options = plan_options(["loc", "daytime"])
    assert PlanOptions(**options.to_dict()) == options
    assert PlanOptions(**{k: v for k, v in PlanOptions().to_dict().items() if k not in ("loc", "daytime")}) \
        == PlanOptions()  # a plan saved before these words existed


@pytest.mark.parametrize("env", [Env.MOCK, Env.SIM, None, "mock"])
def test_loc_is_refused_off_a_real_account_in_one_sentence(env):
    with pytest.raises(OptionsError) as caught:
        refuse_real_only(PlanOptions(loc=True), env)
    text = str(caught.value)
    assert "LOC" in text and "real accounts only" in text and text.count(". ") == 0 and text.endswith(".")


@pytest.mark.parametrize("env", [Env.MOCK, Env.SIM])
def test_daytime_is_refused_off_a_real_account_in_one_sentence(env):
    with pytest.raises(OptionsError) as caught:
        refuse_real_only(PlanOptions(daytime=True), env)
    assert "주간거래" in str(caught.value) and "real accounts only" in str(caught.value)


def test_a_real_account_is_told_kisbot_does_not_place_either_yet_and_any_account_takes_neither():
    # The executor sends neither LOC nor daytime orders yet: a plan must not promise them on real either.
    for options, word in ((PlanOptions(loc=True), "LOC"), (PlanOptions(daytime=True), "주간거래")):
        with pytest.raises(OptionsError) as caught:
            refuse_real_only(options, Env.REAL)
        assert word in str(caught.value) and "does not place" in str(caught.value)
    for env in (Env.MOCK, Env.SIM, Env.REAL):
        refuse_real_only(PlanOptions(band=2), env)


def test_the_refusals_read_korean_in_a_korean_chat():
    with using(Lang.KO):
        with pytest.raises(OptionsError) as loc:
            refuse_real_only(PlanOptions(loc=True), Env.MOCK)
        with pytest.raises(OptionsError) as daytime:
            refuse_real_only(PlanOptions(daytime=True), Env.MOCK)
        assert "실전 계좌에서만" in str(loc.value) and "실전 계좌에서만" in str(daytime.value)


def test_the_plan_header_says_each_in_force():
    said = PlanOptions(loc=True, daytime=True).describe()
    assert any("LOC" in s for s in said) and any("주간거래" in s for s in said)
    with using(Lang.KO):
        said = PlanOptions(loc=True).describe()
    assert any("장마감지정가" in s for s in said)
