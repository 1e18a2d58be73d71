"""The notice stream: frames in the official 26-field layout, decryption, filtering, PINGPONG, reconnects."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import random
import stat

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kis import endpoints as ep
from kis.auth import ApprovalKeys
from kis.models import Account, Env, OrderSide
from kis.notices import (Backoff, FrameReader, NoticeKind, NoticeStream, StreamState, decrypt, encrypt,
                         subscribe_frame)
from kis_fakes import APP_SECRET, MOCK_URL, make_config
from rebalance.i18n import Lang, using
from rebalance.notices import stream_health, stream_news

# examples_llm/domestic_stock/ccnl_notice/ccnl_notice.py, `columns`, as published by KIS.
OFFICIAL_COLUMNS = [
    "CUST_ID", "ACNT_NO", "ODER_NO", "OODER_NO", "SELN_BYOV_CLS", "RCTF_CLS",
    "ODER_KIND", "ODER_COND", "STCK_SHRN_ISCD", "CNTG_QTY", "CNTG_UNPR",
    "STCK_CNTG_HOUR", "RFUS_YN", "CNTG_YN", "ACPT_YN", "BRNC_NO", "ODER_QTY",
    "ACNT_NAME", "ORD_COND_PRC", "ORD_EXG_GB", "POPUP_YN", "FILLER", "CRDT_CLS",
    "CRDT_LOAN_DATE", "CNTG_ISNM40", "ODER_PRC",
]
KEY = "0123456789abcdef0123456789abcdef"  # 32 characters: AES-256
IV = "fedcba9876543210"
ACCOUNT = Account.parse("50087375-01")
HTS_ID = "kisuser1"


def record(**values: str) -> str:
    """One notice record in the official column order; unnamed columns are empty."""
    base = {"CUST_ID": HTS_ID, "ACNT_NO": "5008737501", "ODER_NO": "0000000117", "OODER_NO": "0000000000",
            "SELN_BYOV_CLS": "02", "RCTF_CLS": "0", "ODER_KIND": "03", "ODER_COND": "0",
            "STCK_SHRN_ISCD": "005930", "CNTG_QTY": "10", "CNTG_UNPR": "71000", "STCK_CNTG_HOUR": "093015",
            "RFUS_YN": "0", "CNTG_YN": "2", "ACPT_YN": "2", "BRNC_NO": "00950", "ODER_QTY": "10",
            "ACNT_NAME": "홍길동", "ORD_COND_PRC": "0", "ORD_EXG_GB": "1", "POPUP_YN": "Y", "FILLER": "",
            "CRDT_CLS": "", "CRDT_LOAN_DATE": "", "CNTG_ISNM40": "삼성전자", "ODER_PRC": "0"}
    base.update(values)
    return "^".join(base[name] for name in OFFICIAL_COLUMNS)


def reference_encrypt(text: str, key: str = KEY, iv: str = IV) -> str:
    """Encrypt with cryptography directly, as KIS's server must for kis_auth.aes_cbc_base64_dec to read it."""
    padder = padding.PKCS7(128).padder()
    data = padder.update(text.encode()) + padder.finalize()
    enc = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()


def frame(*records: str, tr_id: str = "H0STCNI9") -> str:
    return f"1|{tr_id}|{len(records):03d}|{reference_encrypt('^'.join(records))}"


def subscribed(tr_id: str = "H0STCNI9", key: str = KEY, iv: str = IV) -> str:
    return json.dumps({"header": {"tr_id": tr_id, "tr_key": HTS_ID, "encrypt": "Y"},
                       "body": {"rt_cd": "0", "msg_cd": "OPSP0000", "msg1": "SUBSCRIBE SUCCESS",
                                "output": {"iv": iv, "key": key}}})


def reader() -> FrameReader:
    r = FrameReader(ACCOUNT)
    r.read(subscribed())
    return r


# ---- decryption and layout -------------------------------------------------------------------------

def test_decryption_matches_a_known_aes_256_cbc_vector():
    expected = "M+m4ZbGZmad/LbYWzfBrxA=="  # AES-256-CBC/PKCS#7 of "005930^10^71000" under KEY, IV
    assert reference_encrypt("005930^10^71000") == expected
    assert decrypt(expected, KEY, IV) == "005930^10^71000"
    assert encrypt("005930^10^71000", KEY, IV) == expected


