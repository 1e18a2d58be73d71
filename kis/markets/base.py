"""What a market is: its currency, calendar and sessions, tick grid, exchange codes, tr_ids and endpoints.

One object per market says all of it, so the planner and the executor ask it instead of branching on a name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable, Mapping

from kis.errors import NotServed
from kis.models import Env, OrderSide


@dataclass(frozen=True)
class Currency:
    """A currency and its minor unit: money crosses every boundary as an int of minor units (won; cents)."""

    code: str  # ISO 4217: KRW, USD
    digits: int  # places of the minor unit: 0 for won, 2 for cents

    @property
    def unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.digits)

    def minor(self, amount: Decimal | int | str) -> int:
        """`amount` (in the major unit, e.g. dollars) as an int of minor units, rounded half up."""
        return int((Decimal(str(amount)) / self.unit).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def major(self, minor: int) -> Decimal:
        """An int of minor units as a Decimal of the major unit with exactly `digits` places."""
        return (Decimal(int(minor)) * self.unit).quantize(self.unit)


KRW = Currency("KRW", 0)
USD = Currency("USD", 2)


def to_krw(cents: int, rate: Decimal) -> int:
    """Won for `cents` US cents at `rate` won a dollar (KIS's bass_exrt), rounded half up to the won."""
    return int((Decimal(int(cents)) * Decimal(rate) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Endpoint:
    """One KIS service: its path, its HTTP method and its tr_id per environment (None: not served there)."""

    name: str  # what the user reads in NotServed: "the overseas product lookup (search-info)"
    path: str
    tr_ids: Mapping[Env, str | None]
    method: str = "GET"

    def tr_id(self, env: Env) -> str:
        """The tr_id in `env`; NotServed (nothing sent) where KIS serves nothing."""
        tr = self.tr_ids.get(Env(env))
        if not tr:
            raise NotServed(self.name, Env(env).value)
        return tr

    def served(self, env: Env) -> bool:
        return bool(self.tr_ids.get(Env(env)))


@dataclass(frozen=True, eq=False)  # one object per market: compared and hashed by identity
class Market:
    """One market: KRX, or one US exchange (NASD, NYSE, AMEX)."""

    code: str  # KRX, NASD, NYSE, AMEX: the name kisbot shows and the order exchange code KIS takes
    name: str
    currency: Currency
    calendar: str  # exchange_calendars name: XKRX, XNYS
    tz: tzinfo
    regular: tuple[time, time]  # the regular session in local time (early closes: the calendar's)
    quote_code: str  # EXCD of quotes: NAS, NYS, AMS; KRX's FID_COND_MRKT_DIV_CODE J
    product_type: str = ""  # PRDT_TYPE_CD of search-info: 512 Nasdaq, 513 NYSE, 529 AMEX
    balance_market: str = ""  # TR_MKET_CD of inquire-present-balance: 01 Nasdaq, 02 NYSE, 05 AMEX
    prefixes: tuple[str, ...] = ()  # what a user may write before the colon: NYSE:KO
    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)
    _is_symbol: Callable[[object], bool] = lambda value: False
    _session: Callable[[date], tuple[datetime, datetime] | None] = lambda day: None
    _tick: Callable[..., object] = lambda price: 1
    _round: Callable[..., object] = lambda price, direction="nearest": price

    @property
    def order_code(self) -> str:
        """OVRS_EXCG_CD of orders, buying power and inquire-balance (NASD, NYSE, AMEX); KRX's EXCG_ID_DVSN_CD."""
        return self.code

    @property
    def is_us(self) -> bool:
        return self.currency is USD

    def is_symbol(self, value: object) -> bool:
        """True when `value` is written as this market writes its symbols (a KRX code; a US ticker)."""
        return self._is_symbol(value)

    def session(self, day: date) -> tuple[datetime, datetime] | None:
        """The regular session on the local `day` as (open, close), aware; None when the market is shut."""
        return self._session(day)

    def tick(self, price):
        """The price step at `price` (int won; Decimal dollars)."""
        return self._tick(price)

    def round_price(self, price, direction: str | OrderSide = "nearest"):
        """`price` on this market's grid; an OrderSide never trades worse than asked (a buy down, a sell up)."""
        return self._round(price, direction)

    def endpoint(self, call: str) -> Endpoint:
        """The KIS service `call` (price, balance, ...) of this market; KeyError for one it has none of."""
        return self.endpoints[call]

    def tr_id(self, call: str, env: Env) -> str:
        """The tr_id of `call` in `env`; NotServed (nothing sent) where KIS serves nothing."""
        return self.endpoint(call).tr_id(env)

    def __str__(self) -> str:
        return self.code
