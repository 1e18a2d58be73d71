"""The whole bot: Telegram (fake Bot API) -> service -> planner, TWAP executor, journal -> KisClient -> sim.

The executor runs on a fake clock, so a window of minutes passes in milliseconds; `HoldableClock`
stops time at a chosen moment so a test can cancel a run while it is under way.
"""
from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from bot.service import open_service
from kis.config import Source
from rebalance.testing import FakeClock, workbook as xlsx_bytes
from tests.conftest import SIM_START
from tg_harness import OWNER, STRANGER, BotRunner, chat_texts as texts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class HoldableClock(FakeClock):
    """A FakeClock that, once `hold_at` is reached, really waits (for cancel) instead of jumping, until cancelled."""

    def __init__(self, start, exchange_clock=None):
        super().__init__(start)
        self.hold_at = None
        self.holding = threading.Event()
        self.exchange_clock = exchange_clock  # the sim's manual clock: the exchange's time moves along

    def wait(self, seconds, cancel):
        if self.hold_at is not None and self.now() + timedelta(seconds=seconds) >= self.hold_at:
            self.holding.set()
            if cancel.wait(2.0):
                self.hold_at = None  # the run is cancelled: time moves again (KIS confirms its cancels later)
                return True
            return False
        before = self.now()
        cancelled = super().wait(seconds, cancel)
        if self.exchange_clock is not None:
            self.exchange_clock.advance((self.now() - before).total_seconds())
        return cancelled


def env_source(tmp_path):
    # The default window is the first two minutes of the sim's day: a button confirm runs it whole.
    return Source(environ={"MARKET_CALENDAR": "always", "TWAP_START": "10:00", "TWAP_END": "10:02"},
                  dotenv_path=tmp_path / "no.env", use_keyring=False)


@pytest.fixture
def clock(sim):
    return HoldableClock(SIM_START, sim.clock)


@pytest.fixture
def bot(api, sim, sim_client, clock, tmp_path):
    def build(on_event):
        return open_service(sim_client, source=env_source(tmp_path), on_event=on_event, clock=clock,
                            poll_seconds=2.0, catch_up_seconds=20.0, settle_seconds=2.0, max_slices=3)

    runner = BotRunner(api, build, batch_seconds=0.2, min_gap_seconds=0.2).start()
    yield runner
    runner.finish()


def wait_text(api, needle, chat=OWNER, timeout=15.0):
    return api.wait_for(lambda a: [t for t in texts(a, chat) if needle in t], timeout)[0]


def upload(api, name="model.xlsx", folder=EXAMPLES):
    api.send_document(OWNER, name, (folder / name).read_bytes(), caption="/plan")
    photo = api.wait_for(lambda a: a.calls_to("sendPhoto"))[-1]
    sent = len(api.calls_to("sendPhoto"))
    # The fake records a call before it stores the message it answers with: wait for that message too.
    stored = api.wait_for(lambda a: (ids := [k[1] for k, m in list(a._messages.items()) if "photo" in m])
                          and len(ids) >= sent and ids)
    message_id = max(stored)
    return photo, message_id


def test_unauthorized_chat_sees_no_account_data(api, bot, sim):
    before = sim.path_counts()
    api.send_text(STRANGER, "/balance")
    refusal = wait_text(api, "chat id", chat=STRANGER)
    assert str(STRANGER) in refusal and "won" not in refusal
    assert sim.path_counts() == before  # not a single KIS call


def test_price_and_balance_from_the_exchange(api, bot, sim):
    sim.exchange.set_price("005930", 71_500)
    api.send_text(OWNER, "/price 005930 999999")
    price = wait_text(api, "005930")
    assert "71,500" in price and "Unknown stock code: 999999" in price
    api.send_text(OWNER, "/balance")
    balance = wait_text(api, "Balance")
    assert "total" in balance and "cash" in balance