def test_a_full_block_plaintext_gets_a_whole_padding_block():
    cipher = reference_encrypt("0123456789abcdef")
    assert cipher == "9E7Ti56IJCxF5VJXx8nSST3ybvJT3meXJ3GJaofiI4I="
    assert decrypt(cipher, KEY, IV) == "0123456789abcdef"


def test_the_field_list_is_the_official_26_field_layout():
    from kis.notices import NOTICE_FIELDS

    assert list(NOTICE_FIELDS) == OFFICIAL_COLUMNS and len(NOTICE_FIELDS) == 26


def test_a_fill_notice_is_read_by_field_name():
    [notice] = reader().read(frame(record(CNTG_YN="2", CNTG_QTY="7", CNTG_UNPR="70900", ODER_QTY="10")))
    assert notice.kind is NoticeKind.FILLED
    assert (notice.order_no, notice.code, notice.side, notice.qty, notice.price, notice.order_qty) == \
        ("0000000117", "005930", OrderSide.BUY, 7, 70900, 10)
    assert notice.name == "삼성전자" and notice.time == "093015"


def test_an_acceptance_notice_carries_the_order_quantity():
    [notice] = reader().read(frame(record(CNTG_YN="1", ACPT_YN="1", CNTG_QTY="10", CNTG_UNPR="0",
                                          SELN_BYOV_CLS="01")))
    assert notice.kind is NoticeKind.ACCEPTED and notice.side is OrderSide.SELL and notice.qty == 10


def test_a_refusal_notice_is_a_refusal_whatever_cntg_yn_says():
    [notice] = reader().read(frame(record(CNTG_YN="1", RFUS_YN="1")))
    assert notice.kind is NoticeKind.REFUSED


def test_a_frame_with_several_records_gives_each_in_order():
    notices = reader().read(frame(record(CNTG_YN="1", ODER_NO="0000000001"),
                                  record(CNTG_YN="2", ODER_NO="0000000001", CNTG_QTY="4"),
                                  record(CNTG_YN="2", ODER_NO="0000000002", CNTG_QTY="6")))
    assert [(n.kind, n.order_no, n.qty) for n in notices] == [
        (NoticeKind.ACCEPTED, "0000000001", 10), (NoticeKind.FILLED, "0000000001", 4),
        (NoticeKind.FILLED, "0000000002", 6)]


def test_an_old_23_field_record_is_refused_not_misread(caplog):
    old = "^".join(record().split("^")[:23])
    assert reader().read(frame(old)) == []


def test_notices_for_another_account_under_the_same_hts_id_are_dropped():
    notices = reader().read(frame(record(ACNT_NO="9999999901"), record(ACNT_NO="50087375")))
    assert [n.account for n in notices] == ["50087375"]


def test_bad_frames_are_logged_once_per_kind_and_ignored(caplog):
    r = reader()
    caplog.set_level(logging.WARNING, logger="kis.notices")
    bad = ["1|H0STCNI9|001|not base64!", "1|H0STCNI9|001|" + reference_encrypt("x", key="k" * 32),
           "1|H0STASP0|001|abc", "garbage", "1|H0STCNI9|001|" + reference_encrypt(record(ACNT_NO="1111111101"))]
    for raw in bad + bad:
        assert r.read(raw) == []
    assert r.skipped == {"undecryptable": 4, "unknown tr_id": 2, "malformed": 2, "other account": 2}
    assert len(caplog.records) == 4
    [notice] = r.read(frame(record()))  # and the stream still reads good frames
    assert notice.kind is NoticeKind.FILLED


def test_a_data_frame_before_any_key_is_ignored():
    assert FrameReader(ACCOUNT).read(frame(record())) == []


def test_the_subscribe_frame_is_keyed_by_the_hts_id():
    frame_ = json.loads(subscribe_frame("APPROVAL", "H0STCNI0", HTS_ID))
    assert frame_["header"] == {"approval_key": "APPROVAL", "custtype": "P", "tr_type": "1", "content-type": "utf-8"}
    assert frame_["body"]["input"] == {"tr_id": "H0STCNI0", "tr_key": HTS_ID}
    assert json.loads(subscribe_frame("A", "H0STCNI0", HTS_ID, subscribe=False))["header"]["tr_type"] == "2"


