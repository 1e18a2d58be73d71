"""Read a model portfolio `.xlsx` into a validated `Portfolio`, or say every problem with its row.

Rows are numbered as Excel shows them. Nothing is planned from a file with any problem in it.
"""
from __future__ import annotations

import io
import math
import numbers
import re
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Iterable

import pandas as pd

from kis.codes import CODE_HELP, BadStockCode, normalize_code
from rebalance.model import Portfolio, Target

MAX_FILE_BYTES = 1_000_000
# Far beyond any portfolio a person rebalances by chat; prices alone would take minutes at 1 call/s.
MAX_STOCKS = 1_000
# A 1 MB zip can unpack to gigabytes of sheet XML: refuse before parsing (a real portfolio is < 1 MB).
MAX_UNPACKED_BYTES = 20_000_000
# How far down a sheet the header row may sit (a title or a note above the table is common).
HEADER_SEARCH_ROWS = 20
# A weight column is read as percent when its numbers add up to more than this.
PERCENT_THRESHOLD = 1.5
# Float rounding in a column of fractions (e.g. 3 x 0.3333) must not count as "over 100 %".
SUM_TOLERANCE = 1e-6

CODE_HEADERS = ("종목코드", "code", "ticker")
WEIGHT_HEADERS = ("비중", "weight", "목표비중")
NAME_HEADERS = ("종목명", "name")

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls


class PortfolioError(ValueError):
    """A model portfolio file that cannot be used; `problems` lists each one with its row and fix."""

    def __init__(self, problems: Iterable[str], source: str = ""):
        self.problems = tuple(problems)
        self.source = source
        where = f"{source}: " if source else ""
        if len(self.problems) == 1:
            text = f"{where}{self.problems[0]}"
        else:
            text = f"{where}{len(self.problems)} problems:\n" + "\n".join(f"- {p}" for p in self.problems)
        super().__init__(text)

    def one_line(self) -> str:
        """All problems on one line, for a terminal or a log."""
        where = f"{self.source}: " if self.source else ""
        return where + "; ".join(self.problems)


def read_portfolio(source: str | Path | bytes, *, name: str = "") -> Portfolio:
    """Read the model portfolio from a file path or the file's bytes (e.g. a Telegram upload).

    Weights are fractions of the investable value; a column adding up to more than 1.5 is read as
    percent (10 = 10 %), a cell written "10%" is percent whatever the column; no weight column
    means equal weights. Raises PortfolioError listing every problem found.
    """
    data, label = _load_bytes(source, name)
    sheets = _parse_workbook(data, label)
    table, header_row, columns = _find_table(sheets, label)
    return _read_table(table, header_row, columns, label)


def unknown_codes_error(portfolio: Portfolio, codes: Iterable[str]) -> PortfolioError:
    """The error for codes the broker does not know, naming the rows they came from."""
    rows = {t.code: t.row for t in portfolio.targets}
    problems = []
    for code in codes:
        if rows.get(code):
            problems.append(f"종목코드 '{code}' is not a stock the broker knows (row {rows[code]}): "
                            "check the code or remove the row")
        elif code in rows:
            problems.append(f"종목코드 '{code}' is not a stock the broker knows: check the code")
        else:
            problems.append(f"held stock '{code}' has no price at the broker (not in the file): "
                            "it may be delisted or suspended; sell or remove it by hand first")
    return PortfolioError(problems, portfolio.source)


def _load_bytes(source: str | Path | bytes, name: str) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = name
    else:
        path = Path(source)
        label = name or path.name
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise PortfolioError([_too_big(size)], label)
            data = path.read_bytes()
        except FileNotFoundError:
            raise PortfolioError([f"no such file '{path}': check the path"], label) from None
        except IsADirectoryError:
            raise PortfolioError([f"'{path}' is a folder, not a file: give the .xlsx file"], label) from None
        except PermissionError:
            raise PortfolioError([f"cannot read '{path}' (permission denied): check its permissions"],
                                 label) from None
    if len(data) > MAX_FILE_BYTES:
        raise PortfolioError([_too_big(len(data))], label)
    return data, label