def test_upload_confirm_fills_and_summary(api, bot, sim):
    photo, message_id = upload(api)
    assert photo.files["photo"][:8] == b"\x89PNG\r\n\x1a\n"
    plan_id = photo.buttons[0]["callback_data"].removeprefix("confirm:")
    assert [b["text"] for b in photo.buttons] == [f"Confirm {plan_id}", "Cancel"]
    plan_table = "\n".join(texts(api))
    assert "005930" in plan_table and "373220" in plan_table
    api.press(OWNER, message_id, photo.buttons[0]["callback_data"])
    wait_text(api, "started")
    summary = wait_text(api, "Run finished", timeout=30)
    assert "all on target" in summary
    fills = [t for t in texts(api) if "Filled" in t]
    assert fills
    assert "all on target" in summary  # a doubled order would leave a stock beyond its target
    rows = re.findall(r"^(\d{6}) .*? ([\d,]+) +[\d,]+ +[+-][\d,]+$", summary, flags=re.M)  # code .. target actual diff
    assert len(rows) >= 10
    assert {code: sim.exchange.holding_qty(code) for code, _ in rows} == \
        {code: int(target.replace(",", "")) for code, target in rows}  # the exchange's own books agree
    assert api.calls_to("editMessageText")  # the progress message moved in place


def test_cancel_mid_run_reports_what_was_done(api, bot, sim, clock):
    sim.exchange.partial_fill_shares = 1  # orders fill one share at once and rest
    photo, message_id = upload(api)
    clock.hold_at = SIM_START + timedelta(seconds=40)
    api.send_text(OWNER, "/confirm 90s")
    wait_text(api, "started")
    assert clock.holding.wait(15)
    api.send_text(OWNER, "/status")
    status = wait_text(api, " left")
    assert "% done" in status and "/" in status
    api.send_text(OWNER, "/cancel")
    wait_text(api, "Stopping the run")
    summary = wait_text(api, "Run cancelled", timeout=30)
    assert "target" in summary and "actual" in summary
    resting = int(re.search(r"(\d+) resting order\(s\) cancelled", summary)[1])
    assert resting >= 1 and sim.exchange.open_orders() == []  # nothing left working at the exchange
    api.send_text(OWNER, "/status")
    wait_text(api, "No run is active")


def test_stale_plan_is_replanned_not_executed(api, bot, sim, clock):
    photo, message_id = upload(api)
    orders_before = len(sim.exchange.order_log)
    clock.advance(6 * 60)
    api.press(OWNER, message_id, photo.buttons[0]["callback_data"])
    note = wait_text(api, "expired")
    assert "nothing was ordered" in note
    api.wait_for(lambda a: len(a.calls_to("sendPhoto")) == 2)
    assert len(sim.exchange.order_log) == orders_before


def test_bad_files_are_explained(api, bot):
    for name, says in (("bad_code.xlsx", "6-character stock code"), ("not_xlsx.xlsx", "xlsx")):
        api.send_document(OWNER, name, (EXAMPLES / "broken" / name).read_bytes())
        text = wait_text(api, name)
        assert says in text
    assert not api.calls_to("sendPhoto")


# --- the model file, as a user sends it ----------------------------------------------------------------

def test_the_plan_says_which_sheet_and_weight_column_were_read(api, bot):
    old = [["종목코드", "비중"], ["005930", 50], ["000660", 50]]
    new = [["종목코드", "종목명", "비중(%)"], ["005930", "삼성전자", 60], ["005380", "현대차", 40]]
    data = xlsx_bytes(("old", old, "hidden"), ("new", new, "visible"), active=1)
    api.send_document(OWNER, "mine.xlsx", data, caption="/plan")
    api.wait_for(lambda a: a.calls_to("sendPhoto"))
    note = wait_text(api, "Read 2 stocks").split("\n\n")[0]  # the notes ride on the plan table
    assert note == ("Read 2 stocks from sheet 'new'; weights from column C '비중(%)', read as percent "
                    "(the header says %).")
    table = "\n".join(texts(api))
    goals = {code: float(goal) for code, goal in re.findall(r"^(\d{6}) .*?→([\d.]+)$", table, flags=re.M)}
    assert goals["005930"] / goals["005380"] == pytest.approx(1.5, rel=0.02)  # 60:40, not equal weights
    assert goals.get("000660", 0.0) == 0.0  # the hidden sheet's stock is not bought