def test_real_and_mock_use_their_own_notice_tr_id_and_url():
    assert ep.NOTICE_TR_IDS[Env.REAL] == "H0STCNI0" and ep.NOTICE_TR_IDS[Env.MOCK] == "H0STCNI9"
    assert ep.WS_URLS[Env.REAL].endswith(":21000") and ep.WS_URLS[Env.MOCK].endswith(":31000")


# ---- approval key -------------------------------------------------------------------------------------

def test_the_approval_key_is_asked_with_secretkey_cached_0600_and_never_in_a_repr(tmp_path, rsps, caplog):
    caplog.set_level(logging.DEBUG)
    config = make_config(tmp_path, Env.MOCK)
    bodies = []

    def answer(request):
        bodies.append(json.loads(request.body))
        return 200, {}, json.dumps({"approval_key": "a1b2c3-approval-secret"})

    rsps.add_callback("POST", MOCK_URL + ep.APPROVAL, callback=answer)
    keys = ApprovalKeys(config)
    assert keys.key() == "a1b2c3-approval-secret"
    assert ApprovalKeys(config).key() == "a1b2c3-approval-secret"  # another instance reads the cache
    assert len(bodies) == 1 and bodies[0]["secretkey"] == APP_SECRET and "appsecret" not in bodies[0]
    [cached] = (tmp_path / "data" / "approval").glob("mock-*.json")
    assert stat.S_IMODE(os.stat(cached).st_mode) == 0o600
    assert "a1b2c3" not in repr(keys) and "a1b2c3" not in caplog.text
    assert keys.key(stale="a1b2c3-approval-secret") == "a1b2c3-approval-secret" and len(bodies) == 2


def test_mock_and_real_keep_separate_approval_keys(tmp_path, rsps):
    rsps.add("POST", MOCK_URL + ep.APPROVAL, json={"approval_key": "mock-key"})
    rsps.add("POST", ep.BASE_URLS[Env.REAL] + ep.APPROVAL, json={"approval_key": "real-key"})
    assert ApprovalKeys(make_config(tmp_path, Env.MOCK)).key() == "mock-key"
    assert ApprovalKeys(make_config(tmp_path, Env.REAL)).key() == "real-key"


# ---- the stream on fake connections and a fake clock --------------------------------------------------

class FakeTime:
    """Monotonic time that only moves when the stream sleeps."""

    def __init__(self):
        self.t = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


class FakeWs:
    """A websocket whose server side is a script of frames; then it closes (or hangs)."""

    def __init__(self, frames: list[str], hang: bool = True):
        self.incoming: asyncio.Queue = asyncio.Queue()
        for f in frames:
            self.incoming.put_nowait(f)
        if not hang:
            self.incoming.put_nowait(ConnectionError("closed"))
        self.sent: list[dict] = []
        self.pongs: list[bytes] = []
        self.closed = False

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def recv(self):
        item = await self.incoming.get()
        if isinstance(item, Exception):
            raise item
        return item

    async def pong(self, data: bytes) -> None:
        self.pongs.append(data)

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


def make_stream(sessions, time_=None, *, approvals=None):
    """A stream whose n-th connect gets `sessions[n]` (a FakeWs or an exception to raise)."""
    connects = []
    issued = approvals if approvals is not None else []

    def connect(url):
        connects.append(url)
        item = sessions[min(len(connects), len(sessions)) - 1]
        if isinstance(item, Exception):
            raise item
        return item

    def approval(stale=None):
        issued.append(stale)
        return "approval-key"

    time_ = time_ or FakeTime()
    messages: list[str] = []
    stream = NoticeStream("ws://example/tryitout", "H0STCNI9", HTS_ID, ACCOUNT, approval,
                          on_message=messages.append, backoff=Backoff(rng=random.Random(1)), connect=connect,
                          sleep=time_.sleep, monotonic=time_.monotonic)
    return stream, connects, messages


