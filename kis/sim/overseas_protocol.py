"""KIS's overseas endpoints on the paper exchange: price, price-detail, search-info, inquire-balance (paged) and
inquire-present-balance, with the request fields and answer fields of the official samples.

KIS mock serves no price-detail and no search-info (its Postman collection lists neither); the paper exchange
serves both, as it serves KRX's stock info, so names and exchanges are tested end to end. It takes search-info
as CTPF1702R and as VTPF1702R, what KIS's sample client sends in paper mode.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal  # noqa: F401

from kis.markets import us
from kis.sim.overseas import (EXCHANGE_NAMES, OTHER_PRODUCT_TYPES, PRESENT_MARKETS, PRODUCT_TYPES, QUOTE_CODES,
                              UNIT, dollars_text, isin)
from kis.sim.exchange import BUY, SELL, Rejected
from kis.sim.refusals import DATA_CHANGED, Refusal, invalid
from kis.sim.us_exchange import UsOrder
from kis.sim.answers import OK_BUY, OK_CANCEL, OK_INQUIRY, OK_QUOTE, OK_REVISE, OK_SELL, OrderAnswers

NOT_LISTED_HERE = ("APBK0656", "해당종목정보가 없습니다")  # a ticker asked on an exchange that does not list it
NO_ROWS = ("70070000", "조회할 내용이 없습니다.")  # guess: an inquiry that finds nothing

OVERSEAS_PATH_TRS = {
    us.PRICE.path: {"HHDFS00000300"},
    us.PRICE_DETAIL.path: {"HHDFS76200200"},
    us.SEARCH_INFO.path: {"CTPF1702R", "VTPF1702R"},
    us.BALANCE.path: {"VTTS3012R"},
    us.PRESENT_BALANCE.path: {"VTRP6504R"},
    # Orders: the sell is VTTT1001U in KIS's docs and VTTT1006U from the samples' "V" + real switch: both taken.
    us.BUY.path: {"VTTT1002U", "VTTT1001U", "VTTT1006U"},
    us.REVISE_CANCEL.path: {"VTTT1004U"},
    us.ORDERS.path: {"VTTS3035R"},
    us.BUYABLE.path: {"VTTS3007R"},
}
US_BUY_TRS = {"VTTT1002U"}
# KIS mock serves no inquire-nccs (open orders): answered as every service mock lacks, EGW02006.
OVERSEAS_REAL_ONLY = {us.OPEN_ORDERS.path, us.DAYTIME_BUY.path}
US_ORDER_PATHS = {us.BUY.path, us.REVISE_CANCEL.path}
US_ORDER_FIELDS = ("CANO", "ACNT_PRDT_CD", "OVRS_EXCG_CD", "PDNO", "ORD_QTY", "OVRS_ORD_UNPR", "ORD_SVR_DVSN_CD",
                   "ORD_DVSN")
US_RVSECNCL_FIELDS = ("CANO", "ACNT_PRDT_CD", "OVRS_EXCG_CD", "PDNO", "ORGN_ODNO", "RVSE_CNCL_DVSN_CD", "ORD_QTY",
                      "OVRS_ORD_UNPR")
CCNL_FIELDS = ("CANO", "ACNT_PRDT_CD", "PDNO", "ORD_STRT_DT", "ORD_END_DT", "SLL_BUY_DVSN", "CCLD_NCCS_DVSN",
               "OVRS_EXCG_CD", "SORT_SQN", "ORD_DT", "ORD_GNO_BRNO", "ODNO", "CTX_AREA_NK200", "CTX_AREA_FK200")
PSAMOUNT_FIELDS = ("CANO", "ACNT_PRDT_CD", "OVRS_EXCG_CD", "OVRS_ORD_UNPR", "ITEM_CD")
US_ORDER_EXCHANGES = ("NASD", "NYSE", "AMEX")
# An account without overseas trading (해외증권 거래신청). KIS's docs say of every overseas trading service "해외주식
# 서비스 신청 후 이용 가능합니다. (… 해외증권 거래신청 참고)" (examples_user/overseas_stock/overseas_stock_functions.py);
# the code and wording KIS answers with are unverified, so the code is plainly the simulator's own and the wording
# the docs'. The client knows the refusal by its words (kis/errors.py `is_overseas_off`), never by this code.
OVERSEAS_OFF = ("SIMOVRS0", "해외주식 서비스 신청 후 이용 가능합니다. (해외증권 거래신청)")
OVERSEAS_TRADING_PATHS = {us.BALANCE.path, us.PRESENT_BALANCE.path, us.BUY.path, us.REVISE_CANCEL.path,
                          us.ORDERS.path, us.BUYABLE.path}
CCNL_FIELDS_OUT = ("ord_dt", "ord_gno_brno", "odno", "orgn_odno", "sll_buy_dvsn_cd", "sll_buy_dvsn_cd_name",
                   "rvse_cncl_dvsn", "rvse_cncl_dvsn_name", "pdno", "prdt_name", "ft_ord_qty", "ft_ord_unpr3",
                   "ft_ccld_qty", "ft_ccld_unpr3", "ft_ccld_amt3", "nccs_qty", "prcs_stat_name", "rjct_rson",
                   "rjct_rson_name", "ord_tmd", "tr_mket_name", "tr_crcy_cd", "tr_natn", "ovrs_excg_cd",
                   "tr_natn_name", "dmst_ord_dt", "thco_ord_tmd", "loan_type_cd", "loan_dt", "mdia_dvsn_name",
                   "usa_amk_exts_rqst_yn", "splt_buy_attr_name")
PSAMOUNT_OUT = ("tr_crcy_cd", "ord_psbl_frcr_amt", "sll_ruse_psbl_amt", "ovrs_ord_psbl_amt", "max_ord_psbl_qty",
                "echm_af_ord_psbl_amt", "echm_af_ord_psbl_qty", "ord_psbl_qty", "exrt", "frcr_ord_psbl_amt1",
                "ovrs_max_ord_psbl_qty")


def order_price(text: str, name: str = "OVRS_ORD_UNPR") -> int:
    """A dollar price as KIS takes it ("145.00", "200", "0.8734") in $0.0001 units; more places than the US grid
    keeps are refused (APTR0057), as is a price that is not a number."""
    try:
        value = Decimal((text or "").strip() or "0")
    except ArithmeticError:
        raise invalid(name, "OPSQ2002") from None
    if not value.is_finite() or value < 0:
        raise invalid(name, "OPSQ2002")
    scaled = value * UNIT
    if scaled != scaled.to_integral_value() or (value >= 1 and (value * 100) != (value * 100).to_integral_value()):
        raise Refusal(("APTR0057", "주문 가격 소수점 초과"), 200)
    return int(scaled)
BALANCE_FIELDS = ("CANO", "ACNT_PRDT_CD", "OVRS_EXCG_CD", "TR_CRCY_CD", "CTX_AREA_FK200", "CTX_AREA_NK200")
PRESENT_FIELDS = ("CANO", "ACNT_PRDT_CD", "WCRC_FRCR_DVSN_CD", "NATN_CD", "TR_MKET_CD", "INQR_DVSN_CD")
CTX_WIDTH = 200
# inquire-balance's exchange codes on mock: NASD is Nasdaq alone there (on real it means all of the US).
BALANCE_EXCHANGES = {"NASD": "NASD", "NYSE": "NYSE", "AMEX": "AMEX"}
OTHER_BALANCE_EXCHANGES = {"SEHK", "SHAA", "SZAA", "TKSE", "HASE", "VNSE"}

PRICE_FIELDS = ("rsym", "zdiv", "base", "pvol", "last", "sign", "diff", "rate", "tvol", "tamt", "ordy")
DETAIL_FIELDS = ("rsym", "pvol", "open", "high", "low", "last", "base", "tomv", "pamt", "uplp", "dnlp", "h52p",
                 "h52d", "l52p", "l52d", "perx", "pbrx", "epsx", "bpsx", "shar", "mcap", "curr", "zdiv", "vnit",
                 "t_xprc", "t_xdif", "t_xrat", "p_xprc", "p_xdif", "p_xrat", "t_rate", "p_rate", "t_xsgn", "p_xsng",
                 "e_ordyn", "e_hogau", "e_icod", "e_parp", "tvol", "tamt", "etyp_nm")
SEARCH_FIELDS = ("std_pdno", "prdt_eng_name", "natn_cd", "natn_name", "tr_mket_cd", "tr_mket_name", "ovrs_excg_cd",
                 "ovrs_excg_name", "tr_crcy_cd", "ovrs_papr", "crcy_name", "ovrs_stck_dvsn_cd", "prdt_clsf_cd",
                 "prdt_clsf_name", "sll_unit_qty", "buy_unit_qty", "tr_unit_amt", "lstg_stck_num", "lstg_dt",
                 "ovrs_stck_tr_stop_dvsn_cd", "lstg_abol_item_yn", "ovrs_stck_prdt_grp_no", "lstg_yn", "tax_levy_yn",
                 "ovrs_stck_erlm_rosn_cd", "ovrs_stck_hist_rght_dvsn_cd", "chng_bf_pdno", "prdt_type_cd_2",
                 "ovrs_item_name", "sedol_no", "blbg_tckr_text", "ovrs_stck_etf_risk_drtp_cd",
                 "etp_chas_erng_rt_dbnb", "istt_usge_isin_cd", "mint_svc_yn", "mint_svc_yn_chng_dt", "prdt_name",
                 "lei_cd", "ovrs_stck_stop_rson_cd", "lstg_abol_dt", "mini_stk_tr_stat_dvsn_cd",
                 "mint_frst_svc_erlm_dt", "mint_dcpt_trad_psbl_yn", "mint_fnum_trad_psbl_yn",
                 "mint_cblc_cvsn_ipsb_yn", "ptp_item_yn", "ptp_item_trfx_exmt_yn", "ptp_item_trfx_exmt_strt_dt",
                 "ptp_item_trfx_exmt_end_dt", "dtm_tr_psbl_yn", "sdrf_stop_ecls_yn", "sdrf_stop_ecls_erlm_dt",
                 "memo_text1", "ovrs_now_pric1", "last_rcvg_dtime")
MARKET_CODES = {"NASD": "01", "NYSE": "02", "AMEX": "05"}  # tr_mket_cd


def _won(value: Decimal) -> str:
    return str(int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def _usd(units: int) -> str:
    """Ints of $0.0001 as a dollar amount with two places."""
    return f"{(Decimal(units) / UNIT).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


def _usd_down(units: int) -> str:
    """Ints of $0.0001 as dollars with two places, rounded down (what can be spent never exceeds the cash)."""
    return f"{(Decimal(units) / UNIT).quantize(Decimal('0.01'), rounding=ROUND_DOWN)}"


def _rate(change: int, base: int) -> str:
    return f"{Decimal(change * 100) / base:.2f}" if base else "0.00"


def _sign(change: int) -> str:
    return "2" if change > 0 else "5" if change < 0 else "3"


class OverseasProtocol:
    """The overseas handlers of `KisProtocol` (a mixin: it reads the protocol's us_market, fx, us_book)."""

    def _us_quote_of(self, req, name: str = "EXCD"):
        """(symbol, walk) of a quote request; APBK0656 for a ticker its exchange does not list."""
        q = req.query
        self._need(q, ("AUTH", name, "SYMB"))
        exchange = QUOTE_CODES.get(q[name].strip().upper())
        if exchange is None:
            raise invalid(name)
        symbol = q["SYMB"].strip().upper()
        spec = self.us_market.spec(symbol)
        if spec is None:
            return symbol, None
        if spec.exchange != exchange:
            raise Refusal(NOT_LISTED_HERE, 200)
        return symbol, self.us_market.quote(symbol)

    def _us_price(self, req, tr_id: str):
        symbol, walk = self._us_quote_of(req)
        if walk is None:  # a ticker no exchange lists: success with empty fields, as KIS answers
            return self._ok(OK_QUOTE, tr_id, output={f: "" for f in PRICE_FIELDS} | {"rsym": "", "zdiv": "0"})
        change = walk.price - walk.prev_close
        out = {"rsym": f"D{self._quote_code(walk.spec.exchange)}{symbol}", "zdiv": "4",
               "base": dollars_text(walk.prev_close), "pvol": str(walk.volume // 2 + 1_000),
               "last": dollars_text(walk.price), "sign": _sign(change), "diff": dollars_text(abs(change)),
               "rate": _rate(change, walk.prev_close), "tvol": str(walk.volume),
               "tamt": _usd(walk.volume * walk.price), "ordy": "매수가능"}
        return self._ok(OK_QUOTE, tr_id, output=out)

    @staticmethod
    def _quote_code(exchange: str) -> str:
        return {"NASD": "NAS", "NYSE": "NYS", "AMEX": "AMS"}[exchange]

    def _us_price_detail(self, req, tr_id: str):
        symbol, walk = self._us_quote_of(req)
        if walk is None:
            return self._ok(OK_QUOTE, tr_id, output={f: "" for f in DETAIL_FIELDS})
        rate = self.fx.now()
        change = walk.price - walk.prev_close
        shares = 1_000_000_000 + int(isin(symbol)[2:]) % 9_000_000_000
        won = lambda u: Decimal(u) / UNIT * rate  # noqa: E731
        tick = "0.0100" if walk.price >= UNIT else "0.0001"
        out = {
            "rsym": f"D{self._quote_code(walk.spec.exchange)}{symbol}", "pvol": str(walk.volume // 2 + 1_000),
            "open": dollars_text(walk.open), "high": dollars_text(walk.high), "low": dollars_text(walk.low),
            "last": dollars_text(walk.price), "base": dollars_text(walk.prev_close),
            "tomv": _usd(walk.price * shares), "pamt": _usd(walk.prev_close * (walk.volume // 2 + 1_000)),
            "uplp": "0.0000", "dnlp": "0.0000",  # US stocks have no daily price limits
            "h52p": dollars_text(max(walk.high, walk.prev_close * 13 // 10)), "h52d": f"{walk.day:%Y%m%d}",
            "l52p": dollars_text(min(walk.low, walk.prev_close * 7 // 10)), "l52d": f"{walk.day:%Y%m%d}",
            "perx": "0.00" if walk.spec.kind == "etf" else "28.50", "pbrx": "0.00" if walk.spec.kind == "etf" else "9.10",
            "epsx": "0.00", "bpsx": "0.00", "shar": str(shares), "mcap": "0", "curr": "USD", "zdiv": "4",
            "vnit": "1", "t_xprc": _won(won(walk.price)), "t_xdif": _won(won(abs(change))),
            "t_xrat": _rate(change, walk.prev_close), "p_xprc": _won(won(walk.prev_close)), "p_xdif": "0",
            "p_xrat": "0.00", "t_rate": f"{rate:.2f}", "p_rate": f"{rate:.2f}", "t_xsgn": _sign(change),
            "p_xsng": "3", "e_ordyn": "매매 가능", "e_hogau": tick, "e_icod": "ETF" if walk.spec.kind == "etf" else "",
            "e_parp": "0.0000", "tvol": str(walk.volume), "tamt": _usd(walk.volume * walk.price),
            "etyp_nm": "ETF" if walk.spec.kind == "etf" else "",
        }
        return self._ok(OK_QUOTE, tr_id, output={f: out[f] for f in DETAIL_FIELDS})

    def _us_search_info(self, req, tr_id: str):
        q = req.query
        self._need(q, ("PRDT_TYPE_CD", "PDNO"))
        kind = q["PRDT_TYPE_CD"].strip()
        if kind not in PRODUCT_TYPES and kind not in OTHER_PRODUCT_TYPES:
            raise invalid("PRDT_TYPE_CD")
        symbol = q["PDNO"].strip().upper()
        spec = self.us_market.spec(symbol)
        if spec is None or PRODUCT_TYPES.get(kind) != spec.exchange:
            return self._ok(NO_ROWS, tr_id, output={f: "" for f in SEARCH_FIELDS})
        walk = self.us_market.quote(symbol)
        etf = spec.kind == "etf"
        out = {f: "" for f in SEARCH_FIELDS} | {
            "std_pdno": isin(symbol), "prdt_eng_name": spec.name, "natn_cd": "840", "natn_name": "미국",
            "tr_mket_cd": MARKET_CODES[spec.exchange], "tr_mket_name": EXCHANGE_NAMES[spec.exchange],
            "ovrs_excg_cd": spec.exchange, "ovrs_excg_name": EXCHANGE_NAMES[spec.exchange], "tr_crcy_cd": "USD",
            "ovrs_papr": "0.00000", "crcy_name": "미국달러", "ovrs_stck_dvsn_cd": "02" if etf else "01",
            "prdt_clsf_cd": "101210" if etf else "101110", "prdt_clsf_name": "ETF" if etf else "주식",
            "sll_unit_qty": "1", "buy_unit_qty": "1", "tr_unit_amt": "0", "lstg_stck_num": "1000000000",
            "lstg_dt": "19991231", "ovrs_stck_tr_stop_dvsn_cd": "01", "lstg_abol_item_yn": "N",
            "ovrs_stck_prdt_grp_no": "", "lstg_yn": "Y", "tax_levy_yn": "N", "prdt_type_cd_2": kind,
            "ovrs_item_name": spec.kor_name, "blbg_tckr_text": f"{symbol} US Equity", "istt_usge_isin_cd": isin(symbol),
            "mint_svc_yn": "Y", "prdt_name": spec.kor_name, "mini_stk_tr_stat_dvsn_cd": "01",
            "mint_dcpt_trad_psbl_yn": "Y", "mint_fnum_trad_psbl_yn": "Y", "mint_cblc_cvsn_ipsb_yn": "N",
            "ptp_item_yn": "N", "ptp_item_trfx_exmt_yn": "N", "dtm_tr_psbl_yn": "Y", "sdrf_stop_ecls_yn": "N",
            "ovrs_now_pric1": dollars_text(walk.price, 5), "last_rcvg_dtime": f"{self.clock():%Y%m%d%H%M%S}",
        }
        return self._ok(OK_QUOTE, tr_id, output=out)

    # balances ------------------------------------------------------------------------------------------
    def _us_rows(self, exchange: str | None):
        """(symbol, spec, position, walk) of every US holding, on one exchange or all (None)."""
        book = self.us_book
        with book.lock:
            held = list(book.positions.items())
        rows = []
        for symbol, pos in held:
            spec = self.us_market.spec(symbol)
            if spec is None or (exchange and spec.exchange != exchange):
                continue
            rows.append((symbol, spec, pos, self.us_market.quote(symbol)))
        return rows

    def _us_balance(self, req, tr_id: str):
        q = self._query_fields(req, BALANCE_FIELDS)
        code = q["OVRS_EXCG_CD"].strip().upper()
        if code not in BALANCE_EXCHANGES and code not in OTHER_BALANCE_EXCHANGES:
            raise invalid("OVRS_EXCG_CD")  # NAS (Nasdaq on real) is not a mock code
        currency = q["TR_CRCY_CD"].strip().upper()
        if currency not in ("USD", "HKD", "CNY", "JPY", "VND"):
            raise invalid("TR_CRCY_CD")
        nk = q["CTX_AREA_NK200"].strip()
        if req.header("tr_cont") == "N" and not nk:
            raise invalid("CTX_AREA_NK200", "OPSQ2002")
        rows = self._us_rows(BALANCE_EXCHANGES.get(code)) if currency == "USD" and code in BALANCE_EXCHANGES else []
        symbols = [r[0] for r in rows]
        key = nk.split("!")[-1] if nk else ""
        start = symbols.index(key) + 1 if key in symbols else 0
        if nk and start == 0:
            raise Refusal(DATA_CHANGED, 200)
        page = rows[start:start + self.page_rows]
        more = start + self.page_rows < len(rows)
        out1 = []
        for symbol, spec, pos, walk in page:
            value = pos.qty * walk.price
            out1.append({
                "cano": self.account.cano, "acnt_prdt_cd": self.account.product,
                "prdt_type_cd": {v: k for k, v in PRODUCT_TYPES.items()}[spec.exchange], "ovrs_pdno": symbol,
                "ovrs_item_name": spec.kor_name, "frcr_evlu_pfls_amt": _usd(value - pos.cost),
                "evlu_pfls_rt": _rate(value - pos.cost, pos.cost), "pchs_avg_pric": dollars_text(pos.cost // pos.qty),
                "ovrs_cblc_qty": str(pos.qty), "ord_psbl_qty": str(pos.qty), "frcr_pchs_amt1": _usd(pos.cost),
                "ovrs_stck_evlu_amt": _usd(value), "now_pric2": dollars_text(walk.price, 6), "tr_crcy_cd": "USD",
                "ovrs_excg_cd": spec.exchange, "loan_type_cd": "10", "loan_dt": "", "expd_dt": "",
            })
        value = sum(p.qty * w.price for _, _, p, w in rows)
        cost = sum(p.cost for _, _, p, _ in rows)
        out2 = {"frcr_pchs_amt1": _usd(cost), "ovrs_rlzt_pfls_amt": "0.00", "ovrs_tot_pfls": _usd(value - cost),
                "rlzt_erng_rt": "0.00000000", "tot_evlu_pfls_amt": _usd(value - cost),
                "tot_pftrt": _rate(value - cost, cost), "frcr_buy_amt_smtl1": "0.00", "ovrs_rlzt_pfls_amt2": "0.00",
                "frcr_buy_amt_smtl2": "0.00"}
        fk_out = f"{self.account.cano}!{self.account.product}!{code}".ljust(CTX_WIDTH)
        nk_out = (f"{self.account.cano}!{self.account.product}!{page[-1][0]}" if more and page else "").ljust(CTX_WIDTH)
        return self._ok(OK_INQUIRY, tr_id, more=more, ctx_area_fk200=fk_out, ctx_area_nk200=nk_out,
                        output1=out1, output2=out2)

    def _us_present_balance(self, req, tr_id: str):
        q = self._query_fields(req, PRESENT_FIELDS)
        in_won = {"01": True, "02": False}.get(q["WCRC_FRCR_DVSN_CD"].strip())
        if in_won is None:
            raise invalid("WCRC_FRCR_DVSN_CD")
        nation = q["NATN_CD"].strip()
        if nation not in ("000", "840", "344", "156", "392", "704"):
            raise invalid("NATN_CD")
        market_code = q["TR_MKET_CD"].strip()
        if nation in ("000", "840") and market_code not in (PRESENT_MARKETS if nation == "840" else ("00",)):
            raise invalid("TR_MKET_CD")
        if q["INQR_DVSN_CD"].strip() not in ("00", "01", "02"):
            raise invalid("INQR_DVSN_CD")
        rate = self.fx.now()
        us_side = nation in ("000", "840")
        rows = self._us_rows(PRESENT_MARKETS.get(market_code)) if us_side else []
        won = lambda u: Decimal(u) / UNIT * rate  # noqa: E731
        amount = (lambda u: _won(won(u))) if in_won else _usd
        out1 = []
        for symbol, spec, pos, walk in rows:
            value = pos.qty * walk.price
            out1.append({
                "prdt_name": spec.kor_name, "cblc_qty13": str(pos.qty), "thdt_buy_ccld_qty1": "0",
                "thdt_sll_ccld_qty1": "0", "ccld_qty_smtl1": str(pos.qty), "ord_psbl_qty1": str(pos.qty),
                "frcr_pchs_amt": amount(pos.cost), "frcr_evlu_amt2": amount(value),
                "evlu_pfls_amt2": amount(value - pos.cost), "evlu_pfls_rt1": _rate(value - pos.cost, pos.cost),
                "pdno": symbol, "bass_exrt": f"{rate:.8f}", "buy_crcy_cd": "USD",
                "ovrs_now_pric1": dollars_text(walk.price, 8), "avg_unpr3": dollars_text(pos.cost // pos.qty, 8),
                "tr_mket_name": EXCHANGE_NAMES[spec.exchange], "natn_kor_name": "미국",
                "pchs_rmnd_wcrc_amt": _won(won(pos.cost)), "thdt_buy_ccld_frcr_amt": "0", "thdt_sll_ccld_frcr_amt": "0",
                "unit_amt": "1", "std_pdno": isin(symbol),
                "prdt_type_cd": {v: k for k, v in PRODUCT_TYPES.items()}[spec.exchange], "scts_dvsn_name": "",
                "loan_rmnd": "0", "loan_dt": "", "loan_expd_dt": "", "ovrs_excg_cd": spec.exchange,
                "item_lnkg_excg_cd": "",
            })
        with self.us_book.lock:
            cash = self.us_book.usd_cash * 100  # cents as ints of $0.0001
        cash_out = amount(cash) if us_side else "0"
        out2 = [{
            "crcy_cd": "USD", "crcy_cd_name": "미국달러", "frcr_buy_amt_smtl": "0", "frcr_sll_amt_smtl": "0",
            "frcr_dncl_amt_2": cash_out, "frst_bltn_exrt": f"{rate:.8f}", "frcr_buy_mgn_amt": "0", "frcr_etc_mgna": "0",
            "frcr_drwg_psbl_amt_1": cash_out, "frcr_evlu_amt2": _won(won(cash)), "acpl_cstd_crcy_yn": "Y",
            "nxdy_frcr_drwg_psbl_amt": cash_out,
        }] if us_side else []
        value = sum(p.qty * w.price for _, _, p, w in rows)
        cost = sum(p.cost for _, _, p, _ in rows)
        krw_cash = self.exchange.cash
        foreign = won(value + cash)
        out3 = {
            "pchs_amt_smtl": _won(won(cost)), "evlu_amt_smtl": _won(won(value)),
            "evlu_pfls_amt_smtl": _won(won(value - cost)), "dncl_amt": str(krw_cash), "cma_evlu_amt": "0",
            "tot_dncl_amt": _won(Decimal(krw_cash) + won(cash)), "etc_mgna": "0",
            "wdrw_psbl_tot_amt": _won(Decimal(krw_cash) + won(cash)), "frcr_evlu_tota": _won(foreign),
            "evlu_erng_rt1": _rate(value - cost, cost), "pchs_amt_smtl_amt": _won(won(cost)),
            "evlu_amt_smtl_amt": _won(won(value)), "tot_evlu_pfls_amt": _won(won(value - cost)),
            "tot_asst_amt": _won(Decimal(krw_cash) + foreign), "buy_mgn_amt": "0", "mgna_tota": "0",
            "frcr_use_psbl_amt": cash_out, "ustl_sll_amt_smtl": "0", "ustl_buy_amt_smtl": "0",
            "tot_frcr_cblc_smtl": cash_out, "tot_loan_amt": "0",
        }
        # One page: KIS's sample recursion sends no continuation key for this service, so it says "D".
        return self._ok(OK_INQUIRY, tr_id, more=False, output1=out1, output2=out2, output3=out3)


class OverseasOrders(OrderAnswers):
    def _overseas_gate(self, path: str) -> None:
        """Refuse an overseas trading call (balance, orders, buying power; not quotes) on an account whose
        overseas trading is off, before anything is read or placed."""
        ex = getattr(self, "us_exchange", None)
        if ex is not None and not ex.overseas_trading and path in OVERSEAS_TRADING_PATHS:
            raise Refusal(OVERSEAS_OFF, 500)

    """The US order handlers of `KisProtocol` (a mixin: it reads the protocol's us_exchange, faults, account)."""

    def _us_order(self, req, tr_id: str):
        """POST order (VTTT1002U buy, VTTT1001U/VTTT1006U sell) with the fields of order.py."""
        if self.faults.take_drop_before_order():
            return self._dropped()
        body = self._body(req)
        self._need(body, US_ORDER_FIELDS)
        self._check_account(body)
        self._refuse_irp_orders()
        exchange = body["OVRS_EXCG_CD"].strip().upper()
        if exchange not in US_ORDER_EXCHANGES:
            raise invalid("OVRS_EXCG_CD")
        side = BUY if tr_id in US_BUY_TRS else SELL
        qty = self._int(body, "ORD_QTY")  # whole shares: "1.5" is not a quantity
        price = order_price(body["OVRS_ORD_UNPR"])
        try:
            order = self.us_exchange.place(body["PDNO"].strip().upper(), exchange, side, body["ORD_DVSN"].strip(),
                                           qty, price, tr_id)
        except Rejected as r:
            raise Refusal((r.msg_cd, r.msg1), r.http_status) from None
        return self._us_ack(order, OK_BUY if side == BUY else OK_SELL, tr_id)

    def _us_revise_cancel(self, req, tr_id: str):
        """POST order-rvsecncl (VTTT1004U): 01 revise at OVRS_ORD_UNPR, 02 cancel ("0" as the price)."""
        body = self._body(req)
        self._need(body, US_RVSECNCL_FIELDS)
        self._check_account(body)
        exchange = body["OVRS_EXCG_CD"].strip().upper()
        if exchange not in US_ORDER_EXCHANGES:
            raise invalid("OVRS_EXCG_CD")
        kind = body["RVSE_CNCL_DVSN_CD"].strip()
        if kind not in ("01", "02"):
            raise invalid("RVSE_CNCL_DVSN_CD")
        qty = self._int(body, "ORD_QTY")
        symbol, orig = body["PDNO"].strip().upper(), body["ORGN_ODNO"].strip()
        try:
            if kind == "02":
                order, ok = self.us_exchange.cancel(orig, symbol, exchange, tr_id), OK_CANCEL
            else:
                price = order_price(body["OVRS_ORD_UNPR"])
                order, ok = self.us_exchange.revise(orig, symbol, exchange, qty, price, tr_id), OK_REVISE
        except Rejected as r:
            raise Refusal((r.msg_cd, r.msg1), r.http_status) from None
        return self._us_ack(order, ok, tr_id)

    def _us_ack(self, order: UsOrder, ok, tr_id: str):
        return self._acked({"KRX_FWDG_ORD_ORGNO": order.org_no, "ODNO": order.order_no, "ORD_TMD": order.kst_time},
                           ok, tr_id)

    def _us_listed(self, o: UsOrder, now: datetime) -> bool:
        """KIS lists same-day orders late: a US order shows once its own lag has passed (as on KRX)."""
        lag = self.faults.lag_of(o.order_no)
        return lag <= 0 or datetime.fromisoformat(o.accepted_at) + timedelta(seconds=lag) <= now

    def _us_unconfirmed(self, orders, now: datetime) -> dict[str, int]:
        """Shares whose cancel was taken but not yet confirmed, by the order they were cancelled from."""
        delay = timedelta(seconds=self.faults.cancel_confirm_delay)
        pending: dict[str, int] = {}
        if delay <= timedelta(0):
            return pending
        for o in orders:
            if o.kind == "cancel" and datetime.fromisoformat(o.accepted_at) + delay > now:
                pending[o.orig_order_no] = pending.get(o.orig_order_no, 0) + o.cancelled_qty
        return pending

    def _us_orders(self, req, tr_id: str):
        """GET inquire-ccnl (VTTS3035R): today's US orders by New York date, paged by CTX_AREA_NK200."""
        q = self._query_fields(req, CCNL_FIELDS)
        for name in ("ORD_STRT_DT", "ORD_END_DT"):
            if len(q[name]) != 8 or not q[name].isdigit():
                raise invalid(name, "OPSQ2002")
        # Mock takes only the whole listing: PDNO "", SLL_BUY_DVSN 00, CCLD_NCCS_DVSN 00, OVRS_EXCG_CD "".
        for name, only in (("PDNO", ""), ("SLL_BUY_DVSN", "00"), ("CCLD_NCCS_DVSN", "00"), ("OVRS_EXCG_CD", "")):
            if q[name].strip() != only:
                raise invalid(name)
        nk = q["CTX_AREA_NK200"].strip()
        if req.header("tr_cont") == "N" and not nk:
            raise invalid("CTX_AREA_NK200", "OPSQ2002")
        ex = self.us_exchange
        now = self.clock()
        with ex.lock:
            pending = self._us_unconfirmed(ex.orders, now)
            rows = [o for o in ex.orders if q["ORD_STRT_DT"] <= o.day <= q["ORD_END_DT"] and self._us_listed(o, now)]
            numbers = [o.order_no for o in rows]
            key = nk.split("!")[-1] if nk else ""
            start = numbers.index(key) + 1 if key in numbers else 0
            if nk and start == 0:
                raise Refusal(DATA_CHANGED, 200)
            page = rows[start:start + self.daily_page_rows]
            more = start + self.daily_page_rows < len(rows)
            out = [self._us_order_row(o, pending.get(o.order_no, 0)) for o in page]
        fk_out = f"{self.account.cano}!{self.account.product}!{q['ORD_STRT_DT']}".ljust(CTX_WIDTH)
        nk_out = (f"{self.account.cano}!{self.account.product}!{page[-1].order_no}" if more and page else "")
        return self._ok(OK_INQUIRY if out else NO_ROWS, tr_id, more=more, ctx_area_fk200=fk_out,
                        ctx_area_nk200=nk_out.ljust(CTX_WIDTH), output=out)

    def _us_order_row(self, o: UsOrder, waiting: int) -> dict[str, str]:
        cancel, revise = o.kind == "cancel", o.kind == "revise"
        nccs = 0 if cancel else o.remaining + waiting
        done = cancel or o.remaining + waiting == 0
        row = {
            "ord_dt": o.day, "ord_gno_brno": o.org_no, "odno": o.order_no, "orgn_odno": o.orig_order_no,
            "sll_buy_dvsn_cd": o.side, "sll_buy_dvsn_cd_name": "매수" if o.side == BUY else "매도",
            "rvse_cncl_dvsn": "02" if cancel else "01" if revise else "00",
            "rvse_cncl_dvsn_name": "취소" if cancel else "정정" if revise else "",
            "pdno": o.symbol, "prdt_name": o.name, "ft_ord_qty": str(o.qty), "ft_ord_unpr3": dollars_text(o.price, 8),
            "ft_ccld_qty": str(o.filled_qty), "ft_ccld_unpr3": dollars_text(o.avg_price, 8),
            "ft_ccld_amt3": _usd(o.filled_amount), "nccs_qty": str(nccs),
            "prcs_stat_name": "완료" if done else "접수", "rjct_rson": "", "rjct_rson_name": "", "ord_tmd": o.time,
            "tr_mket_name": EXCHANGE_NAMES[o.exchange], "tr_crcy_cd": "USD", "tr_natn": "840",
            "ovrs_excg_cd": o.exchange, "tr_natn_name": "미국", "dmst_ord_dt": o.kst_day, "thco_ord_tmd": o.kst_time,
            "loan_type_cd": "10", "loan_dt": "", "mdia_dvsn_name": "OpenAPI", "usa_amk_exts_rqst_yn": "N",
            "splt_buy_attr_name": "",
        }
        return {f: row[f] for f in CCNL_FIELDS_OUT}

    def _us_psamount(self, req, tr_id: str):
        """GET inquire-psamount (VTTS3007R): dollars and shares a buy at OVRS_ORD_UNPR can take. max_ord_psbl_qty
        counts dollars alone; ovrs_max_ord_psbl_qty adds the won deposit where integrated margin is on."""
        q = self._query_fields(req, PSAMOUNT_FIELDS)
        exchange = q["OVRS_EXCG_CD"].strip().upper()
        if exchange not in US_ORDER_EXCHANGES:
            raise invalid("OVRS_EXCG_CD")
        symbol = q["ITEM_CD"].strip().upper()
        spec = self.us_market.spec(symbol)
        if spec is None or spec.exchange != exchange:
            raise Refusal(NOT_LISTED_HERE, 200)
        try:
            price = order_price(q["OVRS_ORD_UNPR"])
        except Refusal:
            raise invalid("OVRS_ORD_UNPR") from None
        ex = self.us_exchange
        with ex.lock:
            price = price or self.us_market.price(symbol)
            usd = ex.orderable_usd()
            won = ex.won_in_dollars()
            rate = self.fx.now()
            qty = ex.affordable(usd, price)
            after = ex.affordable(usd + won, price)
            integrated = after if ex.integrated_margin else qty
        out = {"tr_crcy_cd": "USD", "ord_psbl_frcr_amt": _usd_down(usd), "sll_ruse_psbl_amt": "0.00",
               "ovrs_ord_psbl_amt": _usd_down(usd + (won if ex.integrated_margin else 0)), "max_ord_psbl_qty": str(qty),
               "echm_af_ord_psbl_amt": _usd_down(usd + won), "echm_af_ord_psbl_qty": str(after), "ord_psbl_qty": str(qty),
               "exrt": f"{rate:.8f}", "frcr_ord_psbl_amt1": _usd_down(usd + (won if ex.integrated_margin else 0)),
               "ovrs_max_ord_psbl_qty": str(integrated)}
        return self._ok(OK_INQUIRY, tr_id, output={f: out[f] for f in PSAMOUNT_OUT})
