"""`kisbot model ...`: the chat's /model edits on the command line, and `kisbot model export FILE.xlsx`."""
from __future__ import annotations

import argparse
import logging
from datetime import datetime
from pathlib import Path

from bot.cli_common import fail
from kis.krx import KST
from rebalance.i18n import t
from rebalance.model_store import ModelState, VersionedModels

log = logging.getLogger(__name__)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("words", nargs="*", metavar="WORDS",
                        help="set CODE PCT | add CODE PCT | rm CODE | band CODE PCT | cash PCT | undo | history | "
                             "diff N | save NAME | use NAME | list | export FILE.xlsx (none: show the model)")


def export_xlsx(state: ModelState, path: str | Path) -> None:
    """Write `state` as an .xlsx that rebalance.portfolio.read_portfolio reads back as the same targets."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "model"
    sheet.append(["종목코드", "종목명", "비중", "밴드"])
    for number, target in enumerate(state.targets, start=2):
        sheet.append([target.code, target.name or None, target.weight,
                      None if target.band is None else target.band])
        sheet.cell(number, 1).number_format = "@"
        sheet.cell(number, 3).number_format = "0.0%"
        sheet.cell(number, 4).number_format = "0.0%"
    book.save(path)


def model(args: argparse.Namespace) -> int:
    """Show, edit or export the configured account's saved model; a refusal is one line, exit 1."""
    from kis import open_client
    from bot.model_edits import ModelContext, model_command

    client = open_client()
    versions = VersionedModels(client.config.data_dir, client.config.account)
    words = list(args.words)
    if words[:1] == ["export"]:
        if len(words) != 2 or not words[1].lower().endswith(".xlsx"):
            return fail(t("model_edit.export_usage"))
        current = versions.current()
        if current is None:
            return fail(t("model_edit.none"))
        try:
            export_xlsx(current.state, words[1])
        except OSError as exc:
            return fail(f"{words[1]}: {exc.strerror or exc}")
        print(t("model_edit.exported", version=current.id, count=len(current.state.targets), path=words[1]))
        return 0
    before = versions.current()
    def check_code(code: str) -> bool | None:
        from kis.errors import UnknownStock
        try:
            client.prices([code])
        except UnknownStock:
            return False
        except Exception:  # KIS unreachable: the code's shape was checked; /plan asks KIS again
            log.debug("checking %s", code, exc_info=True)
            return None
        return True

    context = ModelContext(who="cli", now=lambda: datetime.now(KST), check_code=check_code,
                           us_market=lambda ticker: client.us_market(ticker).code)
    text = model_command(versions, words, context)
    after = versions.current()
    changed = (before.id if before else None) != (after.id if after else None)
    if words and words[0].lower() not in ("history", "list", "diff") and not changed:
        return fail(text)
    print(text)
    return 0
