"""`kisbot` command line: one sub-command per job, each implemented next to what it drives."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from bot import version
from bot.cli_common import add_plan_arguments, fail
from bot.lang import terminal_lang
from rebalance.i18n import t, using
from kis.errors import ConfigError

# sub-command -> "module:function"; the function takes the parsed args and returns an exit code.
COMMANDS = {
    "demo": "bot.console:demo",
    "run": "bot.telegram:run",
    "sim": "kis.sim.cli:main",
    "price": "bot.cli_account:price",
    "balance": "bot.cli_account:balance",
    "plan": "bot.cli_plan:plan",
    "model": "bot.cli_model:model",
    "secrets": "bot.cli_account:secrets",
    "doctor": "bot.cli_doctor:doctor",
    "report": "bot.reports:report",
    "perf": "bot.perf:perf",
    "health": "bot.health:health",
}


def port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(t("cli_lines.not_a_port", text=text))
    return value


def positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(t("cli_lines.not_positive", text=text))
    return value


def won(text: str) -> int:
    """A typed positive amount of won (`500000`, `50만`), read by rebalance.amounts."""
    from rebalance.amounts import AmountError, parse_amount

    try:
        value = parse_amount(text)
    except AmountError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive amount of won (e.g. 500000 or 50만)")
    return value


def dividend(text: str) -> tuple[str, int]:
    """`CODE:WON` (won a share) for `kisbot sim --dividend`."""
    code, _, per_share = text.partition(":")
    if not code or not per_share:
        raise argparse.ArgumentTypeError(f"{text} is not CODE:WON, e.g. 005930:361 (won a share)")
    return code.strip(), won(per_share)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kisbot", description="Run a KIS stock account from Telegram.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug lines to stderr")
    parser.add_argument("--version", action="version", version=f"kisbot {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="the simulator and a console chat: try everything, no account needed")
    demo.add_argument("--speed", type=positive, default=None, help="sim calls per second (default: quick)")

    sub.add_parser("run", help="run the Telegram bot with the configured token and account")

    sim = sub.add_parser("sim", help="run the paper KIS exchange on 127.0.0.1 in the foreground")
    sim.add_argument("--port", type=port, default=None, help="port (default 29443; 0 picks a free one)")
    sim.add_argument("--state", default=None, help="file that keeps the account across restarts")
    sim.add_argument("--rate-limit", type=positive, default=None, help="calls per second per account")
    sim.add_argument("--always-open", action="store_true",
                     help="accept orders at any hour (default: KRX sessions only, as KIS mock)")
    sim.add_argument("--after-market", action="store_true",
                     help="take KRX limit orders 16:00-20:00 as KRX's after-market (default off, as KIS mock)")
    sim.add_argument("--deposit", type=won, default=None, metavar="AMOUNT",
                     help="pay AMOUNT won into the paper account of the sim running on --port, then exit")
    sim.add_argument("--dividend", type=dividend, default=None, metavar="CODE:WON",
                     help="pay a dividend of WON a share on CODE held in the running sim (less 15.4 %% tax), then exit")
    sim.add_argument("--usd-cash", default=None, metavar="DOLLARS",
                     help="the paper account's dollar deposit for US stocks (default 20000)")
    sim.add_argument("--market", choices=("listed", "liquid", "thin"), default="listed",
                     help="the order book: every stock liquid (1-tick spread, deep) or thin (2-5 ticks, "
                          "a few million won deep); default: each stock as the stock list marks it")
    sim.add_argument("--accounts", default=None, metavar="LABEL[=NUMBER],...",
                     help="serve several accounts (default: KIS_ACCOUNTS), e.g. main,pension=50000001-22; each "
                          "label's KIS_<LABEL>_ACCOUNT and _APP_KEY as the bot reads them")
    sim.add_argument("--no-book", action="store_true",
                     help="no order book: orders fill at the walk's price at once, with no spread or queue")

    price = sub.add_parser("price", help="current price of one or more stocks")
    price.add_argument("codes", nargs="+", metavar="CODE",
                       help="6-character stock code (005930, 0013V0) or US ticker (AAPL, NYSE:KO)")

    sub.add_parser("balance", help="holdings and cash of the configured account")

    add_plan_arguments(sub.add_parser("plan", help="rebalance plan for a model portfolio .xlsx (default: the saved one)"))

    from bot.cli_model import add_model_arguments
    add_model_arguments(sub.add_parser("model", help="show, edit (set/add/rm/band/cash/undo), name or export the saved model"))

    doctor = sub.add_parser("doctor", help="check the configured account: settings, token, price, balance, "
                                           "buying power; --orders also times a test order")
    doctor.add_argument("--orders", action="store_true",
                        help="place one 1-share limit buy 20%% below the price, time its listing, cancel it")
    doctor.add_argument("--real", action="store_true", help="allow --orders on KIS_ENV=real (asks for the account)")
    doctor.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    doctor.add_argument("--code", default=None, help="the stock to look at (default 005930)")
    doctor.add_argument("--account", default=None, metavar="LABEL",
                        help="check this account of KIS_ACCOUNTS (default: the first); --orders passing on a "
                             "연금저축 turns its orders on")
    report = sub.add_parser("report", help="the daily report now: value, P/L, cash, today's fills, drift")
    report.add_argument("--chart", default=None, help="also write the value chart to this PNG file")

    perf = sub.add_parser("perf", help="returns over time from the value history: time- and money-weighted, "
                                       "contributions, costs, value vs net deposits")
    perf.add_argument("period", nargs="*", help="month, quarter, year or all (the default)")
    perf.add_argument("--chart", default=None, help="also write the value vs net deposits chart to this PNG file")

    sub.add_parser("health", help="environment, token, KIS calls today, active run, journal, version")

    secrets = sub.add_parser("secrets", help="store app key, app secret, bot token in the OS keyring")
    secrets.add_argument("action", choices=["set"], help="set: prompt for each secret without echo")
    secrets.add_argument("--env", choices=["mock", "real"], default="mock", help="which KIS environment")
    secrets.add_argument("--account", default="main", metavar="LABEL",
                         help="the account's label in KIS_ACCOUNTS (KIS issues keys per account; default main)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; its exit code. Ctrl-C at any point, imports included, exits 130 quietly."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return 130


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)  # imports the heavy modules (pandas, openpyxl): a second or two
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    module_name, func_name = COMMANDS[args.command].split(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        with using(terminal_lang(os.environ.get("KISBOT_LANG"))):  # `.env`'s KISBOT_LANG: bot/lang.py
            return int(func(args) or 0)
    except ConfigError as exc:
        return fail(str(exc), 2)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `kisbot balance | head`: the reader left; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
