"""A Korean chat reads Korean: the main replies and refusals, rendered under `ko`, hold Hangul and no
English sentence left over (a new English literal in the files moved into the catalogues fails here)."""
from __future__ import annotations

import io
import re
import zipfile
from contextlib import redirect_stdout
from datetime import datetime
from types import SimpleNamespace

import pytest
from openpyxl import Workbook

from bot import format as fmt
from bot.cli_doctor import Finding, Status, _print_human, real_order_refusal
from bot.reports import Reports, report_replies
from bot.service import parse_duration
from bot.settings import load_twap_settings, options_from, parse_chat_ids
from bot_fakes import make_service
from kis.errors import ConfigError
from kis.krx import KST
from kis.models import Account, Balance, Holding, Quote
from rebalance import PlanSettings, Portfolio, PortfolioError, Target, build_plan, read_portfolio
from rebalance.history import ValueHistory
from rebalance.i18n import Lang, t, using
from rebalance.options import OptionsError, PlanOptions
from rebalance.portfolio import unknown_codes_error
from test_reports import MODEL, FakeKis

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=KST)
# Words a Korean sentence may carry as they are: commands, settings, names, units and codes.
KEPT = {"plan", "buy", "sell", "fills", "silent", "reports", "on", "keep", "band", "min", "confirm", "cancel", "status", "model", "lang", "price",
        "balance", "report", "health", "help", "notify", "perf", "orders", "real", "doctor", "secrets", "set",
        "code", "ticker", "krx", "always", "off", "mock", "sim", "pid", "xlsx", "xls", "kisbot", "Excel", "KIS", "HTS",
        "ID", "KST", "MB", "OK", "FAIL", "WARN", "Workbook", "Unhide", "s", "m", "h"}


def kept(token: str) -> bool:
    return token in KEPT or bool(re.fullmatch(r"[A-Z][A-Z0-9_]+", token))


def english_runs(text: str) -> list[str]:
    """Runs of three or more English words in a row: a sentence left in English."""
    runs, run = [], []
    for token in re.split(r"[\s,;:()\[\]'\"/.!?=]+", re.sub(r"<[^>]+>|https?://\S+", " ", text)):
        if re.fullmatch(r"[A-Za-z][A-Za-z'-]*", token) and not kept(token):
            run.append(token)
            continue
        if len(run) >= 3:
            runs.append(" ".join(run))
        run = []
    if len(run) >= 3:
        runs.append(" ".join(run))
    return runs


def assert_korean(text: str) -> None:
    assert re.search("[\uac00-\ud7a3]", text), f"no Hangul in: {text!r}"
    assert english_runs(text) == [], f"English left in: {text!r}"


def test_the_check_itself_finds_an_english_sentence_and_lets_korean_through():
    assert english_runs("No run is active.") == ["No run is active"]
    assert english_runs("진행 중인 실행이 없습니다. /plan buy 500000 keep band 2") == []


def xlsx(*rows, hidden_sheet=False) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    if hidden_sheet:
        book.active.title = "notes"
        other = book.create_sheet("model")
        other.append(["종목코드", "비중"])
        other.sheet_state = "hidden"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zipped() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return out.getvalue()


