"""Reading a model portfolio .xlsx: what a user's file turns into, and what each mistake says."""
from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from openpyxl import Workbook

from rebalance import PortfolioError, Target, read_portfolio
from rebalance.portfolio import MAX_FILE_BYTES, PERCENT_THRESHOLD, unknown_codes_error
from rebalance.testing import workbook

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def xlsx(*rows: list[object], cells: dict[str, object] | None = None, extra_sheets: int = 0) -> bytes:
    """An in-memory workbook whose first sheet holds `rows` from A1 (or `cells` by address)."""
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for address, value in (cells or {}).items():
        sheet[address] = value
    for n in range(extra_sheets):
        book.create_sheet(f"extra{n}")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def problems(data: bytes) -> tuple[str, ...]:
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(data, name="t.xlsx")
    return caught.value.problems


def test_seed_model_is_ten_large_caps_at_equal_weight():
    portfolio = read_portfolio(EXAMPLES / "model.xlsx")
    assert portfolio.codes == ("005930", "373220", "000660", "207940", "051910",
                               "035420", "005380", "006400", "035720", "105560")
    assert all(t.weight == pytest.approx(0.1) for t in portfolio.targets)
    assert portfolio.targets[0].name == "삼성전자"
    assert portfolio.source == "model.xlsx"


def test_multifactor_example_has_twenty_weights_adding_to_one():
    portfolio = read_portfolio(EXAMPLES / "multifactor.xlsx")
    assert len(portfolio.targets) == 20
    assert sum(t.weight for t in portfolio.targets) == pytest.approx(1.0)
    assert portfolio.targets[0] == Target("005930", 0.08, "삼성전자")


def test_text_codes_keep_their_leading_zeros():
    portfolio = read_portfolio(xlsx(["종목코드"], ["005930"], ["000660"]))
    assert portfolio.codes == ("005930", "000660")


def test_numeric_codes_are_padded_to_six_digits():
    # Excel turns 005930 typed into a number cell into 5930; short digit text and FnGuide's A-prefix too.
    portfolio = read_portfolio(xlsx(["종목코드"], [5930], [660.0], ["35720"], ["A105560"]))
    assert portfolio.codes == ("005930", "000660", "035720", "105560")


def test_header_names_are_case_and_space_insensitive_and_may_sit_below_a_title():
    data = xlsx(["My model portfolio"], [], [" Ticker ", "Target Weight", " NAME "], ["005930", 1, "Samsung"])
    # 'Target Weight' is a weight header (1 = 100 %); the name is read from NAME.
    portfolio = read_portfolio(data)
    assert portfolio.targets == (Target("005930", 1.0, "Samsung"),)
    assert portfolio.targets[0].row == 4

    spaced = read_portfolio(xlsx(["종목 코드", "목표 비중"], ["005930", 40], ["000660", 60]))
    assert [t.weight for t in spaced.targets] == pytest.approx([0.4, 0.6])


def test_no_weight_column_means_equal_weights():
    portfolio = read_portfolio(xlsx(["code"], ["005930"], ["000660"], ["035720"]))
    assert [t.weight for t in portfolio.targets] == pytest.approx([1 / 3] * 3)


def test_fraction_column_is_read_as_fractions():
    portfolio = read_portfolio(xlsx(["종목코드", "비중"], ["005930", 0.6], ["000660", 0.3]))
    assert [t.weight for t in portfolio.targets] == pytest.approx([0.6, 0.3])


def test_percent_column_is_read_as_percent_when_it_adds_up_to_more_than_one_and_a_half():
    portfolio = read_portfolio(xlsx(["종목코드", "weight"], ["005930", 60], ["000660", 30], ["035720", 1]))
    assert [t.weight for t in portfolio.targets] == pytest.approx([0.6, 0.3, 0.01])


def test_cells_written_with_percent_signs_are_percent_each():
    portfolio = read_portfolio(xlsx(["종목코드", "비중"], ["005930", "1%"], ["000660", " 0.5 % "], ["035720", "0%"]))
    assert [t.weight for t in portfolio.targets] == pytest.approx([0.01, 0.005, 0])


