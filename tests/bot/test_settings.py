"""Settings from the environment: the Telegram settings refuse to start an open or tokenless bot and never
show the token; the TWAP settings and plan defaults say what to fix."""
from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.settings import load_bot_settings, load_report_at, load_twap_settings, options_from
from kis.config import Source
from kis.errors import ConfigError
from rebalance.options import PlanOptions, parse_plan_words
from rebalance.window import TwapSettings


def source(**env):
    return Source(environ=env, dotenv_path=Path("/nonexistent/.env"), use_keyring=False)


def test_settings_from_the_environment_hide_the_token():
    s = load_bot_settings(source(TELEGRAM_BOT_TOKEN="123:SECRET", TELEGRAM_ALLOWED_CHAT_IDS="42, -1001",
                                 TELEGRAM_API_BASE_URL="http://127.0.0.1:1/bot"))
    assert s.allowed_chat_ids == {42, -1001} and s.api_base_url == "http://127.0.0.1:1/bot"
    assert "SECRET" not in repr(s)


def test_no_token_says_how_to_get_one():
    with pytest.raises(ConfigError, match="BotFather"):
        load_bot_settings(source(TELEGRAM_ALLOWED_CHAT_IDS="42"))


def test_no_allowed_chat_refuses_to_start():
    with pytest.raises(ConfigError, match="TELEGRAM_ALLOWED_CHAT_IDS is not set") as info:
        load_bot_settings(source(TELEGRAM_BOT_TOKEN="123:SECRET"))
    assert "SECRET" not in str(info.value)


def test_a_malformed_chat_id_is_named():
    with pytest.raises(ConfigError, match="'me'"):
        load_bot_settings(source(TELEGRAM_BOT_TOKEN="1:x", TELEGRAM_ALLOWED_CHAT_IDS="42,me"))


def test_token_from_the_keyring_when_not_in_the_environment(monkeypatch):
    import kis.config

    asked = []
    monkeypatch.setattr(kis.config, "keyring_get", lambda name: asked.append(name) or "9:KEYRINGTOKEN")
    s = load_bot_settings(Source(environ={"TELEGRAM_ALLOWED_CHAT_IDS": "42"},
                                 dotenv_path=Path("/nonexistent/.env")))
    assert s.token == "9:KEYRINGTOKEN" and asked == ["telegram_bot_token"]


def test_settings_come_from_the_environment():
    settings = load_twap_settings(Source({"TWAP_START": "09:30", "TWAP_END": "14:30", "MARKET_CALENDAR": "always"},
                                         use_keyring=False))
    assert (settings.start, settings.end, settings.calendar) == (time(9, 30), time(14, 30), "always")
    # the bot's defaults are the code's, but slices go passive first and read the book at each send (issue 25)
    assert load_twap_settings(Source({}, use_keyring=False)) == TwapSettings(execution="passive", record_book=True)


def test_kisbot_execution_picks_passive_or_cross_and_refuses_anything_else_in_one_sentence():
    def style(text):
        return load_twap_settings(Source({"KISBOT_EXECUTION": text}, use_keyring=False)).execution

    assert (style("cross"), style(" Passive "), style("")) == ("cross", "passive", "passive")
    with pytest.raises(ConfigError, match="KISBOT_EXECUTION='market' is not passive or cross"):
        style("market")


@pytest.mark.parametrize("env, message", [
    ({"TWAP_START": "9h"}, "TWAP_START='9h' is not a time of day as HH:MM"),
    ({"TWAP_END": "25:00"}, "TWAP_END='25:00'"),
    ({"TWAP_START": "15:00", "TWAP_END": "09:00"}, "must be before TWAP_END"),
    ({"MARKET_CALENDAR": "nyse"}, "MARKET_CALENDAR='nyse' is not one of krx, always"),
])
def test_bad_settings_say_what_to_fix(env, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        load_twap_settings(Source(env, dotenv_path=tmp_path / "none", use_keyring=False))


def test_defaults_come_from_the_environment_and_words_override_them():
    defaults = options_from({"KISBOT_BAND": "3", "KISBOT_MIN_TRADE": "10000"})
    assert defaults == PlanOptions(band=3.0, min_trade=10_000)
    assert parse_plan_words(["band", "1"], defaults)[0] == PlanOptions(band=1.0, min_trade=10_000)
    assert options_from({}) == PlanOptions()


def test_bad_defaults_in_the_environment_are_one_sentence():
    with pytest.raises(ConfigError, match="KISBOT_BAND"):
        options_from({"KISBOT_BAND": "wide"})


def test_report_time_default_off_and_malformed(tmp_path):
    none = tmp_path / "no.env"
    assert load_report_at(Source(environ={}, dotenv_path=none, use_keyring=False)) == time(15, 40)
    assert load_report_at(Source(environ={"KISBOT_REPORT_AT": "OFF"}, dotenv_path=none)) is None
    assert load_report_at(Source(environ={"KISBOT_REPORT_AT": "16:05"}, dotenv_path=none)) == time(16, 5)
    for bad in ("25:00", "3pm", "15.40"):
        with pytest.raises(ConfigError) as err:
            load_report_at(Source(environ={"KISBOT_REPORT_AT": bad}, dotenv_path=none))
        assert str(err.value) == (f"KISBOT_REPORT_AT='{bad}' is not a time of day as HH:MM (KST) such as "
                                  "15:40, or off")


def test_a_bad_setting_names_the_variable_and_says_how_to_set_it_not_what_to_type_in_the_chat():
    for environ, says in (({"KISBOT_BAND": "-1"}, "KISBOT_BAND='-1' is not a band from 0 to 50 percentage points: "
                                                  "set e.g. KISBOT_BAND=2, or 0 for none"),
                          ({"KISBOT_MIN_TRADE": "1.5"}, "KISBOT_MIN_TRADE='1.5' is not a whole number of won")):
        with pytest.raises(ConfigError) as caught:
            options_from(environ)
        assert str(caught.value).startswith(says)
        assert "type e.g." not in str(caught.value) and " / " not in str(caught.value)
