"""US fill notices (H0GSCNI0 real / H0GSCNI9 mock) on the KRX notice session: the official 25 columns,
encrypted as KIS does, typed with market US, Decimal dollars and whole shares."""
from __future__ import annotations

import asyncio
import json
import random
import time
from decimal import Decimal

from kis import endpoints as ep
from kis.auth import ApprovalKeys
from kis.models import Env, OrderSide
from kis.notices import (MAX_REGISTRATIONS, US, Backoff, Correction, FrameReader, NoticeKind, NoticeStream,
                         StreamState, US_NOTICE_FIELDS)
from test_notices import (ACCOUNT, HTS_ID, FakeTime, FakeWs, frame, record, reference_encrypt, run_until,
                          subscribed)

# examples_llm/overseas_stock/ccnl_notice/ccnl_notice.py, `columns`, as published by KIS (HEAD of 2026-07-09).
OFFICIAL_US_COLUMNS = [
    "CUST_ID", "ACNT_NO", "ODER_NO", "OODER_NO", "SELN_BYOV_CLS", "RCTF_CLS", "ODER_KIND2", "STCK_SHRN_ISCD",
    "CNTG_QTY", "CNTG_UNPR", "STCK_CNTG_HOUR", "RFUS_YN", "CNTG_YN", "ACPT_YN", "BRNC_NO", "ODER_QTY",
    "ACNT_NAME", "CNTG_ISNM", "ODER_COND", "DEBT_GB", "DEBT_DATE", "START_TM", "END_TM", "TM_DIV_TP",
    "CNTG_UNPR12",
]


def us_record(**values: str) -> str:
    """One US notice record in the official column order."""
    base = {"CUST_ID": HTS_ID, "ACNT_NO": "5008737501", "ODER_NO": "0030145286", "OODER_NO": "",
            "SELN_BYOV_CLS": "02", "RCTF_CLS": "0", "ODER_KIND2": "2", "STCK_SHRN_ISCD": "AAPL",
            "CNTG_QTY": "3", "CNTG_UNPR": "233.1200", "STCK_CNTG_HOUR": "093001", "RFUS_YN": "0",
            "CNTG_YN": "2", "ACPT_YN": "2", "BRNC_NO": "01790", "ODER_QTY": "10", "ACNT_NAME": "홍길동",
            "CNTG_ISNM": "애플", "ODER_COND": "", "DEBT_GB": "", "DEBT_DATE": "", "START_TM": "", "END_TM": "",
            "TM_DIV_TP": "", "CNTG_UNPR12": "233.120000000000"}
    base.update(values)
    return "^".join(base[name] for name in OFFICIAL_US_COLUMNS)


def us_frame(*records: str, tr_id: str = "H0GSCNI9") -> str:
    return f"1|{tr_id}|{len(records):03d}|{reference_encrypt('^'.join(records))}"


def us_reader(tr_id: str = "H0GSCNI9") -> FrameReader:
    r = FrameReader(ACCOUNT)
    r.read(subscribed())
    r.read(subscribed(tr_id))
    return r


def test_the_us_field_list_is_the_official_25_column_layout():
    assert list(US_NOTICE_FIELDS) == OFFICIAL_US_COLUMNS and len(US_NOTICE_FIELDS) == 25


def test_the_us_notice_tr_ids_are_the_samples_h0gscni0_real_and_h0gscni9_mock_and_sim():
    assert ep.US_NOTICE_TR_IDS == {Env.REAL: "H0GSCNI0", Env.MOCK: "H0GSCNI9", Env.SIM: "H0GSCNI9"}


def test_a_us_fill_notice_is_typed_with_market_us_decimal_dollars_and_whole_shares():
    [notice] = us_reader().read(us_frame(us_record()))
    assert notice.kind is NoticeKind.FILLED and notice.market == US and notice.is_us
    assert (notice.order_no, notice.code, notice.side, notice.qty, notice.order_qty) == \
        ("0030145286", "AAPL", OrderSide.BUY, 3, 10)
    assert notice.price == Decimal("233.12") and isinstance(notice.price, Decimal)
    assert notice.amount == 69936  # 3 × $233.12 in cents
    assert (notice.name, notice.branch, notice.time, notice.order_type) == ("애플", "01790", "093001", "2")


