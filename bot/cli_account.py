"""`kisbot price`, `kisbot balance`, `kisbot secrets set`: the account from a terminal.

Each prints a pandas table or one clear line saying what went wrong and what to do; the exit code is
0 on success, 1 when KIS could not answer, 2 for configuration problems.
"""
from __future__ import annotations

import argparse
import getpass
from typing import Any, Callable, Sequence

import pandas as pd

from kis import open_client
from kis.codes import EXAMPLE as CODE_EXAMPLE, BadStockCode, BadSymbol, is_code, normalize_code
from kis.markets import KRX, market_of
from kis.accounts import parse_label
from kis.config import NO_KEYRING_HINT, keyring_set
from kis.errors import KisError, KisTransportError, UnknownStock
from kis.models import Balance, Quote
from bot.cli_common import fail, failure_sentence
from bot.format import dollars, percent, signed, signed_dollars, won
from rebalance.text import one_line


def _frame(rows: Sequence[object], columns: Sequence[tuple[str, str, Callable[[Any], str]]]) -> pd.DataFrame:
    """One column per (title, attribute, format): the attribute of every row, formatted."""
    return pd.DataFrame({title: [shown(getattr(row, name)) for row in rows] for title, name, shown in columns})


QUOTE_COLUMNS = [("code", "code", str), ("name", "name", one_line), ("price", "price", won),
                 ("change", "change", signed), ("change %", "change_rate", percent), ("volume", "volume", won)]
US_QUOTE_COLUMNS = [("ticker", "symbol", str), ("exchange", "market", str), ("name", "name", one_line),
                    ("price $", "price", dollars), ("change", "change", signed_dollars),
                    ("change %", "change_rate", lambda r: percent(float(r))), ("volume", "volume", won)]
HOLDING_COLUMNS = [("code", "code", str), ("name", "name", one_line), ("qty", "qty", won),
                   ("sellable", "orderable_qty", won), ("avg price", "avg_price", won), ("price", "price", won),
                   ("value", "value", won), ("P&L", "pnl", signed), ("P&L %", "pnl_rate", percent)]


def quotes_table(quotes: list[Quote]) -> pd.DataFrame:
    return _frame(quotes, QUOTE_COLUMNS)


def holdings_table(balance: Balance) -> pd.DataFrame:
    return _frame(balance.holdings, HOLDING_COLUMNS)


def summary_table(balance: Balance) -> pd.DataFrame:
    return pd.DataFrame({"": ["cash (today)", "cash (D+2)", "stocks", "total", "P&L"],
                         "won": [won(balance.cash), won(balance.cash_d2), won(balance.stock_value),
                                 won(balance.total_value), signed(balance.pnl)]})


def _show(table: pd.DataFrame) -> None:
    """Print a table with Hangul counted as two columns, so names line up in a terminal."""
    with pd.option_context("display.unicode.east_asian_width", True):
        print(table.to_string(index=False))


def _run(job: Callable[[], int]) -> int:
    """Turn the client's failures into one line each."""
    try:
        return job()
    except (KisError, KisTransportError) as exc:
        return fail(failure_sentence(exc))


