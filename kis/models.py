"""Typed values that cross the `kis/` boundary: no raw KIS dicts leave the package.

Money is `int` won and quantities are `int` shares; rates and weights may be floats. US money is `int` cents,
US prices a `Decimal` on the US grid (two places at $1 and above, four below), the won-dollar rate a `Decimal`.
"""
from __future__ import annotations

import re

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum


class Env(str, Enum):
    """Where orders go. `sim` speaks the mock protocol to the bundled paper exchange."""

    SIM = "sim"
    MOCK = "mock"
    REAL = "real"


class OrderSide(str, Enum):
    """KIS `SLL_BUY_DVSN_CD` values."""

    SELL = "01"
    BUY = "02"

    @property
    def label(self) -> str:
        return "sell" if self is OrderSide.SELL else "buy"


class OrderType(str, Enum):
    """KIS `ORD_DVSN` codes for cash orders."""

    LIMIT = "00"  # 지정가
    MARKET = "01"  # 시장가
    BEST_LIMIT = "03"  # 최유리지정가
    TOP_OF_BOOK = "04"  # 최우선지정가

    @property
    def needs_price(self) -> bool:
        return self is OrderType.LIMIT


@dataclass(frozen=True)
class Account:
    """`50087375-01` split into KIS's CANO and ACNT_PRDT_CD."""

    cano: str
    product: str = "01"

    @classmethod
    def parse(cls, text: str) -> "Account":
        digits = text.strip().replace(" ", "")
        if "-" in digits:
            cano, product = digits.split("-", 1)
        else:
            cano, product = digits[:8], digits[8:] or "01"
        # ASCII digits only: str.isdigit() passes fullwidth '５' and superscript '²', which KIS refuses
        if not (re.fullmatch(r"[0-9]{8}", cano) and re.fullmatch(r"[0-9]{2}", product)):
            raise ValueError(f"account '{text}' is not of the form 12345678-01")
        return cls(cano, product)

    def __str__(self) -> str:
        return f"{self.cano}-{self.product}"


@dataclass(frozen=True)
class Quote:
    """Current price of one stock (inquire-price or the multi-stock quote)."""

    code: str
    price: int
    change: int  # won against the previous close, signed
    change_rate: float  # percent, signed
    volume: int = 0
    name: str = ""  # inquire-price does not carry the name; the multi-stock quote does
    upper_limit: int = 0  # 상한가
    lower_limit: int = 0  # 하한가
    at: datetime | None = None
    tick: int = 0  # aspr_unit (호가단위) at this price; 0 where not sent (the multi-stock quote)


# 증권그룹ID코드 (scty_grp_id_cd) of exchange-traded products: ETF, ETN, foreign ETF. Their sells carry
# no securities transaction tax.
ETP_GROUPS = frozenset({"EF", "EN", "FE"})


@dataclass(frozen=True)
class StockInfo:
    """KIS's basic facts about a listed product (search-stock-info, CTPF1002R)."""

    code: str
    name: str  # prdt_abrv_name
    group: str = ""  # scty_grp_id_cd: ST stock, EF ETF, EN ETN, ...

    @property
    def exchange_traded_product(self) -> bool:
        """An ETF or ETN: no securities transaction tax on its sells."""
        return self.group in ETP_GROUPS


@dataclass(frozen=True)
class Holding:
    """One row of the balance (inquire-balance output1)."""

    code: str
    name: str
    qty: int  # hldg_qty
    orderable_qty: int  # ord_psbl_qty: what can be sold now
    avg_price: int  # pchs_avg_pric, rounded to won
    price: int  # prpr
    value: int  # evlu_amt
    purchase_amount: int  # pchs_amt
    pnl: int  # evlu_pfls_amt
    pnl_rate: float  # evlu_pfls_rt, percent


@dataclass(frozen=True)
class Balance:
    """The whole account: every page of holdings plus the summary (output2)."""

    holdings: tuple[Holding, ...]
    cash: int  # dnca_tot_amt, deposit today
    cash_d2: int  # prvs_rcdl_excc_amt, deposit after pending settlements (D+2)
    stock_value: int  # scts_evlu_amt
    total_value: int  # tot_evlu_amt
    pnl: int  # evlu_pfls_smtl_amt
    at: datetime | None = None

    def qty(self, code: str) -> int:
        return sum(h.qty for h in self.holdings if h.code == code)