async def run_until(stream, condition, limit=200, seconds=5.0):
    """Run the stream until `condition` (or its end): `limit` bare yields, then real time up to `seconds`
    (the approval key comes from a worker thread, which a busy machine may be slow to run)."""
    task = asyncio.ensure_future(stream.run())
    loop = asyncio.get_running_loop()
    end, n = loop.time() + seconds, 0
    while not (condition() or task.done()):
        n += 1
        if n > limit and loop.time() > end:
            break
        await asyncio.sleep(0 if n <= limit else 0.001)
    if not task.done():
        stream._stop.set()
    await asyncio.wait_for(task, 5)


def test_notices_reach_listeners_and_pingpong_is_answered():
    ping = json.dumps({"header": {"tr_id": "PINGPONG", "datetime": "20261124093000"}})
    ws = FakeWs([subscribed(), ping, frame(record(CNTG_YN="1")), frame(record(CNTG_YN="2", CNTG_QTY="3"))])
    stream, connects, _ = make_stream([ws])
    got = []
    stream.add_listener(got.append)
    asyncio.run(run_until(stream, lambda: len(got) == 2))
    assert [n.kind for n in got] == [NoticeKind.ACCEPTED, NoticeKind.FILLED]
    assert ws.pongs == [ping.encode()]
    assert ws.sent[0]["header"]["tr_type"] == "1" and ws.sent[0]["body"]["input"]["tr_key"] == HTS_ID
    assert stream.generation == 1


def test_shutdown_unsubscribes_with_tr_type_2():
    ws = FakeWs([subscribed()])
    stream, _, _ = make_stream([ws])
    asyncio.run(run_until(stream, lambda: stream.state is StreamState.LIVE))
    assert [m["header"]["tr_type"] for m in ws.sent] == ["1", "2"] and ws.closed
    assert stream.state is StreamState.STOPPED


def test_a_refused_subscription_is_one_message_and_no_reconnect():
    refusal = json.dumps({"header": {"tr_id": "H0STCNI9", "tr_key": "wrong", "encrypt": "N"},
                          "body": {"rt_cd": "1", "msg_cd": "OPSP8992", "msg1": "SUBSCRIBE ERROR : invalid tr_key"}})
    stream, connects, messages = make_stream([FakeWs([refusal])])
    asyncio.run(run_until(stream, lambda: False))
    assert stream.state is StreamState.REFUSED and len(connects) == 1
    [news] = messages
    assert news.kind == "refused_answer" and news.params()["code"] == "OPSP8992"
    assert "KIS_HTS_ID" in str(stream_news(news)) and "order listings" in str(stream_news(news))


def test_reconnects_back_off_exponentially_with_jitter_on_the_injected_clock():
    time_ = FakeTime()
    failures = [ConnectionRefusedError("down")] * 8
    stream, connects, _ = make_stream(failures + [FakeWs([subscribed()])], time_)
    asyncio.run(run_until(stream, lambda: stream.state is StreamState.LIVE, limit=2000))
    delays = time_.sleeps
    assert len(delays) == 8 and len(connects) == 9
    assert all(d >= 1.0 for d in delays)  # never a tight loop, not even the first retry
    for n, d in enumerate(delays):
        full = min(120.0, 2.0 * 2 ** n)
        assert full / 2 <= d <= full  # exponential, jittered into the upper half
    assert len(set(round(d / min(120.0, 2.0 * 2 ** n), 6) for n, d in enumerate(delays))) > 1  # jitter varies
    assert max(delays) <= 120.0
    assert stream.generation == 1 and stream.reconnects == 8


def test_a_dropped_session_reconnects_and_counts_a_new_generation():
    time_ = FakeTime()
    first = FakeWs([subscribed(), frame(record(CNTG_YN="1"))], hang=False)
    second = FakeWs([subscribed(), frame(record(CNTG_YN="2"))])
    stream, connects, _ = make_stream([first, second], time_)
    got = []
    stream.add_listener(got.append)
    asyncio.run(run_until(stream, lambda: len(got) == 2, limit=2000))
    assert [n.kind for n in got] == [NoticeKind.ACCEPTED, NoticeKind.FILLED]
    assert stream.generation == 2 and len(time_.sleeps) == 1 and time_.sleeps[0] >= 1.0


def test_a_session_that_stayed_up_resets_the_backoff():
    b = Backoff(rng=random.Random(3))
    for _ in range(5):
        b.next_delay()
    b.reset()
    assert b.next_delay() <= 2.0


