"""`kisbot doctor` as an account owner runs it against the simulator: what it reports, and what it leaves behind."""
import argparse
import json
import time

import pytest

from bot.cli_doctor import doctor, resting_buy_price
from kis.config import Source, load_kis_config
from kis.listing_lag import load_listing_lag, settle_horizon
from kis.models import Quote
from kis.sim import SimServer
from kis.ticks import is_on_tick, round_to_tick

APP_KEY = "PSdoctorTESTappKEY00000000000000000"
APP_SECRET = "doctorTESTsecret" + "y" * 40


@pytest.fixture
def sim():
    # The real clock: the doctor measures the listing lag in seconds as they pass.
    server = SimServer(0, rate_limit=10.0, app_key=APP_KEY, app_secret=APP_SECRET, account="50087375-01",
                       always_open=True).start()
    try:
        yield server
    finally:
        server.stop()


def sim_source(sim, tmp_path, **extra) -> Source:
    environ = {"KIS_ENV": "sim", "KIS_BASE_URL": sim.url, "KIS_APP_KEY": APP_KEY, "KIS_APP_SECRET": APP_SECRET,
               "KIS_ACCOUNT": "50087375-01", "KIS_RATE_LIMIT": "10", "KISBOT_DATA_DIR": str(tmp_path / "data"),
               **extra}
    return Source(environ=environ, dotenv_path=tmp_path / "no.env", use_keyring=False)


def args(**options) -> argparse.Namespace:
    return argparse.Namespace(**{"orders": False, "json": False, "real": False, "code": None, **options})


def new_orders(sim):
    return [o for o in sim.exchange.orders if o.kind == "new"]


def test_doctor_reports_the_listing_lag_places_one_order_and_leaves_it_cancelled(sim, tmp_path, capsys):
    sim.faults.listing_lag = 3.0
    source = sim_source(sim, tmp_path)
    assert doctor(args(orders=True, json=True), source=source) == 0
    report = json.loads(capsys.readouterr().out)
    assert 3.0 <= report["listing_lag_s"] <= 5.0
    assert report["ord_dvsn_echo"] == "00"
    assert report["orders_placed"] == 1 and report["cancelled"] is True
    [order] = new_orders(sim)
    assert order.qty == 1 and order.remaining == 0 and order.cancelled_qty == 1 and order.filled_qty == 0
    quote = report["price"]["price"]
    assert order.price <= quote * 0.8 and is_on_tick(order.price)
    # the lag is kept, and the executor's settle horizon grows to it
    config = load_kis_config(source)
    assert load_listing_lag(config).seconds == pytest.approx(report["listing_lag_s"], abs=0.01)
    assert settle_horizon(1.0, config) == pytest.approx(report["listing_lag_s"], abs=0.01)
    assert settle_horizon(600.0, config) == 600.0


def test_doctor_without_orders_places_none_and_reads_every_balance_page(sim, tmp_path, capsys):
    sim.protocol.page_rows = 2  # the seeded account holds 4 stocks: two pages
    assert doctor(args(json=True), source=sim_source(sim, tmp_path)) == 0
    report = json.loads(capsys.readouterr().out)
    assert new_orders(sim) == []
    assert report["orders_placed"] == 0 and report["listing_lag_s"] is None and report["cancelled"] is None
    assert report["balance"]["pages"] == 2 and report["balance"]["holdings"] == 4
    assert report["token"]["source"] == "issued"
    power = report["buying_power"]
    assert power["00"]["nrcvb_buy_qty"] > 0 and power["01"]["nrcvb_buy_qty"] > 0 and power["margin_account"] is False


def test_a_second_doctor_run_uses_the_cached_token_and_says_so(sim, tmp_path, capsys):
    source = sim_source(sim, tmp_path)
    doctor(args(), source=source)
    first = capsys.readouterr().out
    doctor(args(), source=source)
    second = capsys.readouterr().out
    assert "KakaoTalk alert for every token" in first
    assert "from the cache (no new KakaoTalk alert)" in second


