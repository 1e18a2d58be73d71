"""Amounts of won are read as people type them (digits, fullwidth digits, commas, 원, 만/억/조 with 십/백/천),
or refused with a sentence; never read in part."""
from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from rebalance.amounts import MAX_AMOUNT, AmountError, amount_words, korean_won, parse_amount
from rebalance.i18n import Lang, t


@pytest.mark.parametrize("typed, won", [
    ("500000", 500_000),
    ("500,000", 500_000),
    ("500,000원", 500_000),
    ("500000 won", 500_000),
    ("₩1,000", 1_000),
    ("５００００００", 5_000_000),  # fullwidth digits, as a Korean IME types them
    ("５，０００，０００원", 5_000_000),
    ("50만", 500_000),
    ("50만원", 500_000),
    ("1,200만", 12_000_000),
    ("5천만원", 50_000_000),
    ("천만원", 10_000_000),
    ("만원", 10_000),
    ("2천5백만", 25_000_000),
    ("1억 2천만", 120_000_000),
    ("1억2천만원", 120_000_000),
    ("3억 5000만", 350_000_000),
    ("1.5억", 150_000_000),
    ("1억 5000", 100_005_000),
    ("1조", 10**12),
    ("0", 0),
])
def test_an_amount_is_read_as_a_korean_writes_it(typed, won):
    assert parse_amount(typed) == won


@pytest.mark.parametrize("typed, key", [
    ("5m", "input.amount_letters"),  # 5 million or 5만? refused, never guessed
    ("5k", "input.amount_letters"),
    ("2.5mn", "input.amount_letters"),
    ("abc", "input.amount_unclear"),
    ("-5", "input.amount_unclear"),
    ("1e9", "input.amount_unclear"),
    ("1,00", "input.amount_unclear"),  # commas only between groups of three
    ("만억", "input.amount_unclear"),  # units out of order
    ("1억 20000만", "input.amount_unclear"),  # the 만 part must stay under one 억
    ("2천5000만", "input.amount_unclear"),
    ("15천", "input.amount_unclear"),
    ("오십만", "input.amount_unclear"),
    ("1.5", "input.amount_fraction"),
    ("9" * 5000, "input.amount_too_big"),  # a 5,000-digit paste: a sentence, not a traceback
    ("9" * 30, "input.amount_too_big"),
    ("1000조", "input.amount_too_big"),
])
def test_an_amount_that_is_not_read_whole_is_refused_with_its_reason(typed, key):
    with pytest.raises(AmountError) as caught:
        parse_amount(typed)
    assert caught.value.key == key


def test_the_refusal_says_what_was_typed_and_what_to_type_in_both_languages():
    with pytest.raises(AmountError) as caught:
        parse_amount("5m")
    message = caught.value.message("buy", "5m")
    assert message.render(Lang.EN).startswith("'5m' after buy is not read")
    assert "500만" in message.render(Lang.KO) and "buy 5000000" in message.render(Lang.KO)
    assert "{" not in t("input.amount_too_big", Lang.KO, what="min", limit=MAX_AMOUNT)


def test_an_amount_may_take_several_words_only_while_a_unit_joins_them():
    assert amount_words(["1억", "2천만", "keep"], 0) == 2
    assert amount_words(["1억", "2,345만", "6,789원"], 0) == 3
    assert amount_words(["500000", "keep"], 0) == 1
    assert amount_words(["1000", "000"], 0) == 1  # "1000 000" is not one amount


def test_korean_won_writes_an_amount_with_its_units():
    assert korean_won(123_456_789) == "1억 2,345만 6,789원"
    assert korean_won(50_000_000) == "5,000만원"
    assert korean_won(0) == "0원"


amounts = st.integers(min_value=0, max_value=MAX_AMOUNT)


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" or c == "," else c for c in text)


@hypothesis_settings(max_examples=300, deadline=None)
@given(amounts)
def test_formatting_an_amount_any_way_a_person_writes_it_then_parsing_gives_back_the_int(won):
    for written in (str(won), f"{won:,}", f"{won:,}원", korean_won(won), korean_won(won).replace(" ", ""),
                    fullwidth(str(won)), fullwidth(korean_won(won))):
        assert unicodedata.normalize("NFKC", fullwidth(str(won))) == str(won)
        assert parse_amount(written) == won, written


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_an_int_within_the_limit_or_an_amount_error_never_another_exception(text):
    try:
        value = parse_amount(text)
    except AmountError:
        return
    assert isinstance(value, int) and 0 <= value <= MAX_AMOUNT


@hypothesis_settings(max_examples=200, deadline=None)
@given(amounts, st.sampled_from(["k", "m", "mn", "b", "bn"]))
def test_letters_after_digits_are_refused_never_read_as_a_smaller_amount(won, suffix):
    with pytest.raises(AmountError):
        parse_amount(f"{won}{suffix}")
