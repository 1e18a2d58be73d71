"""The household: two accounts (a general one and a 연금저축), each on its own paper exchange, served by one bot.

Commands find their account by `@label`, the chat's `/use` default, else the first account; every button
names its account, so a Confirm of one account's plan never trades the other; viewers only read."""
from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import timedelta
from itertools import permutations

import pytest
from openpyxl import Workbook

from bot import order_gate
from bot.household import Desk, Household, command_of
from bot.service import Reply, open_service
from kis.accounts import AccountKind
from kis.client import KisClient
from kis.config import Source, account_data_dir
from kis.sim import ManualClock, SimServer
from kis.sim.clients import sim_config
from kis.sim.market import load_seed
from rebalance.i18n import using
from tests.conftest import SIM_START, SIM_TEST_RATE
from test_telegram_e2e import HoldableClock

CHAT, OTHER, VIEWER = 111, 222, 333
PENSION_CASH = 30_000_000
LABELS = ("main", "pension")


def xlsx(*rows: tuple[str, float]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["종목코드", "비중"])
    for code, weight in rows:
        sheet.append([code, weight])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


MAIN_MODEL = xlsx(("005930", 50), ("000660", 40))
PENSION_MODEL = xlsx(("069500", 40), ("360750", 30), ("148070", 30))


@pytest.fixture
def sims(tmp_path):
    seed_file = tmp_path / "pension-seed.json"
    seed_file.write_text(json.dumps({**load_seed(), "cash": PENSION_CASH, "holdings": []}), encoding="utf-8")
    servers = {
        "main": SimServer(0, rate_limit=SIM_TEST_RATE, clock=ManualClock(SIM_START), always_open=True,
                          account="50000000-01"),
        "pension": SimServer(0, rate_limit=SIM_TEST_RATE, clock=ManualClock(SIM_START), always_open=True,
                             account="50000001-22", app_key="PSsimPENSIONappKEY000000000000000022",
                             seed_file=str(seed_file)),
    }
    for server in servers.values():
        server.start()
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def make_house(sims, tmp_path, *, viewers=frozenset(), events=None, pushed=None, doctor_passed=True) -> Household:
    source = Source(environ={"MARKET_CALENDAR": "always"}, dotenv_path=tmp_path / "no.env", use_keyring=False)
    desks = []
    for label, kind, name in (("main", AccountKind.GENERAL, "main"), ("pension", AccountKind.PENSION, "연금저축")):
        sim = sims[label]
        config = replace(sim_config(sim, account_data_dir(tmp_path / "data", label, LABELS)), label=label, kind=kind)
        client = KisClient(config, wall=sim.clock)
        if kind is AccountKind.PENSION and doctor_passed:  # its owner ran `kisbot doctor --orders --account pension`
            order_gate.record_pass(config, SIM_START)
        log = events.setdefault(label, []) if events is not None else []
        service = open_service(client, source=source, on_event=log.append, clock=HoldableClock(SIM_START, sim.clock),
                               default_duration=timedelta(minutes=1), poll_seconds=2.0, catch_up_seconds=20.0,
                               settle_seconds=2.0, max_slices=3)
        pushes = None
        if pushed is not None:  # the account's reports, pushed into `pushed[label]`
            from bot.pushes import open_pushes
            from rebalance.testing import FakeClock

            pushes = open_pushes(service, source=source, push=pushed.setdefault(label, []).append,
                                 clock=FakeClock(SIM_START))
        desks.append(Desk(label, name, kind, service, pushes))
    return Household(desks, data_dir=tmp_path / "data", viewers=frozenset(viewers))


@pytest.fixture
def house(sims, tmp_path):
    household = make_house(sims, tmp_path, viewers={VIEWER})
    yield household
    household.stop_active_run()
    household.wait_for_run(20)


def ask(house: Household, chat: int, command: str, *words: str) -> list[Reply]:
    """What a front end does with one command: route it, then call the routed service inside `serving`."""
    route = house.route(chat, command, list(words))
    if route.work is not None:
        return route.work()
    service = house.service
    with house.serving(route):
        rest = list(route.words)
        if command == "balance":
            return service.balance()
        if command == "status":
            return service.status(chat=chat)
        if command == "plan":
            return service.plan(rest, chat=chat)
        if command == "confirm":
            return service.confirm(rest, chat=chat)
        if command == "cancel":
            return service.cancel(chat=chat)
        if command == "accounts":
            return service.accounts()
        raise AssertionError(command)