def test_a_real_account_us_frame_h0gscni0_is_read_too():
    [notice] = us_reader("H0GSCNI0").read(us_frame(us_record(), tr_id="H0GSCNI0"))
    assert notice.is_us and notice.qty == 3


def test_a_us_acceptance_carries_the_order_quantity_and_price_in_its_fill_columns():
    [notice] = us_reader().read(us_frame(us_record(CNTG_YN="1", ACPT_YN="1", CNTG_QTY="0000000010",
                                                   CNTG_UNPR="240.00", SELN_BYOV_CLS="01")))
    assert notice.kind is NoticeKind.ACCEPTED and notice.side is OrderSide.SELL
    assert (notice.qty, notice.price) == (10, Decimal("240.00"))


def test_a_us_price_under_a_dollar_keeps_its_four_places_and_the_amount_rounds_half_up_to_the_cent():
    [notice] = us_reader().read(us_frame(us_record(CNTG_QTY="5", CNTG_UNPR="0.1235")))
    assert notice.price == Decimal("0.1235") and notice.amount == 62  # $0.6175 → 62 cents


def test_us_refusals_and_cancels_are_told_apart_as_krx_ones_are():
    refused, cancel = us_reader().read(us_frame(us_record(RFUS_YN="1", CNTG_YN="1"),
                                                us_record(CNTG_YN="1", RCTF_CLS="2", OODER_NO="0030145286",
                                                          ODER_NO="0030145290")))
    assert refused.kind is NoticeKind.REFUSED
    assert cancel.correction is Correction.CANCEL and cancel.orig_order_no == "0030145286"


def test_a_fractional_us_quantity_or_a_text_price_is_skipped_as_malformed_not_raised():
    r = us_reader()
    assert r.read(us_frame(us_record(CNTG_QTY="1.5"))) == []
    assert r.read(us_frame(us_record(CNTG_UNPR="abc"))) == []
    assert r.skipped["malformed"] == 2


def test_a_us_frame_of_the_krx_width_is_malformed():
    r = us_reader()
    assert r.read(f"1|H0GSCNI9|001|{reference_encrypt(record())}") == []
    assert r.skipped["malformed"] == 1


def test_a_us_frame_before_its_subscription_answer_cannot_be_decrypted():
    r = FrameReader(ACCOUNT)
    r.read(subscribed())  # only the KRX answer: each feed's key is its own answer's
    assert r.read(us_frame(us_record())) == [] and r.skipped["undecryptable"] == 1


def test_a_us_notice_for_another_account_under_the_hts_id_is_ignored():
    r = us_reader()
    assert r.read(us_frame(us_record(ACNT_NO="9999999901"))) == []
    assert r.skipped["other account"] == 1


def test_a_krx_and_a_us_notice_with_the_same_order_number_are_different_notices():
    krx = us_reader().read(frame(record(ODER_NO="0030145286")))[0]
    us = us_reader().read(us_frame(us_record()))[0]
    assert krx.market == "KRX" and krx.identity != us.identity


# ---- the stream ------------------------------------------------------------------------------------------

def us_stream(sessions, time_=None):
    connects = []

    def connect(url):
        connects.append(url)
        return sessions[min(len(connects), len(sessions)) - 1]

    time_ = time_ or FakeTime()
    stream = NoticeStream("ws://example/tryitout", "H0STCNI9", HTS_ID, ACCOUNT, lambda stale=None: "approval-key",
                          backoff=Backoff(rng=random.Random(1)), connect=connect, sleep=time_.sleep,
                          monotonic=time_.monotonic, us_tr_id="H0GSCNI9")
    return stream


def test_the_us_notices_are_subscribed_after_the_krx_notices_on_the_same_session_and_arrive_typed():
    ws = FakeWs([subscribed(), subscribed("H0GSCNI9"), us_frame(us_record()), frame(record())])
    stream = us_stream([ws])
    got, live = [], []
    stream.add_listener(lambda n: (got.append(n), live.append(stream.us_live)))
    asyncio.run(run_until(stream, lambda: len(got) == 2))
    inputs = [m["body"]["input"] for m in ws.sent]
    assert inputs[:2] == [{"tr_id": "H0STCNI9", "tr_key": HTS_ID}, {"tr_id": "H0GSCNI9", "tr_key": HTS_ID}]
    assert [(n.market, n.code) for n in got] == [(US, "AAPL"), ("KRX", "005930")]
    assert live == [True, True] and stream.state is StreamState.STOPPED