def test_blank_rows_are_ignored_and_rows_are_numbered_as_excel_shows_them():
    portfolio = read_portfolio(xlsx(["종목코드", "비중"], ["005930", 50], [], [None, None], ["000660", 50]))
    assert portfolio.codes == ("005930", "000660")
    assert [t.row for t in portfolio.targets] == [2, 5]


def test_weights_under_one_hundred_percent_are_accepted_the_rest_stays_cash():
    portfolio = read_portfolio(xlsx(["종목코드", "비중"], ["005930", 30], ["000660", 20]))
    assert sum(t.weight for t in portfolio.targets) == pytest.approx(0.5)


def test_codes_with_letters_are_read_upper_cased_and_numbers_get_their_zeros_back():
    portfolio = read_portfolio(xlsx(["종목코드", "비중"], ["0013V0", 40], ["0126z0", 30], [5930, 20], ["A000660", 10]))
    assert portfolio.codes == ("0013V0", "0126Z0", "005930", "000660")


@pytest.mark.parametrize("bad", ["13V0", "013V0", "0013V", "0013V00"])
def test_a_code_with_a_letter_is_never_zero_padded_into_another_code(bad):
    assert problems(xlsx(["종목코드"], [bad])) == (
        f"종목코드 '{bad}' is not a 6-character stock code such as 005930 or 0013V0 (row 2)",)


def test_a_code_that_is_not_six_characters_names_the_excel_row():
    assert problems(xlsx(["종목코드", "비중"], ["005930", 50], ["000660", 25], ["5930A", 25])) == (
        "종목코드 '5930A' is not a 6-character stock code such as 005930 or 0013V0 (row 4)",)


@pytest.mark.parametrize("bad", ["1234567", "59 30", 59.5, -5930, True])
def test_other_malformed_codes_are_refused(bad):
    found = problems(xlsx(["종목코드"], [bad]))
    assert len(found) == 1 and "is not a 6-character stock code such as 005930 or 0013V0 (row 2)" in found[0]


def test_duplicate_codes_name_both_rows_even_when_one_was_a_number():
    assert problems(xlsx(["종목코드", "비중"], ["005930", 40], ["000660", 30], [5930, 30])) == (
        "종목코드 '005930' appears 2 times (rows 2 and 4): keep one row",)


def test_negative_and_non_numeric_weights_are_refused_with_their_rows():
    found = problems(xlsx(["종목코드", "비중"], ["005930", -0.1], ["000660", "ten"], ["035720", None]))
    assert found == (
        "비중 -0.1 is negative (row 2): weights are 0 or more",
        "비중 'ten' is not a number (row 3): write e.g. 0.1 or 10%",
        "비중 is empty (row 4): give a weight, 0 to sell it all, or delete the row",
    )


def test_all_zero_weights_are_refused_rather_than_selling_everything():
    assert problems(xlsx(["종목코드", "비중"], ["005930", 0], ["000660", "0%"])) == (
        "비중 is 0 for every stock, which would sell the whole portfolio: give the weights, or leave the "
        "column out for equal weights",)


def test_weights_above_one_hundred_percent_are_refused():
    assert problems(xlsx(["종목코드", "비중"], ["005930", 60], ["000660", 30], ["005380", 20])) == (
        "비중 adds up to 110 %, over 100 % (read as percent): lower the weights so they add up to 100 % or less",)
    fractions = problems(xlsx(["종목코드", "비중"], ["005930", 0.7], ["000660", 0.5]))
    assert fractions[0].startswith("비중 adds up to 120 %, over 100 % (read as fractions")


def test_fractions_that_only_round_to_one_are_accepted():
    portfolio = read_portfolio(xlsx(["종목코드", "비중"], *[[c, 1 / 3] for c in ("005930", "000660", "035720")]))
    assert len(portfolio.targets) == 3


def test_every_problem_is_reported_not_just_the_first():
    found = problems(xlsx(["종목코드", "비중"], ["5930A", 10], ["005930", "x"], ["005930", 10], [None, 5]))
    assert len(found) == 4
    assert any("'5930A'" in p and "(row 2)" in p for p in found)
    assert any("row 5 has no 종목코드" in p for p in found)
    assert any("appears 2 times (rows 3 and 4)" in p for p in found)
    assert any("'x' is not a number (row 3)" in p for p in found)