@dataclass(frozen=True)
class OrderAck:
    """The exchange accepted an order (order-cash / order-rvsecncl output)."""

    order_no: str  # ODNO
    org_no: str  # KRX_FWDG_ORD_ORGNO, needed to revise or cancel
    code: str
    side: OrderSide
    qty: int
    order_type: OrderType
    price: int = 0
    time: str = ""  # ORD_TMD, HHMMSS
    venue: str = "KRX"  # EXCG_ID_DVSN_CD it was sent with (KRX, NXT, SOR; kis/venues.py): its cancel goes the same way


@dataclass(frozen=True)
class BookTop:
    """The best bid and ask of one stock (inquire-asking-price-exp-ccn output1: bidp1/askp1 and their shares)."""

    code: str
    bid: int  # bidp1, 0 when there is no bid
    ask: int  # askp1, 0 when there is no ask
    bid_qty: int = 0
    ask_qty: int = 0
    at: datetime | None = None

    @property
    def two_sided(self) -> bool:
        """Both sides quoted and not crossed: the mid means something."""
        return 0 < self.bid < self.ask

    @property
    def mid2(self) -> int:
        """Twice the mid (bid + ask), an int: the arrival mid without a half won."""
        return self.bid + self.ask


@dataclass(frozen=True)
class OrderStatus:
    """One order of today as the exchange sees it (inquire-daily-ccld output1)."""

    order_no: str
    org_no: str
    orig_order_no: str  # orgn_odno: set on revise/cancel orders
    code: str
    name: str
    side: OrderSide
    order_type: OrderType | None
    qty: int  # ord_qty
    price: int  # ord_unpr
    filled_qty: int  # tot_ccld_qty
    remaining_qty: int  # rmn_qty
    avg_fill_price: int  # avg_prvs
    filled_amount: int  # tot_ccld_amt
    cancelled: bool  # cncl_yn == "Y"
    rejected_qty: int = 0  # rjct_qty
    cancelled_qty: int = 0  # cnc_cfrm_qty
    time: str = ""  # ord_tmd HHMMSS
    venue: str = "KRX"  # excg_id_dvsn_cd (KRX, NXT, SOR)

    @property
    def closed(self) -> bool:
        """Nothing left to fill: rmn_qty is 0, or filled + cancel-confirmed + refused covers the order."""
        return (self.remaining_qty <= 0 or self.cancelled
                or self.filled_qty + self.cancelled_qty + self.rejected_qty >= self.qty)

    @property
    def is_open(self) -> bool:
        return not self.closed


@dataclass(frozen=True)
class Fill:
    """A fill increment: `qty` more shares of `order_no` done at `price` (average of the increment)."""

    order_no: str
    code: str
    side: OrderSide
    qty: int
    price: int
    at: datetime | None = None


@dataclass(frozen=True)
class BuyingPower:
    """What can be bought now (inquire-psbl-order output); max_* never count on 미수."""

    code: str
    cash: int  # ord_psbl_cash
    max_amount: int  # nrcvb_buy_amt: buyable without margin (미수 없는 매수금액)
    max_qty: int  # nrcvb_buy_qty
    unit_price: int = 0  # psbl_qty_calc_unpr
    margin_amount: int = 0  # max_buy_amt: buyable counting on 미수 (never used to size a buy)
    margin_qty: int = 0  # max_buy_qty
    asked_with: str = ""  # the ORD_DVSN the question was asked with


# --- US stocks --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UsQuote:
    """Current price of one US stock (overseas price, HHDFS00000300), in dollars."""

    symbol: str  # AAPL, BRK.B
    market: str  # NASD, NYSE, AMEX: where KIS lists it
    price: Decimal  # last
    prev_close: Decimal  # base
    change: Decimal  # signed dollars against the previous close
    change_rate: Decimal  # signed percent, two places
    volume: int = 0  # tvol
    name: str = ""  # from search-info where KIS serves it
    at: datetime | None = None
    orderable: bool = True  # ordy: KIS says it can be bought