def test_the_approval_key_never_reaches_the_log_even_at_debug(tmp_path, caplog):
    from kis.sim import SimServer
    from kis.sim.clients import sim_config

    caplog.set_level(logging.DEBUG)
    with SimServer(0, rate_limit=1000).start() as sim:
        config = sim_config(sim, tmp_path)
        keys = ApprovalKeys(config)
        stream = NoticeStream(sim.ws_url, "H0STCNI9", sim.hts_id, config.account, keys.key,
                              backoff=Backoff(base=0.05, floor=0.05)).start()
        import time

        end = time.monotonic() + 5
        while stream.state is not StreamState.LIVE and time.monotonic() < end:
            time.sleep(0.01)
        stream.stop()
        key = keys.key()
    assert stream.generation == 1
    assert key[:12] not in caplog.text


# ---- trade prices (H0STCNT0) on the same session ----------------------------------------------------------

# examples_llm/domestic_stock/ccnl_krx/ccnl_krx.py, `columns`, as published by KIS.
OFFICIAL_PRICE_COLUMNS = [
    "MKSC_SHRN_ISCD", "STCK_CNTG_HOUR", "STCK_PRPR", "PRDY_VRSS_SIGN",
    "PRDY_VRSS", "PRDY_CTRT", "WGHN_AVRG_STCK_PRC", "STCK_OPRC",
    "STCK_HGPR", "STCK_LWPR", "ASKP1", "BIDP1", "CNTG_VOL", "ACML_VOL",
    "ACML_TR_PBMN", "SELN_CNTG_CSNU", "SHNU_CNTG_CSNU", "NTBY_CNTG_CSNU",
    "CTTR", "SELN_CNTG_SMTN", "SHNU_CNTG_SMTN", "CCLD_DVSN", "SHNU_RATE",
    "PRDY_VOL_VRSS_ACML_VOL_RATE", "OPRC_HOUR", "OPRC_VRSS_PRPR_SIGN",
    "OPRC_VRSS_PRPR", "HGPR_HOUR", "HGPR_VRSS_PRPR_SIGN", "HGPR_VRSS_PRPR",
    "LWPR_HOUR", "LWPR_VRSS_PRPR_SIGN", "LWPR_VRSS_PRPR", "BSOP_DATE",
    "NEW_MKOP_CLS_CODE", "TRHT_YN", "ASKP_RSQN1", "BIDP_RSQN1",
    "TOTAL_ASKP_RSQN", "TOTAL_BIDP_RSQN", "VOL_TNRT",
    "PRDY_SMNS_HOUR_ACML_VOL", "PRDY_SMNS_HOUR_ACML_VOL_RATE",
    "HOUR_CLS_CODE", "MRKT_TRTM_CLS_CODE", "VI_STND_PRC",
]


def price_record(**values: str) -> str:
    """One 실시간체결가 record in the official column order; other columns hold plausible numbers."""
    base = {name: "0" for name in OFFICIAL_PRICE_COLUMNS}
    base.update({"MKSC_SHRN_ISCD": "005930", "STCK_CNTG_HOUR": "093015", "STCK_PRPR": "71000",
                 "PRDY_VRSS_SIGN": "2", "PRDY_VRSS": "500", "PRDY_CTRT": "0.71", "STCK_OPRC": "70600",
                 "ASKP1": "71100", "BIDP1": "70900", "CNTG_VOL": "12", "BSOP_DATE": "20261124", "TRHT_YN": "N"})
    base.update(values)
    return "^".join(base[name] for name in OFFICIAL_PRICE_COLUMNS)


def price_frame(*records: str) -> str:
    return f"0|H0STCNT0|{len(records):03d}|" + "^".join(records)


def price_subscribed(code: str, ok: bool = True) -> str:
    body = {"rt_cd": "0", "msg_cd": "OPSP0000", "msg1": "SUBSCRIBE SUCCESS"} if ok else \
        {"rt_cd": "1", "msg_cd": "OPSP0011", "msg1": "invalid tr_key"}
    return json.dumps({"header": {"tr_id": "H0STCNT0", "tr_key": code, "encrypt": "N"}, "body": body})


def test_the_price_field_list_is_the_official_46_field_layout():
    from kis.notices import PRICE_FIELDS
    assert list(PRICE_FIELDS) == OFFICIAL_PRICE_COLUMNS