def test_the_error_message_lists_each_problem_on_its_own_line():
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(xlsx(["종목코드"], ["5930A"], ["12"], ["12"]), name="mine.xlsx")
    text = str(caught.value)
    assert text.startswith("mine.xlsx: 2 problems:\n- 종목코드 '5930A'")
    assert "\n" not in caught.value.one_line()


def test_no_code_column_lists_the_columns_found():
    assert problems(xlsx(["Stock", "Weight"], ["005930", 50])) == (
        "no 종목코드 column (columns found: 'Stock', 'Weight'): name the code column 종목코드 (or code / ticker)",)


def test_code_column_on_a_later_sheet_is_found():
    book = Workbook()
    book.active.append(["notes about this file"])
    book.create_sheet("model").append(["종목코드"])
    book["model"].append(["005930"])
    out = io.BytesIO()
    book.save(out)
    assert read_portfolio(out.getvalue()).codes == ("005930",)


def test_header_without_rows_is_empty():
    assert problems(xlsx(["종목코드", "비중"])) == ("no stocks under the 종목코드 header: add one stock per row",)


def test_empty_sheet_is_reported():
    assert problems(xlsx()) == ("the sheet is empty: put a 종목코드 column header in row 1 and one stock per row",)


def test_workbook_without_sheets_is_reported():
    source = zipfile.ZipFile(io.BytesIO(xlsx(["종목코드"], ["005930"])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "xl/workbook.xml":
                start = data.index(b"<sheets>") + len(b"<sheets>")
                data = data[:start] + data[data.index(b"</sheets>"):]
            target.writestr(name, data)
    assert problems(out.getvalue()) == ("the workbook has no sheet: put the portfolio on a sheet",)


@pytest.mark.parametrize("data, expected", [
    (b"code,weight\n005930,1\n", "not an .xlsx file: save the portfolio as an Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100,
     "this is an old .xls workbook: save it as .xlsx (Excel Workbook) and send it again"),
    (b"PK\x03\x04 truncated zip", "cannot read the file as an .xlsx workbook (damaged or another format): "
                                 "open it in Excel and save it as .xlsx"),
    (b"", "the file is empty: save the portfolio as an Excel .xlsx file"),
])
def test_files_that_are_not_xlsx_are_refused(data, expected):
    assert problems(data) == (expected,)


def test_a_zip_that_is_not_a_workbook_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert "cannot read the file as an .xlsx workbook" in problems(out.getvalue())[0]


def test_files_over_the_size_limit_are_refused_before_reading(tmp_path):
    big = tmp_path / "big.xlsx"
    big.write_bytes(b"PK\x03\x04" + b"\0" * MAX_FILE_BYTES)
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(big)
    assert caught.value.problems == ("the file is 1.0 MB, over the 1 MB limit: keep only the portfolio sheet",)
    assert problems(b"PK\x03\x04" + b"\0" * MAX_FILE_BYTES)[0].startswith("the file is 1.0 MB")


def test_missing_file_says_so(tmp_path):
    with pytest.raises(PortfolioError, match="no such file"):
        read_portfolio(tmp_path / "nope.xlsx")


@pytest.mark.parametrize("file, expected", [
    ("bad_code.xlsx", "bad_code.xlsx: 종목코드 '5930A' is not a 6-character stock code such as 005930 or 0013V0 (row 4)"),
    ("duplicate.xlsx", "duplicate.xlsx: 종목코드 '005930' appears 2 times (rows 2 and 4): keep one row"),
    ("over_100.xlsx", "over_100.xlsx: 비중 adds up to 110 %, over 100 % (read as percent): "
                      "lower the weights so they add up to 100 % or less"),
    ("negative_weight.xlsx", "negative_weight.xlsx: 비중 -0.1 is negative (row 3): weights are 0 or more"),
    ("no_code_column.xlsx", "no_code_column.xlsx: no 종목코드 column (columns found: 'Stock', 'Weight'): "
                            "name the code column 종목코드 (or code / ticker)"),
    ("not_xlsx.xlsx", "not_xlsx.xlsx: not an .xlsx file: save the portfolio as an Excel .xlsx workbook"),
    ("unsaved_formula.xlsx", "unsaved_formula.xlsx: formulas without a saved value in row 3 (B3 is =100-B2): the "
                             "file was written by a program that does not compute formulas; open it in Excel and "
                             "save it in Excel first, then send it again"),
    ("mixed_percent.xlsx", "mixed_percent.xlsx: 비중 mixes percent cells (row 4) with plain numbers (rows 2 and 3), "
                           "which could be fractions or percent: write every weight the same way, e.g. all as 10% "
                           "or all as 0.1"),
    ("unread_weights.xlsx", "unread_weights.xlsx: column B 'Weighting (%)' looks like weights but is not a weight "
                            "header (비중, 목표비중, weight, target, pct): rename it 비중 "
                            "to use it, or delete it for equal weights"),
    ("two_portfolios.xlsx", "two_portfolios.xlsx: sheets 'old' and 'new' each have a 종목코드 column and the "
                            "workbook opens on 'notes', so it is unclear which one is the portfolio: delete the "
                            "others, or save the workbook with the portfolio sheet open"),
    ("hidden_portfolio.xlsx", "hidden_portfolio.xlsx: the 종목코드 column is on hidden sheet 'model', which is not "
                              "read: unhide it (right-click a sheet tab, Unhide), or move the portfolio to a "
                              "visible sheet"),
])
def test_broken_examples_show_their_messages(file, expected):
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(EXAMPLES / "broken" / file)
    assert str(caught.value) == expected


def test_unknown_codes_error_names_rows_and_held_stocks():
    portfolio = read_portfolio(xlsx(["종목코드"], ["005930"], ["999999"]), name="m.xlsx")
    error = unknown_codes_error(portfolio, ["999999", "888888"])
    assert error.problems == (
        "종목코드 '999999' is not a stock the broker knows (row 3): check the code or remove the row",
        "held stock '888888' has no price at the broker (not in the file): it may be delisted or suspended; "
        "sell or remove it by hand first",
    )
    assert str(error).startswith("m.xlsx: 2 problems:")


def test_more_stocks_than_the_limit_are_refused():
    from rebalance.portfolio import MAX_STOCKS

    rows = [[f"{i:06d}"] for i in range(1, MAX_STOCKS + 2)]
    assert problems(xlsx(["종목코드"], *rows)) == (
        "the file lists 1,001 stocks, over the limit of 1,000: split the portfolio or keep the largest weights",)
    assert len(read_portfolio(xlsx(["종목코드"], *rows[:MAX_STOCKS])).targets) == MAX_STOCKS


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=12).filter(any),
       st.sampled_from(["fraction", "percent", "percent-text"]))