def send_file(house: Household, chat: int, data: bytes, caption: str = "") -> list[Reply]:
    route = house.route(chat, "file", caption.split())
    if route.work is not None:
        return route.work()
    with house.serving(route):
        ticket = house.service.file_received(chat)
        replies = house.service.plan_file(data, "model.xlsx", ticket, caption.split(), chat=chat)
    for reply in replies:  # delivered: a typed /confirm may run it
        if reply.offers:
            house.service.shown(reply.offers, chat)
    return replies


def press(house: Household, chat: int, data: str) -> list[Reply]:
    """A button press, as bot/telegram.py routes it: by the account its data names."""
    action, _, ident = data.partition(":")
    route = house.route(chat, f"button:{action}", [ident])
    if route.work is not None:
        return route.work()
    with house.serving(route):
        if action == "confirm":
            return house.service.confirm((), ident, chat=chat)
        if action == "cancel":
            return house.service.cancel(ident, chat=chat)
        return house.service.stop(ident, chat=chat)


def text(replies: list[Reply]) -> str:
    return "\n".join(r.plain for r in replies)


def confirm_data(replies: list[Reply]) -> str:
    return next(b.data for r in replies for b in r.buttons if b.data.startswith("confirm:"))


def test_a_label_anywhere_in_a_command_picks_its_account_and_a_plain_command_goes_to_the_first(house, sims):
    with using("en"):
        pension = text(ask(house, CHAT, "balance", "@pension"))
        main = text(ask(house, CHAT, "balance"))
    assert "30,000,000" in pension and "005930" not in pension  # the 연금저축 holds cash only
    assert "005930" in main
    route = house.route(CHAT, "plan", ["buy", "@Pension", "500000"])
    assert route.desk.label == "pension" and route.words == ("buy", "500000")


def test_a_file_caption_with_a_label_plans_against_that_account_and_its_header_and_buttons_name_it(house, sims):
    with using("en"):
        replies = send_file(house, CHAT, PENSION_MODEL, "/plan @pension")
    assert text(replies).startswith("Account @pension (연금저축)")
    caption = next(r for r in replies if r.offers)
    assert caption.plain.startswith("Account @pension (연금저축)")  # the Confirm caption names it too
    assert {b.data.split(":")[:2][1] for b in caption.buttons} == {"pension"}
    assert "069500" in text(replies)


def test_a_plan_without_a_label_has_its_account_in_the_header_and_on_its_buttons(house):
    with using("en"):
        replies = send_file(house, CHAT, MAIN_MODEL)
    assert text(replies).startswith("Account @main (main)")
    assert confirm_data(replies).startswith("confirm:main:")


def test_use_sets_the_chats_default_and_a_restart_keeps_it(house, sims, tmp_path):
    with using("en"):
        said = text(ask(house, CHAT, "use", "pension"))
        assert said == ("This chat now uses @pension (연금저축) when a command names no account; @label in a "
                        "command still picks another.")
        assert "30,000,000" in text(ask(house, CHAT, "balance"))  # a plain command now goes to the 연금저축
        assert "005930" in text(ask(house, OTHER, "balance"))  # another chat keeps the first account
        assert "005930" in text(ask(house, CHAT, "balance", "@main"))  # a label still picks another
        again = make_house(sims, tmp_path)
        assert again.default_for(CHAT).label == "pension" and again.default_for(OTHER).label == "main"
        assert "@pension" in text(ask(again, CHAT, "use"))


@pytest.mark.parametrize("command, words", [
    ("balance", ["@isa"]), ("plan", ["buy", "@isa"]), ("use", ["isa"]), ("use", ["@isa"]), ("file", ["@isa"]),
])
def test_an_unknown_label_is_one_sentence_listing_the_labels(house, sims, command, words):
    with using("en"):
        said = text(house.route(CHAT, command, words).work())
    assert said == "There is no account @isa: the accounts are @main, @pension."
    assert not sims["main"].exchange.order_log and not sims["pension"].exchange.order_log


def test_two_labels_in_one_command_are_refused():
    with using("en"):
        route = Household.route(_house_of_fakes(), CHAT, "balance", ["@main", "@pension"])
        assert text(route.work()) == "Name one account at a time, not @main, @pension."


def test_a_button_of_an_account_no_longer_configured_is_refused(house, sims):
    with using("en"):
        said = text(press(house, CHAT, "confirm:isa:abcd1234"))
    assert said == "There is no account @isa: the accounts are @main, @pension."