def test_the_report_says_where_each_setting_came_from_and_shows_no_secret(sim, tmp_path, capsys):
    assert doctor(args(), source=sim_source(sim, tmp_path)) == 0
    out = capsys.readouterr().out
    assert APP_KEY not in out and APP_SECRET not in out and "50087375" not in out
    assert "50****75-01" in out
    assert any(line.split()[:1] == ["KIS_APP_SECRET"] and "set" in line and "[environment]" in line
               for line in out.splitlines())
    assert any(line.split()[:1] == ["TWAP_START"] and "[default]" in line for line in out.splitlines())
    assert "1 order" not in out and "0 orders placed; all checks passed." in out


def test_doctor_orders_on_real_without_real_refuses_before_any_call(tmp_path, capsys):
    source = Source(environ={"KIS_ENV": "real", "KIS_APP_KEY": APP_KEY, "KIS_APP_SECRET": APP_SECRET,
                             "KIS_ACCOUNT": "50087375-01", "KISBOT_DATA_DIR": str(tmp_path / "data")},
                    dotenv_path=tmp_path / "no.env", use_keyring=False)

    def no_client(config):
        raise AssertionError("the doctor must refuse before it opens a client")

    assert doctor(args(orders=True), source=source, client_factory=no_client) == 2
    err = capsys.readouterr().err
    assert "--real" in err and err.count("\n") == 1

    assert doctor(args(orders=True, json=True), source=source, client_factory=no_client) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["orders_placed"] == 0 and "--real" in report["refused"]


@pytest.mark.parametrize("typed", ["12345678-01", "", "yes"])
def test_doctor_orders_on_real_refuses_unless_the_account_number_is_typed(tmp_path, capsys, typed):
    source = Source(environ={"KIS_ENV": "real", "KIS_APP_KEY": APP_KEY, "KIS_APP_SECRET": APP_SECRET,
                             "KIS_ACCOUNT": "50087375-01", "KISBOT_DATA_DIR": str(tmp_path / "data")},
                    dotenv_path=tmp_path / "no.env", use_keyring=False)

    def no_client(config):
        raise AssertionError("the doctor must refuse before it opens a client")

    assert doctor(args(orders=True, real=True), source=source, client_factory=no_client,
                  ask=lambda prompt: typed) == 2
    assert "does not match KIS_ACCOUNT" in capsys.readouterr().err


def test_bad_input_gets_a_sentence(sim, tmp_path, capsys):
    assert doctor(args(code="59-A"), source=sim_source(sim, tmp_path)) == 2
    assert capsys.readouterr().err.strip() == ("kisbot doctor: '59-A' is not a 6-character stock code "
                                               "such as 005930 or 0013V0.")
    assert doctor(args(), source=sim_source(sim, tmp_path, KIS_ENV="paper")) == 2
    out = capsys.readouterr().out
    assert "FAIL configuration: KIS_ENV='paper' is not one of sim, mock, real." in out
    assert "Traceback" not in out


def test_a_refused_test_order_is_reported_and_nothing_stays(sim, tmp_path, capsys):
    sim.exchange.set_cash(0)
    assert doctor(args(orders=True), source=sim_source(sim, tmp_path)) == 1
    out = capsys.readouterr().out
    assert "FAIL test order: KIS refused the 1-share limit buy" in out and "Nothing was placed." in out
    assert new_orders(sim) == []


def test_the_resting_price_is_a_fifth_below_on_the_grid_and_within_the_day_limits():
    assert resting_buy_price(Quote("005930", 71_000, 0, 0.0, upper_limit=92_300, lower_limit=49_700)) == 56_800
    assert resting_buy_price(Quote("000001", 2_400, 0, 0.0, upper_limit=3_120, lower_limit=1_680)) == 1_920
    assert resting_buy_price(Quote("000002", 10_000, 0, 0.0, upper_limit=13_000, lower_limit=9_000)) == 9_000