def test_weights_read_back_the_same_whether_written_as_fractions_or_percent(raw, style):
    fractions = [r / sum(raw) for r in raw]  # adds up to 1 (all-zero columns are refused, tested above)
    if style == "fraction":
        cells = fractions
    elif style == "percent":
        cells = [f * 100 for f in fractions]
        if sum(cells) <= PERCENT_THRESHOLD:  # a percent column this small is indistinguishable from fractions
            return
    else:
        cells = [f"{f * 100}%" for f in fractions]
    rows = [[f"{i:06d}", cell] for i, cell in enumerate(cells, start=1)]
    portfolio = read_portfolio(xlsx(["종목코드", "비중"], *rows))
    assert [t.weight for t in portfolio.targets] == pytest.approx(fractions, abs=1e-12)


def test_a_zip_bomb_is_refused_before_parsing():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b" " * 30_000_000)
    assert len(out.getvalue()) < MAX_FILE_BYTES
    assert problems(out.getvalue()) == (
        "the workbook unpacks to 30 MB, over the 20 MB limit: keep only the portfolio sheet",)


def test_cells_reading_na_are_shown_back_not_taken_for_blanks():
    assert problems(xlsx(["종목코드", "비중"], ["NA", 50], ["005930", "N/A"])) == (
        "종목코드 'NA' is not a 6-character stock code such as 005930 or 0013V0 (row 2)",
        "비중 'N/A' is not a number (row 3): write e.g. 0.1 or 10%",
    )


