"""`kisbot doctor --orders`' venue checks on the simulator: SOR and KRX's after-market are tried only when asked,
only in their hours, and what KIS answered is kept; SOR and /confirm after stay off until it says they work."""
from __future__ import annotations

from dataclasses import replace

import pytest

from bot.cli_doctor import CallLog, Doctor, _look_for_cancel, resting_buy_price
from bot.doctor_orders import load_records
from bot.doctor_venues import check_after_market, check_sor
from bot.venues import venue_checks
from kis.config import Source
from kis.krx import xkrx
from kis.models import Env
from rebalance.venues import AFTER_CHECK, SOR_CHECK, unchecked


def doctor_for(sim_client, tmp_path, code="005930", **settings):
    source = Source(environ=dict(settings), dotenv_path=tmp_path / "none.env", use_keyring=False)
    return Doctor(source, sim_client.config, sim_client, CallLog(sim_client.transport), code=code, wait_seconds=5.0,
                  sleep=lambda s: None)


def run(check, doc, sim):
    def confirm(d, ack):
        sim.pass_listing_lag()
        return _look_for_cancel(d, ack, d.monotonic(), d.wait_seconds)
    return check(doc, resting_price=resting_buy_price, confirm_cancel=confirm)


def new_orders(sim):
    return [o for o in sim.exchange.orders if o.kind == "new"]


@pytest.mark.parametrize("check", [check_sor, check_after_market])
def test_without_its_setting_a_venue_check_places_nothing_and_records_nothing(sim, sim_client, tmp_path, check):
    doc = doctor_for(sim_client, tmp_path)
    assert run(check, doc, sim) is None
    assert new_orders(sim) == [] and venue_checks(doc.config).load() == {}


def test_the_sor_check_rests_a_sor_buy_cancels_it_and_records_sor_as_working(sim, sim_client, tmp_path):
    doc = doctor_for(sim_client, tmp_path, KISBOT_SOR="1")
    status, _, text, fields = run(check_sor, doc, sim)
    assert status == "ok" and fields["ok"] is True, text
    [order] = new_orders(sim)
    assert order.venue == "SOR" and order.qty == 1 and order.remaining == 0 and order.filled_qty == 0
    assert venue_checks(doc.config).passed(SOR_CHECK)
    assert load_records(doc.config) == []  # the test order is closed: nothing left to warn of


def test_the_sor_check_needs_a_stock_on_nxts_list(sim, sim_client, tmp_path):
    doc = doctor_for(sim_client, tmp_path, code="069500", KISBOT_SOR="1")
    status, _, text, _ = run(check_sor, doc, sim)
    assert status == "warn" and "--code" in text
    assert new_orders(sim) == [] and venue_checks(doc.config).get(SOR_CHECK) is None


def test_on_kis_mock_sor_is_recorded_as_refused_without_an_order(sim, sim_client, tmp_path):
    doc = doctor_for(sim_client, tmp_path, KISBOT_SOR="1")
    doc.config = replace(doc.config, env=Env.MOCK)
    status, _, text, _ = run(check_sor, doc, sim)
    assert status == "warn" and "routes only KRX" in text
    assert new_orders(sim) == []
    found = venue_checks(doc.config).get(SOR_CHECK)
    assert found is not None and not found.ok and unchecked(SOR_CHECK, venue_checks(doc.config)).key == "nxt.sor_failed"


def test_outside_every_session_the_sor_check_waits_for_one(sim, sim_client, tmp_path):
    sim.clock.set(sim.clock().replace(hour=21, minute=0))
    doc = doctor_for(sim_client, tmp_path, KISBOT_SOR="1")
    status, _, text, _ = run(check_sor, doc, sim)
    assert status == "warn" and "08:00" in text and new_orders(sim) == []


def test_the_after_market_check_waits_for_four_oclock(sim, sim_client, tmp_path):
    doc = doctor_for(sim_client, tmp_path, KISBOT_AFTER_WORK="1")
    status, _, text, _ = run(check_after_market, doc, sim)
    assert status == "warn" and "16:00" in text
    assert new_orders(sim) == [] and venue_checks(doc.config).get(AFTER_CHECK) is None


def after_hours(sim, *, takes: bool):
    sim.exchange.always_open = False
    sim.exchange.after_market = takes
    xkrx()  # seconds to build the first time: not inside a request with a timeout
    sim.clock.set(sim.clock().replace(hour=17, minute=0))


def test_an_after_market_that_takes_the_order_is_recorded_and_lets_confirm_after_run(sim, sim_client, tmp_path):
    after_hours(sim, takes=True)
    doc = doctor_for(sim_client, tmp_path, KISBOT_AFTER_WORK="1")
    status, _, text, _ = run(check_after_market, doc, sim)
    assert status == "ok", text
    [order] = new_orders(sim)
    assert order.venue == "KRX" and order.remaining == 0
    assert unchecked(AFTER_CHECK, venue_checks(doc.config)) is None


def test_an_after_market_refusal_is_recorded_with_what_kis_said_and_keeps_after_work_off(sim, sim_client, tmp_path):
    after_hours(sim, takes=False)
    doc = doctor_for(sim_client, tmp_path, KISBOT_AFTER_WORK="1")
    status, _, text, fields = run(check_after_market, doc, sim)
    assert status == "fail" and "40580000" in text and fields["ok"] is False
    why = unchecked(AFTER_CHECK, venue_checks(doc.config))
    assert why.key == "nxt.after_failed" and "40580000" in str(why)
    assert load_records(doc.config) == []  # refused: nothing rests


def test_a_stop_signal_while_the_sor_test_order_rests_withdraws_it(sim, sim_client, tmp_path):
    import signal

    from bot.cli_doctor import withdraw
    from bot.doctor_orders import Stopped

    doc = doctor_for(sim_client, tmp_path, KISBOT_SOR="1")

    def stopped(d, ack):
        raise Stopped(signal.SIGTERM)  # the signal taken at the doctor's next wait, its cancel sent

    with pytest.raises(Stopped) as stop:
        check_sor(doc, resting_price=resting_buy_price, confirm_cancel=stopped)
    sim.pass_listing_lag()
    finding = withdraw(doc, stop.value)
    assert finding.fields["cancelled"] is True, finding.text
    [order] = new_orders(sim)
    assert order.venue == "SOR" and order.remaining == 0
    assert load_records(doc.config) == []
