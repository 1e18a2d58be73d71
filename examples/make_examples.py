"""Regenerate the example portfolio files: `python examples/make_examples.py`.

model.xlsx is ten large caps at equal weight (no weight column); multifactor.xlsx
is a weighted 20-stock portfolio in percent; broken/ holds files that show each error message.
"""
from __future__ import annotations

from pathlib import Path

from rebalance.testing import Sheet, workbook

HERE = Path(__file__).resolve().parent

NAMES = {
    "005930": "삼성전자", "373220": "LG에너지솔루션", "000660": "SK하이닉스", "207940": "삼성바이오로직스",
    "051910": "LG화학", "035420": "NAVER", "005380": "현대차", "006400": "삼성SDI", "035720": "카카오",
    "105560": "KB금융", "000270": "기아", "068270": "셀트리온", "005490": "POSCO홀딩스",
    "012330": "현대모비스", "055550": "신한지주", "086790": "하나금융지주", "032830": "삼성생명",
    "003550": "LG", "017670": "SK텔레콤", "030200": "KT", "066570": "LG전자", "096770": "SK이노베이션",
    "034730": "SK", "015760": "한국전력", "033780": "KT&G", "316140": "우리금융지주",
}

# Ten KRX large caps at equal weight: a model file with no weight column.
LARGE_CAPS_TEN = ["005930", "373220", "000660", "207940", "051910", "035420", "005380", "006400", "035720", "105560"]

# A multi-factor pick of 20 KRX large caps, weights in percent adding up to 100.
MULTIFACTOR = [
    ("005930", 8), ("000660", 8), ("005380", 7), ("000270", 7), ("105560", 6), ("055550", 6),
    ("086790", 6), ("068270", 5), ("005490", 5), ("012330", 5), ("032830", 5), ("003550", 5),
    ("017670", 4), ("030200", 4), ("066570", 4), ("034730", 4), ("015760", 3), ("033780", 3),
    ("316140", 3), ("096770", 2),
]


def write_rows(path: Path, rows: list[list[object]], title: str = "Portfolio") -> None:
    """Write `rows` (the first is the header) to the first sheet of a new workbook."""
    write_sheets(path, [(title, rows, "visible")])


def write_sheets(path: Path, sheets: list[Sheet], active: int = 0) -> None:
    """Write (title, rows, state) sheets to a new workbook that opens on sheet number `active`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(workbook(*sheets, active=active))


def main() -> None:
    write_rows(HERE / "model.xlsx", [["종목코드", "종목명"]] + [[c, NAMES[c]] for c in LARGE_CAPS_TEN])
    # KRX and US in one model: the exchange from its column (KO), its prefix (NYSE:... style is accepted too) or,
    # left blank, KIS's lookup (AAPL, SPY, TLT).
    write_rows(HERE / "mixed.xlsx", [["종목코드", "종목명", "거래소", "비중"],
                                     ["005930", "삼성전자", "", 20], ["069500", "KODEX 200", "", 20],
                                     ["0013V0", "", "", 5], ["AAPL", "Apple", "", 15], ["SPY", "SPDR S&P 500", "", 20],
                                     ["TLT", "iShares 20+ Year Treasury", "", 10], ["KO", "Coca-Cola", "NYSE", 10]])
    assert sum(w for _, w in MULTIFACTOR) == 100 and len(MULTIFACTOR) == 20
    write_rows(HERE / "multifactor.xlsx",
               [["종목코드", "종목명", "비중"]] + [[c, NAMES[c], w] for c, w in MULTIFACTOR])

    broken = HERE / "broken"
    # Row 4 holds a code with a letter in it.
    write_rows(broken / "bad_code.xlsx",
               [["종목코드", "비중"], ["005930", 50], ["000660", 25], ["5930A", 25]])
    write_rows(broken / "duplicate.xlsx",
               [["종목코드", "비중"], ["005930", 40], ["000660", 30], ["005930", 30]])
    write_rows(broken / "over_100.xlsx",
               [["종목코드", "비중"], ["005930", 60], ["000660", 30], ["005380", 20]])
    write_rows(broken / "negative_weight.xlsx",
               [["종목코드", "비중"], ["005930", 0.6], ["000660", -0.1]])
    write_rows(broken / "no_code_column.xlsx",
               [["Stock", "Weight"], ["005930", 50], ["000660", 50]])
    # Written by a program (not Excel): the formula in B3 has no saved value.
    write_rows(broken / "unsaved_formula.xlsx",
               [["종목코드", "비중"], ["005930", 60], ["000660", "=100-B2"]])
    # Fractions with one cell typed as "50%": could be 0.3 % or 30 %.
    write_rows(broken / "mixed_percent.xlsx",
               [["종목코드", "비중"], ["005930", 0.3], ["000660", 0.2], ["035720", "50%"]])
    write_rows(broken / "unread_weights.xlsx",
               [["종목코드", "Weighting (%)"], ["005930", 70], ["000660", 30]])
    old = [["종목코드", "비중"], ["005930", 50], ["000660", 50]]
    new = [["종목코드", "비중"], ["035720", 100]]
    write_sheets(broken / "two_portfolios.xlsx",
                 [("notes", [["model updated monthly"]], "visible"), ("old", old, "visible"), ("new", new, "visible")])
    write_sheets(broken / "hidden_portfolio.xlsx",
                 [("model", old, "hidden"), ("notes", [["model updated monthly"]], "visible")], active=1)
    (broken / "not_xlsx.xlsx").write_text("종목코드,비중\n005930,50\n000660,50\n", encoding="utf-8")


if __name__ == "__main__":
    main()