# --- which sheet -------------------------------------------------------------------------------------

OLD = [["종목코드", "비중"], ["005930", 50], ["000660", 50]]
NEW = [["종목코드", "비중"], ["035720", 100]]


def test_the_sheet_the_workbook_opens_on_is_read_not_the_first():
    portfolio = read_portfolio(workbook(("old", OLD, "visible"), ("new", NEW, "visible"), active=1))
    assert portfolio.codes == ("035720",)
    assert "from sheet 'new'" in portfolio.notes[0]


def test_a_hidden_sheet_is_never_read():
    portfolio = read_portfolio(workbook(("old", OLD, "hidden"), ("new", NEW, "visible"), active=1))
    assert portfolio.codes == ("035720",)
    assert problems(workbook(("model", OLD, "veryHidden"), ("notes", [["see the other sheet"]], "visible"),
                             active=1)) == (
        "the 종목코드 column is on hidden sheet 'model', which is not read: unhide it (right-click a sheet tab, "
        "Unhide), or move the portfolio to a visible sheet",)


def test_several_portfolio_sheets_are_refused_naming_them_when_the_workbook_opens_on_another():
    data = workbook(("notes", [["read me"]], "visible"), ("old", OLD, "visible"), ("new", NEW, "visible"))
    assert problems(data) == (
        "sheets 'old' and 'new' each have a 종목코드 column and the workbook opens on 'notes', so it is unclear "
        "which one is the portfolio: delete the others, or save the workbook with the portfolio sheet open",)


# --- which column holds the weights --------------------------------------------------------------------

@pytest.mark.parametrize("header", ["비중(%)", "비중%", "Weight (%)", "weights", "투자비중", "목표 비중", "target_weight",
                                    "편입비중 [%]"])
def test_common_weight_headers_are_read_and_the_note_names_the_column(header):
    portfolio = read_portfolio(xlsx(["종목코드", "종목명", header], ["005930", "삼성전자", 60], ["000660", "", 40]))
    assert [t.weight for t in portfolio.targets] == pytest.approx([0.6, 0.4])
    assert portfolio.notes == (f"Read 2 stocks; weights from column C '{header}', read as percent "
                               f"({'the header says %' if '%' in header else 'the numbers add up to more than 1.5'}).",)


def test_the_note_says_when_weights_are_equal_because_there_is_no_weight_column():
    assert read_portfolio(xlsx(["종목코드"], ["005930"], ["000660"])).notes == (
        "Read 2 stocks; no weight column, so equal weights (50 % each).",)


def test_a_numeric_column_that_looks_like_weights_but_is_not_read_is_refused():
    assert problems(xlsx(["종목코드", "Weighting"], ["005930", 70], ["000660", 30])) == (
        "column B 'Weighting' looks like weights but is not a weight header (비중, 목표비중, weight, target, pct): "
        "rename it 비중 to use it, or delete it for equal weights",)
    assert problems(xlsx(["종목코드", "현재비중", "목표비중"], ["005930", 0.2, 0.7], ["000660", 0.8, 0.3])) == (
        "column B '현재비중' looks like weights, but weights are read from column C '목표비중': delete the column "
        "you do not mean, or rename it",)


def test_columns_titled_like_weights_without_numbers_and_factor_columns_are_fine():
    portfolio = read_portfolio(xlsx(["종목코드", "비중 메모", "부채비율"],
                                    ["005930", "core", 25.1], ["000660", "", 40.2]))
    assert [t.weight for t in portfolio.targets] == pytest.approx([0.5, 0.5])
    # A factor in percent beside an explicit weight column is a factor: the weights are named.
    portfolio = read_portfolio(xlsx(["종목코드", "비중", "ROE(%)"], ["005930", 60, 9.3], ["000660", 40, 12.0]))
    assert [t.weight for t in portfolio.targets] == pytest.approx([0.6, 0.4])


def test_two_weight_columns_are_refused():
    assert problems(xlsx(["종목코드", "비중", "weight"], ["005930", 60, 0.5])) == (
        "2 columns could be the weight column (column B '비중' and column C 'weight'): keep one or rename the "
        "others",)