def _too_big(size: int) -> str:
    return (f"the file is {size / 1_000_000:.1f} MB, over the {MAX_FILE_BYTES // 1_000_000} MB limit: "
            "keep only the portfolio sheet")


def _parse_workbook(data: bytes, label: str) -> dict[str, pd.DataFrame]:
    if not data:
        raise PortfolioError(["the file is empty: save the portfolio as an Excel .xlsx file"], label)
    if data.startswith(_OLE_MAGIC):
        raise PortfolioError(["this is an old .xls workbook: save it as .xlsx (Excel Workbook) and send it again"],
                             label)
    if not data.startswith(_ZIP_MAGIC):
        raise PortfolioError(["not an .xlsx file: save the portfolio as an Excel .xlsx workbook"], label)
    unpacked = _unpacked_size(data)
    if unpacked > MAX_UNPACKED_BYTES:
        raise PortfolioError([f"the workbook unpacks to {unpacked / 1_000_000:.0f} MB, over the "
                              f"{MAX_UNPACKED_BYTES // 1_000_000} MB limit: keep only the portfolio sheet"], label)
    try:
        with pd.ExcelFile(io.BytesIO(data), engine="openpyxl") as workbook:
            if not workbook.sheet_names:
                raise PortfolioError(["the workbook has no sheet: put the portfolio on a sheet"], label)
            # header=None keeps blank rows, so the frame's index + 1 is the row number Excel shows;
            # no NA parsing, so a cell reading 'NA' is shown back to the user rather than called empty.
            sheets = pd.read_excel(workbook, sheet_name=None, header=None, dtype=object, keep_default_na=False)
    except PortfolioError:
        raise
    except Exception:  # noqa: BLE001 - openpyxl raises many types for a damaged or foreign zip
        raise PortfolioError(["cannot read the file as an .xlsx workbook (damaged or another format): "
                              "open it in Excel and save it as .xlsx"], label) from None
    return sheets


def _unpacked_size(data: bytes) -> int:
    """What the .xlsx zip says it holds once unpacked (0 if unreadable: the parser then says so)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0


def _header_key(value: object) -> str:
    """Header cells match case-insensitively and ignoring spaces ('Code ', '목표 비중')."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return re.sub(r"\s+", "", str(value)).lower()


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _find_table(sheets: dict[str, pd.DataFrame], label: str) -> tuple[list[list[object]], int, dict[str, int]]:
    """The first sheet with a code column: its rows, the header row's index, and column positions by role."""
    first_headers: list[str] | None = None
    for frame in sheets.values():
        table = frame.to_numpy(dtype=object).tolist()
        for row_index, cells in enumerate(table[:HEADER_SEARCH_ROWS]):
            if all(_blank(c) for c in cells):
                continue
            keys = [_header_key(c) for c in cells]
            columns = _roles(keys)
            if "code" in columns:
                return table, row_index, columns
            if first_headers is None:
                first_headers = [str(c).strip() for c in cells if not _blank(c)]
    if first_headers is None:
        raise PortfolioError(["the sheet is empty: put a 종목코드 column header in row 1 and one stock per row"],
                             label)
    found = ", ".join(f"'{h}'" for h in first_headers)
    raise PortfolioError([f"no 종목코드 column (columns found: {found}): name the code column "
                          "종목코드 (or code / ticker)"], label)


def _roles(keys: list[str]) -> dict[str, int]:
    roles: dict[str, int] = {}
    for position, key in enumerate(keys):
        for role, names in (("code", CODE_HEADERS), ("weight", WEIGHT_HEADERS), ("name", NAME_HEADERS)):
            if key in {n.lower() for n in names} and role not in roles:
                roles[role] = position
    return roles