def test_a_refused_us_subscription_leaves_the_krx_notices_live_and_says_what_kis_answered():
    refusal = json.dumps({"header": {"tr_id": "H0GSCNI9", "tr_key": HTS_ID, "encrypt": "N"},
                          "body": {"rt_cd": "1", "msg_cd": "OPSP8991", "msg1": "SUBSCRIBE ERROR : invalid tr_id"}})
    ws = FakeWs([subscribed(), refusal, frame(record())])
    stream = us_stream([ws])
    got = []
    stream.add_listener(got.append)
    asyncio.run(run_until(stream, lambda: len(got) == 1))
    assert got[0].market == "KRX" and stream.generation == 1 and stream.refusal is None
    assert not stream.us_live and stream.us_refusal == "OPSP8991 SUBSCRIBE ERROR : invalid tr_id"


def test_the_us_notices_are_released_when_the_stream_stops():
    ws = FakeWs([subscribed(), subscribed("H0GSCNI9")])
    stream = us_stream([ws])
    asyncio.run(run_until(stream, lambda: stream.us_live))
    released = [m["body"]["input"]["tr_id"] for m in ws.sent if m["header"]["tr_type"] == "2"]
    assert released == ["H0GSCNI9", "H0STCNI9"]


def test_with_us_notices_the_session_streams_one_price_fewer():
    stream = us_stream([FakeWs([])])
    taken = stream.watch([f"{i:06d}" for i in range(60)])
    assert len(taken) == MAX_REGISTRATIONS - 2


def test_a_us_fill_price_is_not_taken_as_a_krx_trade_price():
    ws = FakeWs([subscribed(), subscribed("H0GSCNI9"), us_frame(us_record(STCK_SHRN_ISCD="005930"))])
    stream = us_stream([ws])
    got = []
    stream.add_listener(got.append)
    asyncio.run(run_until(stream, lambda: len(got) == 1))
    assert stream.price("005930", max_age=1e9) is None


# ---- end to end against the sim's websocket ----------------------------------------------------------------

def wait_for(condition, timeout=8.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and not condition():
        time.sleep(0.01)
    return condition()


def test_a_us_order_on_the_sim_arrives_as_typed_acceptance_and_fill_notices_on_the_notice_stream(sim, tmp_path):
    from kis.sim.clients import client_for, sim_config

    config = sim_config(sim, tmp_path / "ws")
    stream = NoticeStream(sim.ws_url, ep.NOTICE_TR_IDS[config.env], sim.hts_id, config.account,
                          ApprovalKeys(config).key, backoff=Backoff(base=0.05, cap=0.2, floor=0.05),
                          us_tr_id=ep.US_NOTICE_TR_IDS[config.env])
    got = []
    stream.add_listener(got.append)
    stream.start()
    try:
        assert wait_for(lambda: stream.us_live)
        sim.faults.listing_lag = 0.0
        sim.us_market.set_price("AAPL", "233.12")
        client = client_for(sim, tmp_path / "client")
        ack = client.us_order("AAPL", OrderSide.BUY, 2, Decimal("240.00"))
        assert wait_for(lambda: any(n.kind is NoticeKind.FILLED for n in got))
        accepted = next(n for n in got if n.kind is NoticeKind.ACCEPTED)
        filled = next(n for n in got if n.kind is NoticeKind.FILLED)
        assert (accepted.market, accepted.order_no, accepted.qty, accepted.code) == (US, ack.order_no, 2, "AAPL")
        assert (filled.market, filled.order_no, filled.qty, filled.side) == (US, ack.order_no, 2, OrderSide.BUY)
        assert isinstance(filled.price, Decimal) and filled.price == Decimal("233.12")
        assert filled.amount == 2 * 23312
    finally:
        stream.stop()