def test_balance_all_shows_each_account_with_its_value_then_the_total(house, sims):
    values = {label: house.desk(label).service.client.balance().total_value for label in LABELS}
    with using("en"):
        said = text(ask(house, CHAT, "balance", "all"))
    lines = said.splitlines()
    assert lines[0] == "All accounts (won)"
    rows = {m[1]: int(m[2].replace(",", "")) for line in lines if (m := re.match(r"(\S+ \S+|Total)\s+([\d,]+)$", line))}
    assert rows == {"@main main": values["main"], "@pension 연금저축": values["pension"],
                    "Total": values["main"] + values["pension"]}
    assert values["pension"] == PENSION_CASH


def test_balance_all_says_which_account_did_not_answer_and_totals_the_rest(house, sims):
    sims["pension"].faults.error_rate = 1.0  # every request to the 연금저축's exchange fails
    with using("en"):
        said = text(ask(house, CHAT, "balance", "all"))
    assert "@pension 연금저축" in said and "not available:" in said
    assert re.search(r"Total of 1 of 2\s+[\d,]+$", said, flags=re.M)


@pytest.mark.parametrize("command, words", [
    ("plan", []), ("plan", ["@pension", "buy"]), ("confirm", []), ("confirm", ["@pension", "1m"]), ("cancel", []),
    ("model", ["set", "005930", "30"]), ("model", ["undo"]), ("file", ["/plan"]), ("button:confirm", ["main:abcd1234"]),
    ("button:cancel", ["pension:abcd1234"]), ("button:stop", ["main:r1"]), ("button:bandplan", ["main:20261124"]),
])
def test_a_viewer_is_refused_every_command_that_plans_trades_or_edits_in_one_sentence(house, command, words):
    with using("en"):
        said = text(house.route(VIEWER, command, words).work())
    assert said == ("This chat may only read (balance, report, status, price, accounts, health): planning, "
                    "confirming, cancelling, editing the model and sending files are for the owner's chats.")


@pytest.mark.parametrize("command, words", [
    ("balance", []), ("balance", ["all"]), ("balance", ["@pension"]), ("report", []), ("status", []),
    ("price", ["005930"]), ("accounts", []), ("health", []), ("model", []), ("model", ["history"]),
])
def test_a_viewer_may_read(house, command, words):
    route = house.route(VIEWER, command, words)
    assert route.work is None or command == "balance"  # /balance all is the household's own answer
    if route.work is not None:
        assert "Total" in text(route.work())


def test_a_viewers_confirm_never_trades_even_with_a_plan_pending_in_its_chat(house, sims):
    send_file(house, CHAT, MAIN_MODEL)
    data = confirm_data(send_file(house, CHAT, MAIN_MODEL))
    with using("en"):
        assert "may only read" in text(press(house, VIEWER, data))
        assert "may only read" in text(ask(house, VIEWER, "confirm"))
    assert not sims["main"].exchange.order_log and house.active_run() is None


def plans_of_both(house):
    offers = {"main": confirm_data(send_file(house, CHAT, MAIN_MODEL)),
              "pension": confirm_data(send_file(house, CHAT, PENSION_MODEL, "@pension"))}
    plans = {label: house.desk(label).service._pending(CHAT).plan for label in LABELS}
    return offers, plans


def at_target(sim, plan) -> bool:
    return all(sim.exchange.holding_qty(line.code) == line.target_qty for line in plan.lines)


@pytest.mark.parametrize("order", list(permutations(LABELS)))
def test_each_accounts_confirm_button_trades_only_its_own_account_in_every_order(house, sims, order):
    offers, plans = plans_of_both(house)
    assert offers["main"].startswith("confirm:main:") and offers["pension"].startswith("confirm:pension:")
    pressed = []
    for label in order:
        with using("en"):
            said = text(press(house, CHAT, offers[label]))
        assert "started" in said and f"plan {plans[label].id}" in said, said
        pressed.append(label)
        for other in LABELS:
            if other not in pressed:  # an account whose button is not pressed yet has had no order
                assert not sims[other].exchange.order_log, (order, other)
        with using("en"):  # pressing it again starts nothing more
            assert "already confirmed" in text(press(house, CHAT, offers[label]))
    for label in LABELS:
        assert house.desk(label).service.wait_for_run(60)
        assert at_target(sims[label], plans[label]), label
        sent = {entry.code for entry in sims[label].exchange.order_log}
        assert sent <= {line.code for line in plans[label].lines}, label  # only its own plan's stocks


