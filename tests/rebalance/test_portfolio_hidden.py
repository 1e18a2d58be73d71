"""What Excel does not show is never planned in silence: hidden rows holding stocks and hidden columns that
are read refuse the file, naming them; a header that says percent over numbers is the weight column or a
refusal, never equal weights with a note."""
from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook

from rebalance.i18n import Lang, using
from rebalance.portfolio import PortfolioError, read_portfolio

ROWS = [["종목코드", "비중"], ["005930", 30], ["000660", 40], ["035720", 30]]


def xlsx(rows, hide_rows=(), hide_columns=(), zero_height=(), filtered=False) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for number in hide_rows:
        sheet.row_dimensions[number].hidden = True
    for letter in hide_columns:
        sheet.column_dimensions[letter].hidden = True
    if filtered:
        sheet.auto_filter.ref = f"A1:B{len(rows)}"
    out = io.BytesIO()
    book.save(out)
    return _zero_height(out.getvalue(), zero_height) if zero_height else out.getvalue()


def _zero_height(data: bytes, rows) -> bytes:
    """The workbook with `rows` given height 0, as Excel writes a row dragged shut (openpyxl cannot)."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            body = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                for number in rows:
                    body = body.replace(f'<row r="{number}">'.encode(), f'<row r="{number}" ht="0" customHeight="1">'.encode())
            target.writestr(item, body)
    return out.getvalue()


def problems(data: bytes) -> tuple[str, ...]:
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(data, name="t.xlsx")
    return caught.value.problems


def test_a_stock_in_a_hidden_row_refuses_the_file_naming_the_row_and_the_stock():
    assert problems(xlsx(ROWS, hide_rows=[3])) == (
        "rows hidden in Excel hold stocks that would be planned without your seeing them (row 3 (000660)): "
        "unhide them (select the rows around them, right-click, Unhide, or clear the filter) or delete them",)


def test_rows_hidden_by_a_filter_or_a_zero_height_are_hidden_too():
    assert "row 2 (005930), 4 (035720)" in problems(xlsx(ROWS, hide_rows=[2, 4], filtered=True))[0]
    assert "row 4 (035720)" in problems(xlsx(ROWS, zero_height=[4]))[0]


def test_a_hidden_weight_or_code_column_refuses_the_file():
    assert problems(xlsx(ROWS, hide_columns=["B"])) == (
        "column B '비중' is hidden in Excel, so it would be read without your seeing it: unhide it (select the "
        "columns beside it, right-click, Unhide) or delete it",)
    assert "column A '종목코드' is hidden" in problems(xlsx(ROWS, hide_columns=["A"]))[0]


def test_hidden_rows_and_columns_that_hold_nothing_read_are_fine():
    rows = [["종목코드", "비중", "메모"], ["005930", 60, "core"], [], ["000660", 40, ""]]
    portfolio = read_portfolio(xlsx(rows, hide_rows=[3, 40], hide_columns=["C", "F"]))
    assert portfolio.codes == ("005930", "000660")
    assert [t.weight for t in portfolio.targets] == pytest.approx([0.6, 0.4])


def test_the_hidden_row_refusal_is_korean_where_a_korean_chat_reads_it():
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(xlsx(ROWS, hide_rows=[3]), name="t.xlsx")
    with using(Lang.KO):
        assert "숨겨진 행" in str(caught.value) and "000660" in str(caught.value)
    assert "rows hidden in Excel" in str(caught.value)  # the same refusal, read by an English chat


@pytest.mark.parametrize("header", ["목표(%)", "Target %", "비율(%)", "pct", "portion", "목표 비율", "Allocation",
                                    "퍼센트", "%", "목표（％）", "weight pct", "PCT"])
def test_a_weight_header_with_a_unit_is_the_weight_column(header):
    portfolio = read_portfolio(xlsx([["종목코드", header], ["005930", 70], ["000660", 20], ["035720", 10]]))
    assert [t.weight for t in portfolio.targets] == pytest.approx([0.7, 0.2, 0.1])
    assert "weights from column B" in portfolio.notes[0]


def test_a_percent_header_over_fractions_is_read_as_percent_and_refused_not_equal_weights():
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(xlsx([["종목코드", "pct"], ["005930", 0.7], ["000660", 0.3]]))
    assert "says percent but its numbers add up to 1" in str(caught.value)


@pytest.mark.parametrize("header", ["ROE(%)", "수익률 %", "Score pct", "Return percent"])
def test_a_numeric_percent_column_without_a_weight_column_is_refused_not_read_as_equal_weights(header):
    assert problems(xlsx([["종목코드", header], ["005930", 70], ["000660", 30]])) == (
        f"column B '{header}' holds numbers and its header says percent, but there is no weight column, so "
        "every stock would get an equal weight: name it 비중 to use these numbers as the weights, or delete it "
        "for equal weights",)


def test_the_tag_scan_finds_the_same_rows_whatever_the_chunk_size():
    from rebalance.portfolio import _hidden_parts, _tags

    data = xlsx(ROWS, hide_rows=[2, 4], hide_columns=["B"])
    path = "xl/worksheets/sheet1.xml"
    assert [t for t, _ in _tags(data, path, chunk=7)] == [t for t, _ in _tags(data, path)]
    assert _hidden_parts(data, path, 100) == ({1, 3}, {1})
