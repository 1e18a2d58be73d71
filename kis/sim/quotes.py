"""inquire-price's `output` as KIS documents it (FHKST01010100, the official sample's 82 fields).

Figures the paper market does not model (PER, PBR, 52-week range, listed shares, ...) are plausible values
drawn once per code from its hash, never market data; they agree with the day's prices (a 52-week high is
never below today's high).
"""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from kis.sim.market import MarketQuote
from kis.ticks import ETF, round_to_tick

MARGIN_PERCENT = 20  # 증거금률: the share of a buy that must be cash when the rest is bought on 미수

# Every field of the official sample's output list, in its order; numbers KIS sends as strings.
FIELDS = (
    "iscd_stat_cls_code", "marg_rate", "rprs_mrkt_kor_name", "new_hgpr_lwpr_cls_code", "bstp_kor_isnm",
    "temp_stop_yn", "oprc_rang_cont_yn", "clpr_rang_cont_yn", "crdt_able_yn", "grmn_rate_cls_code",
    "elw_pblc_yn", "stck_prpr", "prdy_vrss", "prdy_vrss_sign", "prdy_ctrt", "acml_tr_pbmn", "acml_vol",
    "prdy_vrss_vol_rate", "stck_oprc", "stck_hgpr", "stck_lwpr", "stck_mxpr", "stck_llam", "stck_sdpr",
    "wghn_avrg_stck_prc", "hts_frgn_ehrt", "frgn_ntby_qty", "pgtr_ntby_qty", "pvt_scnd_dmrs_prc",
    "pvt_frst_dmrs_prc", "pvt_pont_val", "pvt_frst_dmsp_prc", "pvt_scnd_dmsp_prc", "dmrs_val", "dmsp_val",
    "cpfn", "rstc_wdth_prc", "stck_fcam", "stck_sspr", "aspr_unit", "hts_deal_qty_unit_val", "lstn_stcn",
    "hts_avls", "per", "pbr", "stac_month", "vol_tnrt", "eps", "bps", "d250_hgpr", "d250_hgpr_date",
    "d250_hgpr_vrss_prpr_rate", "d250_lwpr", "d250_lwpr_date", "d250_lwpr_vrss_prpr_rate", "stck_dryy_hgpr",
    "dryy_hgpr_vrss_prpr_rate", "dryy_hgpr_date", "stck_dryy_lwpr", "dryy_lwpr_vrss_prpr_rate", "dryy_lwpr_date",
    "w52_hgpr", "w52_hgpr_vrss_prpr_ctrt", "w52_hgpr_date", "w52_lwpr", "w52_lwpr_vrss_prpr_ctrt",
    "w52_lwpr_date", "whol_loan_rmnd_rate", "ssts_yn", "stck_shrn_iscd", "fcam_cnnm", "cpfn_cnnm",
    "apprch_rate", "frgn_hldn_qty", "vi_cls_code", "ovtm_vi_cls_code", "last_ssts_cntg_qty", "invt_caful_yn",
    "mrkt_warn_cls_code", "short_over_yn", "sltr_yn", "mang_issu_cls_code",
)
_TEXT = {"rprs_mrkt_kor_name", "new_hgpr_lwpr_cls_code", "bstp_kor_isnm", "stck_shrn_iscd", "fcam_cnnm",
         "cpfn_cnnm", "d250_hgpr_date", "d250_lwpr_date", "dryy_hgpr_date", "dryy_lwpr_date", "w52_hgpr_date",
         "w52_lwpr_date"}
_FLAGS = {"temp_stop_yn", "oprc_rang_cont_yn", "clpr_rang_cont_yn", "crdt_able_yn", "elw_pblc_yn", "ssts_yn",
          "vi_cls_code", "ovtm_vi_cls_code", "invt_caful_yn", "short_over_yn", "sltr_yn", "mang_issu_cls_code"}


def unknown_output(code: str) -> dict[str, str]:
    """KIS answers an unknown code with success and zeroed fields; the client must notice."""
    out = {f: "" if f in _TEXT else "N" if f in _FLAGS else "0" for f in FIELDS}
    return out | {"prdy_vrss_sign": "3", "stck_shrn_iscd": code}


