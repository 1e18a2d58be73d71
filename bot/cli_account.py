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
from kis.codes import BadSymbol, is_code, normalize_code, shown as shown_code, split_symbol
from kis.markets import KRX, market_of
from kis.accounts import parse_label
from kis.config import NO_KEYRING_HINT, keyring_set
from kis.errors import KisError, KisTransportError, UnknownStock
from kis.models import Balance, Quote
from bot.cli_common import fail, failure_sentence
from bot.format import dollars, percent, signed, signed_dollars, won
from rebalance.i18n import t
from rebalance.text import one_line


def _frame(rows: Sequence[object], columns: Sequence[tuple[str, str, Callable[[Any], str]]]) -> pd.DataFrame:
    """One column per (title, attribute, format): the attribute of every row, formatted."""
    return pd.DataFrame({t(f"cli_lines.{title}"): [shown(getattr(row, name)) for row in rows]
                         for title, name, shown in columns})


# (catalogue key of the column's title, attribute, format)
QUOTE_COLUMNS = [("code", "code", str), ("name", "name", one_line), ("price", "price", won),
                 ("change", "change", signed), ("change_pct", "change_rate", percent), ("volume", "volume", won)]
US_QUOTE_COLUMNS = [("ticker", "symbol", str), ("exchange", "market", str), ("name", "name", one_line),
                    ("price_usd", "price", dollars), ("change", "change", signed_dollars),
                    ("change_pct", "change_rate", lambda r: percent(float(r))), ("volume", "volume", won)]
HOLDING_COLUMNS = [("code", "code", str), ("name", "name", one_line), ("qty", "qty", won),
                   ("sellable", "orderable_qty", won), ("avg_price", "avg_price", won), ("price", "price", won),
                   ("value", "value", won), ("pnl", "pnl", signed), ("pnl_pct", "pnl_rate", percent)]


def quotes_table(quotes: list[Quote]) -> pd.DataFrame:
    return _frame(quotes, QUOTE_COLUMNS)


def holdings_table(balance: Balance) -> pd.DataFrame:
    return _frame(balance.holdings, HOLDING_COLUMNS)


def summary_table(balance: Balance) -> pd.DataFrame:
    return pd.DataFrame({"": [t(f"cli_lines.{key}") for key in ("cash_today", "cash_d2", "stocks", "total", "pnl")],
                         t("cli_lines.won"): [won(balance.cash), won(balance.cash_d2), won(balance.stock_value),
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


def _bad_symbol(value: str) -> str:
    """The line for one input that is neither a KRX code nor a US ticker, in the terminal's language: a
    prefix that names no US exchange is said as such (the sentence /price says, without its full stop)."""
    try:
        prefix, _ = split_symbol(value)
    except BadSymbol:
        prefix = ""  # no symbol even after its prefix
    if prefix:
        return t("markets.bad_exchange", prefix=prefix, symbol=value.strip()).rstrip(".")
    return t("tidy.cli_bad_symbol", code=shown_code(value))


def price(args: argparse.Namespace, *, client_factory=open_client) -> int:
    def job() -> int:
        abroad: list[str] = []
        malformed: list[str] = []
        for c in args.codes:
            try:
                if market_of(c) is not KRX:
                    abroad.append(c.strip().upper())
            except BadSymbol:
                malformed.append(c)
        if malformed:
            if len(malformed) == 1 and not str(malformed[0]).strip()[:1].isalpha():
                return fail(t("cli_lines.bad_code", code=shown_code(malformed[0])))
            return fail(_bad_symbol(malformed[0]) if len(malformed) == 1 else
                        t("cli_lines.bad_codes", codes=", ".join(malformed)))
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
            return fail(t("cli_lines.unknown_codes", codes=", ".join(unknown)))
        if us_unknown:
            return fail(t("cli_lines.us_unknown", tickers=", ".join(us_unknown)))
        return 0

    return _run(job)


def balance(args: argparse.Namespace, *, client_factory=open_client) -> int:
    def job() -> int:
        client = client_factory()
        bal = client.balance()
        print(t("cli_lines.account", account=client.config.account, env=client.config.env.value))
        if bal.holdings:
            _show(holdings_table(bal))
        else:
            print(t("cli_lines.no_holdings"))
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
        return fail(t("cli_lines.no_keyring", hint=NO_KEYRING_HINT, variable=variable, env=env), 2)
    which = env if label == "main" else f"{env}, {label}"
    wanted = [
        (f"{prefix}app_key", t("cli_lines.ask_key", which=which)),
        (f"{prefix}app_secret", t("cli_lines.ask_secret", which=which)),
        ("telegram_bot_token", t("cli_lines.ask_token")),
    ]
    stored = []
    for name, question in wanted:
        try:
            value = prompt(question).strip()
        except (EOFError, OSError):
            return fail(t("cli_lines.no_terminal"), 2)
        if not value:
            continue
        store(name, value)
        stored.append(name)
    if not stored:
        return fail(t("cli_lines.nothing_stored"))
    print(t("cli_lines.stored", names=", ".join(stored), env=env))
    return 0
