"""The 퇴직연금 (IRP) inquiries on the paper exchange, shaped as KIS's samples read them (kis/pension.py has the
paths and sources). Real-environment tr_ids only (KIS mock has no IRP accounts): the sim serves them for its
IRP accounts (product 29) and refuses them for any other (OPSQ0013, a guess: KIS's answer is unverified).
"""
from __future__ import annotations

from kis import pension
from kis.sim.refusals import DATA_CHANGED, Refusal, invalid

PENSION_PATH_TRS = {path: {tr_id} for path, tr_id in pension.PATH_TRS.items()}
NOT_PENSION = ("OPSQ0013", "계좌번호를 확인하시기 바랍니다.")  # guess, as BAD_ACCOUNT
IRP_PRODUCT = "29"
BALANCE_FIELDS = ("CANO", "ACNT_PRDT_CD", "ACCA_DVSN_CD", "INQR_DVSN", "CTX_AREA_FK100", "CTX_AREA_NK100")
BUYABLE_FIELDS = ("CANO", "ACNT_PRDT_CD", "PDNO", "ACCA_DVSN_CD", "CMA_EVLU_AMT_ICLD_YN", "ORD_UNPR", "ORD_DVSN")
ORDERS_FIELDS = ("CANO", "ACNT_PRDT_CD", "USER_DVSN_CD", "SLL_BUY_DVSN_CD", "CCLD_NCCS_DVSN", "INQR_DVSN_3",
                 "CTX_AREA_FK100", "CTX_AREA_NK100")
DEPOSIT_FIELDS = ("CANO", "ACNT_PRDT_CD", "ACCA_DVSN_CD")
PRESENT_FIELDS = ("CANO", "ACNT_PRDT_CD", "USER_DVSN_CD", "CTX_AREA_FK100", "CTX_AREA_NK100")


def _s(value) -> str:
    return str(value)


