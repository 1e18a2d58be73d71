"""Settings from the environment, `.env` or the keyring: Telegram's (the token is a secret), and the
TWAP settings and plan defaults that `rebalance` takes as its own types."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from typing import Mapping

from kis.config import Source
from kis.errors import ConfigError
from rebalance.options import MAX_AMOUNT, MAX_BAND, OptionsError, PlanOptions, parse_points, parse_won, shown
from rebalance.i18n import t
from rebalance.portfolio import MAX_FILE_BYTES
from rebalance.window import CALENDARS, EXECUTIONS, TwapSettings




@dataclass(frozen=True)
class BotSettings:
    """What the Telegram front end needs. The token stays out of repr."""

    token: str = field(repr=False)
    allowed_chat_ids: frozenset[int]
    api_base_url: str = ""  # '' = Telegram's own
    file_base_url: str = ""
    max_file_bytes: int = MAX_FILE_BYTES
    webapp_url: str = ""  # KISBOT_WEBAPP_URL: the Mini App model editor's https page; '' = no button
    viewer_chat_ids: frozenset[int] = frozenset()  # TELEGRAM_VIEWER_CHAT_IDS: may read, never trade


def parse_chat_ids(text: str, name: str = "TELEGRAM_ALLOWED_CHAT_IDS") -> frozenset[int]:
    """`123, -100456` -> {123, -100456}; group chats have negative ids; ConfigError names the setting `name`."""
    ids = set()
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ids.add(int(part))
        except ValueError:
            raise ConfigError(t("settings_errors.chat_id", name=name, part=part)) from None
    return frozenset(ids)


def load_bot_settings(source: Source | None = None, *, require_chats: bool = True) -> BotSettings:
    """Telegram settings, or ConfigError that says what to set: never starts an open bot.

    With `require_chats=False` an empty allow-list is returned as such (setup mode, which trades nothing)."""
    source = source or Source()
    token = source.secret("TELEGRAM_BOT_TOKEN", "telegram_bot_token")
    if not token:
        raise ConfigError(t("settings_errors.token"))
    chats = parse_chat_ids(source.get("TELEGRAM_ALLOWED_CHAT_IDS"))
    if not chats and require_chats:
        raise ConfigError(t("settings_errors.chats"))
    return BotSettings(
        token=token,
        allowed_chat_ids=chats,
        api_base_url=source.get("TELEGRAM_API_BASE_URL"),
        file_base_url=source.get("TELEGRAM_FILE_BASE_URL"),
        webapp_url=webapp_url(source.get("KISBOT_WEBAPP_URL")),
        # a chat listed in both may trade: the allow-list wins
        viewer_chat_ids=parse_chat_ids(source.get("TELEGRAM_VIEWER_CHAT_IDS"), "TELEGRAM_VIEWER_CHAT_IDS") - chats,
    )


def webapp_url(text: str | None) -> str:
    """KISBOT_WEBAPP_URL checked: an https address without a fragment (the bot adds its own), or ''."""
    text = (text or "").strip()
    if not text:
        return ""
    if not re.fullmatch(r"https://[^\s/#?]+(/[^\s#]*)?", text):
        raise ConfigError(f"KISBOT_WEBAPP_URL='{shown(text)}' is not an https:// address without a #: Telegram "
                          "opens Mini Apps over https only, e.g. https://you.github.io/kisbot/model.html")
    return text


def load_twap_settings(source: Source | None = None, **overrides) -> TwapSettings:
    """TwapSettings from TWAP_START, TWAP_END and MARKET_CALENDAR; ConfigError says what to fix."""
    source = source or Source()
    start = _parse_time("TWAP_START", source.get("TWAP_START", "09:10"))
    end = _parse_time("TWAP_END", source.get("TWAP_END", "15:00"))
    calendar = source.get("MARKET_CALENDAR", "krx").lower()
    if calendar not in CALENDARS:
        raise ConfigError(t("settings_errors.calendar", calendar=calendar))
    if start >= end:
        raise ConfigError(t("settings_errors.start_end", start=f"{start:%H:%M}", end=f"{end:%H:%M}"))
    settle = _number("KISBOT_SETTLE_SECONDS", source.get("KISBOT_SETTLE_SECONDS", "120"), t("settings_errors.seconds"),
                     0, 86_400)
    guard = _number("KISBOT_PRICE_GUARD", source.get("KISBOT_PRICE_GUARD", "1"), t("settings_errors.percent"),
                    0, 29.99)
    execution = source.get("KISBOT_EXECUTION", "passive").strip().lower() or "passive"
    if execution not in EXECUTIONS:
        raise ConfigError(t("passive.setting", text=shown(execution)))
    # the book at every send, for the receipt's spread figures (one asking-price call an order)
    options = {"settle_seconds": settle, "price_guard": guard / 100, "execution": execution, "record_book": True,
               **overrides}
    return TwapSettings(start=start, end=end, calendar=calendar, **options)


def _number(name: str, text: str, what: str, low: float, high: float) -> float:
    try:
        value = float(str(text).strip().rstrip("%"))
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # NaN fails too
        raise ConfigError(t("settings_errors.number", name=name, text=text, what=what, low=low, high=high))
    return value


def _parse_time(name: str, text: str) -> time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text.strip())
    if match:
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if hour < 24 and minute < 60 and second < 60:
            return time(hour, minute, second)
    raise ConfigError(t("settings_errors.time", name=name, text=text))


def options_from(source: Source | Mapping[str, str]) -> PlanOptions:
    """The plan defaults from `KISBOT_BAND` and `KISBOT_MIN_TRADE` (a `Source` or a mapping);
    a bad value raises ConfigError naming the variable."""
    get = source.get
    band_text = (get("KISBOT_BAND") or "").strip()
    trade_text = (get("KISBOT_MIN_TRADE") or "").strip()
    try:
        band = parse_points(band_text, "KISBOT_BAND") if band_text else 0.0
    except OptionsError:
        raise ConfigError(t("settings_errors.band", text=shown(band_text), max=MAX_BAND)) from None
    try:
        min_trade = parse_won(trade_text, "KISBOT_MIN_TRADE") if trade_text else 0
    except OptionsError:
        raise ConfigError(t("settings_errors.min_trade", text=shown(trade_text), max=MAX_AMOUNT)) from None
    return PlanOptions(band=band, min_trade=min_trade)


def load_report_at(source: Source | None = None) -> time | None:
    """KISBOT_REPORT_AT as a KST time of day (default 15:40), None for `off`; ConfigError when malformed."""
    source = source or Source()
    text = source.get("KISBOT_REPORT_AT", "15:40")
    if text.lower() == "off":
        return None
    try:
        return _parse_time("KISBOT_REPORT_AT", text)
    except ConfigError:
        raise ConfigError(t("settings_errors.report_at", text=text)) from None
