"""The values the planner produces and the executor and the bot consume."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from kis.markets import KRW, market_named, to_krw
from kis.models import OrderSide


@dataclass(frozen=True)
class Target:
    """One row of the model portfolio: a stock and its weight (fraction of investable value)."""

    code: str
    weight: float
    name: str = ""
    row: int = field(default=0, compare=False)  # row in the source sheet, for error messages; 0 = none
    band: float | None = None  # this stock's tolerance band (0.02 = ±2 percentage points); None = the plan's
    market: str = ""  # a US ticker's exchange (NASD, NYSE, AMEX) as the file said it; "" for KRX or not yet known
    market_from: str = field(default="", compare=False)  # where `market` came from: "column", "prefix" ("": none)


@dataclass(frozen=True)
class Portfolio:
    """A validated model portfolio. Weights sum to at most 1; the rest stays in cash."""

    targets: tuple[Target, ...]
    source: str = ""  # file name, for messages
    notes: tuple[str, ...] = field(default=(), compare=False)  # how the file was read, shown with the plan

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.targets)


@dataclass(frozen=True)
class PlanLine:
    """One stock of a plan: where it is, where it should be, what to trade."""

    code: str
    name: str
    price: int | Decimal  # in the line's currency: int won (KRX), Decimal dollars on the US grid (US)
    current_qty: int
    target_qty: int
    current_weight: float
    target_weight: float
    tax_free: bool = False  # an ETF or ETN: no securities transaction tax on its sells
    model_weight: float | None = None  # where the model wants it before bands and options (None: not in it)
    band: float = 0.0  # the tolerance band in force, a fraction of the investable value (0: none)
    in_band: bool = False  # not traded because it is inside its band: target_weight is then where it is
    market: str = "KRX"  # KRX, NASD, NYSE, AMEX
    currency: str = "KRW"  # KRW, USD: the currency of `price` and `order_amount`
    rate: Decimal | None = None  # won a dollar (KIS's bass_exrt) for a USD line: its won value

    @property
    def is_us(self) -> bool:
        return self.currency != KRW.code

    @property
    def order_qty(self) -> int:
        """Signed: positive buys, negative sells."""
        return self.target_qty - self.current_qty

    @property
    def side(self) -> OrderSide | None:
        if self.order_qty > 0:
            return OrderSide.BUY
        if self.order_qty < 0:
            return OrderSide.SELL
        return None

    @property
    def order_amount(self) -> int:
        """The order's value in the line's minor unit: int won, or int cents for a US line."""
        if not self.is_us:
            return abs(self.order_qty) * int(self.price)
        return market_named(self.market).currency.minor(abs(self.order_qty) * Decimal(self.price))

    @property
    def order_value(self) -> int:
        """The order's value in won (a US line at its rate, half up to the won)."""
        if not self.is_us:
            return abs(self.order_qty) * int(self.price)
        return to_krw(self.order_amount, self.rate or Decimal(0))


@dataclass(frozen=True)
class Plan:
    """A rebalance plan, priced at `priced_at`; `/confirm` re-plans after `expires_at`."""

    id: str
    lines: tuple[PlanLine, ...]
    cash: int  # cash before trading
    total_value: int  # holdings at current prices + cash
    investable: int  # total_value x (1 - cash_buffer)
    est_costs: int  # fees + transaction tax of the KRX legs, estimated, won (US legs: usd_costs, cents)
    priced_at: datetime
    expires_at: datetime
    notes: tuple[str, ...] = ()  # e.g. "buys scaled down by 3 % to fit cash"
    options: tuple[str, ...] = ()  # the options in force, as phrases ("buy only", "band ±2 %p")
    dropped: tuple[str, ...] = ()  # "code name" of every stock sold because the model does not name it
    manual: bool = False  # the account sends no orders (IRP): the plan is a list for the user to place by hand
    usd_cash: int = 0  # dollar cash before trading, cents (0 in a KRX-only plan)
    rate: Decimal | None = None  # won a dollar KIS values the US legs at (None: no US leg)
    usd_costs: int = 0  # estimated US commission and sell fees, cents
    usd_missing: int = 0  # cents the US buys wanted beyond the dollars there are (kisbot converts no currency)
    execution: str = ""  # how its slices will be priced: "passive" or "cross" ("" before the bot said)

    @property
    def us_lines(self) -> tuple[PlanLine, ...]:
        return tuple(line for line in self.lines if line.is_us)

    @property
    def us_legs(self) -> tuple[PlanLine, ...]:
        """The US lines with an order: what the executor cannot yet send."""
        return tuple(line for line in self.us_lines if line.order_qty)

    @property
    def sells(self) -> tuple[PlanLine, ...]:
        return tuple(line for line in self.lines if line.order_qty < 0)

    @property
    def buys(self) -> tuple[PlanLine, ...]:
        return tuple(line for line in self.lines if line.order_qty > 0)

    @property
    def sell_value(self) -> int:
        return sum(line.order_value for line in self.sells)

    @property
    def buy_value(self) -> int:
        return sum(line.order_value for line in self.buys)

    @property
    def cash_after(self) -> int:
        """Won cash after the KRX legs (US legs settle in dollars: `usd_cash_after`)."""
        krw = [line for line in self.lines if not line.is_us]
        sells = sum(line.order_value for line in krw if line.order_qty < 0)
        buys = sum(line.order_value for line in krw if line.order_qty > 0)
        return self.cash + sells - buys - self.est_costs

    @property
    def usd_cash_after(self) -> int:
        """Dollar cash after the US legs and their costs, cents."""
        sells = sum(line.order_amount for line in self.us_lines if line.order_qty < 0)
        buys = sum(line.order_amount for line in self.us_lines if line.order_qty > 0)
        return self.usd_cash + sells - buys - self.usd_costs

    @property
    def has_orders(self) -> bool:
        return any(line.order_qty for line in self.lines)
