"""Read a model portfolio `.xlsx` into a validated `Portfolio`, or say every problem with its row.

Rows are numbered as Excel shows them. Nothing is planned from a file with any problem in it, and a
file is read with openpyxl's streaming reader cut at fixed row and column limits, so memory stays
small whatever size the sheet declares.
"""
from __future__ import annotations

import io
import math
import numbers
import re
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from kis.codes import BadStockCode, BadSymbol, is_ticker, normalize_code, split_symbol
from kis.markets import market_named, market_of
from rebalance.i18n import Msg, t
from rebalance.model import Portfolio, Target

MAX_FILE_BYTES = 1_000_000  # a model portfolio is a few KB; refuse anything that could hurt
# Far beyond any portfolio a person rebalances by chat; prices alone would take minutes at 1 call/s.
MAX_STOCKS = 1_000
# A 1 MB zip can unpack to gigabytes of sheet XML: refuse before parsing (a real portfolio is < 1 MB).
MAX_UNPACKED_BYTES = 20_000_000
# How far down a sheet the header row may sit (a title or a note above the table is common).
HEADER_SEARCH_ROWS = 20
# The part of a sheet that is read. One stray cell can make a 5 KB sheet declare 1,048,576 rows x 16,384
# columns; nothing is built beyond these limits. A value below ROW_LIMIT is refused, never skipped
# (it could be a stock); columns right of COLUMN_LIMIT are never looked at.
ROW_LIMIT = HEADER_SEARCH_ROWS + 2 * MAX_STOCKS
COLUMN_LIMIT = 100
# A weight column of plain numbers is read as percent when they add up to more than this.
PERCENT_THRESHOLD = 1.5
# A refusal lists at most this many problems, then counts the rest.
SHOWN_PROBLEMS = 20
# Float rounding in a column of fractions (e.g. 3 x 0.3333) must not count as "over 100 %".
SUM_TOLERANCE = 1e-6

# What a header cell may say, by the role of its column: the one table of column names. A header
# matches ignoring case, spaces, '_' and '-', fullwidth forms, and a unit suffix such as '(%)', '%' or
# 'pct' (which says the column is in percent). To read a new column, add a role here and read it in
# `_read_table`.
HEADERS: dict[str, tuple[str, ...]] = {
    "code": ("종목코드", "code", "ticker", "stock code"),
    "weight": ("비중", "목표비중", "투자비중", "편입비중", "목표", "비율", "목표비율", "투자비율", "편입비율", "배분",
               "weight", "weights", "target weight", "target", "portion", "allocation", "pct", "percent",
               "퍼센트", "%"),
    "name": ("종목명", "name", "stock name"),
    "band": ("밴드", "band"),  # tolerance band per stock, in percentage points (2 = ±2 %p)
    "exchange": ("거래소", "exchange", "market", "시장"),  # a US ticker's exchange: NASD, NYSE, AMEX (KRX rows: ignored)
    "qty": ("수량", "주수", "보유수량", "quantity", "qty", "shares"),  # never planned from; a fraction is refused
}
# What an exchange cell may say when it names no exchange: the ticker's is then KIS's to look up.
NO_EXCHANGE_WORDS = frozenset({"", "US", "USA", "미국", "해외", "KRX", "KOSPI", "KOSDAQ", "KONEX", "국내"})
# The weight headers a refusal names (HEADERS has more).
WEIGHT_HEADERS_SHOWN = ("비중", "목표비중", "weight", "target", "pct")
# A header holding one of these (or only '%') over numbers looks like weights: if it is not the weight
# column the file is refused, since the user most likely meant it and would get other weights.
# ('비율' and 'ratio' are left out: 부채비율, PBR ratio are common factor columns.)
WEIGHT_HINTS = ("비중", "weight", "alloc", "배분", "portion")

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls
_HEADER_NOISE = re.compile(r"[\s_\-]+")
_PERCENT_UNIT = re.compile(r"[(\[]?(%|pct|percent|퍼센트)[)\]]?$")


