"""What a buy may spend without 미수 (KIS's no-credit amounts), asked of KIS or costed from notices."""
from __future__ import annotations

from kis.models import BuyingPower


def cash_without_credit(power: BuyingPower) -> int:
    """What a buy may spend: KIS's no-미수 amount (nrcvb_buy_amt), never more than the orderable cash."""
    return max(0, min(power.max_amount, power.cash))


def shares_without_credit(power: BuyingPower, limit: int = 0) -> int:
    """Shares a buy may take without 미수 by a buying-power answer asked as KIS's docs say (ORD_DVSN 01 for
    a limit buy): at `limit`, its no-미수 cash costed at that limit; without one, nrcvb_buy_qty (KIS
    computed it at the upper limit it costs such a buy at). Never max_buy_* (미수)."""
    if limit > 0:
        return cash_without_credit(power) // with_margin(limit)
    return max(0, power.max_qty)


def with_margin(price: int) -> int:
    """A limit buy's cost per share with room for the commission (0.015 %) and rounding."""
    return price + price // 1000 + 1
