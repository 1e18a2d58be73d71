"""What the `kisbot` sub-commands share: the one-line failure on stderr, KIS failures as sentences, and the
`plan` arguments (the parser in bot/cli.py and the command in bot/cli_plan.py both need them); it imports
none of the commands, so none of them imports another."""
from __future__ import annotations

import argparse
import sys

from kis.errors import KisError, KisTransportError, OverseasNotEnabled, UnknownStock
from rebalance.i18n import t


def fail(message: str, code: int = 1) -> int:
    """Say `message` on stderr as `kisbot: message`; returns the exit code (1: KIS or the input said no)."""
    print(f"kisbot: {message}", file=sys.stderr)
    return code


def failure_sentence(exc: KisError | KisTransportError) -> str:
    """One line that says what went wrong with a KIS call and what to do."""
    if isinstance(exc, UnknownStock):
        return t("cli_lines.unknown_codes", codes=", ".join(exc.codes))
    if isinstance(exc, OverseasNotEnabled):
        return t("usmore.overseas_not_enabled", code=exc.msg_cd or "-", reason=exc.msg1)
    if isinstance(exc, KisError):
        return t("cli_lines.kis_refused", why=exc.msg1 or exc, msg_cd=exc.msg_cd or t("cli_lines.no_code"))
    return t("cli_lines.no_answer", why=exc)


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    """The `plan` sub-command's arguments."""
    parser.add_argument("file", nargs="?", default=None,
                        help="the .xlsx file with a 종목코드 column (default: the saved model)")
    parser.add_argument("--buy-only", action="store_true", help="no sells: invest the cash toward the targets")
    parser.add_argument("--amount", default=None, metavar="WON", help="with --buy-only: spend at most this")
    parser.add_argument("--sell-amount", default=None, metavar="WON",
                        help="no buys: raise at least this after fees and tax, most overweight first")
    parser.add_argument("--keep-others", action="store_true", help="leave holdings outside the model alone")
    parser.add_argument("--band", default=None, metavar="P",
                        help="trade a stock only when its weight is outside target ± P percentage points")
    parser.add_argument("--min-trade", default=None, metavar="WON", help="skip trades smaller than this")
    parser.add_argument("--loc", action="store_true",
                        help="real accounts: LOC orders before the US close for what is left of the US legs")
    parser.add_argument("--daytime", action="store_true",
                        help="real accounts: US legs as 주간거래 (daytime) limit orders")
    parser.add_argument("--chart", default=None, help="also write the weights chart to this PNG file")
    parser.add_argument("--json", action="store_true", help="print the plan as one JSON object")
