"""The 퇴직연금 (IRP, product code 29) inquiries, as KIS documents them: an IRP account has these and no orders.

Source: koreainvestment/open-trading-api, examples_llm/domestic_stock/pension_* (each a GET, tr_ids of the real
environment only: KIS mock has general accounts only; the simulator serves them for its IRP accounts):
inquire-balance TTTC2208R (퇴직연금 잔고조회: output1 rows, output2 one object, paged), inquire-psbl-order
TTTC0503R (매수가능조회), inquire-daily-ccld TTTC2201R (미체결내역: `output` rows, paged), inquire-deposit
TTTC0506R (예수금조회) and inquire-present-balance TTTC2202R (체결기준잔고: output1 rows, output2 rows).
ACCA_DVSN_CD (적립금구분코드) is "00" as in every sample; USER_DVSN_CD "%%" and "00" as the samples send them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kis.errors import KisTransportError
from kis.numbers import to_float, to_int
from kis.models import Balance, BuyingPower, Holding, OrderSide, OrderStatus, OrderType

ROOT = "/uapi/domestic-stock/v1/trading/pension"
BALANCE, BALANCE_TR = f"{ROOT}/inquire-balance", "TTTC2208R"
BUYABLE, BUYABLE_TR = f"{ROOT}/inquire-psbl-order", "TTTC0503R"
ORDERS, ORDERS_TR = f"{ROOT}/inquire-daily-ccld", "TTTC2201R"
DEPOSIT, DEPOSIT_TR = f"{ROOT}/inquire-deposit", "TTTC0506R"
PRESENT_BALANCE, PRESENT_BALANCE_TR = f"{ROOT}/inquire-present-balance", "TTTC2202R"
PATH_TRS = {BALANCE: BALANCE_TR, BUYABLE: BUYABLE_TR, ORDERS: ORDERS_TR, DEPOSIT: DEPOSIT_TR,
            PRESENT_BALANCE: PRESENT_BALANCE_TR}
RESERVE_ALL = "00"  # ACCA_DVSN_CD, 적립금구분코드: every sample sends 00
EVERY_USER = "%%"  # USER_DVSN_CD of inquire-daily-ccld, as its sample sends it


@dataclass(frozen=True)
class Deposit:
    """inquire-deposit's won: 예수금총액 and what settles the next day and the one after."""

    cash: int  # dnca_tota
    next_day: int  # nxdy_excc_amt, 익일정산액
    settle_next: int  # nxdy_sttl_amt
    settle_d2: int  # nx2_day_sttl_amt


def _int(value) -> int:
    return to_int(value)


def balance(client: Any) -> Balance:
    """Holdings (every page) and cash of an IRP account from 퇴직연금 잔고조회; raises rather than answer short."""
    params = {**client._account_fields(), "ACCA_DVSN_CD": RESERVE_ALL, "INQR_DVSN": "00"}
    replies = client._all_pages(BALANCE, BALANCE_TR, params)
    holdings = []
    for reply in replies:
        for row in reply.body.get("output1") or []:
            qty = _int(row.get("hldg_qty"))
            if qty == 0:
                continue
            holdings.append(Holding(
                code=str(row.get("pdno") or "").strip(), name=str(row.get("prdt_name") or "").strip(), qty=qty,
                orderable_qty=_int(row.get("ord_psbl_qty")), avg_price=_int(row.get("pchs_avg_pric")),
                price=_int(row.get("prpr")), value=_int(row.get("evlu_amt")),
                purchase_amount=_int(row.get("pchs_amt")), pnl=_int(row.get("evlu_pfls_amt")),
                pnl_rate=to_float(row.get("evlu_erng_rt"))))
    summary = replies[-1].body.get("output2")
    if isinstance(summary, list):
        summary = summary[0] if summary else None
    if not isinstance(summary, Mapping) or not summary:
        raise KisTransportError("KIS sent a pension balance without its summary (output2); not trusting it")
    return Balance(holdings=tuple(holdings), cash=_int(summary.get("dnca_tot_amt")),
                   cash_d2=_int(summary.get("prvs_rcdl_excc_amt")), stock_value=_int(summary.get("scts_evlu_amt")),
                   total_value=_int(summary.get("tot_evlu_amt")), pnl=sum(h.pnl for h in holdings),
                   at=client._wall())