def test_a_percent_header_over_fractions_is_refused_rather_than_investing_one_percent():
    assert problems(xlsx(["종목코드", "비중(%)"], ["005930", 0.6], ["000660", 0.4])) == (
        "비중(%) says percent but its numbers add up to 1, which would invest only 1 % and sell the rest: write "
        "10 for 10 %, or take the % out of the header if the numbers are fractions",)


# --- percent cells -----------------------------------------------------------------------------------

def test_one_percent_cell_among_fractions_is_refused_not_spread_over_the_column():
    # Before: the '50%' made every cell percent, so 0.3 became 0.3 %.
    assert problems(xlsx(["종목코드", "비중"], ["005930", 0.3], ["000660", 0.2], ["035720", "50%"])) == (
        "비중 mixes percent cells (row 4) with plain numbers (rows 2 and 3), which could be fractions or percent: "
        "write every weight the same way, e.g. all as 10% or all as 0.1",)


def test_a_cell_excel_shows_as_percent_is_a_fraction_and_may_not_mix_with_plain_numbers():
    book = Workbook()
    sheet = book.active
    for row in (["종목코드", "비중"], ["005930", 0.6], ["000660", 0.4]):
        sheet.append(row)
    sheet["B2"].number_format = sheet["B3"].number_format = "0%"  # Excel shows 60% and 40%
    out = io.BytesIO()
    book.save(out)
    portfolio = read_portfolio(out.getvalue())
    assert [t.weight for t in portfolio.targets] == pytest.approx([0.6, 0.4])
    assert "read as percent (each cell says %)" in portfolio.notes[0]

    sheet["B3"] = 40  # typed as a plain number next to a 60% cell
    sheet["B3"].number_format = "General"
    out = io.BytesIO()
    book.save(out)
    assert "비중 mixes percent cells (row 2) with plain numbers (row 3)" in problems(out.getvalue())[0]


# --- formulas ----------------------------------------------------------------------------------------

