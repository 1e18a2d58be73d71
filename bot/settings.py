"""Telegram settings from the environment, `.env` or the keyring (the token is a secret)."""
from __future__ import annotations

from dataclasses import dataclass, field

from kis.config import Source
from kis.errors import ConfigError
from rebalance.portfolio import MAX_FILE_BYTES


TOKEN_HINT = (
    "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather, then set the token in the "
    "environment or .env, or store it in the OS keyring with `kisbot secrets set`"
)
CHATS_HINT = (
    "TELEGRAM_ALLOWED_CHAT_IDS is not set, so nobody may use the bot: set it to your chat id "
    "(comma-separated for several; message @userinfobot on Telegram to learn yours) in the "
    "environment or .env"
)


@dataclass(frozen=True)
class BotSettings:
    """What the Telegram front end needs. The token stays out of repr."""

    token: str = field(repr=False)
    allowed_chat_ids: frozenset[int]
    api_base_url: str = ""  # '' = Telegram's own
    file_base_url: str = ""
    max_file_bytes: int = MAX_FILE_BYTES


def parse_chat_ids(text: str) -> frozenset[int]:
    """`123, -100456` -> {123, -100456}; group chats have negative ids."""
    ids = set()
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ids.add(int(part))
        except ValueError:
            raise ConfigError(
                f"TELEGRAM_ALLOWED_CHAT_IDS has '{part}', which is not a chat id: use numbers "
                "separated by commas, e.g. 123456789,-1001234567890"
            ) from None
    return frozenset(ids)


def load_bot_settings(source: Source | None = None) -> BotSettings:
    """Telegram settings, or ConfigError that says what to set: never starts an open bot."""
    source = source or Source()
    token = source.secret("TELEGRAM_BOT_TOKEN", "telegram_bot_token")
    if not token:
        raise ConfigError(TOKEN_HINT)
    chats = parse_chat_ids(source.get("TELEGRAM_ALLOWED_CHAT_IDS"))
    if not chats:
        raise ConfigError(CHATS_HINT)
    return BotSettings(
        token=token,
        allowed_chat_ids=chats,
        api_base_url=source.get("TELEGRAM_API_BASE_URL"),
        file_base_url=source.get("TELEGRAM_FILE_BASE_URL"),
    )
