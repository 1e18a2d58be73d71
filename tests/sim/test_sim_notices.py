"""The sim's websocket: approval keys, encrypted 26-field notices of its own orders, and its faults."""
from __future__ import annotations

import time

import pytest
import requests

from kis import endpoints as ep
from kis.auth import ApprovalKeys
from kis.config import SIM_APP_KEY, SIM_APP_SECRET
from kis.models import OrderSide, OrderType
from kis.notices import Backoff, NoticeKind, NoticeStream, StreamState
from kis.sim import SimServer
from kis.sim.clients import client_for, sim_config


@pytest.fixture
def sim():
    server = SimServer(0, rate_limit=1000, always_open=True).start()
    yield server
    server.stop()


def wait_for(condition, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def open_stream(sim, tmp_path, *, hts_id=None, name="a"):
    config = sim_config(sim, tmp_path / name)
    messages: list[str] = []
    got = []
    stream = NoticeStream(sim.ws_url, ep.NOTICE_TR_IDS[config.env], hts_id or sim.hts_id, config.account,
                          ApprovalKeys(config).key, on_message=messages.append,
                          backoff=Backoff(base=0.05, cap=0.2, floor=0.05))
    stream.add_listener(got.append)
    stream.start()
    return stream, got, messages


def test_the_approval_key_wants_secretkey_not_appsecret(sim):
    good = {"grant_type": "client_credentials", "appkey": SIM_APP_KEY, "secretkey": SIM_APP_SECRET}
    wrong = {"grant_type": "client_credentials", "appkey": SIM_APP_KEY, "appsecret": SIM_APP_SECRET}
    assert requests.post(sim.url + ep.APPROVAL, json=good, timeout=5).json()["approval_key"]
    assert requests.post(sim.url + ep.APPROVAL, json=wrong, timeout=5).status_code == 403


def test_orders_of_the_account_arrive_as_acceptance_then_fill_notices(sim, tmp_path):
    stream, got, _ = open_stream(sim, tmp_path)
    try:
        assert wait_for(lambda: stream.state is StreamState.LIVE)
        client = client_for(sim, tmp_path / "client")
        ack = client.order("005930", OrderSide.BUY, 3, OrderType.MARKET)
        assert wait_for(lambda: len(got) >= 2)
        accepted, filled = got[0], got[1]
        assert (accepted.kind, accepted.order_no, accepted.qty, accepted.side) == \
            (NoticeKind.ACCEPTED, ack.order_no, 3, OrderSide.BUY)
        assert (filled.kind, filled.order_no, filled.qty, filled.code) == (NoticeKind.FILLED, ack.order_no, 3, "005930")
        assert filled.price > 0
    finally:
        stream.stop()


def test_each_session_gets_a_fresh_key_and_iv(sim, tmp_path):
    first, _, _ = open_stream(sim, tmp_path, name="a")
    assert wait_for(lambda: first.state is StreamState.LIVE)
    first.stop()
    second, _, _ = open_stream(sim, tmp_path, name="b")
    try:
        assert wait_for(lambda: second.state is StreamState.LIVE)
        assert first.reader.keys["H0STCNI9"] != second.reader.keys["H0STCNI9"]
    finally:
        second.stop()


def test_a_wrong_hts_id_gets_the_connection_dropped_without_a_close_frame_as_kis_does(sim, tmp_path):
    from websockets.exceptions import ConnectionClosedError
    from websockets.sync.client import connect

    from kis.notices import subscribe_frame

    key = ApprovalKeys(sim_config(sim, tmp_path)).key()
    with connect(sim.ws_url) as ws:
        ws.send(subscribe_frame(key, "H0STCNI9", "nobody"))
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(5)
    assert closed.value.rcvd is None  # no close frame: "No close frame received"
    assert sim.notices.dropped_for_hts_id == 1


def test_a_wrong_hts_id_turns_notices_off_after_a_few_paced_closes_with_one_message(sim, tmp_path):
    stream, _, messages = open_stream(sim, tmp_path, hts_id="nobody")
    try:
        assert wait_for(lambda: stream.state is StreamState.REFUSED)
        time.sleep(0.3)  # no further session after the refusal
        [news] = messages
        assert news.kind == "refused_hts_id" and news.params() == {"hts_id": "nobody", "closes": 3}
        assert sim.notices.dropped_for_hts_id == 3 and stream.reconnects == 2
    finally:
        stream.stop()


def test_the_sim_can_answer_a_wrong_hts_id_with_json_when_told(sim, tmp_path):
    sim.notices.wrong_hts_id = "answer"
    stream, _, messages = open_stream(sim, tmp_path, hts_id="nobody")
    try:
        assert wait_for(lambda: stream.state is StreamState.REFUSED)
        assert [m.kind for m in messages] == ["refused_answer"] and sim.notices.dropped_for_hts_id == 0
    finally:
        stream.stop()


def test_a_second_session_can_be_refused(sim, tmp_path):
    sim.faults.refuse_second_session = True
    first, _, _ = open_stream(sim, tmp_path, name="a")
    second = None
    try:
        assert wait_for(lambda: first.state is StreamState.LIVE)
        second, _, messages = open_stream(sim, tmp_path, name="b")
        assert wait_for(lambda: second.state is StreamState.REFUSED)
        assert messages[0].kind == "refused_in_use" and first.state is StreamState.LIVE
    finally:
        first.stop()
        if second:
            second.stop()


def test_faults_skip_repeat_and_drop_notices(sim, tmp_path):
    stream, got, _ = open_stream(sim, tmp_path)
    client = client_for(sim, tmp_path / "client")
    try:
        assert wait_for(lambda: stream.state is StreamState.LIVE)
        sim.faults.ws_skip(1)  # the acceptance goes missing
        client.order("005930", OrderSide.BUY, 1, OrderType.MARKET)
        assert wait_for(lambda: len(got) == 1)
        assert got[0].kind is NoticeKind.FILLED
        sim.faults.ws_repeat(1)  # the next acceptance comes twice
        client.order("005930", OrderSide.BUY, 1, OrderType.MARKET)
        assert wait_for(lambda: len(got) == 4)
        assert [n.kind for n in got[1:]] == [NoticeKind.ACCEPTED, NoticeKind.ACCEPTED, NoticeKind.FILLED]
        sim.faults.ws_drop(1)  # the connection goes with the next notice; the stream comes back
        client.order("005930", OrderSide.BUY, 1, OrderType.MARKET)
        assert wait_for(lambda: stream.generation == 2 and stream.state is StreamState.LIVE)
        client.order("005930", OrderSide.BUY, 1, OrderType.MARKET)
        assert wait_for(lambda: len(got) >= 6)
    finally:
        stream.stop()


def test_the_health_answer_announces_the_websocket(sim):
    info = requests.get(sim.url + "/sim/health", timeout=5).json()
    assert info["ws_url"] == sim.ws_url and info["ws_url"].startswith("ws://127.0.0.1:")


def test_the_sim_streams_registered_stocks_trade_prices_from_its_price_walk(sim, tmp_path):
    stream, _, _ = open_stream(sim, tmp_path)
    try:
        stream.watch(["005930", "000270"])
        assert wait_for(lambda: stream.price("005930", 5) and stream.price("000270", 5))
        for code in ("005930", "000270"):
            trade, quote = stream.price(code, 5), sim.market.quote(code)
            assert trade.prev_close == quote.prev_close
            assert abs(trade.price - quote.price) <= quote.price * 0.05  # the walk moves on between frames
    finally:
        stream.stop()


def test_prices_can_pause_while_the_session_stays_up(sim, tmp_path):
    stream, got, _ = open_stream(sim, tmp_path)
    try:
        stream.watch(["005930"])
        assert wait_for(lambda: stream.price("005930", 5))
        sim.faults.prices_paused = True
        time.sleep(1.5)
        assert stream.price("005930", 1.0) is None and stream.state is StreamState.LIVE
        client_for(sim, tmp_path / "client").order("000270", OrderSide.BUY, 1, OrderType.MARKET)
        assert wait_for(lambda: len(got) >= 2)  # the notices keep coming
    finally:
        stream.stop()


def test_a_session_holds_at_most_40_registrations_notices_included(sim, tmp_path):
    import json

    from websockets.sync.client import connect

    from kis.notices import MAX_REGISTRATIONS, subscribe_frame
    from kis.sim.market import synthetic_specs

    for spec in synthetic_specs(MAX_REGISTRATIONS):
        sim.market.add(spec)
    codes = sim.market.codes()[:MAX_REGISTRATIONS]
    key = ApprovalKeys(sim_config(sim, tmp_path)).key()
    with connect(sim.ws_url) as ws:
        answers = []
        for tr_id, tr_key in [("H0STCNI9", sim.hts_id)] + [("H0STCNT0", code) for code in codes]:
            ws.send(subscribe_frame(key, tr_id, tr_key))
            while True:  # price frames may come between the answers
                text = ws.recv(5)
                if text.startswith("{") and "PINGPONG" not in text:
                    answers.append(json.loads(text)["body"])
                    break
    assert all(a["rt_cd"] == "0" for a in answers[:MAX_REGISTRATIONS])
    assert answers[-1]["rt_cd"] != "0" and "MAX" in answers[-1]["msg1"]  # the 41st registration
    assert len(answers) == MAX_REGISTRATIONS + 1


def test_subscribing_twice_on_one_session_is_answered_already_in_subscribe(sim, tmp_path):
    import json

    from websockets.sync.client import connect

    from kis.notices import FrameReader, subscribe_frame

    key = ApprovalKeys(sim_config(sim, tmp_path)).key()
    reader = FrameReader(sim.account)
    with connect(sim.ws_url) as ws:
        answers = []
        for tr_id, tr_key in [("H0STCNI9", sim.hts_id)] * 2 + [("H0STCNT0", "005930")] * 2:
            ws.send(subscribe_frame(key, tr_id, tr_key))
            while True:
                text = ws.recv(5)
                if text.startswith("{") and "PINGPONG" not in text:
                    answers.append(text)
                    break
    bodies = [json.loads(a)["body"] for a in answers]
    assert [(b["rt_cd"], b["msg_cd"]) for b in bodies] == [("0", "OPSP0000"), ("1", "OPSP0002"),
                                                           ("0", "OPSP0000"), ("1", "OPSP0002")]
    assert bodies[1]["msg1"] == "ALREADY IN SUBSCRIBE"
    assert all(reader.read(a).subscribed for a in answers)  # and the client reads each as registered


@pytest.fixture
def live(sim, tmp_path):
    """A notice stream subscribed on the sim, with what it got and said, and an order client; stopped after."""
    stream, got, messages = open_stream(sim, tmp_path)
    try:
        assert wait_for(lambda: stream.state is StreamState.LIVE)
        yield stream, got, messages, client_for(sim, tmp_path / "client")
    finally:
        stream.stop()


def test_an_error_frame_on_a_live_session_reconnects_and_the_notices_come_back(sim, live):
    stream, got, messages, client = live
    sim.faults.ws_error(1)  # the next notice is an rt_cd 1 frame instead
    client.order("005930", OrderSide.BUY, 1, OrderType.MARKET)
    assert wait_for(lambda: stream.generation == 2 and stream.state is StreamState.LIVE)
    client.order("005930", OrderSide.BUY, 1, OrderType.MARKET)
    assert wait_for(lambda: any(n.kind is NoticeKind.FILLED for n in got))
    assert messages == [] and stream.session_faults == 1 and stream.refusal is None


def test_a_frame_counted_in_a_superscript_digit_is_skipped_on_the_same_session(sim, live):
    stream, got, _, client = live
    sim.faults.ws_odd_count(1)
    ack = client.order("005930", OrderSide.BUY, 1, OrderType.MARKET)
    assert wait_for(lambda: len(got) >= 2)
    assert got[0].order_no == ack.order_no and stream.reader.skipped.get("malformed") == 1
    assert stream.generation == 1 and stream.reconnects == 0


def test_a_reconnect_answered_already_in_subscribe_is_live_and_reads_the_notices(sim, live):
    stream, got, messages, client = live
    sim.faults.ws_already(1)  # the reconnect finds the registration still held
    sim.notices.drop_all()
    assert wait_for(lambda: stream.generation == 2 and stream.state is StreamState.LIVE)
    client.order("005930", OrderSide.BUY, 1, OrderType.MARKET)
    assert wait_for(lambda: len(got) >= 2)
    assert [n.kind for n in got[:2]] == [NoticeKind.ACCEPTED, NoticeKind.FILLED] and messages == []
    assert not sim.faults.take_ws("already")  # the sim did answer OPSP0002