def with_saved_values(data: bytes, values: dict[str, str]) -> bytes:
    """The workbook with Excel's saved value written into the formula cells named in `values`."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                for address, value in values.items():
                    start = content.index(f'<c r="{address}"'.encode())
                    empty = content.index(b"<v />", start)
                    content = content[:empty] + f"<v>{value}</v>".encode() + content[empty + len(b"<v />"):]
            target.writestr(name, content)
    return out.getvalue()


def test_formulas_without_saved_values_are_refused_naming_the_rows():
    data = xlsx(["종목코드", "비중", "raw"], ["005930", 60, 0.6], ["=\"000660\"", "=C3*100", 0.4],
                ["=\"035720\"", "=100-B2-B3"])  # the last row is formulas only
    assert problems(data) == (
        "formulas without a saved value in rows 3 and 4 (A3 is =\"000660\"): the file was written by a program "
        "that does not compute formulas; open it in Excel and save it in Excel first, then send it again",)


def test_a_formula_shown_as_percent_is_a_fraction_and_may_not_mix_with_plain_numbers():
    book = Workbook()
    sheet = book.active
    for row in (["종목코드", "비중"], ["005930", 60], ["000660", "=1-0.6"]):
        sheet.append(row)
    sheet["B3"].number_format = "0%"  # Excel shows 40%
    out = io.BytesIO()
    book.save(out)
    assert "비중 mixes percent cells (row 3) with plain numbers (row 2)" in problems(
        with_saved_values(out.getvalue(), {"B3": "0.4"}))[0]


def test_formulas_with_saved_values_are_read_by_their_values():
    data = xlsx(["종목코드", "비중"], ["005930", 60], ["000660", "=100-B2"])
    portfolio = read_portfolio(with_saved_values(data, {"B3": "40"}))
    assert [t.weight for t in portfolio.targets] == pytest.approx([0.6, 0.4])


# --- size limits -------------------------------------------------------------------------------------

def test_a_stray_cell_at_the_last_address_is_ignored_and_memory_stays_small():
    data = xlsx(["종목코드", "비중"], ["005930", 60], ["000660", 40], cells={"XFD1048576": "x"})
    assert len(data) < 10_000
    tracemalloc.start()
    try:
        portfolio = read_portfolio(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert portfolio.codes == ("005930", "000660")
    assert peak < 20_000_000  # before: the declared 1,048,576 x 16,384 grid was built (GBs)


def test_a_value_below_the_rows_read_is_refused_not_skipped():
    from rebalance.portfolio import ROW_LIMIT

    data = xlsx(["종목코드"], ["005930"], cells={"A5000": "000660"})
    assert problems(data) == (
        f"there is a value in cell A5000, below the {ROW_LIMIT:,} rows that are read: delete it, or keep the "
        f"portfolio within the first {ROW_LIMIT:,} rows",)


def test_a_thousand_bad_rows_are_refused_in_one_message_that_counts_the_rest():
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(xlsx(["종목코드"], *[[f"BAD{i:04d}"] for i in range(1000)]))
    error = caught.value
    assert len(error.problems) == 1000  # every problem is kept for the caller
    text = str(error)
    assert len(text) < 4096  # one Telegram message, not 25
    assert text.startswith("1000 problems:\n- 종목코드 'BAD0000'") and text.endswith("- and 980 more like these")
    assert error.one_line().endswith("; and 980 more like these") and len(error.one_line()) < 4096


def test_a_device_that_never_ends_is_read_only_up_to_the_limit():
    with pytest.raises(PortfolioError, match="over the 1 MB limit"):
        read_portfolio("/dev/zero")  # stat says 0 bytes; reading it all would never finish


def test_a_path_the_system_cannot_open_is_one_sentence_not_a_traceback(tmp_path):
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(tmp_path / ("가" * 300 + ".xlsx"))
    text = caught.value.one_line()
    assert "File name too long" in text and "check the path" in text and len(text) < 300


# --- US tickers --------------------------------------------------------------------------------------

@pytest.mark.parametrize("ticker, code, market", [("AAPL", "AAPL", ""), ("spy", "SPY", ""), ("BRK.B", "BRK.B", ""),
                                                  ("NYSE:KO", "KO", "NYSE")])
def test_a_us_ticker_in_the_file_is_read_with_the_exchange_its_prefix_names(ticker, code, market):
    portfolio = read_portfolio(xlsx(["종목코드", "비중"], ["005930", 50], [ticker, 50]))
    assert [(t.code, t.market) for t in portfolio.targets] == [("005930", ""), (code, market)]


def test_an_exchange_column_gives_a_us_ticker_its_exchange_and_is_ignored_for_krx_rows():
    portfolio = read_portfolio(xlsx(["종목코드", "거래소", "비중"], ["005930", "KOSPI", 40], ["KO", "nyse", 30],
                                    ["SPY", "", 30]))
    assert [(t.code, t.market, t.market_from) for t in portfolio.targets] == [
        ("005930", "", ""), ("KO", "NYSE", "column"), ("SPY", "", "")]


def test_an_exchange_cell_that_names_no_us_exchange_is_refused_naming_its_row():
    assert problems(xlsx(["종목코드", "market", "비중"], ["KO", "LSE", 100])) == (
        "market row 2: 'LSE' is not a US exchange for KO: write NASD, NYSE or AMEX.",)


def test_a_prefix_that_is_no_us_exchange_is_refused_in_one_sentence():
    assert problems(xlsx(["종목코드"], ["LSE:VOD"])) == (
        "'LSE' in 'LSE:VOD' is not a US exchange: write NASD:, NYSE: or AMEX: before the ticker.",)


def test_a_fractional_quantity_in_the_file_is_refused_whole_shares_only():
    assert problems(xlsx(["종목코드", "비중", "수량"], ["AAPL", 50, 2.5], ["005930", 50, 3])) == (
        "수량 row 2: '2.5' is not a whole number of shares: kisbot trades whole shares only "
        "(fractional 소수점 trading is not offered).",)


def test_six_letters_are_neither_a_krx_code_nor_a_ticker():
    assert problems(xlsx(["종목코드"], ["ABCDEF"])) == (
        "종목코드 'ABCDEF' is not a 6-character stock code such as 005930 or 0013V0 (row 2)",)