def test_a_button_carrying_one_accounts_plan_id_under_the_others_label_trades_nothing(house, sims):
    offers, plans = plans_of_both(house)
    for forged in (f"confirm:pension:{plans['main'].id}", f"confirm:main:{plans['pension'].id}"):
        with using("en"):
            said = text(press(house, CHAT, forged))
        assert "started" not in said, said
    assert not sims["main"].exchange.order_log and not sims["pension"].exchange.order_log
    assert house.active_run() is None


def test_two_accounts_run_at_once_and_both_end_at_target(house, sims):
    offers, plans = plans_of_both(house)
    with using("en"):
        assert "started" in text(ask(house, CHAT, "confirm", "@main"))
        assert "started" in text(ask(house, CHAT, "confirm", "@pension"))
    assert house.wait_for_run(60)
    for label in LABELS:
        assert at_target(sims[label], plans[label]), label
        assert house.desk(label).service.receipts.last() is not None


def test_a_plain_cancel_stops_only_the_chats_default_accounts_run(house, sims):
    offers, plans = plans_of_both(house)
    pension = house.desk("pension").service
    with using("en"):
        text(ask(house, CHAT, "confirm", "@pension"))
        said = text(ask(house, CHAT, "cancel"))  # the chat's default is main, whose plan is dropped
    assert f"Plan {plans['main'].id} dropped" in said
    assert pension.wait_for_run(60) and at_target(sims["pension"], plans["pension"])
    assert not sims["main"].exchange.order_log


def test_accounts_with_several_says_how_to_pick_one(house):
    with using("en"):
        said = text(ask(house, CHAT, "accounts"))
    assert "@main main" in said and "@pension 연금저축" in said
    assert "/use LABEL" in said and "/balance all" in said


def test_the_route_of_a_telegram_update_reads_commands_captions_and_buttons():
    class Obj:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    chat = Obj(id=CHAT)
    command = Obj(effective_chat=chat, callback_query=None,
                  effective_message=Obj(document=None, text="/balance@kisbot_bot @pension", caption=None))
    assert command_of(command, ["@pension"]) == (CHAT, "balance", ["@pension"])
    document = Obj(effective_chat=chat, callback_query=None,
                   effective_message=Obj(document=object(), text=None, caption="/plan @pension buy"))
    assert command_of(document, None) == (CHAT, "file", ["/plan", "@pension", "buy"])
    button = Obj(effective_chat=chat, callback_query=Obj(data="confirm:pension:abcd1234"), effective_message=None)
    assert command_of(button, None) == (CHAT, "button:confirm", ["pension:abcd1234"])


def _house_of_fakes() -> Household:
    class Fake:
        client = None

    return Household([Desk("main", "main", AccountKind.GENERAL, Fake()),  # type: ignore[arg-type]
                      Desk("pension", "연금저축", AccountKind.PENSION, Fake())])  # type: ignore[arg-type]


def test_through_telegram_labels_route_buttons_name_their_account_and_a_viewer_only_reads(api, house, sims):
    from tg_harness import BotRunner, chat_texts

    runner = BotRunner(api, house.service, allowed=(CHAT,), household=house)
    runner.settings = replace(runner.settings, viewer_chat_ids=frozenset({VIEWER}))

    def said(chat, needle, timeout=20.0):
        return api.wait_for(lambda a: [t for t in chat_texts(a, chat) if needle in t], timeout)[-1]

    def offered(data, caption=None):
        before = len(api.calls_to("sendPhoto", chat_id=CHAT))
        api.send_document(CHAT, "model.xlsx", data, caption=caption)
        photo = api.wait_for(lambda a: (p := a.calls_to("sendPhoto", chat_id=CHAT)) and len(p) > before and p)[-1]
        return photo.buttons[0]["callback_data"]

    with runner:
        pension = offered(PENSION_MODEL, "/plan @pension")
        main = offered(MAIN_MODEL)
        assert pension.startswith("confirm:pension:") and main.startswith("confirm:main:")
        assert "Account @pension (연금저축)" in said(CHAT, pension.rpartition(":")[2])

        api.send_text(VIEWER, "/confirm @pension")
        assert "may only read" in said(VIEWER, "may only read")
        api.press(VIEWER, 1, pension)
        api.wait_for(lambda a: len([t for t in chat_texts(a, VIEWER) if "may only read" in t]) >= 2)
        api.send_text(VIEWER, "/balance all")
        assert "Total" in said(VIEWER, "All accounts")
        assert not sims["main"].exchange.order_log and not sims["pension"].exchange.order_log

        api.press(CHAT, 1, pension)
        said(CHAT, "started")
        assert house.desk("pension").service.wait_for_run(60)
        assert sims["pension"].exchange.order_log and not sims["main"].exchange.order_log
        api.send_text(CHAT, "/use pension")
        said(CHAT, "now uses @pension")
        api.send_text(CHAT, "/status")
        assert said(CHAT, "last run").startswith("<b>Account @pension (연금저축)</b>")
        api.send_text(CHAT, "/balance @nope")
        assert said(CHAT, "There is no account") == "There is no account @nope: the accounts are @main, @pension."
    assert not sims["main"].exchange.order_log  # the main plan was never confirmed


