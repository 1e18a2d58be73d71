"""Balance: every page followed, restarts on SYDB0050, and never a short or empty answer."""

import pytest
import requests
import responses

from kis import endpoints as ep
from kis.errors import DataChanged, KisTransportError, RateLimited
from kis.models import Env
from kis_fakes import MOCK_URL, REAL_URL, SUMMARY, FakeKis, fail, holding_row, ok


def page(rows, fk, nk, more):
    return ok(ctx_area_fk100=fk, ctx_area_nk100=nk, output1=rows, output2=[SUMMARY]), {"tr_cont": "M" if more else "D"}


def three_pages():
    return [
        page([holding_row(f"{n:06d}", 10) for n in range(1, 21)], "FK1" + " " * 97, "NK1" + " " * 97, True),
        page([holding_row(f"{n:06d}", 10) for n in range(21, 41)], "FK2", "NK2", True),
        page([holding_row("000041", 10), holding_row("000042", 0)], "FK3", "NK3", False),
    ]


def serve(rsps, base, pages):
    for body, headers in pages:
        rsps.add(responses.GET, base + ep.BALANCE, json=body, headers=headers)


def test_balance_follows_three_pages_with_tr_cont_and_the_returned_context(fake, client):
    serve(fake.rsps, REAL_URL, three_pages())
    balance = client.balance()

    calls = fake.paths(ep.BALANCE)
    assert len(calls) == 3
    first = calls[0]
    assert first.headers["tr_id"] == "TTTC8434R" and first.headers["tr_cont"] == ""
    assert first.params == {
        "CANO": "50087375", "ACNT_PRDT_CD": "01", "AFHR_FLPR_YN": "N", "OFL_YN": "", "INQR_DVSN": "01",
        "UNPR_DVSN": "01", "FUND_STTL_ICLD_YN": "N", "FNCG_AMT_AUTO_RDPT_YN": "N", "PRCS_DVSN": "00",
        "CTX_AREA_FK100": "", "CTX_AREA_NK100": "",
    }
    assert calls[1].headers["tr_cont"] == "N"
    assert calls[1].params["CTX_AREA_FK100"] == "FK1" + " " * 97  # sent back exactly as received
    assert calls[2].params["CTX_AREA_NK100"] == "NK2"

    assert [h.code for h in balance.holdings] == [f"{n:06d}" for n in range(1, 42)]  # zero-qty row skipped
    h = balance.holdings[0]
    assert (h.qty, h.orderable_qty, h.avg_price, h.price, h.value) == (10, 10, 71235, 72000, 720000)
    assert (h.pnl, h.pnl_rate) == (7654, 1.07)
    assert (balance.cash, balance.cash_d2, balance.stock_value, balance.total_value, balance.pnl) == (
        1000000, 850000, 4320000, 5170000, 7654)
    assert balance.qty("000041") == 10 and balance.qty("000042") == 0


def test_balance_on_mock_uses_the_mock_tr_id(rsps, clock, make_client):
    FakeKis(rsps, MOCK_URL, clock).install()
    serve(rsps, MOCK_URL, [page([holding_row("005930", 3)], "", "", False)])
    balance = make_client(Env.MOCK, rate=1.0).balance()
    assert rsps.calls[-1].request.headers["tr_id"] == "VTTC8434R"
    assert balance.holdings[0].qty == 3


def test_a_rate_limited_page_raises_instead_of_returning_a_short_balance(fake, client):
    pages = three_pages()
    serve(fake.rsps, REAL_URL, pages[:1])
    for _ in range(5):  # every retry of page two refused
        fake.rsps.add(responses.GET, REAL_URL + ep.BALANCE, status=500,
                      json=fail("EGW00201", "초당 거래건수를 초과하였습니다."))
    with pytest.raises(RateLimited):
        client.balance()
    assert len(fake.paths(ep.BALANCE)) == 6


def test_a_rate_limited_first_page_is_retried_then_succeeds(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.BALANCE, status=500, json=fail("EGW00201", "초당 거래건수를 초과하였습니다."))
    serve(fake.rsps, REAL_URL, three_pages())
    assert len(client.balance().holdings) == 41


def test_data_changed_while_paging_starts_over_from_page_one(fake, client):
    pages = three_pages()
    serve(fake.rsps, REAL_URL, pages[:1])
    fake.rsps.add(responses.GET, REAL_URL + ep.BALANCE, json=fail("SYDB0050", "조회이후에 자료가 변경되었습니다.(다시 조회하세요)"))
    serve(fake.rsps, REAL_URL, pages)
    balance = client.balance()
    calls = fake.paths(ep.BALANCE)
    assert len(calls) == 5
    assert calls[2].params["CTX_AREA_FK100"] == "" and calls[2].headers["tr_cont"] == ""
    assert len(balance.holdings) == 41  # no page counted twice


def test_data_changing_every_time_gives_up_after_bounded_restarts(fake, client):
    for _ in range(10):
        fake.rsps.add(responses.GET, REAL_URL + ep.BALANCE, json=fail("SYDB0050", "조회이후에 자료가 변경되었습니다."))
    with pytest.raises(DataChanged):
        client.balance()
    assert len(fake.paths(ep.BALANCE)) == 4


def test_a_page_that_repeats_its_context_is_not_followed_forever(fake, client):
    for _ in range(3):
        serve(fake.rsps, REAL_URL, [page([holding_row("005930", 1)], "SAME", "SAME", True)])
    with pytest.raises(KisTransportError, match="same page"):
        client.balance()


def test_a_balance_without_its_summary_is_not_trusted(fake, client):
    fake.rsps.add(responses.GET, REAL_URL + ep.BALANCE, json=ok(output1=[], output2=[]))
    with pytest.raises(KisTransportError, match="summary"):
        client.balance()


def test_an_empty_account_is_a_real_empty_balance(fake, client):
    serve(fake.rsps, REAL_URL, [page([], "", "", False)])
    balance = client.balance()
    assert balance.holdings == () and balance.cash == 1000000


def test_connection_errors_on_a_page_are_retried_with_backoff(fake, client, clock):
    fake.rsps.add(responses.GET, REAL_URL + ep.BALANCE, body=requests.ConnectionError("reset"))
    fake.rsps.add(responses.GET, REAL_URL + ep.BALANCE, body="<html>502 Bad Gateway</html>", status=502)
    serve(fake.rsps, REAL_URL, [page([holding_row("005930", 1)], "", "", False)])
    assert client.balance().qty("005930") == 1
    assert 0.25 in clock.sleeps and 0.5 in clock.sleeps