class PensionProtocol:
    """Mixed into KisProtocol: the handlers of the five pension paths."""

    def _pension_handlers(self) -> dict:
        return {pension.BALANCE: self._pension_balance, pension.BUYABLE: self._pension_buyable,
                pension.ORDERS: self._pension_orders, pension.DEPOSIT: self._pension_deposit,
                pension.PRESENT_BALANCE: self._pension_present}

    def _pension_fields(self, req, names: tuple[str, ...]) -> dict[str, str]:
        q = self._query_fields(req, names)
        if self.account.product != IRP_PRODUCT:
            raise Refusal(NOT_PENSION, 500)
        if "ACCA_DVSN_CD" in q and q["ACCA_DVSN_CD"] != pension.RESERVE_ALL:
            raise invalid("ACCA_DVSN_CD")
        return q

    def _pension_page(self, req, q: dict[str, str], codes: list[str]) -> tuple[list[str], bool, str]:
        """One page of `codes` (the rows' keys) and whether more follow, and the next page's key."""
        _, nk = self._continuation(req, q)
        key = nk.split("!")[-1]
        start = codes.index(key) + 1 if nk and key in codes else 0
        if nk and start == 0:
            raise Refusal(DATA_CHANGED, 200)
        page = codes[start:start + self.page_rows]
        more = start + self.page_rows < len(codes)
        nk_out = f"{self.account.cano}!{self.account.product}!{page[-1]}" if more and page else ""
        return page, more, nk_out

    def _pension_balance(self, req, tr_id: str):
        q = self._pension_fields(req, BALANCE_FIELDS)
        if q["INQR_DVSN"] != "00":
            raise invalid("INQR_DVSN")
        ex = self.exchange
        with ex.lock:
            page, more, nk_out = self._pension_page(req, q, list(ex.positions))
            rows = []
            for code in page:
                row = self._holding_row(code)
                rows.append({"cblc_dvsn_name": "현금", "prdt_name": row["prdt_name"], "pdno": code,
                             "item_dvsn_name": "ETF" if self.market.group(code) == "EF" else "주식",
                             **{k: row[k] for k in ("thdt_buyqty", "thdt_sll_qty", "hldg_qty", "ord_psbl_qty",
                                                    "pchs_avg_pric", "pchs_amt", "prpr", "evlu_amt",
                                                    "evlu_pfls_amt", "evlu_erng_rt")}})
            s = self._balance_summary()
        summary = {k: s[k] for k in ("dnca_tot_amt", "nxdy_excc_amt", "prvs_rcdl_excc_amt", "thdt_buy_amt",
                                      "thdt_sll_amt", "thdt_tlex_amt", "scts_evlu_amt", "tot_evlu_amt")}
        fk_out = f"{self.account.cano}!{self.account.product}"
        return self._ok(OK_PENSION, tr_id, more=more, output1=rows, output2=summary,
                        ctx_area_fk100=fk_out.ljust(100), ctx_area_nk100=nk_out.ljust(100))

    def _pension_buyable(self, req, tr_id: str):
        from kis.sim.exchange import ORDER_TYPES, Rejected

        q = self._pension_fields(req, BUYABLE_FIELDS)
        if q["ORD_DVSN"] not in ORDER_TYPES:
            raise invalid("ORD_DVSN")
        if q["CMA_EVLU_AMT_ICLD_YN"] not in ("Y", "N"):
            raise invalid("CMA_EVLU_AMT_ICLD_YN")
        try:
            row = self.exchange.buying_power(q["PDNO"].strip(), self._int(q, "ORD_UNPR", allow_empty=True),
                                             q["ORD_DVSN"])
        except Rejected as r:
            raise Refusal((r.msg_cd, r.msg1), r.http_status) from None
        output = {"ord_psbl_cash": _s(row.cash), "ruse_psbl_amt": "0", "psbl_qty_calc_unpr": _s(row.unit),
                  "max_buy_amt": _s(row.amount), "max_buy_qty": _s(row.qty)}  # no 미수 in a pension account
        return self._ok(OK_PENSION, tr_id, output=output)

    def _pension_orders(self, req, tr_id: str):
        q = self._pension_fields(req, ORDERS_FIELDS)
        side, ccld = q["SLL_BUY_DVSN_CD"], q["CCLD_NCCS_DVSN"]
        if side not in ("00", "01", "02"):
            raise invalid("SLL_BUY_DVSN_CD")
        if ccld not in (pension.EVERY_USER, "01", "02"):
            raise invalid("CCLD_NCCS_DVSN")
        ex = self.exchange
        today = self.clock().strftime("%Y%m%d")
        with ex.lock:
            orders = [o for o in ex.orders if o.day == today and o.kind != "cancel"
                      and (side == "00" or o.side == side)
                      and (ccld == pension.EVERY_USER or (ccld == "01" and o.filled_qty > 0)
                           or (ccld == "02" and o.remaining > 0))]
            by_no = {o.order_no: o for o in orders}
            page, more, nk_out = self._pension_page(req, q, list(by_no))
            rows = [{"ord_gno_brno": o.org_no, "sll_buy_dvsn_cd": o.side,
                     "trad_dvsn_name": "현금매수" if o.side == "02" else "현금매도", "odno": o.order_no,
                     "pdno": o.code, "prdt_name": o.name, "ord_unpr": _s(o.price), "ord_qty": _s(o.qty),
                     "tot_ccld_qty": _s(o.filled_qty), "nccs_qty": _s(o.remaining), "ord_dvsn_cd": o.order_type,
                     "ord_dvsn_name": ORDER_NAMES.get(o.order_type, ""), "orgn_odno": o.orig_order_no,
                     "ord_tmd": o.time, "objt_cust_dvsn_name": "", "pchs_avg_pric": _s(o.avg_price)}
                    for o in (by_no[n] for n in page)]
        fk_out = f"{self.account.cano}!{self.account.product}"
        return self._ok(OK_PENSION, tr_id, more=more, output=rows, ctx_area_fk100=fk_out.ljust(100),
                        ctx_area_nk100=nk_out.ljust(100))

    def _pension_deposit(self, req, tr_id: str):
        self._pension_fields(req, DEPOSIT_FIELDS)
        led = self.exchange.ledger
        output = {"dnca_tota": _s(led.cash_at_open), "nxdy_excc_amt": _s(led.cash), "nxdy_sttl_amt": "0",
                  "nx2_day_sttl_amt": _s(led.cash - led.cash_at_open)}
        return self._ok(OK_PENSION, tr_id, output=output)

    def _pension_present(self, req, tr_id: str):
        q = self._pension_fields(req, PRESENT_FIELDS)
        if q["USER_DVSN_CD"] != "00":
            raise invalid("USER_DVSN_CD")
        ex = self.exchange
        with ex.lock:
            page, more, nk_out = self._pension_page(req, q, list(ex.positions))
            s = self._balance_summary()
            total = int(s["scts_evlu_amt"]) or 1
            rows = []
            for code in page:
                row = self._holding_row(code)
                rows.append({"cblc_dvsn": "00", "cblc_dvsn_name": "현금", "pdno": code, "prdt_name": row["prdt_name"],
                             "hldg_qty": row["hldg_qty"], "slpsb_qty": row["ord_psbl_qty"],
                             "pchs_avg_pric": row["pchs_avg_pric"], "evlu_pfls_amt": row["evlu_pfls_amt"],
                             "evlu_pfls_rt": row["evlu_pfls_rt"], "prpr": row["prpr"], "evlu_amt": row["evlu_amt"],
                             "pchs_amt": row["pchs_amt"],
                             "cblc_weit": f"{int(row['evlu_amt']) * 100 / total:.2f}"})
        pnl = int(s["evlu_pfls_smtl_amt"])
        cost = int(s["pchs_amt_smtl_amt"])
        summary = [{"pchs_amt_smtl_amt": s["pchs_amt_smtl_amt"], "evlu_amt_smtl_amt": s["evlu_amt_smtl_amt"],
                    "evlu_pfls_smtl_amt": s["evlu_pfls_smtl_amt"], "trad_pfls_smtl": "0", "thdt_tot_pfls_amt": "0",
                    "pftrt": f"{pnl * 100 / cost:.2f}" if cost else "0.00"}]
        fk_out = f"{self.account.cano}!{self.account.product}"
        return self._ok(OK_PENSION, tr_id, more=more, output1=rows, output2=summary,
                        ctx_area_fk100=fk_out.ljust(100), ctx_area_nk100=nk_out.ljust(100))


OK_PENSION = ("KIOK0000", "조회가 완료되었습니다")  # guess: the real environment's inquiry answer
ORDER_NAMES = {"00": "지정가", "01": "시장가"}