def price(args: argparse.Namespace, *, client_factory=open_client) -> int:
    def job() -> int:
        abroad: list[str] = []
        malformed: list[str] = []
        for c in args.codes:
            try:
                if market_of(c) is not KRX:
                    abroad.append(c.strip().upper())
            except BadSymbol as exc:
                malformed.append(c)
                symbol_error = str(exc)
        if malformed:
            if len(malformed) == 1 and not str(malformed[0]).strip()[:1].isalpha():
                return fail(str(BadStockCode(malformed[0])))
            return fail(symbol_error if len(malformed) == 1 else
                        f"{', '.join(malformed)} are not 6-character stock codes such as {CODE_EXAMPLE}")
        codes = list(dict.fromkeys(normalize_code(c) for c in args.codes if is_code(c)))
        client = client_factory()
        quotes: dict = {}
        unknown: tuple[str, ...] = ()
        if codes:
            try:
                quotes = client.prices(codes)
            except UnknownStock as exc:  # show what the exchange knows, then name the rest
                unknown = exc.codes
                known = [c for c in codes if c not in unknown]
                quotes = client.prices(known) if known else {}
        us_quotes, us_unknown = {}, ()
        if abroad:
            try:
                us_quotes = client.overseas_prices(list(dict.fromkeys(abroad)))
            except UnknownStock as exc:
                us_unknown = exc.codes
                known = [c for c in dict.fromkeys(abroad) if c not in us_unknown]
                us_quotes = client.overseas_prices(known) if known else {}
        if quotes:
            _show(quotes_table(list(quotes.values())))
        if us_quotes:
            if quotes:
                print()
            _show(_frame(list(us_quotes.values()), US_QUOTE_COLUMNS))
        if unknown:
            return fail(f"the exchange does not know {', '.join(unknown)}; check the stock code")
        if us_unknown:
            return fail(f"no US exchange lists {', '.join(us_unknown)}; check the ticker or write its exchange "
                        "first (NASD:, NYSE:, AMEX:)")
        return 0

    return _run(job)


def balance(args: argparse.Namespace, *, client_factory=open_client) -> int:
    def job() -> int:
        client = client_factory()
        bal = client.balance()
        print(f"account {client.config.account} ({client.config.env.value})")
        if bal.holdings:
            _show(holdings_table(bal))
        else:
            print("no holdings")
        print()
        _show(summary_table(bal))
        return 0

    return _run(job)


def keyring_available() -> bool:
    """False on machines without an OS keyring backend (headless Linux, containers)."""
    try:
        import keyring
        from keyring.backends import fail as no_keyring

        backend = keyring.get_keyring()
        return not isinstance(backend, no_keyring.Keyring) and getattr(backend, "priority", 1) > 0
    except Exception:  # noqa: BLE001 - any keyring trouble means: use the environment
        return False


def secrets(args: argparse.Namespace, *, prompt=getpass.getpass, store=keyring_set,
            available: Callable[[], bool] = keyring_available) -> int:
    """Prompt (no echo) for the app key, app secret (of `--account LABEL`) and bot token; keep them in the keyring."""
    env = getattr(args, "env", "mock")
    try:
        label = parse_label(getattr(args, "account", None) or "main")
    except ValueError as exc:
        return fail(f"--account: {exc}", 2)
    prefix = f"{env}_" if label == "main" else f"{env}_{label}_"
    variable = "KIS_" if label == "main" else f"KIS_{label.upper()}_"
    if not available():
        return fail(f"{NO_KEYRING_HINT}: {variable}APP_KEY, {variable}APP_SECRET, TELEGRAM_BOT_TOKEN "
                    f"(with KIS_ENV={env})", 2)
    wanted = [
        (f"{prefix}app_key", f"KIS app key ({env}{'' if label == 'main' else ', ' + label}): "),
        (f"{prefix}app_secret", f"KIS app secret ({env}{'' if label == 'main' else ', ' + label}): "),
        ("telegram_bot_token", "Telegram bot token (Enter to skip): "),
    ]
    stored = []
    for name, question in wanted:
        try:
            value = prompt(question).strip()
        except (EOFError, OSError):
            return fail("no terminal to type the secrets in; set KIS_APP_KEY and KIS_APP_SECRET in the "
                        "environment or .env instead", 2)
        if not value:
            continue
        store(name, value)
        stored.append(name)
    if not stored:
        return fail("nothing entered, nothing stored")
    print(f"stored {', '.join(stored)} in the OS keyring (service 'kisbot'). "
          f"Also set KIS_ENV={env} and KIS_ACCOUNT=12345678-01 in the environment or .env.")
    return 0