def report_total(client) -> int:
    """What an account's daily report totals: the KRX side and the US side in won at KIS's rate."""
    from rebalance.drift import UsHeld

    return client.balance().total_value + UsHeld.of(client.us_balance()).value


def test_each_accounts_daily_report_is_its_own_and_the_last_of_the_day_ends_with_the_households_total(sims, tmp_path):
    pushed: dict = {}
    house = make_house(sims, tmp_path, pushed=pushed)
    values = {label: report_total(house.desk(label).service.client) for label in LABELS}
    with using("en"):
        first = house.desk("main").pushes.scheduler.reports.daily()  # what each account's scheduler sends
        last = house.desk("pension").pushes.scheduler.reports.daily()
        again = house.desk("main").pushes.scheduler.reports.daily()
    assert "All 2 accounts" not in text(first)
    assert last[-1].plain == f"All 2 accounts: {sum(values.values()):,} won"
    assert again is None  # the day was reported: no second report, no second total


def test_report_all_gives_each_accounts_report_then_the_total(sims, tmp_path):
    house = make_house(sims, tmp_path, pushed={})
    values = {label: report_total(house.desk(label).service.client) for label in LABELS}
    with using("en"):
        said = text(house.route(CHAT, "report", ["all"]).work())
    assert said.index("Account @main (main)") < said.index("Account @pension (연금저축)")
    assert said.endswith(f"All 2 accounts: {sum(values.values()):,} won")


def test_a_push_of_one_account_carries_its_tag_and_its_buttons_name_it_but_the_total_has_no_tag():
    from bot.household import HouseReply, LabelledSink
    from bot.service import Button

    sent = []

    class Sink:
        def send(self, reply):
            sent.append(reply)

    sink = LabelledSink(Sink(), "pension", "연금저축", several=True)
    with using("en"):
        sink.send(Reply("Drift report", buttons=(Button("Plan", "bandplan:20261124"),)))
        sink.send(HouseReply("All 2 accounts: 1 won", kind="report"))
    assert sent[0].plain == "[@pension] Drift report" and sent[0].buttons[0].data == "bandplan:pension:20261124"
    assert sent[1].plain == "All 2 accounts: 1 won"


def test_main_keeps_the_data_dir_and_a_further_account_keeps_its_own_under_accounts(tmp_path):
    from kis.config import load_kis_config

    def config(label, **env):
        environ = {"KIS_ENV": "sim", "KISBOT_DATA_DIR": str(tmp_path), **env}
        return load_kis_config(Source(environ=environ, dotenv_path=tmp_path / "no.env", use_keyring=False), label)

    assert config("").data_dir == tmp_path  # one account: unchanged
    two = {"KIS_ACCOUNTS": "pension,main", "KIS_PENSION_ACCOUNT": "50000001-22"}
    assert config("main", **two).data_dir == tmp_path  # main, wherever it is listed
    assert config("pension", **two).data_dir == tmp_path / "accounts" / "pension"
    assert config("", **two).label == "pension"  # the first listed is served first, its data apart
    assert account_data_dir(tmp_path, "isa", ("general", "isa")) == tmp_path / "accounts" / "isa"
    assert account_data_dir(tmp_path, "general", ("general", "isa")) == tmp_path  # no main: the first


def test_viewer_chat_ids_are_read_and_a_chat_in_both_lists_may_trade(tmp_path):
    from bot.settings import load_bot_settings
    from kis.errors import ConfigError

    def settings(**env):
        environ = {"TELEGRAM_BOT_TOKEN": "1:x", "TELEGRAM_ALLOWED_CHAT_IDS": "111", **env}
        return load_bot_settings(Source(environ=environ, dotenv_path=tmp_path / "no.env", use_keyring=False))

    assert settings(TELEGRAM_VIEWER_CHAT_IDS="333, 111").viewer_chat_ids == frozenset({333})
    assert settings().viewer_chat_ids == frozenset()
    with pytest.raises(ConfigError, match="TELEGRAM_VIEWER_CHAT_IDS has 'abc'"):
        settings(TELEGRAM_VIEWER_CHAT_IDS="abc")