def test_model_files_that_would_be_misread_are_refused_with_no_plan(api, bot, sim):
    before = sim.path_counts()
    for name, says in (("unsaved_formula.xlsx", "save it in Excel first"),
                       ("mixed_percent.xlsx", "mixes percent cells (row 4)"),
                       ("unread_weights.xlsx", "looks like weights"),
                       ("two_portfolios.xlsx", "sheets 'old' and 'new' each have a 종목코드 column"),
                       ("hidden_portfolio.xlsx", "hidden sheet 'model'")):
        api.send_document(OWNER, name, (EXAMPLES / "broken" / name).read_bytes(), caption="/plan")
        text = wait_text(api, f"Cannot use {name}")
        assert says in text
    assert not api.calls_to("sendPhoto")
    assert sim.path_counts() == before  # nothing asked of the broker for a file that cannot be used
    api.send_text(OWNER, "/confirm")
    wait_text(api, "no plan to confirm")


def test_a_stray_cell_at_the_last_address_still_plans(api, bot):
    data = xlsx_bytes(("Portfolio", [["종목코드", "비중"], ["005930", 50], ["000660", 50]], "visible"),
                      cells={"XFD1048576": "x"})
    assert len(data) < 10_000
    api.send_document(OWNER, "stray.xlsx", data, caption="/plan")
    photo = api.wait_for(lambda a: a.calls_to("sendPhoto"))[-1]
    assert [b["text"] for b in photo.buttons][1:] == ["Cancel"]
    assert photo.buttons[0]["text"].startswith("Confirm ")
    assert "Read 2 stocks; weights from column B '비중'" in "\n".join(texts(api))


def test_a_plan_of_203_stocks_is_offered_with_its_chart(api, tmp_path, clock):
    from kis.sim import ManualClock, SimServer
    from kis.sim.clients import client_for
    from kis.sim.market import load_seed

    codes = [s["code"] for s in load_seed()["stocks"]]
    codes += [f"{900000 + i:06d}" for i in range(1, 204 - len(codes))]
    rows = [["종목코드"]] + [[code] for code in codes]
    with SimServer(0, rate_limit=500, synthetic=203, seed=7, clock=ManualClock(SIM_START)) as sim:
        client = client_for(sim, tmp_path / "kisbot")

        def build(on_event):
            return open_service(client, source=env_source(tmp_path), on_event=on_event, clock=clock)

        runner = BotRunner(api, build, batch_seconds=0.2, min_gap_seconds=0.2).start()
        try:
            api.send_document(OWNER, "big.xlsx", xlsx_bytes(("Portfolio", rows, "visible")), caption="/plan")
            offer = api.wait_for(lambda a: [c for c in a.calls_to("sendMessage", "sendPhoto")
                                            if "reply_markup" in c.params], timeout=30)[-1]
            # Before: the 800 x 9,888 px chart was refused (PHOTO_INVALID_DIMENSIONS) and the offer came as
            # text without its chart.
            assert offer.method == "sendPhoto"
            api.wait_for(lambda a: [m for m in a._messages.values() if "photo" in m and m.get("reply_markup")])
            assert "Read 203 stocks" in "\n".join(texts(api))
        finally:
            runner.stop()


def test_a_confirmed_run_says_started_before_any_push_says_running(api, bot, sim, monkeypatch):
    upload(api)
    confirm = bot.service.confirm

    def slow_to_answer(*args, **kwargs):  # the run's thread starts (and pushes) before the answer leaves
        replies = confirm(*args, **kwargs)
        time.sleep(0.5)
        return replies

    monkeypatch.setattr(bot.service, "confirm", slow_to_answer)
    api.send_text(OWNER, "/confirm 30s")
    wait_text(api, "Run finished", timeout=30)
    said = texts(api)
    started = next(i for i, text in enumerate(said) if "started:" in text)
    running = next(i for i, text in enumerate(said) if " running:" in text)
    assert started < running, said[started - 1:running + 2]