@dataclass(frozen=True)
class UsHolding:
    """One US stock held (inquire-present-balance output1): dollars and cents, and its value in won."""

    symbol: str
    market: str  # NASD, NYSE, AMEX
    name: str
    qty: int  # cblc_qty13
    orderable_qty: int  # ord_psbl_qty1
    avg_price: Decimal  # avg_unpr3, dollars
    price: Decimal  # ovrs_now_pric1, dollars
    value: int  # frcr_evlu_amt2, cents
    cost: int  # frcr_pchs_amt, cents
    pnl: int  # evlu_pfls_amt2, cents
    pnl_rate: Decimal  # evlu_pfls_rt1, percent
    value_krw: int  # value at the rate of the balance, won


@dataclass(frozen=True)
class CurrencyCash:
    """Cash of one foreign currency (inquire-present-balance output2), in its minor unit (cents)."""

    currency: str  # crcy_cd: USD
    deposit: int  # frcr_dncl_amt_2
    orderable: int  # what KIS says can be used for buys now (frcr_use_psbl_amt of output3 for USD)
    withdrawable: int = 0  # frcr_drwg_psbl_amt_1


@dataclass(frozen=True)
class UsBalance:
    """The US side of the account: holdings in dollars, cash per currency, and the rate KIS values them at."""

    holdings: tuple[UsHolding, ...]
    cash: tuple[CurrencyCash, ...]
    rate: Decimal  # bass_exrt: won a dollar (기준환율)
    rate_at: datetime | None = None  # when the rate was read
    krw_total: int = 0  # tot_asst_amt of output3 as KIS sends it (won); kisbot sums its own total
    cash_krw: int = 0  # the dollar deposit in won at `rate`

    def usd(self) -> CurrencyCash:
        """The dollar cash line (zero when KIS listed none)."""
        return next((c for c in self.cash if c.currency == "USD"), CurrencyCash("USD", 0, 0))

    @property
    def value(self) -> int:
        """The holdings' value in cents."""
        return sum(h.value for h in self.holdings)

    @property
    def value_krw(self) -> int:
        """The holdings' value in won at the balance's rate."""
        return sum(h.value_krw for h in self.holdings)

    @property
    def empty(self) -> bool:
        """No US stock held and no foreign cash: nothing to show."""
        return not self.holdings and not any(c.deposit or c.orderable for c in self.cash)

    def qty(self, symbol: str) -> int:
        return sum(h.qty for h in self.holdings if h.symbol == symbol)


@dataclass(frozen=True)
class UsOrderAck:
    """KIS took a US order or cancel (order / order-rvsecncl output): ODNO, KRX_FWDG_ORD_ORGNO, ORD_TMD."""

    order_no: str
    org_no: str
    symbol: str
    market: str  # NASD, NYSE, AMEX: the OVRS_EXCG_CD it was sent with
    side: OrderSide
    qty: int
    price: Decimal  # the limit on the US grid; 0 for a cancel
    time: str = ""  # ORD_TMD, HHMMSS


@dataclass(frozen=True)
class UsOrderStatus:
    """One of today's US orders (inquire-ccnl output): quantities in shares, prices in dollars, the fill in cents."""

    order_no: str
    org_no: str
    orig_order_no: str  # orgn_odno of a revise or cancel
    symbol: str
    market: str
    name: str
    side: OrderSide
    kind: str  # new | revise | cancel (rvse_cncl_dvsn 00 / 01 / 02)
    qty: int  # ft_ord_qty
    price: Decimal  # ft_ord_unpr3
    filled_qty: int  # ft_ccld_qty
    remaining_qty: int  # nccs_qty
    avg_fill_price: Decimal  # ft_ccld_unpr3
    filled_amount: int  # ft_ccld_amt3 in cents
    day: str = ""  # ord_dt, New York
    time: str = ""  # ord_tmd, New York

    @property
    def closed(self) -> bool:
        """Nothing of it can fill any more (filled, cancelled, or a cancel row)."""
        return self.kind == "cancel" or self.remaining_qty == 0


@dataclass(frozen=True)
class UsBuyingPower:
    """inquire-psamount: what a US buy at `price` may take. `max_qty` counts dollars alone (max_ord_psbl_qty);
    `integrated_qty` counts 통합증거금 where the account has it (ovrs_max_ord_psbl_qty)."""

    symbol: str
    market: str
    price: Decimal
    orderable: int  # ord_psbl_frcr_amt in cents
    max_qty: int
    integrated_qty: int
    after_exchange_qty: int  # echm_af_ord_psbl_qty
    rate: Decimal  # exrt
