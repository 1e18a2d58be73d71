"""Every command the bot answers (Telegram's handlers, the console's dispatch, the household's own answers) is
in the command menu, with a description in both catalogues. The list is read from the code, so a command
added to a dispatcher without a menu entry fails here."""
from __future__ import annotations

import ast
import inspect
import re
import textwrap

from telegram.ext import CommandHandler

from bot.console import ConsoleChat
from bot.household import Household
from bot.lang import ChatLangs
from bot.settings import BotSettings
from bot.telegram import COMMANDS, MENU_KEYS, TelegramBot, command_menu
from bot_fakes import make_service
from rebalance.i18n import Lang, catalogue

ALIASES = {"start"}  # Telegram's own first command; it answers as /help does, which the menu lists
DEMO_ONLY = {"deposit", "dividend"}  # the demo's paper exchange pays cash in; no bot on a real account has them


def _tree(function) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(function)))


def telegram_commands(tmp_path) -> set[str]:
    """The commands the built Application has handlers for, with every optional part present."""
    service, *_ = make_service()
    settings = BotSettings(token="123:abc", allowed_chat_ids=frozenset({1}))
    app = TelegramBot(settings, service, pushes=object(), langs=ChatLangs.in_dir(tmp_path)).build()
    return {name for group in app.handlers.values() for handler in group if isinstance(handler, CommandHandler)
            for name in handler.commands}


def console_commands() -> set[str]:
    """Every `/word` the console's dispatch compares a typed command with."""
    return {node.value[1:] for node in ast.walk(_tree(ConsoleChat._replies))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and re.fullmatch(r"/[a-z]+", node.value)}


def household_commands() -> set[str]:
    """Every command the household answers or routes by name (`command == "use"` and the like)."""
    return {comparator.value for node in ast.walk(_tree(Household.route)) if isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Name) and node.left.id == "command"
            for comparator in node.comparators if isinstance(comparator, ast.Constant)}


def test_the_code_is_read_for_the_commands_it_answers(tmp_path):
    # the readers find what each dispatcher is known to answer: a reader that finds nothing proves nothing
    assert {"price", "receipt", "version", "schedule", "lang"} <= telegram_commands(tmp_path)
    assert {"price", "receipt", "version", "perf", "schedule", "deposit"} <= console_commands()
    assert "use" in household_commands()
    assert DEMO_ONLY <= console_commands() and ALIASES <= console_commands() & telegram_commands(tmp_path)


def test_every_command_the_bot_answers_is_in_the_menu(tmp_path):
    answered = telegram_commands(tmp_path) | console_commands() | household_commands()
    missing = answered - ALIASES - DEMO_ONLY - set(COMMANDS)
    assert not missing, f"answered but not in bot.telegram.COMMANDS: {sorted(missing)}"


def test_every_menu_entry_has_a_description_in_english_and_in_korean():
    for lang in Lang:
        sentences = catalogue(lang)
        keys = {name: MENU_KEYS.get(name, f"menu.{name}") for name in COMMANDS}
        missing = sorted(name for name, key in keys.items() if not sentences.get(key, "").strip())
        assert not missing, f"no {lang.value} menu description for {missing}"


def test_the_menu_lists_receipt_version_and_use_in_korean():
    korean = {c.command: c.description for c in command_menu(Lang.KO)}
    assert korean["receipt"] == "지난 실행의 전체 체결 내역"
    assert korean["version"] == "설치된 kisbot 버전"
    assert korean["use"].startswith("이 채팅의 기본 계좌")
    english = {c.command: c.description for c in command_menu(Lang.EN)}
    assert english["use"] == "this chat's account: /use LABEL"
    assert len(korean) == len(english) == len(COMMANDS) == len(set(COMMANDS))
