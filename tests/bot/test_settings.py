"""The Telegram settings refuse to start an open or tokenless bot, and never show the token."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import load_bot_settings
from kis.config import Source
from kis.errors import ConfigError


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
