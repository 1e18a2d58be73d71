"""The doctor's buying-power section: KIS's inquire-psbl-order asked with ORD_DVSN 00 and 01, side by side.

inquire_psbl_order.py: 00 (limit) "종목증거금율이 반영되지 않습니다" and a quantity must "반드시" be asked with 01;
nrcvb_buy_* are the figures without 미수, max_buy_* count on it. order_cash.py: on a 증거금40%계좌 a cash buy
beyond cash becomes 미수. The section shows both answers, what kisbot would buy by them (its one sizing
rule, `rebalance.twap.shares_without_credit`), and whether the account looks like one that takes 미수.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kis.models import BuyingPower, OrderType
from rebalance.i18n import t
from rebalance.text import pad, width
from rebalance.twap import cash_without_credit, shares_without_credit

FIELDS = (("ord_psbl_cash", "cash"), ("nrcvb_buy_amt", "max_amount"), ("nrcvb_buy_qty", "max_qty"),
          ("max_buy_amt", "margin_amount"), ("max_buy_qty", "margin_qty"), ("psbl_qty_calc_unpr", "unit_price"))


@dataclass(frozen=True)
class BuyingPowerCheck:
    """One stock's buying power asked both ways at one price, and what kisbot makes of it."""

    code: str
    price: int
    as_00: BuyingPower
    as_01: BuyingPower

    @property
    def margin_account(self) -> bool | None:
        """True: KIS would lend beyond cash (max_buy_* above nrcvb_buy_*); None: no cash to tell by."""
        power = self.as_01
        if power.cash <= 0 and power.max_amount <= 0:
            return None
        return power.margin_amount > power.max_amount or power.margin_qty > power.max_qty

    @property
    def kisbot_shares(self) -> int:
        """Shares a limit buy at `price` may take without 미수 by the 01 answer, as the executor sizes it."""
        return shares_without_credit(self.as_01, self.price)

    @property
    def shares_by_00(self) -> int:
        """Shares the 00 answer alone would allow at `price` (what kisbot used to read)."""
        return shares_without_credit(self.as_00, 0)

    @property
    def over_by_00(self) -> bool:
        """The 00 answer promises more than the cash the 01 answer says is free of 미수."""
        return self.as_00.max_qty * self.price > cash_without_credit(self.as_01)

    def fields(self) -> dict[str, Any]:
        """The raw figures by KIS's field names, for the JSON report."""
        answers = {dvsn: {name: getattr(power, attr) for name, attr in FIELDS}
                   for dvsn, power in (("00", self.as_00), ("01", self.as_01))}
        return {"code": self.code, "price": self.price, **answers, "margin_account": self.margin_account,
                "kisbot_limit_buy_max_qty": self.kisbot_shares, "over_by_00": self.over_by_00}


def ask_buying_power(client: Any, code: str, price: int) -> BuyingPowerCheck:
    """Ask inquire-psbl-order for `code` at `price` with ORD_DVSN 00 and with 01 (two inquiries, no order)."""
    return BuyingPowerCheck(code, price, client.buyable_as(code, price, OrderType.LIMIT.value),
                            client.buyable_as(code, price, OrderType.MARKET.value))


def buying_power_text(check: BuyingPowerCheck) -> str:
    """The section for a person: the two answers side by side, then what they mean for kisbot."""
    rows = [(name, f"{getattr(check.as_00, attr):,}", f"{getattr(check.as_01, attr):,}") for name, attr in FIELDS]
    head = ("", t("doctor_buy.col_00"), t("doctor_buy.col_01"))
    widths = [max(width(r[i]) for r in [head, *rows]) for i in range(3)]  # Hangul takes two columns
    table = "\n".join(f"      {pad(a, widths[0])}  {pad(b, widths[1], right=True)}  {pad(c, widths[2], right=True)}"
                      .rstrip() for a, b, c in [head, *rows])
    lines = [t("doctor_buy.asked", code=check.code, price=f"{check.price:,}"), table,
             "    " + t("doctor_buy.kisbot", shares=f"{check.kisbot_shares:,}", price=f"{check.price:,}")]
    if check.over_by_00:
        lines.append("    " + t("doctor_buy.differ", qty00=f"{check.shares_by_00:,}", qty=f"{check.kisbot_shares:,}"))
    margin = check.margin_account
    if margin is None:
        lines.append("    " + t("doctor_buy.unknown"))
    elif margin:
        power = check.as_01
        lines.append("    " + t("doctor_buy.margin", extra=f"{power.margin_amount - power.max_amount:,}",
                                   max=f"{power.margin_amount:,}", free=f"{power.max_amount:,}"))
    else:
        lines.append("    " + t("doctor_buy.cash_only"))
    return "\n".join(lines)