def test_a_plain_price_frame_is_read_by_field_name_with_each_record_in_order():
    from kis.notices import Trade
    got = reader().read(price_frame(price_record(),
                                    price_record(MKSC_SHRN_ISCD="000660", STCK_PRPR="180500", PRDY_VRSS_SIGN="5",
                                                 PRDY_VRSS="-1500", STCK_CNTG_HOUR="093016")))
    assert got == [Trade("005930", 71_000, 70_500, "093015"), Trade("000660", 180_500, 182_000, "093016")]


def test_a_price_change_sent_unsigned_takes_its_sign_from_prdy_vrss_sign():
    (down,) = reader().read(price_frame(price_record(STCK_PRPR="9000", PRDY_VRSS_SIGN="5", PRDY_VRSS="1000")))
    (flat,) = reader().read(price_frame(price_record(STCK_PRPR="9000", PRDY_VRSS_SIGN="3", PRDY_VRSS="0")))
    assert (down.prev_close, flat.prev_close) == (10_000, 9_000)


def test_a_price_record_of_the_wrong_width_is_ignored_not_misread(caplog):
    short = "^".join(price_record().split("^")[:45])
    with caplog.at_level(logging.WARNING):
        assert reader().read(price_frame(short)) == []
    assert "46" in caplog.text


def price_stream(frames, time_):
    ws = FakeWs([subscribed(), *frames])
    stream, _, _ = make_stream([ws], time_)
    return stream, ws


def test_the_runs_stocks_are_registered_on_the_notice_session_and_released_on_shutdown():
    time_ = FakeTime()
    stream, ws = price_stream([price_subscribed("005930"), price_subscribed("000660")], time_)
    stream.watch(["005930", "000660"])
    asyncio.run(run_until(stream, lambda: len(stream._registered) == 2))
    sent = [(m["body"]["input"]["tr_id"], m["body"]["input"]["tr_key"], m["header"]["tr_type"]) for m in ws.sent]
    assert sent[:3] == [("H0STCNI9", HTS_ID, "1"), ("H0STCNT0", "005930", "1"), ("H0STCNT0", "000660", "1")]
    assert ("H0STCNT0", "005930", "2") in sent[3:] and ("H0STCNT0", "000660", "2") in sent[3:]
    assert sent[-1] == ("H0STCNI9", HTS_ID, "2")


def test_a_session_streams_at_most_39_stocks_beside_the_notices():
    stream, _, _ = make_stream([FakeWs([])])
    codes = [f"{n:06d}" for n in range(1, 51)]
    assert stream.watch(codes) == codes[:39]


def test_a_streamed_price_is_the_latest_only_while_it_is_fresh():
    time_ = FakeTime()
    stream, ws = price_stream([price_subscribed("005930"), price_frame(price_record())], time_)
    stream.watch(["005930"])
    asyncio.run(run_until(stream, lambda: stream.price("005930", 5.0) is not None))
    assert stream.price("005930", 5.0).price == 71_000
    time_.t += 5.5
    assert stream.price("005930", 5.0) is None  # older than the freshness bound: ask inquire-price
    assert stream.price("000660", 5.0) is None  # never streamed


def test_a_fill_notices_price_is_a_latest_price_keeping_the_streamed_close():
    time_ = FakeTime()
    fill = frame(record(CNTG_YN="2", CNTG_QTY="3", CNTG_UNPR="71200", STCK_SHRN_ISCD="005930"))
    stream, ws = price_stream([price_subscribed("005930"), price_frame(price_record()), fill], time_)
    stream.watch(["005930"])
    asyncio.run(run_until(stream, lambda: stream.notices == 1))
    latest = stream.price("005930", 5.0)
    assert (latest.price, latest.prev_close) == (71_200, 70_500)


def test_a_refused_price_registration_leaves_the_notices_up(caplog):
    time_ = FakeTime()
    stream, ws = price_stream([price_subscribed("999999", ok=False), frame(record(CNTG_YN="1"))], time_)
    got = []
    stream.add_listener(got.append)
    stream.watch(["999999"])
    with caplog.at_level(logging.WARNING):
        asyncio.run(run_until(stream, lambda: got))
    assert got and stream.state is StreamState.STOPPED and "999999" not in stream._registered
    assert "inquire-price" in caplog.text


