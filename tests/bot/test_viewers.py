"""Viewers (TELEGRAM_VIEWER_CHAT_IDS) get the read pushes, daily reports and run summaries, never a button that
trades; `/accounts` gives each account's value; `/health` answers per account (issue 21)."""
from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest

from bot.household import viewer_push
from bot.notifier import Notifier
from bot.service import Button, Reply
from bot.telegram import TelegramSink
from bot_fakes import T0
from kis.models import OrderSide
from rebalance.events import Filled, Finished, RunStarted
from rebalance.i18n import using
from test_household import CHAT, VIEWER, ask, make_house, send_file, PENSION_MODEL, text
from test_household import sims  # noqa: F401 (a fixture)

OWNER = 111


class FakeBot:
    """What the sink asked Telegram to send, per chat, with the buttons' callback data."""

    def __init__(self):
        self.sent: dict[int, list[tuple[str, list[str]]]] = {}
        self._next = 0

    async def send_message(self, chat_id, text, reply_markup=None, **_):
        data = [b.callback_data for row in (reply_markup.inline_keyboard if reply_markup else ()) for b in row
                if getattr(b, "callback_data", None)]
        self.sent.setdefault(chat_id, []).append((text, data))
        self._next += 1
        return SimpleNamespace(message_id=self._next)

    async def send_photo(self, chat_id, photo, caption, **kwargs):
        return await self.send_message(chat_id, caption, **kwargs)

    async def edit_message_text(self, text, chat_id, message_id, **_):
        pass


@pytest.fixture
def sink():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    sink = TelegramSink([OWNER], viewers=[VIEWER])
    sink.attach(FakeBot(), loop)
    yield sink
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_a_viewer_gets_a_runs_summary_but_not_its_progress_or_fills(sink):
    notifier = Notifier(sink, batch_seconds=0, min_gap_seconds=0)
    with using("en"):
        notifier.handle(RunStarted("r1", "p1", T0, T0.replace(hour=11), slices=10, resumed=False))
        notifier.handle(Filled("r1", "005930", "삼성전자", OrderSide.BUY, 1, 71_000, done_qty=1, order_qty=1,
                               progress=1.0))
        notifier.flush()
        notifier.handle(Finished("r1", ()))
    owner, viewer = sink.bot.sent[OWNER], sink.bot.sent[VIEWER]
    assert len(owner) == 3  # progress, fills, summary
    assert [m[0] for m in viewer] == [owner[-1][0]]  # the summary alone
    assert "r1" in viewer[0][0]


def test_a_viewer_gets_the_daily_report_without_its_plan_button_and_never_an_error_or_alert(sink):
    report = Reply("Daily report", kind="report", buttons=(Button("Plan", "bandplan:main:x"),
                                                           Button("Refresh", "refresh:balance")))
    sink.send(report)
    sink.send(Reply("a run failed", kind="error"))
    sink.send(Reply("drift alert", kind="alert", buttons=(Button("Plan", "bandplan:main:x"),)))
    sink.send(Reply("Confirm?", buttons=(Button("Confirm", "confirm:main:abc"), Button("Cancel", "cancel:main:abc"))))
    assert sink.bot.sent[VIEWER] == [("Daily report", ["refresh:balance"])]
    assert [m[1] for m in sink.bot.sent[OWNER]][0] == ["bandplan:main:x", "refresh:balance"]
    assert len(sink.bot.sent[OWNER]) == 4


def test_a_chat_both_owner_and_viewer_is_an_owner():
    sink = TelegramSink([OWNER, VIEWER], viewers=[VIEWER])
    assert sink.viewers == [] and sink.chat_ids == [OWNER, VIEWER]


@pytest.mark.parametrize("kind", ["fills", "error", "alert", ""])
def test_only_reports_and_summaries_reach_a_viewer(kind):
    assert viewer_push(Reply("x", kind=kind)) is None
    assert viewer_push(Reply("x", kind="summary", buttons=(Button("Stop", "stop:main:r1"),))).buttons == ()


def test_a_viewers_status_and_balance_carry_no_button_that_trades(sims, tmp_path):  # noqa: F811
    house = make_house(sims, tmp_path, viewers={VIEWER})
    try:
        send_file(house, CHAT, PENSION_MODEL, "@pension")
        owner = [b.data for r in ask(house, CHAT, "confirm", "@pension") for b in r.buttons]  # the owner's run
        assert any(d.startswith("stop:pension:") for d in owner)  # the owner may stop it
        route = house.route(VIEWER, "status", ["@pension"])
        with house.serving(route):  # whatever an account's answer to a viewer carries, no button of it trades
            shown = house.labelled(house.desk("pension"), [Reply("run", buttons=(
                Button("Stop", "stop:r1"), Button("Refresh", "refresh:status")))])
        assert [b.data for b in shown[0].buttons] == ["refresh:status"]
        for command in ("status", "balance"):
            for reply in ask(house, VIEWER, command, "@pension"):
                assert not [b for b in reply.buttons if b.data.split(":")[0] in ("confirm", "cancel", "stop", "bandplan")]
    finally:
        house.stop_active_run()
        house.wait_for_run(20)


def test_accounts_gives_each_accounts_value(sims, tmp_path):  # noqa: F811
    house = make_house(sims, tmp_path)
    with using("en"):
        said = text(ask(house, CHAT, "accounts"))
    main_value = sims["main"].exchange.cash + sum(
        p.qty * sims["main"].market.quote(c).price for c, p in sims["main"].exchange.positions.items())
    assert f"value {main_value:,} won" in said
    assert "value 30,000,000 won" in said  # the 연금저축's cash
    assert said.index("@main") < said.index(f"value {main_value:,}") < said.index("@pension") < said.index(
        "value 30,000,000")


def test_accounts_says_which_value_is_not_available(sims, tmp_path):  # noqa: F811
    house = make_house(sims, tmp_path)
    sims["pension"].faults.error_rate = 1.0
    with using("en"):
        said = text(ask(house, CHAT, "accounts"))
    assert "value not available" in said and "value 30,000,000 won" not in said


def test_health_answers_for_the_account_named_and_all_for_every_one(sims, tmp_path):  # noqa: F811
    house = make_house(sims, tmp_path, pushed={}, viewers={VIEWER})
    with using("en"):
        route = house.route(CHAT, "health", ["@pension"])
        with house.serving(route):
            one = text(house.pushes.health())
        every = text(house.route(CHAT, "health", ["all"]).work())
        viewer = text(house.route(VIEWER, "health", ["all"]).work())  # a viewer may read it too
    assert "Account @pension (연금저축)" in one and "Account @main" not in one
    assert "Account @main (main)" in every and "Account @pension (연금저축)" in every
    assert viewer == every
