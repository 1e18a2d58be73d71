"""KIS accounts: a label, a display name, the number, the kind and the app key pair that KIS issues per account.

The kind comes from the product code (ACNT_PRDT_CD, the two digits after the dash): `01` is a general
account or an ISA (a setting says which), `22` is 연금저축 and `29` is IRP (퇴직연금). Any other product
code (futures `03`, overseas futures `08`, …) is refused: kisbot rebalances stocks only. What each kind may
hold and do lives in `rebalance/accounts.py`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from kis.models import Account as AccountNumber

LABEL_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,15}")  # ASCII: a label is typed as `@label` in a chat


class AccountKind(str, Enum):
    GENERAL = "general"
    ISA = "isa"
    PENSION = "pension"  # 연금저축
    IRP = "irp"  # 퇴직연금 IRP


# the kinds each product code may be; the first is the one a missing kind setting means
PRODUCT_KINDS: dict[str, tuple[AccountKind, ...]] = {
    "01": (AccountKind.GENERAL, AccountKind.ISA),
    "22": (AccountKind.PENSION,),
    "29": (AccountKind.IRP,),
}


@dataclass(frozen=True)
class Credentials:
    """The app key and secret KIS issued for one account; both hidden from repr."""

    app_key: str = field(repr=False)
    app_secret: str = field(repr=False)


@dataclass(frozen=True)
class Account:
    """One KIS account kisbot may serve: `label` is what a chat types (`@pension`), `name` what it reads."""

    label: str
    name: str
    number: AccountNumber
    kind: AccountKind
    credentials: Credentials = field(repr=False)


def parse_label(text: str) -> str:
    """A label as written (`Pension` → `pension`); ValueError with one sentence when it is not ASCII a–z, 0–9, _."""
    label = text.strip().lower()
    if not LABEL_PATTERN.fullmatch(label):
        raise ValueError(f"account label '{text.strip()}' must start with a letter and hold only ASCII "
                         "letters, digits and _ (at most 16), e.g. main, isa, pension, irp")
    return label


def kind_of(number: AccountNumber, setting: str = "") -> AccountKind:
    """The account's kind from its product code and the optional kind setting; ValueError when they disagree."""
    kinds = PRODUCT_KINDS.get(number.product)
    if kinds is None:
        raise ValueError(f"account {number} has product code {number.product}, which kisbot does not serve: "
                         "use 01 (general or ISA), 22 (연금저축) or 29 (IRP)")
    if not setting.strip():
        return kinds[0]
    try:
        kind = AccountKind(setting.strip().lower())
    except ValueError:
        raise ValueError(f"account kind '{setting.strip()}' is not one of "
                         f"{', '.join(k.value for k in AccountKind)}") from None
    if kind not in kinds:
        raise ValueError(f"account {number} is of kind {kinds[0].value} by its product code {number.product}, "
                         f"not {kind.value}: fix the number or the kind")
    return kind


def find_account(accounts: tuple[Account, ...], label: str) -> Account:
    """The account labelled `label`; ValueError naming the labels there are when none is."""
    wanted = label.strip().lstrip("@").lower()
    for account in accounts:
        if account.label == wanted:
            return account
    raise ValueError(f"there is no account labelled '{wanted}': the accounts are "
                     f"{', '.join(a.label for a in accounts)}")
