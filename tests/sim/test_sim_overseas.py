"""The sim serves KIS's overseas endpoints as the official samples call them (examples_llm/overseas_stock/*):
their request fields, tr_ids, and the fields of their chk_*.py lists; a ticker on the wrong exchange is refused."""
from __future__ import annotations

from decimal import Decimal

import pytest

from kis.markets import us
from kis.sim import SimServer
from kis.sim.overseas_protocol import DETAIL_FIELDS, PRICE_FIELDS, SEARCH_FIELDS
from sim_raw import CANO, PRODUCT, Raw, refusal

# The chk_*.py COLUMN_MAPPING keys of each service, as the samples print them.
PRESENT_OUTPUT1 = ("cblc_qty13", "thdt_buy_ccld_qty1", "thdt_sll_ccld_qty1", "ccld_qty_smtl1", "ord_psbl_qty1",
                   "frcr_pchs_amt", "frcr_evlu_amt2", "evlu_pfls_amt2", "evlu_pfls_rt1", "pdno", "bass_exrt",
                   "buy_crcy_cd", "ovrs_now_pric1", "avg_unpr3", "tr_mket_name", "natn_kor_name",
                   "pchs_rmnd_wcrc_amt", "thdt_buy_ccld_frcr_amt", "thdt_sll_ccld_frcr_amt", "unit_amt", "std_pdno",
                   "prdt_type_cd", "loan_rmnd", "loan_dt", "loan_expd_dt", "ovrs_excg_cd", "item_lnkg_excg_cd")
PRESENT_OUTPUT2 = ("crcy_cd", "frcr_buy_amt_smtl", "frcr_sll_amt_smtl", "frcr_dncl_amt_2", "frst_bltn_exrt",
                   "frcr_buy_mgn_amt", "frcr_etc_mgna", "frcr_drwg_psbl_amt_1", "frcr_evlu_amt2",
                   "acpl_cstd_crcy_yn", "nxdy_frcr_drwg_psbl_amt")
PRESENT_OUTPUT3 = ("pchs_amt_smtl", "evlu_amt_smtl", "evlu_pfls_amt_smtl", "dncl_amt", "cma_evlu_amt", "tot_dncl_amt",
                   "etc_mgna", "wdrw_psbl_tot_amt", "frcr_evlu_tota", "evlu_erng_rt1", "pchs_amt_smtl_amt",
                   "evlu_amt_smtl_amt", "tot_evlu_pfls_amt", "tot_asst_amt", "buy_mgn_amt", "mgna_tota",
                   "frcr_use_psbl_amt", "ustl_sll_amt_smtl", "ustl_buy_amt_smtl", "tot_frcr_cblc_smtl", "tot_loan_amt")
BALANCE_OUTPUT1 = ("cano", "acnt_prdt_cd", "prdt_type_cd", "ovrs_pdno", "frcr_evlu_pfls_amt", "evlu_pfls_rt",
                   "pchs_avg_pric", "ovrs_cblc_qty", "ord_psbl_qty", "frcr_pchs_amt1", "ovrs_stck_evlu_amt",
                   "now_pric2", "tr_crcy_cd", "ovrs_excg_cd", "loan_type_cd", "loan_dt", "expd_dt")
BALANCE_OUTPUT2 = ("frcr_pchs_amt1", "ovrs_rlzt_pfls_amt", "ovrs_tot_pfls", "rlzt_erng_rt", "tot_evlu_pfls_amt",
                   "tot_pftrt", "frcr_buy_amt_smtl1", "ovrs_rlzt_pfls_amt2", "frcr_buy_amt_smtl2")


@pytest.fixture
def raw(sim):
    return Raw(sim).login()


def price(raw, excd: str, symb: str, path: str = us.PRICE.path, tr_id: str = "HHDFS00000300"):
    return raw.get(path, tr_id, {"AUTH": "", "EXCD": excd, "SYMB": symb})  # price.py's params


def present_balance(raw, *, wcrc: str = "02", natn: str = "000", market: str = "00", tr_id: str = "VTRP6504R", **over):
    params = {"CANO": CANO, "ACNT_PRDT_CD": PRODUCT, "WCRC_FRCR_DVSN_CD": wcrc, "NATN_CD": natn,
              "TR_MKET_CD": market, "INQR_DVSN_CD": "00", **over}
    return raw.get(us.PRESENT_BALANCE.path, tr_id, params)


def balance(raw, excd: str = "NASD", fk: str = "", nk: str = "", tr_cont: str | None = None):
    params = {"CANO": CANO, "ACNT_PRDT_CD": PRODUCT, "OVRS_EXCG_CD": excd, "TR_CRCY_CD": "USD",
              "CTX_AREA_FK200": fk, "CTX_AREA_NK200": nk}
    return raw.get(us.BALANCE.path, "VTTS3012R", params, tr_cont=tr_cont)


