"""What each account kind may hold and do; the planner asks here before any order.

- 연금저축 (PENSION) holds no leveraged, inverse or 파생형 ETFs and no foreign-listed stocks.
- IRP holds no 파생형 (leveraged, inverse) ETFs, keeps risky assets at most 70 % of the account after the
  trades (an account already over gets only safe-asset buys; a rise in price needs no sale), and is
  read-only over the API: its plan is a list of orders for the user to place in the KIS app.
- Both pension kinds fail closed: a code that is not in `PRODUCTS` is refused, since kisbot cannot tell
  whether it is allowed.

Where the kind of an ETF comes from: KIS's stock info (search-stock-info, CTPF1002R) returns
`etf_dvsn_cd`, `etf_type_cd` and `etf_txtn_type_cd`, but the official samples document none of their
values (every description is empty), so nothing there tells a leveraged or inverse ETF apart. kisbot keeps
the table below instead (the simulator lists the same ETFs) and refuses every other code in pension accounts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from typing import Callable, Mapping

from kis.accounts import AccountKind
from kis.codes import is_code
from rebalance.i18n import t
from rebalance.model import Portfolio


class Product(str, Enum):
    """What a listed product is, as far as the pension rules care."""

    STOCK = "stock"  # a KRX-listed company's share: risky
    EQUITY_ETF = "equity_etf"  # an equity index ETF (domestic or foreign index): risky
    COMMODITY_ETF = "commodity_etf"  # gold and other commodities: risky
    BOND_ETF = "bond_etf"  # bonds: safe
    BOND_MIXED_ETF = "bond_mixed_etf"  # 채권혼합형: safe in IRP
    TDF = "tdf"  # a qualified target-date fund: safe in IRP
    LEVERAGED_ETF = "leveraged_etf"  # 파생형
    INVERSE_ETF = "inverse_etf"  # 파생형
    FOREIGN_STOCK = "foreign_stock"  # listed abroad (a US ticker)


SAFE = frozenset({Product.BOND_ETF, Product.BOND_MIXED_ETF, Product.TDF})

# The ETFs kisbot knows the kind of (KRX codes). Add a row only from the fund's 투자설명서.
PRODUCTS: dict[str, Product] = {
    "069500": Product.EQUITY_ETF,  # KODEX 200
    "360750": Product.EQUITY_ETF,  # TIGER 미국S&P500
    "148070": Product.BOND_ETF,  # KOSEF 국고채10년
    "114260": Product.BOND_ETF,  # KODEX 국고채3년
    "153130": Product.BOND_ETF,  # KODEX 단기채권
    "132030": Product.COMMODITY_ETF,  # KODEX 골드선물(H)
    "122630": Product.LEVERAGED_ETF,  # KODEX 레버리지
    "252670": Product.INVERSE_ETF,  # KODEX 200선물인버스2X
}

RISKY_CAP = Fraction(7, 10)  # IRP: risky assets at most 70 % of the account after the trades


@dataclass(frozen=True)
class KindRules:
    """What one account kind may hold and do."""

    kind: AccountKind
    barred: frozenset[Product] = frozenset()
    known_only: bool = False  # fail closed: a code not in PRODUCTS is refused
    risky_cap: Fraction | None = None  # the most risky assets may be of the account after the trades
    sends_orders: bool = True  # False: the plan is a manual order list, kisbot sends nothing


RULES: dict[AccountKind, KindRules] = {
    AccountKind.GENERAL: KindRules(AccountKind.GENERAL),
    AccountKind.ISA: KindRules(AccountKind.ISA, barred=frozenset({Product.FOREIGN_STOCK})),
    AccountKind.PENSION: KindRules(AccountKind.PENSION, known_only=True, barred=frozenset(
        {Product.LEVERAGED_ETF, Product.INVERSE_ETF, Product.FOREIGN_STOCK})),
    AccountKind.IRP: KindRules(AccountKind.IRP, known_only=True, risky_cap=RISKY_CAP, sends_orders=False,
                               barred=frozenset({Product.LEVERAGED_ETF, Product.INVERSE_ETF,
                                                 Product.FOREIGN_STOCK})),
}


def rules_for(kind: AccountKind) -> KindRules:
    """The rules of an account kind."""
    return RULES[kind]


def product_of(code: str) -> Product | None:
    """What `code` is: from the table, a foreign listing by its form, else None (unknown)."""
    if code in PRODUCTS:
        return PRODUCTS[code]
    if not is_code(code):
        return Product.FOREIGN_STOCK
    return None


def is_safe(code: str) -> bool:
    """A safe asset under the IRP rule (bonds, bond-mixed ETFs, qualified TDFs); unknown codes are risky."""
    return product_of(code) in SAFE


def kind_name(kind: AccountKind) -> str:
    """The kind as the user reads it (연금저축, IRP, …)."""
    return t(f"accounts.kind_{kind.value}")


def model_problems(kind: AccountKind, portfolio: Portfolio) -> list[str]:
    """One sentence per model row the account kind may not hold, naming the row and the rule."""
    rules = rules_for(kind)
    problems = []
    for target in portfolio.targets:
        if target.weight <= 0:
            continue
        product = product_of(target.code)
        fields = {"row": target.row or "?", "code": target.code, "name": target.name, "kind": kind_name(kind)}
        if product is None and rules.known_only:
            problems.append(t("accounts.row_unknown", **fields))
        elif product in rules.barred:
            problems.append(t(f"accounts.row_{product.value}", **fields))
    return problems


def cap_risky(kind: AccountKind, target: Mapping[str, int], current: Mapping[str, int], price: Mapping[str, int],
              total: int, trade_cost: Callable[[Mapping[str, int]], int]) -> tuple[dict[str, int], tuple[str, ...]]:
    """Targets with risky buys cut so risky assets end ≤ the kind's cap of the value after the trades' costs.

    Returns (targets, codes whose buys were cut). An account already over the cap buys no risky asset; nothing
    is sold to get under it. `trade_cost(targets)` is the plan's costs at those targets, in won.
    """
    cap = rules_for(kind).risky_cap
    capped = dict(target)
    if cap is None:
        return capped, ()
    risky_buys = sorted((c for c in capped if not is_safe(c) and capped[c] > current.get(c, 0)),
                        key=lambda c: -(capped[c] - current.get(c, 0)) * price[c])
    if risky_share(current, price, total) > cap:  # already over: safe-asset buys only
        for code in risky_buys:
            capped[code] = current.get(code, 0)
        return capped, tuple(risky_buys)
    cut: list[str] = []
    for code in risky_buys:
        excess = _risky_value(capped, price) - math.floor((total - trade_cost(capped)) * cap)
        if excess <= 0:
            break
        fewer = min(capped[code] - current.get(code, 0), -(-excess // price[code]))
        capped[code] -= fewer
        cut.append(code)
    return capped, tuple(cut)


def _risky_value(qty: Mapping[str, int], price: Mapping[str, int]) -> int:
    return sum(q * price[c] for c, q in qty.items() if q and not is_safe(c))


def risky_share(qty: Mapping[str, int], price: Mapping[str, int], total: int) -> Fraction:
    """The share of `total` in risky assets at these holdings and prices."""
    return Fraction(_risky_value(qty, price), total) if total > 0 else Fraction(0)


@dataclass(frozen=True)
class AccountView:
    """One account as `/accounts` lists it: no keys, the number masked."""

    label: str
    name: str
    number: str  # masked: 5008****-22
    kind: AccountKind
    value: int | str | None = None  # its value in won; a str says why it is not available; None: not asked
    orders_off: bool = False  # a 연금저축 before the doctor's pass (bot/order_gate.py)

    @property
    def may_do(self) -> str:
        """What this kind of account may hold and do, one sentence."""
        return t(f"accounts.does_{self.kind.value}", cap=f"{float(RISKY_CAP) * 100:g}")


def mask_number(number: str) -> str:
    """`50087375-22` → `5008****-22`: enough to tell accounts apart in a chat."""
    cano, _, product = number.partition("-")
    return f"{cano[:4]}{'*' * max(0, len(cano) - 4)}-{product}"


def accounts_text(views: tuple[AccountView, ...], serving: str) -> list[str]:
    """Lines of `/accounts`: each account's label, name, kind, masked number and what it may do."""
    lines = [t("accounts.list_head", count=len(views))]
    for view in views:
        mark = t("accounts.serving") if view.label == serving else ""
        lines.append(t("accounts.list_row", label=view.label, name=view.name, kind=kind_name(view.kind),
                       number=view.number, serving=mark, does=view.may_do))
        if isinstance(view.value, int):
            lines.append(t("accounts2.value", value=view.value))
        elif view.value is not None:
            lines.append(t("accounts2.no_value", reason=view.value))
        if view.orders_off:
            lines.append(t("accounts2.orders_off", label=view.label))
    return lines