# ---- answers and frames that are not faults (issue 19 §2) ----------------------------------------------

def already_subscribed(tr_id: str = "H0STCNI9", tr_key: str = HTS_ID) -> str:
    """KIS's answer to a feed the session already holds: rt_cd 1, yet registered (legacy samples, python-kis)."""
    return json.dumps({"header": {"tr_id": tr_id, "tr_key": tr_key, "encrypt": "N"},
                       "body": {"rt_cd": "1", "msg_cd": "OPSP0002", "msg1": "ALREADY IN SUBSCRIBE"}})


def test_already_in_subscribe_is_subscribed_not_refused():
    stream, connects, messages = make_stream([FakeWs([subscribed(), already_subscribed(),
                                                      frame(record(CNTG_YN="1"))])])
    got = []
    stream.add_listener(got.append)
    asyncio.run(run_until(stream, lambda: bool(got)))
    assert got and messages == [] and len(connects) == 1
    assert stream.state is StreamState.STOPPED and stream.generation == 1


def test_already_in_subscribe_as_the_first_answer_makes_the_stream_live():
    stream, connects, messages = make_stream([FakeWs([already_subscribed()])])
    asyncio.run(run_until(stream, lambda: stream.state is StreamState.LIVE))
    assert stream.generation == 1 and messages == [] and len(connects) == 1


def test_a_price_feed_already_in_subscribe_stays_registered():
    time_ = FakeTime()
    stream, ws = price_stream([already_subscribed("H0STCNT0", "005930"), price_frame(price_record())], time_)
    stream.watch(["005930"])
    asyncio.run(run_until(stream, lambda: stream.price("005930", 5.0) is not None))
    assert "005930" in {m["body"]["input"]["tr_key"] for m in ws.sent if m["header"]["tr_type"] == "2"}  # released at stop
    assert stream.price("005930", 5.0).price == 71_000


def test_a_frame_whose_count_is_a_superscript_digit_is_skipped_and_the_session_stays_up():
    odd = frame(record(CNTG_YN="1")).replace("|001|", "|00²|")
    stream, connects, _ = make_stream([FakeWs([subscribed(), odd, frame(record(CNTG_YN="2"))])])
    got = []
    stream.add_listener(got.append)
    asyncio.run(run_until(stream, lambda: bool(got)))
    assert [n.kind for n in got] == [NoticeKind.FILLED] and len(connects) == 1 and stream.reconnects == 0
    assert stream.reader.skipped == {"malformed": 1}


def test_counts_in_other_unicode_digits_are_malformed():
    r = reader()
    for count in ("²", "３", "١"):
        assert r.read(frame(record()).replace("|001|", f"|{count}|")) == []
    assert r.skipped == {"malformed": 3}


# ---- a wrong HTS ID, and error frames on a live session (issue 19 §2) ---------------------------------------

def closed_unanswered() -> FakeWs:
    """KIS on a wrong HTS ID: the subscribe frame is taken, then the connection goes with no answer."""
    return FakeWs([], hang=False)


def session_error(msg_cd: str = "OPSP0007", msg1: str = "SUBSCRIBE INTERNAL ERROR") -> str:
    return json.dumps({"header": {"tr_id": "H0STCNI9", "tr_key": HTS_ID, "encrypt": "N"},
                       "body": {"rt_cd": "1", "msg_cd": msg_cd, "msg1": msg1}})


def test_several_closes_before_any_subscribe_answer_mean_refused_said_once_naming_kis_hts_id():
    time_ = FakeTime()
    stream, connects, messages = make_stream([closed_unanswered() for _ in range(10)], time_)
    asyncio.run(run_until(stream, lambda: False, limit=2000))
    assert stream.state is StreamState.REFUSED and len(connects) == 3  # then no more sessions: KIS blocks hammering keys
    assert len(time_.sleeps) == 2 and all(d >= 1.0 for d in time_.sleeps)
    [news] = messages
    assert news.kind == "refused_hts_id" and news.params() == {"hts_id": HTS_ID, "closes": 3}
    for lang in Lang:
        with using(lang):
            said, health = str(stream_news(news)), str(stream_health(stream))
        assert "KIS_HTS_ID" in said and HTS_ID in said and "KIS_HTS_ID" in health
    with using(Lang.KO):
        assert "체결" in str(stream_news(news)) and "주문 조회" in str(stream_news(news))