def _read_table(table: list[list[object]], header_index: int, columns: dict[str, int], label: str) -> Portfolio:
    header = table[header_index]
    code_header = str(header[columns["code"]]).strip()
    weight_header = str(header[columns["weight"]]).strip() if "weight" in columns else ""
    problems: list[str] = []
    rows: list[tuple[int, str, object, str]] = []  # (excel row, code, raw weight, name)
    for index in range(header_index + 1, len(table)):
        cells = table[index]
        if all(_blank(c) for c in cells):
            continue
        excel_row = index + 1
        raw_code = cells[columns["code"]]
        raw_weight = cells[columns["weight"]] if "weight" in columns else None
        name = _text(cells[columns["name"]]) if "name" in columns else ""
        code = _normalize_code(raw_code)
        if _blank(raw_code):
            problems.append(f"row {excel_row} has no {code_header}: fill it in or delete the row")
        elif code is None:
            problems.append(f"{code_header} '{_text(raw_code)}' is not {CODE_HELP} (row {excel_row})")
        rows.append((excel_row, code or "", raw_weight, name))

    if not rows:
        raise PortfolioError([f"no stocks under the {code_header} header: add one stock per row"], label)
    if len(rows) > MAX_STOCKS:
        raise PortfolioError([f"the file lists {len(rows):,} stocks, over the limit of {MAX_STOCKS:,}: "
                              "split the portfolio or keep the largest weights"], label)

    by_code: dict[str, list[int]] = defaultdict(list)
    for excel_row, code, _, _ in rows:
        if code:
            by_code[code].append(excel_row)
    for code, where in by_code.items():
        if len(where) > 1:
            listed = ", ".join(str(r) for r in where[:-1]) + f" and {where[-1]}"
            problems.append(f"{code_header} '{code}' appears {len(where)} times (rows {listed}): keep one row")

    if "weight" in columns:
        weights = _read_weights([(r, w) for r, _, w, _ in rows], weight_header, problems)
    else:
        weights = [1 / len(rows)] * len(rows)

    if problems:
        raise PortfolioError(problems, label)
    targets = tuple(Target(code=code, weight=weight, name=name, row=excel_row)
                    for (excel_row, code, _, name), weight in zip(rows, weights))
    return Portfolio(targets=targets, source=label)


def _text(value: object) -> str:
    if _blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _normalize_code(value: object) -> str | None:
    """The stock code a cell means (kis.codes: 5930 becomes '005930', '0013v0' '0013V0'); None if it is none."""
    if _blank(value):
        return None
    try:
        return normalize_code(value)
    except BadStockCode:
        return None


def _read_weights(cells: list[tuple[int, object]], header: str, problems: list[str]) -> list[float]:
    """Numbers of the weight column as fractions; problems are appended, bad cells read as 0."""
    parsed: list[tuple[int, float, bool]] = []  # (row, number, written with '%')
    for excel_row, raw in cells:
        if _blank(raw):
            problems.append(f"{header} is empty (row {excel_row}): give a weight, 0 to sell it all, "
                            "or delete the row")
            parsed.append((excel_row, 0.0, False))
            continue
        number, percent = _weight_number(raw)
        if number is None:
            problems.append(f"{header} '{_text(raw)}' is not a number (row {excel_row}): write e.g. 0.1 or 10%")
            number = 0.0
        elif number < 0:
            problems.append(f"{header} {_text(raw)} is negative (row {excel_row}): weights are 0 or more")
            number = 0.0
        parsed.append((excel_row, number, percent))

    plain_sum = math.fsum(n for _, n, pct in parsed if not pct)
    as_percent = any(pct for _, _, pct in parsed) or plain_sum > PERCENT_THRESHOLD
    weights = [n / 100 if (pct or as_percent) else n for _, n, pct in parsed]
    total = math.fsum(weights)
    if parsed and total == 0 and not problems:
        problems.append(f"{header} is 0 for every stock, which would sell the whole portfolio: give the "
                        "weights, or leave the column out for equal weights")
    if total > 1 + SUM_TOLERANCE:
        how = "percent" if as_percent else "fractions (the column adds up to 1.5 or less)"
        problems.append(f"{header} adds up to {total * 100:.4g} %, over 100 % (read as {how}): "
                        "lower the weights so they add up to 100 % or less")
    return weights


def _weight_number(raw: object) -> tuple[float | None, bool]:
    if isinstance(raw, bool):
        return None, False
    if isinstance(raw, numbers.Real):
        value = float(raw)
        return (value, False) if math.isfinite(value) else (None, False)
    text = str(raw).strip()
    percent = text.endswith("%")
    if percent:
        text = text[:-1].strip()
    try:
        value = float(text)
    except ValueError:
        return None, False
    return (value, percent) if math.isfinite(value) else (None, False)
