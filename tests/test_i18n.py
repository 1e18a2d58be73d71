"""Every sentence exists in Korean and English with the same fields, and the language of the moment is
the one a front end chose."""
from __future__ import annotations

import asyncio

import pytest

from rebalance.i18n import Lang, Msg, catalogue, choose, current, fields, parse_lang, t, using


def test_both_catalogues_hold_the_same_keys():
    en, ko = set(catalogue(Lang.EN)), set(catalogue(Lang.KO))
    assert not en - ko, f"missing in ko.toml: {sorted(en - ko)}"
    assert not ko - en, f"missing in en.toml: {sorted(ko - en)}"


@pytest.mark.parametrize("key", sorted(catalogue(Lang.EN)))
def test_a_sentence_takes_the_same_fields_in_both_languages(key):
    assert fields(catalogue(Lang.EN)[key]) == fields(catalogue(Lang.KO).get(key, "")), key


def test_korean_sentences_are_korean():
    hangul = [k for k, v in catalogue(Lang.KO).items() if any("\uac00" <= ch <= "\ud7a3" for ch in v)]
    assert len(hangul) >= 0.8 * len(catalogue(Lang.KO)), "most Korean sentences should hold Hangul"


def test_the_language_is_the_first_candidate_kisbot_speaks():
    assert choose(None, "ko", "en") is Lang.KO
    assert choose("fr", None, "ko-KR") is Lang.KO
    assert choose(None, "", None) is Lang.EN
    assert parse_lang("ko_KR.UTF-8") is Lang.KO and parse_lang("de") is None


def test_using_sets_the_language_of_the_block_and_restores_it():
    assert current() is Lang.EN
    with using("ko"):
        assert t("lang.name") == "한국어"
        with using(Lang.EN):
            assert t("lang.name") == "English"
        assert current() is Lang.KO
    assert current() is Lang.EN


def test_a_worker_thread_started_with_to_thread_speaks_the_updates_language():
    async def answer():
        with using(Lang.KO):
            return await asyncio.to_thread(t, "lang.name")

    assert asyncio.run(answer()) == "한국어"


def test_a_msg_is_put_into_words_where_it_is_shown():
    note = Msg("lang.name")
    with using("ko"):
        assert str(note) == "한국어"
    assert note.render(Lang.EN) == "English"


def test_an_unknown_key_reads_as_the_key_not_a_traceback():
    assert t("no.such.key") == "no.such.key"


def test_an_error_reaches_a_korean_user_as_one_korean_sentence():
    from bot.service import describe_error
    from kis.errors import KisTransportError

    with using("ko"):
        said = describe_error(KisTransportError("timeout"))
    assert said == t("errors.transport", Lang.KO) and "KIS" in said and "timeout" not in said
    assert describe_error(KisTransportError("timeout")).startswith("KIS did not answer")


def test_every_key_the_code_names_is_in_the_catalogue():
    """A key missing from the catalogues would reach the user as its own name (e.g. `model_edit.export_usage`)."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1]
    keys = set(catalogue(Lang.EN))
    named = {(path.relative_to(root).as_posix(), key)
             for folder in ("bot", "rebalance", "kis") for path in (root / folder).rglob("*.py")
             for key in re.findall(r"""\b(?:t|Msg)\(\s*["']([a-z_]+\.[a-z0-9_]+)["']""", path.read_text("utf-8"))}
    assert len(named) > 100  # the pattern finds the code's keys
    assert sorted((path, key) for path, key in named if key not in keys) == []