BAD_FILES = {
    "empty": b"",
    "old xls": b"\xd0\xcf\x11\xe0" + b"\0" * 100,
    "not a zip": b"hello",
    "a zip that is no workbook": zipped(),
    "no code column": xlsx(["name", "weight"], ["삼성전자", 0.5]),
    "an empty sheet": xlsx(),
    "no stocks": xlsx(["종목코드", "비중"]),
    "a bad code and an empty code": xlsx(["종목코드", "비중"], ["59A", 0.5], [None, 0.2]),
    "a duplicate": xlsx(["종목코드", "비중"], ["005930", 0.3], ["005930", 0.3]),
    "two code columns": xlsx(["종목코드", "code"], ["005930", "005930"]),
    "over 100 %": xlsx(["종목코드", "비중"], ["005930", 70], ["000660", 60]),
    "a weight that is no number": xlsx(["종목코드", "비중"], ["005930", "half"], ["000660", -1]),
    "an empty weight": xlsx(["종목코드", "비중"], ["005930", None], ["000660", 0.2]),
    "every weight 0": xlsx(["종목코드", "비중"], ["005930", 0], ["000660", 0]),
    "percent and plain numbers": xlsx(["종목코드", "비중"], ["005930", "10%"], ["000660", 0.2]),
    "a percent header of fractions": xlsx(["종목코드", "비중(%)"], ["005930", 0.5], ["000660", 0.3]),
    "a bad band": xlsx(["종목코드", "비중", "밴드"], ["005930", 0.5, "wide"]),
    "a second weight column": xlsx(["종목코드", "비중", "목표 비중 2"], ["005930", 0.5, 0.4]),
    "the table on a hidden sheet": xlsx(["memo"], hidden_sheet=True),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_bad_model_file_is_refused_in_korean(kind):
    with pytest.raises(PortfolioError) as caught:
        read_portfolio(BAD_FILES[kind], name="모델.xlsx")
    with using(Lang.KO):
        assert_korean(str(caught.value))
        assert_korean(caught.value.one_line())
    english = re.sub(r"'[^']*'|모델\.xlsx|종목코드|비중|밴드", "", str(caught.value))
    assert not re.search("[\uac00-\ud7a3]", english), f"an English chat reads English: {english!r}"


def test_a_missing_file_and_an_unknown_code_are_refused_in_korean(tmp_path):
    with pytest.raises(PortfolioError) as missing:
        read_portfolio(tmp_path / "없음.xlsx")
    model = Portfolio((Target("005930", 0.5, row=2), Target("999999", 0.5, row=3)), "m.xlsx")
    unknown = unknown_codes_error(model, ["999999", "123450"])
    with using(Lang.KO):
        assert_korean(str(missing.value))
        assert_korean(str(unknown))


def holding(code, qty, price, orderable=None):
    return Holding(code=code, name="", qty=qty, orderable_qty=qty if orderable is None else orderable,
                   avg_price=price, price=price, value=qty * price, purchase_amount=qty * price, pnl=0, pnl_rate=0.0)


def test_a_plan_with_notes_reads_korean():
    model = Portfolio((Target("005930", 0.5), Target("000660", 0.001), Target("035720", 0.2)), "m.xlsx",
                      notes=())
    account = Balance(holdings=(holding("035720", 100, 40_000, orderable=10),), cash=1_000_000, cash_d2=1_000_000,
                      stock_value=4_000_000, total_value=5_000_000, pnl=0)
    prices = {"005930": 70_000, "000660": 200_000, "035720": 40_000}
    quotes = {c: Quote(code=c, price=p, change=0, change_rate=0.0, at=NOW) for c, p in prices.items()}
    with using(Lang.KO):
        plan = build_plan(model, account, quotes, PlanSettings(), NOW, "abcd1234")
        assert len(plan.notes) >= 3  # weights short of 100 %, less than one share, only part sellable
        for note in plan.notes:
            assert_korean(note)
        for message in fmt.plan_messages(plan):
            assert_korean(message.plain())
        assert "리밸런싱 계획 abcd1234" in fmt.plan_messages(plan)[0].plain()


def test_an_amount_refusal_is_korean_where_it_is_read():
    model = Portfolio((Target("005930", 1.0),), "m.xlsx")
    account = Balance(holdings=(), cash=100_000, cash_d2=100_000, stock_value=0, total_value=100_000, pnl=0)
    quotes = {"005930": Quote(code="005930", price=70_000, change=0, change_rate=0.0, at=NOW)}
    with pytest.raises(OptionsError) as caught:
        build_plan(model, account, quotes, PlanSettings(), NOW, "abcd1234",
                   options=PlanOptions(buy_only=True, amount=5_000_000))
    with using(Lang.KO):
        assert_korean(str(caught.value))


def test_the_bots_main_replies_read_korean():
    service, *_ = make_service()
    with using(Lang.KO):
        for replies in (service.status(), service.cancel(), service.confirm(), service.confirm(["1", "2"]),
                        service.price([]), service.price(["5930A"]), service.plan_file(b"x", "model.csv"),
                        service.plan_file(b"", "model.xlsx")):
            for reply in replies:
                assert_korean(reply.plain)
        with pytest.raises(ValueError) as short:
            parse_duration("1s")
        assert_korean(str(short.value))


def test_a_plan_offer_reads_korean():
    service, *_ = make_service()
    with using(Lang.KO):
        replies = service.plan_file("005930 000660".encode(), "model.xlsx")
        caption = replies[-1].plain
        assert caption.startswith("계획 ") and "매도" in caption and "매수" in caption
        assert_korean(caption)


def test_the_daily_report_reads_korean(tmp_path):
    kis = FakeKis(tmp_path)
    reports = Reports(kis, ValueHistory.in_dir(tmp_path), calendar="always", now=lambda: NOW,
                      load_model=lambda: MODEL)
    report = reports.build()
    with using(Lang.KO):
        replies = report_replies(report)
    text = "\n".join(r.plain for r in replies)
    for word in ("일일 리포트", "총평가금액", "예수금(D+2)", "오늘 체결된 주문이 없습니다", "비중 이탈"):
        assert word in text
    assert_korean(text)
    with using(Lang.KO):
        no_model = Reports(kis, ValueHistory.in_dir(tmp_path / "b"), calendar="always", now=lambda: NOW,
                           load_model=lambda: None).build()
        assert_korean("\n".join(r.plain for r in report_replies(no_model)))


def test_the_doctors_lines_read_korean():
    report = {"env": "mock", "account": "5008****-01", "base_url": "https://openapivts.koreainvestment.com:29443",
              "ok": False, "orders_placed": 1, "stopped_by": None,
              "configuration": [{"name": "KIS_ENV", "value": "mock", "origin": "default"}]}
    findings = [Finding("token", Status.OK, ""), Finding("test order", Status.FAIL, "")]
    out = io.StringIO()
    with using(Lang.KO), redirect_stdout(out):
        _print_human(report, findings)
        refusals = [real_order_refusal(SimpleNamespace(real=False), None, input),
                    real_order_refusal(SimpleNamespace(real=True), SimpleNamespace(account=Account.parse("12345678-01")),
                                       lambda prompt: (_ for _ in ()).throw(EOFError))]
    printed = out.getvalue()
    assert "토큰" in printed and "테스트 주문" in printed and "기본값" in printed
    for line in printed.splitlines():
        if line.strip():
            assert english_runs(line) == [], line
    for sentence in refusals:
        assert_korean(sentence)


@pytest.mark.parametrize("setting", [{"TWAP_START": "25:00"}, {"MARKET_CALENDAR": "nyse"},
                                     {"TWAP_START": "15:00", "TWAP_END": "09:00"}, {"KISBOT_PRICE_GUARD": "50"},
                                     {"KISBOT_BAND": "x"}, {"KISBOT_MIN_TRADE": "y"}, {"chat ids": "12,abc"}])
def test_a_bad_setting_is_refused_in_korean(setting):
    with using(Lang.KO), pytest.raises(ConfigError) as caught:
        if "chat ids" in setting:
            parse_chat_ids(setting["chat ids"])
        elif any(k.startswith("KISBOT_BAND") or k.startswith("KISBOT_MIN") for k in setting):
            options_from(setting)
        else:
            load_twap_settings(SimpleNamespace(get=lambda name, default="": setting.get(name, default)))
    assert_korean(str(caught.value))


def test_status_of_a_run_and_the_last_receipt_read_korean(tmp_path):
    from dataclasses import replace

    from bot_fakes import a_run
    from kis.models import OrderSide
    from rebalance.receipt import ReceiptStore, build_receipt
    from rebalance.shortfall import Shortfall, ShortReason
    from rebalance.twap import StockProgress
    from tests.rebalance.twap_fakes import line, make_plan

    store = ReceiptStore(tmp_path / "journal.sqlite3", "50000000-01")
    short = Shortfall("005930", "삼성전자", OrderSide.BUY, 10, 4, ((ShortReason.HALTED, 6),))
    store.save(replace(build_receipt("r9", make_plan(line("005930", 70_000, 0, 10)), [], None), shortfalls=(short,)))
    service, _, executor, *_ = make_service(receipts=store)
    with using(Lang.KO):
        after = "\n".join(r.plain for r in service.status())
        assert "실행 중인 계획 없음" in after and "지난 실행" in after  # the three-line summary
        assert_korean(after)
        full = "\n".join(r.plain for r in service.receipt())  # its Full receipt button
        assert "r9" in full
        assert_korean(full)
        executor.active = a_run("r10", progress=0.3, stocks=(
            StockProgress("005930", "삼성전자", OrderSide.BUY, 3, 10, 0, True, unresolved_qty=1),))
        during = "\n".join(r.plain for r in service.status())
        assert "실행 r10" in during and "30% 진행" in during and "매수" in during
        assert_korean(during)


def test_the_command_lines_sentences_read_korean():
    from bot.cli_common import failure_sentence
    from kis.errors import KisError, UnknownStock

    with using(Lang.KO):
        for sentence in (failure_sentence(UnknownStock(["999999"])),
                         failure_sentence(KisError("OPSQ0013", "잔고 조회 실패")), t("cli_lines.no_saved_model")):
            assert_korean(sentence)


def test_notify_durations_and_an_order_to_check_read_korean(tmp_path):
    from bot.notify import NotifyPrefs
    from kis.models import OrderSide
    from rebalance.events import UnresolvedOrder

    prefs = NotifyPrefs.in_dir(tmp_path)
    orders = [UnresolvedOrder("005930", "삼성전자", OrderSide.BUY, 3, NOW),
              UnresolvedOrder("005930", "삼성전자", OrderSide.SELL, 3, NOW, candidates=2),
              UnresolvedOrder("005930", "삼성전자", OrderSide.BUY, 3, NOW, open_qty=2, order_no="0001234")]
    with using(Lang.KO):
        for replies in (prefs.command(1, []), prefs.command(1, ["fills", "silent"]), prefs.command(1, ["x"])):
            assert_korean(replies[0].plain)
        for text in ("abc", "0s", "99999999999h"):
            with pytest.raises(ValueError) as caught:
                parse_duration(text)
            assert_korean(str(caught.value))
        for order in orders:
            assert_korean(order.what_to_check)