def price_output(quote: MarketQuote) -> dict[str, str]:
    """Every documented field for a listed code, consistent with `quote`."""
    etf = quote.grid is ETF
    draw = _Draws(quote.code)
    price, today = quote.price, quote.at.date()
    sign = "2" if quote.change > 0 else "5" if quote.change < 0 else "3"
    if price == quote.upper:
        sign = "1"
    elif price == quote.lower:
        sign = "4"
    shares = draw.between(5_000_000, 900_000_000) if not etf else draw.between(1_000_000, 50_000_000)
    face = 0 if etf else (100, 500, 5_000)[draw.between(0, 3)]
    high52, high52_on = _extreme(quote, draw, up=True)
    low52, low52_on = _extreme(quote, draw, up=False)
    year_start = date(today.year, 1, 1)
    high_year, high_year_on = (high52, high52_on) if high52_on >= year_start else (quote.high, today)
    low_year, low_year_on = (low52, low52_on) if low52_on >= year_start else (quote.low, today)
    per = 0.0 if etf else draw.between(500, 4_000) / 100
    pbr = 0.0 if etf else draw.between(40, 400) / 100
    pivot = (quote.high + quote.low + price) // 3
    out = {
        "iscd_stat_cls_code": "55", "marg_rate": f"{MARGIN_PERCENT:.2f}",
        "rprs_mrkt_kor_name": "KOSPI" if etf else "KOSPI200", "new_hgpr_lwpr_cls_code": "",
        "bstp_kor_isnm": "" if etf else "제조업", "temp_stop_yn": "N", "oprc_rang_cont_yn": "N",
        "clpr_rang_cont_yn": "N", "crdt_able_yn": "Y", "grmn_rate_cls_code": "40", "elw_pblc_yn": "N",
        "stck_prpr": str(price), "prdy_vrss": str(quote.change), "prdy_vrss_sign": sign,
        "prdy_ctrt": f"{quote.change_rate:.2f}", "acml_tr_pbmn": str(quote.volume * price),
        "acml_vol": str(quote.volume), "prdy_vrss_vol_rate": "0.00", "stck_oprc": str(quote.open),
        "stck_hgpr": str(quote.high), "stck_lwpr": str(quote.low), "stck_mxpr": str(quote.upper),
        "stck_llam": str(quote.lower), "stck_sdpr": str(quote.prev_close),
        "wghn_avrg_stck_prc": f"{(quote.high + quote.low + 2 * price) / 4:.2f}", "hts_frgn_ehrt": "0.00",
        "frgn_ntby_qty": "0", "pgtr_ntby_qty": "0",
        "pvt_scnd_dmrs_prc": str(pivot + (quote.high - quote.low)), "pvt_frst_dmrs_prc": str(2 * pivot - quote.low),
        "pvt_pont_val": str(pivot), "pvt_frst_dmsp_prc": str(2 * pivot - quote.high),
        "pvt_scnd_dmsp_prc": str(pivot - (quote.high - quote.low)), "dmrs_val": str(quote.high),
        "dmsp_val": str(quote.low), "cpfn": str(shares * face // 100_000_000),
        "rstc_wdth_prc": str(quote.upper - quote.prev_close), "stck_fcam": str(face),
        "stck_sspr": str(round_to_tick(max(1, quote.prev_close * 7 // 10), "down", quote.grid)),
        "aspr_unit": str(quote.tick), "hts_deal_qty_unit_val": "1", "lstn_stcn": str(shares),
        "hts_avls": str(price * shares // 100_000_000), "per": f"{per:.2f}", "pbr": f"{pbr:.2f}",
        "stac_month": "12", "vol_tnrt": f"{quote.volume * 100 / shares:.2f}",
        "eps": f"{price / per:.2f}" if per else "0.00", "bps": f"{price / pbr:.2f}" if pbr else "0.00",
        "whol_loan_rmnd_rate": "0.00", "ssts_yn": "Y", "stck_shrn_iscd": quote.code, "fcam_cnnm": "원",
        "cpfn_cnnm": "억", "apprch_rate": "0.00", "frgn_hldn_qty": "0", "vi_cls_code": "N",
        "ovtm_vi_cls_code": "N", "last_ssts_cntg_qty": "0", "invt_caful_yn": "N", "mrkt_warn_cls_code": "00",
        "short_over_yn": "N", "sltr_yn": "N", "mang_issu_cls_code": "N",
    }
    for prefix, rate_key, high, high_on, low, low_on in (
            ("d250_", "rate", high52, high52_on, low52, low52_on),
            ("w52_", "ctrt", high52, high52_on, low52, low52_on)):
        out |= {f"{prefix}hgpr": str(high), f"{prefix}hgpr_date": f"{high_on:%Y%m%d}",
                f"{prefix}hgpr_vrss_prpr_{rate_key}": _rate(price, high),
                f"{prefix}lwpr": str(low), f"{prefix}lwpr_date": f"{low_on:%Y%m%d}",
                f"{prefix}lwpr_vrss_prpr_{rate_key}": _rate(price, low)}
    out |= {"stck_dryy_hgpr": str(high_year), "dryy_hgpr_date": f"{high_year_on:%Y%m%d}",
            "dryy_hgpr_vrss_prpr_rate": _rate(price, high_year), "stck_dryy_lwpr": str(low_year),
            "dryy_lwpr_date": f"{low_year_on:%Y%m%d}", "dryy_lwpr_vrss_prpr_rate": _rate(price, low_year)}
    return {f: out[f] for f in FIELDS}


class _Draws:
    """Reproducible numbers for one code (the same every call and every run)."""

    def __init__(self, code: str):
        self.code, self.n = code, 0

    def between(self, low: int, high: int) -> int:
        self.n += 1
        digest = hashlib.blake2b(f"{self.code}:{self.n}".encode(), digest_size=8).digest()
        return low + int.from_bytes(digest, "big") % (high - low)


def _extreme(quote: MarketQuote, draw: _Draws, *, up: bool) -> tuple[int, date]:
    """A 52-week high (or low) some days back, or today's when today went further."""
    today: datetime = quote.at
    swing = draw.between(5, 60) / 100
    days_back = draw.between(1, 360)
    if up:
        past = round_to_tick(int(quote.prev_close * (1 + swing)), "down", quote.grid)
        return (past, today.date() - timedelta(days=days_back)) if past > quote.high else (quote.high, today.date())
    past = round_to_tick(max(1, int(quote.prev_close * (1 - swing))), "up", quote.grid)
    return (past, today.date() - timedelta(days=days_back)) if past < quote.low else (quote.low, today.date())


def _rate(price: int, reference: int) -> str:
    """Percent of `price` against `reference`, as KIS writes it ("-12.34")."""
    return f"{(price - reference) * 100 / reference:.2f}" if reference else "0.00"


# inquire-asking-price-exp-ccn (FHKST01010200): the official sample's output1 (호가정보) and output2 (예상체결정보).
_N = range(1, 11)
ASKING_FIELDS = (
    ("aspr_acpt_hour",) + tuple(f"askp{i}" for i in _N) + tuple(f"bidp{i}" for i in _N)
    + tuple(f"askp_rsqn{i}" for i in _N) + tuple(f"bidp_rsqn{i}" for i in _N)
    + tuple(f"askp_rsqn_icdc{i}" for i in _N) + tuple(f"bidp_rsqn_icdc{i}" for i in _N)
    + ("total_askp_rsqn", "total_bidp_rsqn", "total_askp_rsqn_icdc", "total_bidp_rsqn_icdc",
       "ovtm_total_askp_icdc", "ovtm_total_bidp_icdc", "ovtm_total_askp_rsqn", "ovtm_total_bidp_rsqn",
       "ntby_aspr_rsqn", "new_mkop_cls_code")
)
EXPECTED_FIELDS = ("antc_mkop_cls_code", "stck_prpr", "stck_oprc", "stck_hgpr", "stck_lwpr", "stck_sdpr",
                   "antc_cnpr", "antc_cntg_vrss_sign", "antc_cntg_vrss", "antc_cntg_prdy_ctrt", "antc_vol",
                   "stck_shrn_iscd", "vi_cls_code")
CONTINUOUS = "20"  # new_mkop_cls_code: 2 장중, 0 보통 (the session's continuous trading)


def asking_price_output(code: str, quote: MarketQuote | None, snap) -> tuple[dict[str, str], dict[str, str]]:
    """(output1, output2) of the asking-price inquiry for `snap` (a kis.sim.book.Snapshot), every value a string.

    The sim trades continuously, so the expected-match figures (예상체결, set in KRX's call auctions) are 0, as
    during the session; the level changes (_icdc) are 0. An unknown code comes back zeroed, as KIS answers it.
    """
    out1 = dict.fromkeys(ASKING_FIELDS, "0")
    out2 = dict.fromkeys(EXPECTED_FIELDS, "0") | {"antc_cntg_vrss_sign": "3", "antc_cntg_prdy_ctrt": "0.00",
                                                  "stck_shrn_iscd": code, "vi_cls_code": "N",
                                                  "antc_mkop_cls_code": ""}
    out1["new_mkop_cls_code"] = ""
    if quote is None or snap is None:
        out1["aspr_acpt_hour"] = "000000"
        return out1, out2
    for i, ((ask, ask_qty), (bid, bid_qty)) in enumerate(zip(snap.asks, snap.bids), start=1):
        out1 |= {f"askp{i}": str(ask), f"bidp{i}": str(bid), f"askp_rsqn{i}": str(ask_qty),
                 f"bidp_rsqn{i}": str(bid_qty)}
    out1 |= {"aspr_acpt_hour": snap.at.strftime("%H%M%S"), "total_askp_rsqn": str(snap.total_ask),
             "total_bidp_rsqn": str(snap.total_bid), "ntby_aspr_rsqn": str(snap.total_bid - snap.total_ask),
             "new_mkop_cls_code": CONTINUOUS}
    out2 |= {"stck_prpr": str(quote.price), "stck_oprc": str(quote.open),
             "stck_hgpr": str(quote.high), "stck_lwpr": str(quote.low), "stck_sdpr": str(quote.prev_close)}
    return out1, out2