class PortfolioError(ValueError):
    """A model portfolio file that cannot be used; `problems` lists each one with its row and fix, in the
    language current where it is read (each is kept as a `Msg` until then)."""

    def __init__(self, problems: Iterable[str | Msg], source: str = ""):
        self._problems = tuple(problems)
        self.source = source
        super().__init__(*self._problems)

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(str(p) for p in self._problems)

    def _where(self) -> str:
        return t("portfolio_errors.where", source=self.source) if self.source else ""

    def __str__(self) -> str:
        if len(self._problems) == 1:
            return t("portfolio_errors.one", where=self._where(), problem=str(self._problems[0]))
        return "\n".join([t("portfolio_errors.many", where=self._where(), n=len(self._problems)),
                          *(f"- {p}" for p in self._shown())])

    def _shown(self) -> list[str]:
        """The first SHOWN_PROBLEMS problems and a count of the rest: a 1,000-row file of wrong codes
        is one message, not 25 of them."""
        rest = len(self._problems) - SHOWN_PROBLEMS
        if rest <= 0:
            return list(self.problems)
        return [*self.problems[:SHOWN_PROBLEMS], t("portfolio_errors.more_like_these", n=rest)]

    def one_line(self) -> str:
        """All problems on one line, for a terminal or a log."""
        return self._where() + "; ".join(self._shown())


def read_portfolio(source: str | Path | bytes, *, name: str = "") -> Portfolio:
    """Read the model portfolio from a file path or the file's bytes (e.g. a Telegram upload).

    Weights are fractions of the investable value (see `_read_weights` for percent); no weight column
    means equal weights. `Portfolio.notes` says which sheet and weight column were read and how.
    Raises PortfolioError listing every problem found.
    """
    data, label = _load_bytes(source, name)
    grid, header, sheet_count = _read_workbook(data, label)
    return _read_table(grid, header, sheet_count, label)


def unknown_codes_error(portfolio: Portfolio, codes: Iterable[str]) -> PortfolioError:
    """The error for codes the broker does not know, naming the rows they came from."""
    rows = {t.code: t.row for t in portfolio.targets}
    problems = []
    for code in codes:
        if rows.get(code):
            problems.append(Msg("portfolio_errors.unknown_code_row", code=code, row=rows[code]))
        elif code in rows:
            problems.append(Msg("portfolio_errors.unknown_code", code=code))
        else:
            problems.append(Msg("portfolio_errors.held_no_price", code=code))
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
            with path.open("rb") as file:  # a device or pipe reports size 0: read no more than the limit
                data = file.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            raise PortfolioError([Msg("portfolio_errors.no_file", path=str(path))], label) from None
        except IsADirectoryError:
            raise PortfolioError([Msg("portfolio_errors.folder", path=str(path))], label) from None
        except PermissionError:
            raise PortfolioError([Msg("portfolio_errors.permission", path=str(path))],
                                 label) from None
        except OSError as exc:  # a name too long, a broken disk, ...
            raise PortfolioError([Msg("portfolio_errors.unreadable", path=_short(str(path)),
                                      reason=exc.strerror or str(exc))],
                                 _short(label)) from None
    if len(data) > MAX_FILE_BYTES:
        raise PortfolioError([_too_big(len(data))], label)
    return data, label


def _short(text: str, limit: int = 80) -> str:
    """`text` cut to `limit` characters with an ellipsis, for a message that names a path."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _too_big(size: int) -> Msg:
    return Msg("portfolio_errors.too_big", mb=size / 1_000_000, limit=MAX_FILE_BYTES // 1_000_000)


@dataclass
class _Grid:
    """A sheet's cells as read: `rows[i][j]` is the value at Excel row i+1, column j+1."""

    title: str
    rows: list[tuple[object, ...]]
    percent_format: set[tuple[int, int]] = field(default_factory=set)  # cells shown as '50%' (0.5)
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)  # formula text by cell
    beyond: str = ""  # address of the first value below ROW_LIMIT, '' when there is none
    path: str = ""  # the sheet's part in the .xlsx zip, to read which rows and columns are hidden
    hidden_rows: set[int] = field(default_factory=set)  # row indexes (0-based) Excel does not show
    hidden_columns: set[int] = field(default_factory=set)  # column indexes (0-based) Excel does not show


@dataclass(frozen=True)
class _Header:
    """The header row of a table and its columns by role (a role's every column, for duplicates)."""

    index: int
    roles: dict[str, list[int]]
    percent_unit: set[int]  # columns whose header carries a '%' unit