def test_kisbot_doctor_json_prints_one_object(sim, tmp_path, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    for name, value in sim_source(sim, tmp_path).environ.items():
        monkeypatch.setenv(name, value)
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"listing_lag_s", "ord_dvsn_echo", "orders_placed", "cancelled"} <= set(report)
    assert [c["name"] for c in report["checks"]] == ["token", "price", "balance", "buying power", "notices", "overseas"]


def test_doctor_orders_on_real_goes_on_once_the_account_number_is_typed(tmp_path, capsys):
    from kis.errors import NotSent

    source = Source(environ={"KIS_ENV": "real", "KIS_APP_KEY": APP_KEY, "KIS_APP_SECRET": APP_SECRET,
                             "KIS_ACCOUNT": "50087375-01", "KISBOT_DATA_DIR": str(tmp_path / "data")},
                    dotenv_path=tmp_path / "no.env", use_keyring=False)
    opened = []

    def offline(config):
        opened.append(config.env.value)
        raise NotSent("could not connect to KIS at https://openapi.koreainvestment.com:9443")

    assert doctor(args(orders=True, real=True), source=source, client_factory=offline,
                  ask=lambda prompt: "50087375-01") == 1
    assert opened == ["real"]
    assert "FAIL connection: could not connect to KIS" in capsys.readouterr().out


def test_a_test_order_whose_answer_is_lost_is_found_and_cancelled_but_not_timed(sim, tmp_path, capsys):
    sim.faults.drop_after_order(1)
    assert doctor(args(orders=True, json=True), source=sim_source(sim, tmp_path)) == 0
    report = json.loads(capsys.readouterr().out)
    [order] = new_orders(sim)
    assert order.remaining == 0 and order.cancelled_qty == 1
    assert report["orders_placed"] == 1 and report["cancelled"] is True
    assert report["listing_lag_s"] is None  # found by a lookup, not timed: nothing to keep
    assert load_listing_lag(load_kis_config(sim_source(sim, tmp_path))) is None