def test_without_a_household_a_viewer_is_refused_at_the_gate_like_a_stranger(api):
    """Fail closed: only the household knows what a viewer may do."""
    from bot_fakes import make_service
    from tg_harness import BotRunner, chat_texts

    service, *_ = make_service()
    runner = BotRunner(api, service, allowed=(CHAT,))
    runner.settings = replace(runner.settings, viewer_chat_ids=frozenset({VIEWER}))
    with runner:
        api.send_text(VIEWER, "/balance")
        said = api.wait_for(lambda a: [t for t in chat_texts(a, VIEWER) if "private" in t])[-1]
    assert f"Your chat id is {VIEWER}" in said


def test_help_and_health_all_with_several_accounts(sims, tmp_path):
    house = make_house(sims, tmp_path, pushed={})
    with using("en"):
        route = house.route(CHAT, "help", [])
        with house.serving(route):
            helped = text(house.service.help())
        health = text(house.route(CHAT, "health", ["all"]).work())
    assert "Accounts @main, @pension: add @label to any command" in helped
    assert health.index("Account @main (main)") < health.index("Account @pension (연금저축)")


def test_the_refusals_read_as_one_sentence_in_korean_too(house):
    with using("ko"):
        unknown = text(house.route(CHAT, "balance", ["@isa"]).work())
        viewer = text(house.route(VIEWER, "confirm", []).work())
    assert unknown == "@isa 계좌는 없습니다(있는 계좌: @main, @pension)."
    assert viewer.count(".") == 1 and viewer.startswith("이 채팅은 조회")


def test_open_household_gives_each_account_its_service_data_dir_notices_and_tagged_pushes(sims, tmp_path):
    from bot.household import open_household
    from kis.accounts import Account, Credentials
    from kis.models import Account as Number

    accounts = tuple(Account(label, name, Number.parse(str(sims[label].account)), kind,
                             Credentials(sims[label].protocol.app_key, sims[label].protocol.app_secret))
                     for label, name, kind in (("main", "main", AccountKind.GENERAL),
                                               ("pension", "연금저축", AccountKind.PENSION)))

    def client(label):
        sim = sims[label]
        config = replace(sim_config(sim, account_data_dir(tmp_path, label, LABELS)), label=label,
                         kind=dict(main=AccountKind.GENERAL, pension=AccountKind.PENSION)[label])
        return KisClient(config, wall=sim.clock)

    sent = []

    class Sink:
        def send(self, reply):
            sent.append(reply)

        def edit(self, handle, reply):
            pass

    source = Source(environ={"MARKET_CALENDAR": "always"}, dotenv_path=tmp_path / "no.env", use_keyring=False)
    house = open_household(source, sink=Sink(), data_dir=tmp_path, accounts=accounts, clients=client,
                           notifier_options={"batch_seconds": 0.01, "min_gap_seconds": 0.01})
    try:
        assert [d.label for d in house.desks] == ["main", "pension"]
        assert house.desk("pension").service.client.config.data_dir == tmp_path / "accounts" / "pension"
        assert house.desk("main").service.client.config.data_dir == tmp_path
        assert all(d.notices is not None and d.pushes is not None for d in house.desks)
        assert house.desk("pension").service.plan_settings.kind is AccountKind.PENSION
        house.notifier.start()
        with using("en"):
            house.desk("pension").notifier.push(Reply("Daily report", buttons=()))
        house.notifier.stop()
        assert [r.plain for r in sent] == ["[@pension] Daily report"]
    finally:
        house.close()


def test_a_bare_confirm_in_the_default_account_says_where_the_chats_plan_waits_and_trades_nothing(house, sims):
    plan = confirm_data(send_file(house, CHAT, PENSION_MODEL, "@pension")).rpartition(":")[2]
    with using("en"):
        said = text(ask(house, CHAT, "confirm"))
    assert said.endswith(f"No plan waits in @main, but /confirm @pension runs plan {plan}.")
    assert not sims["main"].exchange.order_log and not sims["pension"].exchange.order_log
    with using("en"):
        assert "started" in text(ask(house, CHAT, "confirm", "@pension"))