def _open_workbook(data: bytes, label: str, *, data_only: bool):
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    except Exception:  # noqa: BLE001 - openpyxl raises many types for a damaged or foreign zip
        raise PortfolioError([Msg("portfolio_errors.damaged")], label) from None


def _check_container(data: bytes, label: str) -> None:
    if not data:
        raise PortfolioError([Msg("portfolio_errors.empty_file")], label)
    if data.startswith(_OLE_MAGIC):
        raise PortfolioError([Msg("portfolio_errors.old_xls")],
                             label)
    if not data.startswith(_ZIP_MAGIC):
        raise PortfolioError([Msg("portfolio_errors.not_xlsx")], label)
    unpacked = _unpacked_size(data)
    if unpacked > MAX_UNPACKED_BYTES:
        raise PortfolioError([Msg("portfolio_errors.unpacks_big", mb=unpacked / 1_000_000,
                                  limit=MAX_UNPACKED_BYTES // 1_000_000)], label)


def _unpacked_size(data: bytes) -> int:
    """What the .xlsx zip says it holds once unpacked (0 if unreadable: the parser then says so)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0


def _read_workbook(data: bytes, label: str) -> tuple[_Grid, _Header, int]:
    """The portfolio sheet, cut at the limits, with formula cells holding their saved values."""
    _check_container(data, label)
    book = _open_workbook(data, label, data_only=False)
    try:
        try:
            grid, header, sheet_count = _choose_sheet(book, label)
        finally:
            book.close()
        grid.hidden_rows, grid.hidden_columns = _hidden_parts(data, grid.path, len(grid.rows))
        if grid.formulas:
            # Formula text came from the first pass; the values Excel saved with them need a second one.
            saved = _open_workbook(data, label, data_only=True)
            try:
                values = _grid(saved[grid.title], len(grid.rows)).rows
            finally:
                saved.close()
            # A formula with no saved value reads as None (the second pass drops such rows at the end).
            grid.rows = [tuple((values[i][j] if i < len(values) else None) if (i, j) in grid.formulas else v
                               for j, v in enumerate(row)) for i, row in enumerate(grid.rows)]
    except PortfolioError:
        raise
    except Exception:  # noqa: BLE001 - a sheet's XML can be damaged past the workbook's table of contents
        raise PortfolioError([Msg("portfolio_errors.damaged")], label) from None
    return grid, header, sheet_count


def _grid(sheet, max_rows: int, *, look_below: bool = False) -> _Grid:
    """Stream at most `max_rows` x COLUMN_LIMIT cells of `sheet`; with `look_below`, go on only to find
    the first value further down (nothing is kept from there)."""
    rows: list[tuple[object, ...]] = []
    percent: set[tuple[int, int]] = set()
    formulas: dict[tuple[int, int], str] = {}
    beyond, gap = "", None
    if look_below:
        sheet.reset_dimensions()  # rows end where the sheet's XML ends, not at its declared size
    for i, cells in enumerate(sheet.iter_rows(min_row=1, max_row=None if look_below else max_rows,
                                              min_col=1, max_col=COLUMN_LIMIT)):
        if i >= max_rows:
            if cells is gap:  # openpyxl yields one shared tuple for every missing row: skip it at once
                continue
            found = next((cell for cell in cells if cell.value is not None), None)
            if found is not None:
                beyond = f"{get_column_letter(cells.index(found) + 1)}{i + 1}"
                break
            gap = cells
            continue
        values = []
        for j, cell in enumerate(cells):
            value = cell.value
            if cell.data_type == "f":
                formulas[(i, j)] = str(value)
            if "%" in (cell.number_format or ""):
                percent.add((i, j))  # counts only for a number (a formula's is known after the second pass)
            values.append(value)
        rows.append(tuple(values))
    while rows and all(_blank(v) for v in rows[-1]):
        rows.pop()  # the reader pads to max_rows when a row further down exists
    return _Grid(sheet.title, rows, percent, formulas, beyond, path=getattr(sheet, "_worksheet_path", ""))


def _hidden_parts(data: bytes, path: str, max_rows: int) -> tuple[set[int], set[int]]:
    """The rows (within the first `max_rows`) and columns (within COLUMN_LIMIT) the sheet's XML marks hidden
    or zero-sized, as 0-based indexes; openpyxl's streaming reader yields their values as if shown.

    Only the <row> and <col> tags are looked at (a scan of the XML text, not a second parse of every cell:
    text in a cell cannot hold a raw '<')."""
    rows: set[int] = set()
    columns: set[int] = set()
    if not path:
        return rows, columns
    number = 0  # a <row> without r="..." is the one after the last
    for tag, attributes in _tags(data, path):
        if tag == b"col":
            if _hides(attributes, b"width"):
                low, high = _int(attributes.get(b"min"), 1), _int(attributes.get(b"max"), 1)
                columns.update(range(max(low, 1) - 1, min(high, COLUMN_LIMIT)))
            continue
        number = _int(attributes.get(b"r"), number + 1)
        if number > max_rows:
            break
        if _hides(attributes, b"ht"):
            rows.add(number - 1)
    return rows, columns


def _tags(data: bytes, path: str, chunk: int = 1 << 20) -> Iterator[tuple[bytes, dict[bytes, bytes]]]:
    """Each <row> and <col> tag of the zip member `path` with its attributes, read a chunk at a time."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(path) as source:
        carry = b""
        while True:
            block = source.read(chunk)
            text = carry + block
            cut = len(text) if not block else text.rfind(b"<")  # a tag cut by the chunk waits for the next
            cut = len(text) if cut < 0 else cut
            for match in _ROW_OR_COL.finditer(text, 0, cut):
                yield match[1], dict(_ATTRIBUTE.findall(match[2]))
            carry = text[cut:]
            if not block:
                return


_ROW_OR_COL = re.compile(rb"<(?:\w+:)?(row|col)\b([^>]*)>")
_ATTRIBUTE = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')


def _int(text: bytes | None, default: int) -> int:
    try:
        return int(float(text)) if text else default
    except ValueError:
        return default


def _hides(attributes: dict[bytes, bytes], size: bytes) -> bool:
    """True for a <row> or <col> marked hidden, or given a custom size of 0."""
    if attributes.get(b"hidden") in (b"1", b"true"):
        return True
    try:
        return size in attributes and float(attributes[size]) == 0
    except ValueError:
        return False


def _choose_sheet(book, label: str) -> tuple[_Grid, _Header, int]:
    """The sheet the workbook opens on if it is visible and has a code column, else the only visible one
    that has one; anything else is ambiguous and refused naming the sheets."""
    sheets = list(book.worksheets)
    if not sheets:
        raise PortfolioError([Msg("portfolio_errors.no_sheet")], label)
    visible = [s for s in sheets if s.sheet_state == "visible"]
    # One sheet (the usual case) is read whole at once; of several, only the top rows until one is chosen.
    tops = {s.title: _grid(s, ROW_LIMIT, look_below=True) if len(sheets) == 1 else _grid(s, HEADER_SEARCH_ROWS)
            for s in sheets}
    headers = {title: _find_header(grid.rows) for title, grid in tops.items()}
    tables = [s for s in visible if headers[s.title] is not None]
    active = book.active if book.active in visible else None
    if active is not None and headers[active.title] is not None:
        chosen = active
    elif len(tables) == 1:
        chosen = tables[0]
    elif tables:
        opens_on = f"'{active.title}'" if active is not None else Msg("portfolio_errors.a_hidden_sheet")
        raise PortfolioError([Msg("portfolio_errors.ambiguous_sheets", sheets=_names(tables), opens_on=opens_on)],
                             label)
    else:
        hidden = [s for s in sheets if s.sheet_state != "visible" and headers[s.title] is not None]
        if hidden:
            raise PortfolioError([Msg("portfolio_errors.hidden_sheet", sheets=_names(hidden))], label)
        raise _no_code_column(tops[(active or (visible or sheets)[0]).title].rows, label)
    header = headers[chosen.title]
    assert header is not None
    grid = tops[chosen.title] if len(sheets) == 1 else _grid(chosen, ROW_LIMIT, look_below=True)
    return grid, header, len(sheets)


def _names(sheets) -> str | Msg:
    return _and([f"'{s.title}'" for s in sheets])


def _and(items: list) -> str | Msg:
    """'a', 'a and b', 'a, b and c' (in Korean 'a, b, c'), rendered where shown."""
    if len(items) == 1:
        return items[0]
    return Msg("portfolio_errors.list_and", head=", ".join(str(i) for i in items[:-1]), last=items[-1])


def _no_code_column(rows: list[tuple[object, ...]], label: str) -> PortfolioError:
    first = next((row for row in rows if not all(_blank(c) for c in row)), None)
    if first is None:
        return PortfolioError([Msg("portfolio_errors.empty_sheet")], label)
    found = ", ".join(f"'{str(c).strip()}'" for c in first if not _blank(c))
    return PortfolioError([Msg("portfolio_errors.no_code_column", found=found)], label)


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _header_key(value: object) -> tuple[str, bool]:
    """A header cell as compared ('Code ', '목표 비중', 'Weight (%)' -> 'weight'), and whether it says '%'."""
    if _blank(value):
        return "", False
    key = _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", str(value))).lower()
    unit = _PERCENT_UNIT.search(key)
    if unit and unit.start() > 0:
        return key[:unit.start()], True
    return key, unit is not None  # 'pct' or '%' alone: a header that is only its unit


_ROLE_OF = {_header_key(name)[0]: role for role, names in HEADERS.items() for name in names}


def _find_header(rows: list[tuple[object, ...]]) -> _Header | None:
    """The first of the top rows with a code column, or None."""
    for index, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        roles: dict[str, list[int]] = defaultdict(list)
        percent_unit = set()
        for position, cell in enumerate(cells):
            key, percent = _header_key(cell)
            role = _ROLE_OF.get(key)
            if role:
                roles[role].append(position)
                if percent:
                    percent_unit.add(position)
        if "code" in roles:
            return _Header(index, dict(roles), percent_unit)
    return None


def _column_name(header_cells: tuple[object, ...], position: int) -> Msg:
    return Msg("portfolio_errors.column", letter=get_column_letter(position + 1),
               header=str(header_cells[position]).strip())


def _read_table(grid: _Grid, header: _Header, sheet_count: int, label: str) -> Portfolio:
    table, header_index = grid.rows, header.index
    header_cells = table[header_index]
    for role, positions in header.roles.items():
        if len(positions) > 1:
            raise PortfolioError([Msg("portfolio_errors.duplicate_columns", n=len(positions),
                                      role=Msg(f"portfolio_errors.role_{role}"),
                                      columns=_and([_column_name(header_cells, p) for p in positions]))], label)
    columns = {role: positions[0] for role, positions in header.roles.items()}
    code_header = str(header_cells[columns["code"]]).strip()
    weight_header = str(header_cells[columns["weight"]]).strip() if "weight" in columns else ""

    unsaved = _unsaved_formulas(grid, header_index, set(columns.values()))
    if unsaved:
        raise PortfolioError([unsaved], label)
    hidden = _hidden_problems(grid, header_index, header_cells, columns)
    if hidden:
        raise PortfolioError(hidden, label)

    problems: list[str | Msg] = []
    rows: list[tuple[int, str, object, str]] = []  # (excel row, code, raw weight, name)
    exchanges: dict[int, tuple[str, str]] = {}  # excel row -> (US exchange, where it came from: prefix, column)
    weight_cells: list[tuple[int, object, bool]] = []  # (excel row, raw weight, shown with a percent format)
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
            problems.append(Msg("portfolio_errors.row_no_code", row=excel_row, header=code_header))
        elif code is None and _us_ticker(raw_code):
            code = _us_row(raw_code, cells[columns["exchange"]] if "exchange" in columns else None, excel_row,
                           code_header, str(header_cells[columns["exchange"]]).strip() if "exchange" in columns else "",
                           exchanges, problems)
        elif code is None:
            problems.append(Msg("portfolio_errors.bad_code", header=code_header, value=_text(raw_code),
                                row=excel_row))
        if "qty" in columns and _fractional(cells[columns["qty"]]):
            problems.append(Msg("usplan.fractional", header=str(header_cells[columns["qty"]]).strip(), row=excel_row,
                                value=_text(cells[columns["qty"]])))
        rows.append((excel_row, code or "", raw_weight, name))
        if "weight" in columns:
            shown_as_percent = (index, columns["weight"]) in grid.percent_format and _number(raw_weight)
            weight_cells.append((excel_row, raw_weight, shown_as_percent))

    if not rows:
        raise PortfolioError([Msg("portfolio_errors.no_stocks", header=code_header)], label)
    if len(rows) > MAX_STOCKS:
        raise PortfolioError([Msg("portfolio_errors.too_many", n=len(rows), limit=MAX_STOCKS)], label)
    if grid.beyond:
        raise PortfolioError([Msg("portfolio_errors.beyond", cell=grid.beyond, limit=ROW_LIMIT)], label)

    by_code: dict[str, list[int]] = defaultdict(list)
    for excel_row, code, _, _ in rows:
        if code:
            by_code[code].append(excel_row)
    for code, where in by_code.items():
        if len(where) > 1:
            problems.append(Msg("portfolio_errors.duplicate_code", header=code_header, code=code, n=len(where),
                                rows=_rows_text(where)))

    problems += _unused_weight_columns(table, header_index, header_cells, columns)
    if "weight" in columns:
        weights, how = _read_weights(weight_cells, weight_header, columns["weight"] in header.percent_unit,
                                     problems)
        reading = t("portfolio_errors.weights_from", column=_column_name(header_cells, columns["weight"]).render(),
                    how=how)
    else:
        weights = [1 / len(rows)] * len(rows)
        reading = t("portfolio_errors.equal_weights", pct=100 / len(rows))

    bands: list[float | None] = [None] * len(rows)
    if "band" in columns:
        band_header = str(header_cells[columns["band"]]).strip()
        at = columns["band"]
        bands = [_read_band(table[r - 1][at] if at < len(table[r - 1]) else None,
                            (r - 1, at) in grid.percent_format, r, band_header, problems) for r, _, _, _ in rows]

    if problems:
        raise PortfolioError(problems, label)
    sheet = t("portfolio_errors.from_sheet", title=grid.title) if sheet_count > 1 else ""
    note = t("portfolio_errors.read_one" if len(rows) == 1 else "portfolio_errors.read_many", n=len(rows),
             sheet=sheet, reading=reading)
    targets = tuple(Target(code=code, weight=weight, name=name, row=excel_row, band=band,
                           market=exchanges.get(excel_row, ("", ""))[0], market_from=exchanges.get(excel_row, ("", ""))[1])
                    for (excel_row, code, _, name), weight, band in zip(rows, weights, bands))
    return Portfolio(targets=targets, source=label, notes=(note,))


def _number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _rows_text(rows: list[int], limit: int = 10) -> str | Msg:
    """'2', '2 and 4', '2, 3 and 4', or the first `limit` and how many more."""
    shown = [str(r) for r in rows[:limit]]
    if len(rows) > limit:
        return Msg("portfolio_errors.list_more", head=", ".join(shown), n=len(rows) - limit)
    return _and(shown)


def _rows_label(rows: list[int]) -> Msg:
    """'row 2' or 'rows 2 and 4' (in Korean '2행', '2, 4행')."""
    return Msg("portfolio_errors.row_many" if len(rows) > 1 else "portfolio_errors.row_one", rows=_rows_text(rows))


def _unsaved_formulas(grid: _Grid, header_index: int, used: set[int]) -> Msg | None:
    """A problem naming the rows whose used cells are formulas Excel never computed, or ''."""
    unsaved = sorted((i, j) for (i, j) in grid.formulas
                     if i > header_index and j in used and i < len(grid.rows) and grid.rows[i][j] is None)
    if not unsaved:
        return None
    rows = sorted({i + 1 for i, _ in unsaved})
    i, j = unsaved[0]
    example = Msg("portfolio_errors.formula_example", cell=f"{get_column_letter(j + 1)}{i + 1}",
                  formula=grid.formulas[(i, j)])
    return Msg("portfolio_errors.unsaved_formulas", rows=_rows_label(rows), example=example)


def _hidden_problems(grid: _Grid, header_index: int, header_cells: tuple[object, ...],
                     columns: dict[str, int]) -> list[str | Msg]:
    """A problem for each hidden column that is read (code, weight, band) and for the hidden rows that hold a
    stock: what Excel does not show is never planned without the user seeing it."""
    problems = []
    for role in ("code", "weight", "band"):
        if role in columns and columns[role] in grid.hidden_columns:
            problems.append(Msg("model.hidden_column", letter=get_column_letter(columns[role] + 1),
                              header=str(header_cells[columns[role]]).strip()))
    used = [p for role, p in columns.items()]
    rows = [i for i in sorted(grid.hidden_rows) if i >= header_index and i < len(grid.rows)
            and any(p < len(grid.rows[i]) and not _blank(grid.rows[i][p]) for p in used)]
    if rows:
        code_at = columns["code"]
        named = [f"{i + 1} ({_text(grid.rows[i][code_at])})" if code_at < len(grid.rows[i])
                 and not _blank(grid.rows[i][code_at]) else str(i + 1) for i in rows if i > header_index]
        if header_index in rows:
            problems.append(Msg("model.hidden_header", row=header_index + 1))
        if named:
            problems.append(Msg("model.hidden_rows", rows=", ".join(named[:10]) + (" …" if len(named) > 10 else "")))
    return problems


def _unused_weight_columns(table: list[tuple[object, ...]], header_index: int, header_cells: tuple[object, ...],
                           columns: dict[str, int]) -> list[str | Msg]:
    """A problem for each column that is titled like weights and holds numbers but is not the weight column."""
    problems = []
    for position, cell in enumerate(header_cells):
        if position in columns.values() or _blank(cell):
            continue
        raw_key = _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", str(cell))).lower()
        hinted = any(hint in raw_key for hint in WEIGHT_HINTS)
        # A header in percent over numbers looks like weights too; beside an explicit weight column it is a
        # factor (ROE(%)), but with none the user would get equal weights instead of these numbers.
        if not (hinted or (_header_key(cell)[1] and "weight" not in columns)):
            continue
        numeric = any(position < len(row) and _weight_number(row[position])[0] is not None
                      for row in table[header_index + 1:])
        if not numeric:
            continue
        column = _column_name(header_cells, position)
        if not hinted:
            problems.append(Msg("model.percent_column", letter=get_column_letter(position + 1),
                              header=str(cell).strip()))
        elif "weight" in columns:
            problems.append(Msg("portfolio_errors.weights_elsewhere", column=column,
                                weight_column=_column_name(header_cells, columns["weight"])))
        else:
            known = ", ".join(WEIGHT_HEADERS_SHOWN)
            problems.append(Msg("portfolio_errors.not_weight_header", column=column, known=known))
    return problems


def _text(value: object) -> str:
    if _blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# What spreadsheets write for a missing value: never read as a ticker, though some are 1-5 letters.
MISSING_WORDS = frozenset({"NA", "N/A", "NAN", "NULL", "NONE", "NIL", "TBD", "X"})


def _us_ticker(value: object) -> bool:
    """True when a code cell holds a US ticker (AAPL, BRK.B, NYSE:KO), not a missing-value word such as NA."""
    if not isinstance(value, str):  # a boolean cell reads TRUE; a number is never a ticker
        return False
    text = _text(value).upper()
    if text in MISSING_WORDS:
        return False
    prefix, _, ticker = text.rpartition(":")
    return is_ticker(ticker) if not prefix or prefix.isalpha() else False


def _us_row(raw: object, cell: object, excel_row: int, header: str, exchange_header: str,
            exchanges: dict[int, tuple[str, str]], problems: list[str]) -> str | None:
    """The ticker of a US row (NYSE:KO -> KO), its exchange kept from the prefix or the exchange column; a problem
    appended for a prefix or a cell that names no US exchange (None then). A bare ticker's exchange is KIS's."""
    text = _text(raw).upper()
    try:
        market = market_of(text)
        _, ticker = split_symbol(text)
    except BadSymbol:
        problems.append(t("markets.bad_exchange", prefix=text.rpartition(":")[0][:10], symbol=text[:20]))
        return None
    if market is not None:
        exchanges[excel_row] = (market.code, "prefix")
        return ticker
    said = unicodedata.normalize("NFKC", _text(cell)).strip().upper()
    if said in NO_EXCHANGE_WORDS:
        return ticker
    try:
        found = market_named(said)
    except KeyError:
        found = None
    if found is None or not found.is_us:
        problems.append(t("usplan.bad_exchange", header=exchange_header, row=excel_row, value=_text(cell)[:20], ticker=ticker))
        return None
    exchanges[excel_row] = (found.code, "column")
    return ticker


def _fractional(value: object) -> bool:
    """True when a quantity cell holds a number of shares that is not whole (0.5, '2.5')."""
    if _blank(value) or isinstance(value, bool):
        return False
    try:
        number = float(str(value).replace(",", "").strip()) if isinstance(value, str) else float(value)
    except ValueError:
        return False
    return math.isfinite(number) and not number.is_integer()


def _normalize_code(value: object) -> str | None:
    """The stock code a cell means (kis.codes: 5930 becomes '005930', '0013v0' '0013V0'); None if it is none."""
    if _blank(value):
        return None
    try:
        return normalize_code(value)
    except BadStockCode:
        return None


def _read_weights(cells: list[tuple[int, object, bool]], header: str, header_says_percent: bool,
                  problems: list[str | Msg]) -> tuple[list[float], str]:
    """The weight column as fractions and how it was read; problems are appended, bad cells read as 0.

    A cell written '10%', or a number Excel shows with a percent format, is exact by itself; a column of
    plain numbers is percent when its header says '%' or its numbers add up to more than 1.5. A column
    mixing the two is refused: its plain numbers could mean either.
    """
    parsed: list[tuple[int, float, bool]] = []  # (row, number, marked as percent by the cell itself)
    for excel_row, raw, percent_format in cells:
        if _blank(raw):
            problems.append(Msg("portfolio_errors.weight_empty", header=header, row=excel_row))
            parsed.append((excel_row, 0.0, False))
            continue
        number, percent_text = _weight_number(raw)
        if number is None:
            problems.append(Msg("portfolio_errors.weight_not_number", header=header, value=_text(raw), row=excel_row))
            number = 0.0
        elif number < 0:
            problems.append(Msg("portfolio_errors.weight_negative", header=header, value=_text(raw), row=excel_row))
            number = 0.0
        if percent_text:
            number /= 100
        parsed.append((excel_row, number, percent_text or percent_format))

    marked = [row for row, _, mark in parsed if mark]
    plain = [row for row, number, mark in parsed if not mark and number != 0]  # 0 is 0 either way
    if marked and plain:
        problems.append(Msg("portfolio_errors.weight_mix", header=header, marked=_rows_label(marked),
                            plain=_rows_label(plain)))
        return [0.0] * len(parsed), t("portfolio_errors.kind_mix")
    plain_sum = math.fsum(n for _, n, mark in parsed if not mark)
    if marked:
        kind, why = "percent", "why_cells"
        weights = [n for _, n, _ in parsed]
    elif header_says_percent:
        kind, why = "percent", "why_header"
        if 0 < plain_sum <= PERCENT_THRESHOLD:
            problems.append(Msg("portfolio_errors.percent_small", header=header, total=plain_sum))
        weights = [n / 100 for _, n, _ in parsed]
    elif plain_sum > PERCENT_THRESHOLD:
        kind, why = "percent", "why_over"
        weights = [n / 100 for _, n, _ in parsed]
    else:
        kind, why = "fractions", "why_under"
        weights = [n for _, n, _ in parsed]
    total = math.fsum(weights)
    if parsed and total == 0 and not problems:
        problems.append(Msg("portfolio_errors.all_zero", header=header))
    kind_msg, why_msg = Msg(f"portfolio_errors.kind_{kind}"), Msg(f"portfolio_errors.{why}")
    how = Msg("portfolio_errors.how", kind=kind_msg, why=why_msg)
    if total > 1 + SUM_TOLERANCE:
        problems.append(Msg("portfolio_errors.over_100", header=header, pct=total * 100,
                            how=kind_msg if kind == "percent" else how))
    return weights, how.render()


def _read_band(raw: object, shown_as_percent: bool, excel_row: int, header: str,
               problems: list[str | Msg]) -> float | None:
    """A band cell in percentage points (2, or 2% = ±2 %p) as a fraction; empty = the plan's default."""
    if _blank(raw):
        return None
    number, _ = _weight_number(raw)
    if number is not None and shown_as_percent and _number(raw):
        number *= 100  # a cell formatted as percent holds 0.02 for "2%"
    if number is None or not 0 <= number < 100:
        problems.append(Msg("portfolio_errors.bad_band", header=header, value=_text(raw), row=excel_row))
        return None
    return number / 100


def _weight_number(raw: object) -> tuple[float | None, bool]:
    """The number in a weight cell and whether it was written with '%' (the number is then in percent)."""
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