def test_connections_that_never_open_are_the_network_not_a_wrong_hts_id():
    time_ = FakeTime()
    stream, connects, messages = make_stream([ConnectionRefusedError("down")] * 6 + [FakeWs([subscribed()])], time_)
    asyncio.run(run_until(stream, lambda: stream.state is StreamState.LIVE, limit=3000))
    assert stream.state is StreamState.STOPPED and stream.generation == 1 and messages == []


def test_closes_before_an_answer_once_the_hts_id_took_are_drops_and_reconnect():
    time_ = FakeTime()
    sessions = [FakeWs([subscribed()], hang=False)] + [closed_unanswered() for _ in range(5)] + [FakeWs([subscribed()])]
    stream, connects, messages = make_stream(sessions, time_)
    asyncio.run(run_until(stream, lambda: stream.generation == 2, limit=5000))
    assert stream.generation == 2 and len(connects) == 7 and messages == [] and stream.refusal is None


def test_an_answer_between_closes_starts_the_count_again():
    time_ = FakeTime()
    refused_later = session_error("OPSP8992", "SUBSCRIBE ERROR : invalid tr_key")
    sessions = [closed_unanswered(), closed_unanswered(), FakeWs([refused_later])]
    stream, connects, messages = make_stream(sessions, time_)
    asyncio.run(run_until(stream, lambda: False, limit=2000))
    assert [m.kind for m in messages] == ["refused_answer"] and len(connects) == 3


def test_an_error_frame_after_a_live_subscribe_reconnects_and_blames_no_hts_id():
    time_ = FakeTime()
    first = FakeWs([subscribed(), session_error()])
    second = FakeWs([subscribed(), frame(record(CNTG_YN="2"))])
    stream, connects, messages = make_stream([first, second], time_)
    got = []
    stream.add_listener(got.append)
    asyncio.run(run_until(stream, lambda: bool(got), limit=2000))
    assert got and stream.generation == 2 and len(connects) == 2 and stream.session_faults == 1
    assert messages == [] and stream.refusal is None and len(time_.sleeps) == 1 and time_.sleeps[0] >= 1.0


def test_in_use_after_the_hts_id_took_is_a_session_fault_not_notices_off_for_the_process():
    time_ = FakeTime()
    in_use = session_error("OPSP8996", "ALREADY IN USE appkey")
    stream, connects, messages = make_stream([FakeWs([subscribed()], hang=False), FakeWs([in_use]),
                                              FakeWs([subscribed()])], time_)
    asyncio.run(run_until(stream, lambda: stream.generation == 2, limit=3000))
    assert stream.generation == 2 and messages == [] and stream.session_faults == 1


class SlowWs(FakeWs):
    """A session on which each frame takes `step` seconds of the fake clock."""

    def __init__(self, frames, time_, step, hang=True):
        super().__init__(frames, hang)
        self.time_, self.step = time_, step

    async def recv(self):
        self.time_.t += self.step
        return await super().recv()


def test_error_frames_on_sessions_that_lasted_keep_the_reconnects_backing_off():
    time_ = FakeTime()
    sessions = [SlowWs([subscribed(), session_error()], time_, 61.0) for _ in range(5)] + [FakeWs([subscribed()])]
    stream, connects, messages = make_stream(sessions, time_)
    asyncio.run(run_until(stream, lambda: stream.generation == 6, limit=5000))
    delays = time_.sleeps
    assert len(delays) == 5 and messages == []
    for n, d in enumerate(delays):  # a faulted session never resets the backoff, however long it lived
        full = min(120.0, 2.0 * 2 ** n)
        assert full / 2 <= d <= full


def test_a_plain_drop_after_a_long_healthy_session_reconnects_quickly():
    time_ = FakeTime()
    stream, connects, _ = make_stream([closed_unanswered(), SlowWs([subscribed(), subscribed()], time_, 61.0, hang=False),
                                       FakeWs([subscribed()])], time_)
    asyncio.run(run_until(stream, lambda: stream.generation == 2, limit=5000))
    assert stream.generation == 2 and time_.sleeps[-1] <= 2.0