def test_doctor_orders_reports_that_notices_arrive_on_the_account(sim, tmp_path, capsys):
    assert doctor(args(orders=True, json=True), source=sim_source(sim, tmp_path)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["notices"] == {"hts_id_set": True, "state": "live", "source": "own session", "field_count": None,
                                 "skipped": 0}  # no notice yet when it subscribed
    assert report["notices_arrive"] is True
    assert sim.notices.sessions == [] or all(not s.subscribed for s in sim.notices.sessions)  # unsubscribed


def test_doctor_says_when_notices_do_not_arrive(sim, tmp_path, capsys):
    sim.faults.ws_skip(100)  # subscribed, but KIS sends nothing (reported on some mock accounts)
    assert doctor(args(orders=True), source=sim_source(sim, tmp_path)) == 0
    out = capsys.readouterr().out
    assert "no notice came for the test order" in out and "polls at full pace" in out


def test_doctor_with_a_wrong_hts_id_says_the_subscription_was_refused(sim, tmp_path, capsys):
    assert doctor(args(json=True), source=sim_source(sim, tmp_path, KIS_HTS_ID="nobody")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["notices"]["state"] == "refused"
    [finding] = [c for c in report["checks"] if c["name"] == "notices"]
    assert "KIS_HTS_ID" in finding["text"]


def test_doctor_without_an_hts_id_says_notices_are_off(sim, tmp_path, capsys):
    # mock (the sim speaks its protocol) has no HTS ID of its own, unlike the sim environment
    assert doctor(args(), source=sim_source(sim, tmp_path, KIS_ENV="mock")) == 0
    out = capsys.readouterr().out
    assert "KIS_HTS_ID is not set" in out and "polling only" in out


def test_doctor_lists_every_setting_the_env_example_documents(tmp_path):
    import re
    from pathlib import Path

    from bot.cli_doctor import configuration_rows

    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text(encoding="utf-8")
    documented = re.findall(r"^([A-Z][A-Z0-9_]+)=", example, flags=re.M)
    source = Source(environ={"KISBOT_BAND": "2"}, dotenv_path=tmp_path / "none.env", use_keyring=False)
    rows = {row["name"]: row for row in configuration_rows(source, None)}
    assert [name for name in documented if name not in rows] == []
    assert rows["KISBOT_BAND"] == {"name": "KISBOT_BAND", "value": "2", "origin": "environment"}


def test_doctor_shows_the_value_an_unset_setting_takes_not_a_word_like_default(tmp_path):
    from bot.cli_doctor import configuration_rows

    source = Source(environ={}, dotenv_path=tmp_path / "none.env", use_keyring=False)
    rows = {row["name"]: row for row in configuration_rows(source, None)}
    assert rows["TWAP_START"] == {"name": "TWAP_START", "value": "09:10", "origin": "default"}
    assert rows["TWAP_END"]["value"] == "15:00" and rows["KISBOT_PRICE_GUARD"]["value"] == "1%"
    assert rows["KISBOT_REPORT_AT"]["value"] == "15:40 KST" and rows["MARKET_CALENDAR"]["value"] == "krx"
    assert rows["KISBOT_BAND"]["value"] == "0 (none)"
    assert not [row for row in rows.values() if "(default)" in row["value"]]


@pytest.mark.parametrize("key", ["cnc_cfrm_qty", "cncl_cfrm_qty"])
def test_doctor_confirms_the_cancel_whichever_spelling_kis_uses_and_names_the_fields_it_saw(sim, tmp_path, capsys,
                                                                                           key):
    sim.faults.cancel_qty_key = key  # the samples' column mapping vs KIS's own response example
    assert doctor(args(orders=True, json=True), source=sim_source(sim, tmp_path)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cancelled"] is True and key in report["cancel_keys"] and "cncl_yn" in report["cancel_keys"]
    [finding] = [c for c in report["checks"] if c["name"] == "test order"]
    assert finding["status"] == "ok" and key in finding["text"]


def test_the_client_reads_the_cancel_confirmed_quantity_under_either_name(sim, sim_client):
    from kis.models import OrderSide, OrderType

    sim.faults.cancel_qty_key = "cncl_cfrm_qty"
    sim.faults.listing_lag = 0.0  # listed at once: this test is about the field, not the lag
    price = sim_client.price("005930").price
    ack = sim_client.order("005930", OrderSide.BUY, 3, OrderType.LIMIT, round_to_tick(int(price * 0.8)))
    sim_client.cancel(ack.order_no, ack.org_no, 0, original=ack)
    for _ in range(200):  # KIS (and the sim, by default) confirms a cancel a moment after it takes it
        rows = {o.order_no: o for o in sim_client.orders_today("005930")}
        original = rows[ack.order_no]
        if original.closed:
            break
        time.sleep(0.02)
    [cancel] = [o for o in rows.values() if o.orig_order_no == ack.order_no]
    assert (original.cancelled_qty, cancel.cancelled_qty, cancel.cancelled) == (3, 3, True)


def test_doctor_waits_for_kis_to_confirm_the_cancel_not_only_for_the_cancel_row(sim, tmp_path, capsys, sim_client):
    # KIS lists the cancel row (cncl_yn Y) before it confirms it: until then the order still shows its share resting.
    sim.faults.listing_lag, sim.faults.cancel_confirm_delay = 0.0, 3.0
    assert doctor(args(orders=True, json=True), source=sim_source(sim, tmp_path)) == 0
    report = json.loads(capsys.readouterr().out)
    [row] = [o for o in sim_client.orders_today("005930") if o.order_no == report["test_order"]["order_no"]]
    assert report["cancelled"] is True and row.closed and row.cancelled_qty == 1