def test_every_documented_us_stock_is_listed_with_an_exchange_and_a_price_on_the_grid(sim):
    for symbol in ("AAPL", "MSFT", "NVDA", "KO", "SPY", "QQQ", "TLT", "GLD", "SCHD"):
        spec = sim.us_market.spec(symbol)
        assert spec is not None and spec.exchange in ("NASD", "NYSE", "AMEX")
        assert spec.price >= 10_000 and spec.price % 100 == 0  # whole cents at $1 and above
    assert sim.market.knows("069500")  # KODEX 200 beside them


def test_the_price_answers_the_sample_fields_in_dollars_with_the_sign_and_the_rate(sim, raw):
    sim.us_market.set_price("AAPL", "240.55")
    reply = price(raw, "NAS", "AAPL")
    assert reply.status_code == 200 and reply.headers["tr_id"] == "HHDFS00000300" and reply.headers["tr_cont"] == ""
    out = reply.json()["output"]
    assert tuple(out) == PRICE_FIELDS
    assert out["rsym"] == "DNASAAPL" and out["last"] == "240.5500" and out["base"] == "233.1200"
    assert out["sign"] == "2" and out["diff"] == "7.4300" and out["rate"] == "3.19"


def test_a_ticker_asked_on_the_wrong_exchange_answers_apbk0656(raw):
    for excd, symb in (("NYS", "AAPL"), ("NAS", "KO"), ("NAS", "SPY")):
        reply = price(raw, excd, symb)
        assert refusal(reply) == ("APBK0656", "해당종목정보가 없습니다")
    assert refusal(price(raw, "NYS", "AAPL", us.PRICE_DETAIL.path, "HHDFS76200200"))[0] == "APBK0656"


def test_a_ticker_no_exchange_lists_comes_back_empty_and_an_unknown_exchange_is_an_input_error(raw):
    out = price(raw, "NAS", "ZZZZ").json()
    assert out["rt_cd"] == "0" and out["output"]["last"] == ""
    assert refusal(price(raw, "TSE", "AAPL"))[0] == "OPSQ2001"
    assert refusal(raw.get(us.PRICE.path, "HHDFS00000300", {"EXCD": "NAS", "SYMB": "AAPL"}))[0] == "OPSQ2002"


def test_us_prices_move_on_the_us_grid_with_no_daily_band(sim, raw, sim_clock):
    sim.us_market.set_price("NVDA", "400.00")  # more than double its previous close: no ±30 % on US stocks
    assert price(raw, "NAS", "NVDA").json()["output"]["last"] == "400.0000"
    sim.us_market.set_price("SNDL", "0.87345")
    assert price(raw, "NAS", "SNDL").json()["output"]["last"] == "0.8735"  # four places below $1
    seen = set()
    for _ in range(40):
        sim_clock.advance(60)
        last = Decimal(price(raw, "NAS", "AAPL").json()["output"]["last"])
        assert last == last.quantize(Decimal("0.01"))
        seen.add(last)
    assert len(seen) > 1  # it walks


def test_the_price_detail_has_the_sample_fields_usd_the_tick_and_the_rate(sim, raw):
    reply = price(raw, "NAS", "TLT", us.PRICE_DETAIL.path, "HHDFS76200200")
    out = reply.json()["output"]
    assert tuple(out) == DETAIL_FIELDS
    assert out["curr"] == "USD" and out["e_hogau"] == "0.0100" and out["uplp"] == "0.0000"
    assert Decimal(out["t_rate"]) > 1000 and out["etyp_nm"] == "ETF"


def test_search_info_names_the_exchange_of_a_ticker_under_its_product_type_only(raw):
    def search(kind, pdno, tr_id="CTPF1702R"):
        return raw.get(us.SEARCH_INFO.path, tr_id, {"PRDT_TYPE_CD": kind, "PDNO": pdno})  # search_info.py

    out = search("513", "KO").json()["output"]
    assert tuple(out) == SEARCH_FIELDS
    assert (out["ovrs_excg_cd"], out["prdt_eng_name"], out["tr_crcy_cd"], out["natn_cd"]) == (
        "NYSE", "COCA-COLA CO", "USD", "840")
    assert search("512", "KO").json()["output"]["ovrs_excg_cd"] == ""  # not on Nasdaq
    assert search("529", "SPY", tr_id="VTPF1702R").json()["output"]["ovrs_excg_cd"] == "AMEX"  # the sample's paper id
    assert refusal(search("999", "KO"))[0] == "OPSQ2001"