def buying_power(client: Any, code: str, price: int, ord_dvsn: str) -> BuyingPower:
    """퇴직연금 매수가능조회: what a buy could spend (a pension account has no 미수: both figures are the same)."""
    params = {**client._account_fields(), "PDNO": code, "ACCA_DVSN_CD": RESERVE_ALL,
              "CMA_EVLU_AMT_ICLD_YN": "N", "ORD_UNPR": str(price), "ORD_DVSN": ord_dvsn}
    out = client.transport.get(BUYABLE, BUYABLE_TR, params).body.get("output") or {}
    amount, qty = _int(out.get("max_buy_amt")), _int(out.get("max_buy_qty"))
    return BuyingPower(code=code, cash=_int(out.get("ord_psbl_cash")), max_amount=amount, max_qty=qty,
                       unit_price=_int(out.get("psbl_qty_calc_unpr")), margin_amount=amount, margin_qty=qty,
                       asked_with=ord_dvsn)


def orders_today(client: Any, code: str | None = None) -> list[OrderStatus]:
    """퇴직연금 미체결내역 (every page), as order statuses; `code` keeps one stock's."""
    params = {**client._account_fields(), "USER_DVSN_CD": EVERY_USER, "SLL_BUY_DVSN_CD": "00",
              "CCLD_NCCS_DVSN": EVERY_USER, "INQR_DVSN_3": "00"}
    orders = []
    for reply in client._all_pages(ORDERS, ORDERS_TR, params):
        for row in reply.body.get("output") or []:
            try:
                side = OrderSide(str(row.get("sll_buy_dvsn_cd") or "").strip())
            except ValueError:
                continue
            try:
                order_type: OrderType | None = OrderType(str(row.get("ord_dvsn_cd") or "").strip())
            except ValueError:
                order_type = None
            status = OrderStatus(
                order_no=str(row.get("odno") or "").strip(), org_no=str(row.get("ord_gno_brno") or "").strip(),
                orig_order_no=str(row.get("orgn_odno") or "").strip(), code=str(row.get("pdno") or "").strip(),
                name=str(row.get("prdt_name") or "").strip(), side=side, order_type=order_type,
                qty=_int(row.get("ord_qty")), price=_int(row.get("ord_unpr")),
                filled_qty=_int(row.get("tot_ccld_qty")), remaining_qty=_int(row.get("nccs_qty")),
                avg_fill_price=_int(row.get("pchs_avg_pric")), filled_amount=0, cancelled=False,
                rejected_qty=0, cancelled_qty=0, time=str(row.get("ord_tmd") or "").strip())
            if code is None or status.code == code:
                orders.append(status)
    return orders


def deposit(client: Any) -> Deposit:
    """퇴직연금 예수금조회."""
    params = {**client._account_fields(), "ACCA_DVSN_CD": RESERVE_ALL}
    out = client.transport.get(DEPOSIT, DEPOSIT_TR, params).body.get("output") or {}
    return Deposit(cash=_int(out.get("dnca_tota")), next_day=_int(out.get("nxdy_excc_amt")),
                   settle_next=_int(out.get("nxdy_sttl_amt")), settle_d2=_int(out.get("nx2_day_sttl_amt")))


def present_balance(client: Any) -> list[dict]:
    """퇴직연금 체결기준잔고: its holding rows (output1) as KIS sends them, every page."""
    params = {**client._account_fields(), "USER_DVSN_CD": "00"}
    return [dict(row) for reply in client._all_pages(PRESENT_BALANCE, PRESENT_BALANCE_TR, params)
            for row in reply.body.get("output1") or []]
