"""The values the planner produces and the executor and the bot consume."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from kis.models import OrderSide


@dataclass(frozen=True)
class Target:
    """One row of the model portfolio: a stock and its weight (fraction of investable value)."""

    code: str
    weight: float
    name: str = ""
    row: int = field(default=0, compare=False)  # row in the source sheet, for error messages; 0 = none
    band: float | None = None  # this stock's tolerance band (0.02 = ±2 percentage points); None = the plan's


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
    price: int
    current_qty: int
    target_qty: int
    current_weight: float
    target_weight: float
    tax_free: bool = False  # an ETF or ETN: no securities transaction tax on its sells
    model_weight: float | None = None  # where the model wants it before bands and options (None: not in it)
    band: float = 0.0  # the tolerance band in force, a fraction of the investable value (0: none)
    in_band: bool = False  # not traded because it is inside its band: target_weight is then where it is

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
    def order_value(self) -> int:
        return abs(self.order_qty) * self.price


@dataclass(frozen=True)
class Plan:
    """A rebalance plan, priced at `priced_at`; `/confirm` re-plans after `expires_at`."""

    id: str
    lines: tuple[PlanLine, ...]
    cash: int  # cash before trading
    total_value: int  # holdings at current prices + cash
    investable: int  # total_value x (1 - cash_buffer)
    est_costs: int  # fees + transaction tax, estimated
    priced_at: datetime
    expires_at: datetime
    notes: tuple[str, ...] = ()  # e.g. "buys scaled down by 3 % to fit cash"
    options: tuple[str, ...] = ()  # the options in force, as phrases ("buy only", "band ±2 %p")
    dropped: tuple[str, ...] = ()  # "code name" of every stock sold because the model does not name it
    manual: bool = False  # the account sends no orders (IRP): the plan is a list for the user to place by hand

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
        return self.cash + self.sell_value - self.buy_value - self.est_costs

    @property
    def has_orders(self) -> bool:
        return any(line.order_qty for line in self.lines)