def test_present_balance_has_the_sample_fields_a_usd_deposit_and_the_rate(sim, raw):
    sim.us_book.set_holding("AAPL", 10, "200.00")
    sim.us_market.set_price("AAPL", "250.00")
    body = present_balance(raw).json()
    assert body["rt_cd"] == "0"
    row, = body["output1"]
    usd, = body["output2"]
    summary = body["output3"]
    assert set(PRESENT_OUTPUT1) <= set(row) and set(PRESENT_OUTPUT2) <= set(usd) and set(PRESENT_OUTPUT3) <= set(summary)
    assert (row["pdno"], row["cblc_qty13"], row["ovrs_excg_cd"]) == ("AAPL", "10", "NASD")
    assert row["frcr_evlu_amt2"] == "2500.00" and row["frcr_pchs_amt"] == "2000.00" and row["evlu_pfls_amt2"] == "500.00"
    assert usd["crcy_cd"] == "USD" and usd["frcr_dncl_amt_2"] == "20000.00" and summary["frcr_use_psbl_amt"] == "20000.00"
    rate = Decimal(row["bass_exrt"])
    assert rate == Decimal(usd["frst_bltn_exrt"]) and Decimal("1300") < rate < Decimal("1460")
    assert int(summary["evlu_amt_smtl_amt"]) == int((Decimal(2500) * rate).to_integral_value())


def test_present_balance_in_won_converts_the_foreign_amounts_at_the_rate(sim, raw):
    sim.us_book.set_holding("KO", 3, "60.00")
    body = present_balance(raw, wcrc="01", natn="840", market="02").json()
    row, = body["output1"]
    rate = Decimal(row["bass_exrt"])
    assert int(row["frcr_pchs_amt"]) == int((Decimal(180) * rate).to_integral_value())
    assert present_balance(raw, natn="840", market="01").json()["output1"] == []  # KO is not on Nasdaq


def test_present_balance_is_one_page_and_refuses_the_real_tr_id_on_the_paper_exchange(raw):
    reply = present_balance(raw)
    assert reply.headers["tr_cont"] == "D"
    assert refusal(present_balance(raw, tr_id="CTRP6504R"))[0] == "EGW02006"
    assert refusal(present_balance(raw, wcrc="03"))[0] == "OPSQ2001"


def test_the_usd_deposit_is_a_setting(sim_clock):
    with SimServer(0, clock=sim_clock, always_open=True, usd_cash="1234.56", notices=False) as sim:
        out = present_balance(Raw(sim).login()).json()["output2"][0]
        assert out["frcr_dncl_amt_2"] == "1234.56"


def test_the_rate_drifts_slowly(sim, raw, sim_clock):
    rates = []
    for _ in range(6):
        rates.append(Decimal(present_balance(raw).json()["output2"][0]["frst_bltn_exrt"]))
        sim_clock.advance(hours=4)
    assert len(set(rates)) > 1
    assert max(rates) / min(rates) < Decimal("1.03")  # a day's drift stays within a few percent


def test_inquire_balance_pages_with_ctx_area_200_and_lists_one_exchange_as_mock_does(sim, raw):
    for n, symbol in enumerate(("AAPL", "MSFT", "NVDA", "QQQ", "TLT", "SNDL", "KO"), start=1):
        sim.us_book.set_holding(symbol, n, "10.00")
    first = balance(raw)
    body = first.json()
    assert first.headers["tr_cont"] == "M" and len(body["output1"]) == 5
    assert set(BALANCE_OUTPUT1) <= set(body["output1"][0]) and set(BALANCE_OUTPUT2) <= set(body["output2"])
    assert "ctx_area_fk200" in body and body["ctx_area_nk200"].strip()
    second = balance(raw, "NASD", body["ctx_area_fk200"], body["ctx_area_nk200"], tr_cont="N")
    assert second.headers["tr_cont"] == "D" and len(second.json()["output1"]) == 1  # Nasdaq only: KO is on NYSE
    assert [r["ovrs_pdno"] for r in balance(raw, "NYSE").json()["output1"]] == ["KO"]
    assert refusal(balance(raw, fk="x", nk="", tr_cont="N"))[0] == "OPSQ2002"
    assert refusal(balance(raw, "NAS"))[0] == "OPSQ2001"  # NAS is real's code, not mock's


def test_the_us_side_survives_a_restart(sim_clock, tmp_path):
    state = tmp_path / "sim.json"
    with SimServer(0, clock=sim_clock, always_open=True, state_path=state, notices=False) as sim:
        sim.us_book.set_holding("GLD", 4, "300.00")
        sim.us_market.set_price("GLD", "333.33")
    with SimServer(0, clock=sim_clock, always_open=True, state_path=state, notices=False) as again:
        assert again.us_book.positions["GLD"].qty == 4 and again.us_market.price("GLD") == 3_333_300


@pytest.mark.parametrize("given, amount", [(None, None), ("20000", "20000"), ("$1,234.56", "1234.56"), ("0", "0")])
def test_kisbot_sim_takes_the_dollar_deposit_as_dollars_and_cents(given, amount):
    from kis.sim.cli import _usd_cash

    assert _usd_cash(given) == amount


@pytest.mark.parametrize("given", ["-5", "12.345", "lots", "nan", "inf"])
def test_kisbot_sim_refuses_a_deposit_that_is_no_amount_of_dollars(given):
    from kis.errors import ConfigError
    from kis.sim.cli import _usd_cash

    with pytest.raises(ConfigError) as err:
        _usd_cash(given)
    assert str(err.value) == f"--usd-cash '{given}' is not an amount of dollars such as 20000 or 1234.56"
