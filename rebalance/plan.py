"""Rebalance planning: where the account is, where the model wants it, and what to trade to get there.

`build_plan` is pure (data in, `Plan` out); `make_plan` is the edge that asks the broker for the
balance and the prices, with one balance inquiry and one batched price request.
"""
from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable, Iterable, Mapping, Protocol, runtime_checkable

from kis.accounts import AccountKind
from kis.codes import is_code
from kis.errors import UnknownStock
from kis.krx import KST
from kis.markets import KRX, Market, market_named, to_krw
from kis.models import Balance, Quote, UsBalance, UsQuote
from rebalance import accounts as kinds
from rebalance.costs import (DEFAULT_FEE_RATE, DEFAULT_SELL_TAX_RATE, DEFAULT_US_FEE_RATE, DEFAULT_US_SEC_FEE_RATE,
                             DEFAULT_US_TAF_MAX, DEFAULT_US_TAF_PER_SHARE, CostRates, UsCostRates, exact)
from rebalance.model import Plan, PlanLine, Portfolio
from rebalance.options import OptionsError, PlanOptions
from rebalance import i18n
from rebalance.i18n import Msg, t
from rebalance.portfolio import PortfolioError, unknown_codes_error

# Where a US ticker's exchange came from, as the plan's note says it.
_FOUND_BY = {"column": "usplan.from_column", "prefix": "usplan.from_prefix", "lookup": "usplan.from_lookup",
             "held": "usplan.from_held", "model": "usplan.from_model"}
# Weights of a column of fractions rarely add up to exactly 1 in floats (3 x 0.3333...).
_WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class PlanSettings:
    """How to plan: the share of value kept as cash (2 %), cost rates, how long prices stay good."""

    cash_buffer: float = 0.02
    buy_fee: float = DEFAULT_FEE_RATE
    sell_fee: float = DEFAULT_FEE_RATE
    sell_tax: float = DEFAULT_SELL_TAX_RATE
    max_price_age: timedelta = timedelta(minutes=5)
    kind: AccountKind = AccountKind.GENERAL  # the account's kind: what it may hold and do (rebalance/accounts.py)
    us_fee: float = DEFAULT_US_FEE_RATE  # US commission per side
    us_sec_fee: float = DEFAULT_US_SEC_FEE_RATE  # SEC fee on US sells
    us_taf_per_share: float = DEFAULT_US_TAF_PER_SHARE  # FINRA TAF, dollars a share sold
    us_taf_max: float = DEFAULT_US_TAF_MAX  # FINRA TAF cap, dollars an order

    def __post_init__(self) -> None:
        if not (0 <= self.cash_buffer < 1):
            raise ValueError(t("plan_notes.cash_buffer", value=self.cash_buffer))
        if self.max_price_age <= timedelta(0):
            raise ValueError(t("plan_notes.max_price_age"))
        self.rates  # validates the rates
        self.us_rates

    @property
    def rates(self) -> CostRates:
        return CostRates(buy_fee=self.buy_fee, sell_fee=self.sell_fee, sell_tax=self.sell_tax)

    @property
    def us_rates(self) -> UsCostRates:
        return UsCostRates(fee=self.us_fee, sec_fee=self.us_sec_fee, taf_per_share=self.us_taf_per_share,
                           taf_max=self.us_taf_max)


class PriceSource(Protocol):
    """The two calls of `kis.KisClient` that planning a KRX-only model needs."""

    def balance(self) -> Balance: ...

    def prices(self, codes: list[str]) -> dict[str, Quote]: ...


@runtime_checkable
class UsPriceSource(Protocol):
    """What planning a model with US tickers needs beyond `PriceSource`: the US balance, exchanges and quotes."""

    def us_balance(self) -> UsBalance: ...

    def us_market(self, symbol: str) -> Market: ...

    def overseas_prices(self, symbols: Iterable[str]) -> dict[str, UsQuote]: ...


@dataclass(frozen=True)
class UsSide:
    """The US half of an account for a plan: its balance (cash, holdings, KIS's rate), quotes and exchanges."""

    balance: UsBalance
    quotes: Mapping[str, UsQuote]
    markets: Mapping[str, Market]  # ticker -> exchange
    found: Mapping[str, str] = None  # ticker -> where its exchange came from: column, prefix, lookup, held

    @property
    def rate(self) -> Decimal:
        return self.balance.rate


def is_us_code(code: str) -> bool:
    """True for a model or plan code that is a US ticker (anything not a KRX code)."""
    return not is_code(code)


def new_plan_id() -> str:
    """Short and unique enough to name a plan in a chat button (8 hex characters)."""
    return secrets.token_hex(4)


def make_plan(client: PriceSource, portfolio: Portfolio, settings: PlanSettings | None = None,
              now: datetime | None = None, options: PlanOptions | None = None, *,
              names: Any = None) -> Plan:
    """Fetch the balance and every needed price (model and holdings in one batched call), then plan.

    `names` (a `rebalance.names.NameBook`) fills in names and tells ETFs/ETNs apart.
    Codes the broker does not know raise PortfolioError naming them and their rows.
    """
    settings = settings or PlanSettings()
    refuse_model_rows(portfolio, settings.kind)
    us = _us_side(client, portfolio)  # exchanges first: an unknown ticker is refused before anything else
    balance = client.balance()
    codes = [c for c in _plan_codes(portfolio, balance) if not is_us_code(c)]
    try:
        quotes = client.prices(codes) if codes else {}
    except UnknownStock as exc:
        raise unknown_codes_error(portfolio, exc.codes) from None
    known: dict[str, str] = {}
    tax_free: frozenset[str] = frozenset()
    if names is not None:
        known, tax_free = names.resolve(codes, quotes, balance, portfolio)
    now = now or datetime.now(KST)
    try:
        return build_plan(portfolio, balance, quotes, settings, now, new_plan_id(), options or PlanOptions(),
                          names=known, tax_free=tax_free, us=us)
    except UnknownStock as exc:
        raise unknown_codes_error(portfolio, exc.codes) from None


def _us_side(client: Any, portfolio: Portfolio) -> UsSide | None:
    """The US side of the account when the model names a US ticker (None otherwise: a KRX-only model plans as it
    always did and leaves the US side alone). Each ticker's exchange comes from the file (column or prefix) or
    KIS's lookup; UnknownStock naming the tickers no US exchange lists, before any balance or order."""
    tickers = [t for t in portfolio.targets if is_us_code(t.code)]
    if not tickers:
        return None
    if not isinstance(client, UsPriceSource):
        raise PortfolioError([t("usplan.no_us_side", tickers=", ".join(x.code for x in tickers))], portfolio.source)
    markets: dict[str, Market] = {}
    found: dict[str, str] = {}
    unknown: list[str] = []
    for target in tickers:
        if target.market:
            markets[target.code], found[target.code] = market_named(target.market), target.market_from or "column"
            continue
        try:
            markets[target.code], found[target.code] = client.us_market(target.code), "lookup"
        except UnknownStock:
            unknown.append(target.code)
    if unknown:
        raise unknown_codes_error(portfolio, unknown)
    balance = client.us_balance()
    for h in balance.holdings:
        if h.qty > 0 and h.symbol not in markets:
            try:
                markets[h.symbol], found[h.symbol] = market_named(h.market), "held"
            except KeyError:
                markets[h.symbol], found[h.symbol] = client.us_market(h.symbol), "lookup"
    try:
        quotes = client.overseas_prices([f"{m.code}:{c}" for c, m in markets.items()])
    except UnknownStock as exc:
        raise unknown_codes_error(portfolio, [c.rpartition(":")[2] for c in exc.codes]) from None
    return UsSide(balance=balance, quotes=quotes, markets=markets, found=found)


def _plan_codes(portfolio: Portfolio, balance: Balance, us: UsSide | None = None) -> list[str]:
    """Model codes in file order, then held codes the model does not name (US holdings when the US side is read)."""
    held = [h.code for h in balance.holdings if h.qty > 0]
    if us is not None:
        held += [h.symbol for h in us.balance.holdings if h.qty > 0]
    return list(dict.fromkeys([*portfolio.codes, *held]))


def account_values(balance: Balance, price: Mapping[str, int], kept: Iterable[str] = (),
                   cash_buffer: float = 0.02) -> tuple[int, int, int]:
    """(total, base, investable): cash + holdings at `price`; less the kept holdings; less the buffer."""
    held = {c: balance.qty(c) for c in {*price, *(h.code for h in balance.holdings if h.qty > 0)}}
    total = balance.cash_d2 + sum(q * price[c] for c, q in held.items() if q)
    base = total - sum(held.get(c, 0) * price[c] for c in set(kept))
    return total, base, max(0, math.floor(base * (1 - exact(cash_buffer))))


def weight_gap(value: int, investable: int, weight: float) -> Fraction:
    """How far a stock's value sits from its target, in fractions of the investable value (signed)."""
    if investable <= 0:
        return Fraction(0)
    return Fraction(value, investable) - exact(weight)


def inside_band(value: int, investable: int, weight: float, band: float) -> bool:
    """True when a stock worth `value` is within target ± band (fractions of the investable value)."""
    return band > 0 and investable > 0 and abs(weight_gap(value, investable, weight)) <= exact(band)


def build_plan(portfolio: Portfolio, balance: Balance, quotes: Mapping[str, Quote], settings: PlanSettings,
               now: datetime, plan_id: str, options: PlanOptions = PlanOptions(), *,
               names: Mapping[str, str] | None = None, tax_free: frozenset[str] = frozenset(),
               us: UsSide | None = None) -> Plan:
    """The plan at these prices and options. Raises UnknownStock when a needed code has no positive price,
    OptionsError when the options ask for what the account cannot do.

    Cash is the D+2 deposit (`cash_d2`): it already counts unsettled trades, as KIS's total value does.
    Weights apply to the investable value: (total − kept holdings) × (1 − buffer). Full targets are
    floored; stocks outside the model go to zero unless kept; a stock inside its band is not traded.
    Buys are scaled down when cash after sells cannot pay for them and their costs.

    With `us` (the model names US tickers), the value is the whole account's in won, US legs at KIS's rate;
    US buys are paid from dollars (cash plus US sells), shrunk by largest remainders where dollars are short,
    and the plan says how many dollars are missing; KRX legs are paid from won as always.
    """
    refuse_model_rows(portfolio, settings.kind)
    here = _where_the_account_is(portfolio, balance, quotes, settings, options, tax_free, us)
    notes: list[str] = []
    wants = _where_the_model_wants_it(portfolio, balance, here, options, notes)
    target = _what_to_trade(here, wants, settings.rates, options, notes)
    target = _within_the_kind(here, target, settings.kind, notes)
    plan = _the_plan(portfolio, balance, quotes, settings, now, plan_id, options, names or {}, here, wants,
                     target, notes, us)
    return replace(plan, manual=not kinds.rules_for(settings.kind).sends_orders)


def refuse_model_rows(portfolio: Portfolio, kind: AccountKind) -> None:
    """PortfolioError naming each model row the account's kind may not hold (before any price or order)."""
    problems = kinds.model_problems(kind, portfolio)
    if problems:
        raise PortfolioError(problems, portfolio.source)


def _within_the_kind(here: "_Account", target: Mapping[str, int], kind: AccountKind,
                     notes: list[str]) -> Mapping[str, int]:
    """The targets with the kind's risky-asset cap applied (IRP); a note names the stocks whose buys were cut."""
    def costs(qty: Mapping[str, int]) -> int:
        sells = sum(here.sell_cost(c, here.current[c] - q) for c, q in qty.items() if q < here.current[c])
        return sells + sum(here.buy_cost(c, q - here.current[c]) for c, q in qty.items() if q > here.current[c])

    capped, cut = kinds.cap_risky(kind, target, here.current, here.price, here.total, costs)
    if cut:
        share = kinds.risky_share(capped, here.price, here.total - costs(capped))
        before = kinds.risky_share(here.current, here.price, here.total)
        key = "accounts.risky_over" if before > kinds.RISKY_CAP else "accounts.risky_cut"
        notes.append(t(key, codes=", ".join(cut), share=f"{float(share) * 100:.1f}",
                       cap=f"{float(kinds.RISKY_CAP) * 100:g}"))
    if not kinds.rules_for(kind).sends_orders:
        notes.append(t("accounts.manual", kind=kinds.kind_name(kind)))
    return capped


@dataclass(frozen=True)
class _Account:
    """Where the account is, at the plan's prices: quantities, cash and the values weights apply to."""

    codes: list[str]
    price: dict[str, Any]  # won a share: int for KRX, an exact Fraction (dollars x rate) for a US stock
    current: dict[str, int]
    kept: list[str]  # holdings outside the model that stay as they are
    taxed: dict[str, bool]  # whether a sale pays the securities transaction tax
    rates: CostRates
    cash: int
    total: int
    base: int
    investable: int
    market: dict[str, Market] = None  # the market of each code (None: every code is KRX's)
    usd_price: dict[str, Decimal] = None  # dollars a share of each US code
    rate: Decimal = Decimal(0)  # won a dollar (KIS's)
    usd_cash: int = 0  # cents
    us_rates: UsCostRates = UsCostRates()
    missing: list[int] = None  # cents the US buys were short of (filled in by `_mixed_buys`)

    def market_of(self, code: str) -> Market:
        return (self.market or {}).get(code, KRX)

    def is_us(self, code: str) -> bool:
        return self.market_of(code).is_us

    def cents(self, code: str, qty: int) -> int:
        """`qty` shares of a US code in its minor unit (cents), half up."""
        return self.market_of(code).currency.minor(qty * self.usd_price[code])

    def won(self, code: str, qty: int) -> int:
        """`qty` shares in won: KRX at its price, a US code at KIS's rate (half up to the won)."""
        if self.is_us(code):
            return to_krw(self.cents(code, qty), self.rate)
        return qty * self.price[code]

    def sell_cost(self, code: str, qty: int) -> int:
        """Costs of selling `qty` shares, in won (a US sale's commission and fees at the rate; no tax)."""
        if self.is_us(code):
            return to_krw(self.us_rates.sell_cost(self.cents(code, qty), qty), self.rate)
        return self.rates.sell_cost(qty * self.price[code], taxed=self.taxed[code])

    def buy_cost(self, code: str, qty: int) -> int:
        """The fee of buying `qty` shares, in won."""
        if self.is_us(code):
            return to_krw(self.us_rates.buy_cost(self.cents(code, qty)), self.rate)
        return self.rates.buy_cost(qty * self.price[code])

    def usd_sell_cost(self, code: str, qty: int) -> int:
        return self.us_rates.sell_cost(self.cents(code, qty), qty)

    def usd_spend(self, code: str, qty: int) -> int:
        """Cents a US buy of `qty` shares takes: its value and commission."""
        value = self.cents(code, qty)
        return value + self.us_rates.buy_cost(value)

    def sells(self, target: Mapping[str, int]) -> dict[str, int]:
        return {c: self.current[c] - target[c] for c in self.codes if target[c] < self.current[c]}


@dataclass(frozen=True)
class _Wants:
    """Where the model wants the account: full targets, and the targets after bands."""

    weight: dict[str, float]
    full: dict[str, int]
    target: dict[str, int]
    held_in_band: list[str]
    band: dict[str, float]  # the band in force per model stock, a fraction (0: none)


def _where_the_account_is(portfolio: Portfolio, balance: Balance, quotes: Mapping[str, Quote],
                          settings: PlanSettings, options: PlanOptions, tax_free: frozenset[str],
                          us: UsSide | None = None) -> _Account:
    """The account at `quotes`; UnknownStock when a needed code has no positive price."""
    codes = _plan_codes(portfolio, balance, us)
    krx = [c for c in codes if us is None or not is_us_code(c)]
    missing = [c for c in krx if c not in quotes or quotes[c].price <= 0]
    if us is not None:
        missing += [c for c in codes if is_us_code(c) and (c not in us.quotes or us.quotes[c].price <= 0)]
    if missing:
        raise UnknownStock(missing)
    price: dict[str, Any] = {c: quotes[c].price for c in krx}
    kept = [c for c in codes if c not in portfolio.codes and options.keep_others]
    if us is None:
        total, base, investable = account_values(balance, price, kept, settings.cash_buffer)
        return _Account(codes=codes, price=price, current={c: balance.qty(c) for c in codes}, kept=kept,
                        taxed={c: c not in tax_free for c in codes}, rates=settings.rates, cash=balance.cash_d2,
                        total=total, base=base, investable=investable)
    tickers = [c for c in codes if is_us_code(c)]
    rate = us.rate
    if rate <= 0:
        raise PortfolioError([t("usplan.no_rate")], portfolio.source)
    usd_price = {c: us.quotes[c].price for c in tickers}
    price.update({c: Fraction(usd_price[c]) * Fraction(rate) for c in tickers})
    current = {c: balance.qty(c) for c in krx} | {c: us.balance.qty(c) for c in tickers}
    here = _Account(codes=codes, price=price, current=current, kept=kept, taxed={c: c not in tax_free for c in codes},
                    rates=settings.rates, cash=balance.cash_d2, total=0, base=0, investable=0,
                    market={c: (us.markets[c] if c in tickers else KRX) for c in codes}, usd_price=usd_price,
                    rate=rate, usd_cash=us.balance.usd().deposit, us_rates=settings.us_rates, missing=[])
    # The whole account in won: won cash, dollar cash at the rate, every holding at its price (US ones at the rate).
    total = here.cash + to_krw(here.usd_cash, rate) + sum(here.won(c, current[c]) for c in codes if current[c])
    base = total - sum(here.won(c, current[c]) for c in kept)
    investable = max(0, math.floor(base * (1 - exact(settings.cash_buffer))))
    return replace(here, total=total, base=base, investable=investable)


def _where_the_model_wants_it(portfolio: Portfolio, balance: Balance, here: _Account, options: PlanOptions,
                              notes: list[str]) -> _Wants:
    """Full targets (floored shares of the investable value; kept holdings stay), then bands."""
    weight = {t.code: t.weight for t in portfolio.targets}
    band = {t.code: options.band_for(t.band) for t in portfolio.targets}
    full = {c: math.floor(exact(weight[c]) * here.investable / here.price[c]) if c in weight else 0
            for c in here.codes}
    for c in here.kept:
        full[c] = here.current[c]
    notes.extend(_notes(portfolio, balance, here.price, full, here.investable))
    target = dict(full)
    held_in_band = [c for c in weight if full[c] != here.current[c]
                    and inside_band(here.current[c] * here.price[c], here.investable, weight[c], band[c])]
    for c in held_in_band:
        target[c] = here.current[c]
    return _Wants(weight=weight, full=full, target=target, held_in_band=held_in_band, band=band)


def _what_to_trade(here: _Account, wants: _Wants, rates: CostRates, options: PlanOptions,
                   notes: list[str]) -> dict[str, int]:
    """The target quantities the options allow: a sell amount, or buys that fit the cash (or the amount)."""
    codes, current, price = here.codes, here.current, here.price
    if options.sell_only:
        assert options.sell_amount is not None
        sold = _sell_amount(options.sell_amount, codes, here.kept, current, wants.full, wants.target, price,
                            here.sell_cost)
        return {c: current[c] - sold.get(c, 0) for c in codes}
    target = dict(wants.target)
    if options.buy_only:
        target = {c: max(current[c], target[c]) for c in codes}
    _skip_small(target, current, price, options.min_trade, notes)
    if here.market is not None:
        return _mixed_buys(here, target, options, notes)
    wanted = {c: target[c] - current[c] for c in codes if target[c] > current[c]}
    budget = _buy_budget(here, target, options)
    bought = _fit_buys(wanted, price, rates, budget)
    if bought != wanted:
        wanted_value = sum(q * price[c] for c, q in wanted.items())
        bought_value = sum(q * price[c] for c, q in bought.items())
        cut = 100 * (1 - bought_value / wanted_value)
        where = "amount" if options.amount is not None and budget == options.amount else "cash"
        notes.append(t(f"plan_notes.scaled_{where}", cut=cut, wanted=wanted_value, available=max(budget, 0)))
        for c in wanted:
            target[c] = current[c] + bought.get(c, 0)
        _skip_small(target, current, price, options.min_trade, notes)
    return target


def _mixed_buys(here: _Account, target: dict[str, int], options: PlanOptions, notes: list[str]) -> dict[str, int]:
    """Buys across markets: KRX buys from won (as a KRX-only plan), US buys from dollars (cash plus US sells),
    shrunk by largest remainders where dollars are short (the note says the dollars missing); a buy amount caps
    both together, in won."""
    current, price = here.current, here.price
    wanted = {c: target[c] - current[c] for c in here.codes if target[c] > current[c]}
    krx = {c: q for c, q in wanted.items() if not here.is_us(c)}
    us = {c: q for c, q in wanted.items() if here.is_us(c)}
    krw_budget = _buy_budget(here, {c: (target[c] if not here.is_us(c) else current[c]) for c in here.codes}, options,
                             spare=to_krw(here.usd_cash, here.rate))
    bought = _fit_buys(krx, price, here.rates, krw_budget)
    if bought != krx:
        wanted_value = sum(q * price[c] for c, q in krx.items())
        notes.append(t("usplan.won_short", wanted=f"{wanted_value:,}", there=f"{max(krw_budget, 0):,}"))
    usd_budget = here.usd_cash
    if not options.buy_only:
        usd_budget += sum(here.cents(c, q) - here.usd_sell_cost(c, q)
                          for c, q in here.sells(target).items() if here.is_us(c))
    us_bought, missing = fit_us_buys(us, here.usd_spend, usd_budget)
    if missing:
        here.missing.append(missing)
        notes.append(t("usplan.dollars_short", missing=dollars_text(missing), need=dollars_text(usd_budget + missing),
                       there=dollars_text(max(usd_budget, 0))))
    bought.update(us_bought)
    if options.buy_only and options.amount is not None:
        spend = {c: q for c, q in bought.items() if q}
        capped = _fit_buys(spend, price, here.rates, options.amount,
                           spend=lambda c, q: here.won(c, q) + here.buy_cost(c, q))
        if capped != spend:
            notes.append(t("usplan.amount_cap", amount=f"{options.amount:,}"))
        bought.update(capped)
    out = dict(target)
    for c in wanted:
        out[c] = current[c] + bought.get(c, 0)
    _skip_small(out, current, price, options.min_trade, notes)
    return out


def fit_us_buys(wanted: Mapping[str, int], spend: Callable[[str, int], int], budget: int) -> tuple[dict[str, int], int]:
    """US buys that fit `budget` cents, and the cents missing for all of `wanted` (0 when they fit).

    Short of dollars, every buy shrinks in proportion to the dollars there are: floored whole shares, then the
    shares left over go one each to the largest remainders (ties by code) while the budget allows.
    """
    need = sum(spend(c, q) for c, q in wanted.items())
    if need <= budget:
        return dict(wanted), 0
    missing = need - max(budget, 0)
    if budget <= 0:
        return {c: 0 for c in wanted}, missing
    share = Fraction(budget, need)
    ideal = {c: q * share for c, q in wanted.items()}
    got = {c: math.floor(x) for c, x in ideal.items()}
    spent = sum(spend(c, q) for c, q in got.items())
    while spent > budget:  # commissions round up per stock: take back from the largest buy
        c = max((c for c in got if got[c] > 0), key=lambda c: (spend(c, 1), c))
        spent -= spend(c, got[c]) - spend(c, got[c] - 1)
        got[c] -= 1
    for c in sorted(got, key=lambda c: (-(ideal[c] - math.floor(ideal[c])), c)):
        if got[c] < wanted[c]:
            extra = spend(c, got[c] + 1) - spend(c, got[c])
            if spent + extra <= budget:
                got[c] += 1
                spent += extra
    return got, missing


def dollars_text(cents: int) -> str:
    """Cents as dollars with two places and thousands: 123456 -> '$1,234.56'."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}${whole:,}.{part:02d}"


def _buy_budget(here: _Account, target: Mapping[str, int], options: PlanOptions, spare: int = 0) -> int:
    """What buys may spend: cash plus the sells' net proceeds; buy-only, the cash above the buffer (at most
    the amount). OptionsError when the amount is more than the cash."""
    cash = here.cash
    if not options.buy_only:
        sells = here.sells(target)
        return (cash + sum(q * here.price[c] for c, q in sells.items())
                - sum(here.sell_cost(c, q) for c, q in sells.items()))
    reserve = here.base - here.investable
    budget = cash - reserve
    if options.amount is None:
        return budget
    if options.amount > cash + spare:  # `spare`: dollar cash in won, where US buys may spend the amount too
        cash += spare
        spare = cash - reserve
        raise OptionsError(
            Msg("plan_notes.buy_over_cash", amount=options.amount, cash=cash, spare=spare) if spare > 0 else
            Msg("plan_notes.buy_over_buffer", amount=options.amount, cash=cash))
    return min(budget, options.amount)


def _the_plan(portfolio: Portfolio, balance: Balance, quotes: Mapping[str, Quote], settings: PlanSettings,
              now: datetime, plan_id: str, options: PlanOptions, names: Mapping[str, str], here: _Account,
              wants: _Wants, target: Mapping[str, int], notes: list[str], us: UsSide | None = None) -> Plan:
    """The `Plan`: one line per code, its costs, the notes, and how long its prices stay good."""
    codes, current, total = here.codes, here.current, here.total
    if us is not None:
        notes.insert(0, t("usplan.exchanges", list=", ".join(
            f"{c} {us.markets[c].code} ({t(_FOUND_BY.get((us.found or {}).get(c, ''), 'usplan.from_lookup'))})"
            for c in codes if here.is_us(c))))
    if wants.held_in_band:
        notes.append(t("plan_notes.in_band", codes=", ".join(c for c in wants.held_in_band if target[c] == current[c])))
    if here.kept:
        notes.append(t("plan_notes.kept", codes=", ".join(here.kept)))
    krx = [c for c in codes if not here.is_us(c)]
    sell_costs = sum(here.sell_cost(c, q) for c, q in here.sells(target).items() if not here.is_us(c))
    buy_costs = sum(here.buy_cost(c, target[c] - current[c]) for c in krx if target[c] > current[c])
    usd_costs = sum(here.usd_sell_cost(c, current[c] - target[c]) if target[c] < current[c] else
                    here.us_rates.buy_cost(here.cents(c, target[c] - current[c])) for c in codes
                    if here.is_us(c) and target[c] != current[c])

    lines = _lines(portfolio, balance, quotes, names, here, wants, target, us)
    lines.sort(key=_line_order)
    if not any(line.order_qty for line in lines):
        notes.append(t("plan_notes.on_target"))
    dropped = tuple(f"{line.code} {line.name}".strip() for line in lines
                    if line.code not in wants.weight and line.order_qty < 0)
    stamps = [quotes[c].at for c in codes if c in quotes and not here.is_us(c)]
    stamps += [us.quotes[c].at for c in codes if here.is_us(c)] if us is not None else []
    priced_at = min((at for at in stamps if at is not None), default=now)
    return Plan(
        id=plan_id,
        lines=tuple(lines),
        cash=here.cash,
        total_value=total,
        investable=here.investable,
        est_costs=sell_costs + buy_costs,
        priced_at=priced_at,
        expires_at=priced_at + settings.max_price_age,
        notes=tuple(notes),
        options=options.describe() if not options.sell_only else replace(options, min_trade=0).describe(),
        dropped=dropped,
        usd_cash=here.usd_cash,
        rate=here.rate if us is not None else None,
        usd_costs=usd_costs,
        usd_missing=sum(here.missing or ()),
    )


def _lines(portfolio: Portfolio, balance: Balance, quotes: Mapping[str, Quote], names: Mapping[str, str],
           here: _Account, wants: _Wants, target: Mapping[str, int], us: UsSide | None) -> list[PlanLine]:
    """One line per code: its price in its own currency, quantities, weights of the whole account in won."""
    codes, current, price, total = here.codes, here.current, here.price, here.total

    def weight(c: str, qty: int) -> float:
        return float(Fraction(here.won(c, qty), total)) if total > 0 else 0.0

    return [
        PlanLine(
            code=c,
            name=names.get(c) or _name(c, quotes, balance, portfolio, us),
            price=here.usd_price[c] if here.is_us(c) else price[c],
            current_qty=current[c],
            target_qty=target[c],
            current_weight=current[c] * price[c] / total if total > 0 and not here.is_us(c) else weight(c, current[c]),
            target_weight=target[c] * price[c] / total if total > 0 and not here.is_us(c) else weight(c, target[c]),
            tax_free=not here.taxed[c] or here.is_us(c),
            model_weight=(wants.full[c] * price[c] / total if not here.is_us(c) else weight(c, wants.full[c]))
            if total > 0 and c in wants.weight else None,
            band=wants.band.get(c, 0.0),
            in_band=c in wants.held_in_band and target[c] == current[c],
            **({"market": here.market_of(c).code, "currency": here.market_of(c).currency.code, "rate": here.rate}
               if here.is_us(c) else {}),
        )
        for c in codes
    ]


def _skip_small(target: dict[str, int], current: Mapping[str, int], price: Mapping[str, int], min_trade: int,
                notes: list[str]) -> None:
    """Trades worth less than `min_trade` won are not made (their target becomes the holding)."""
    if min_trade <= 0:
        return
    small = [c for c in target if target[c] != current[c] and abs(target[c] - current[c]) * price[c] < min_trade]
    for c in small:
        target[c] = current[c]
    if small:
        notes.append(t("plan_notes.small_skipped", min_trade=min_trade, codes=", ".join(small)))


def _sell_amount(amount: int, codes: list[str], kept: list[str], current: Mapping[str, int],
                 full: Mapping[str, int], target: Mapping[str, int], price: Mapping[str, int],
                 sell_cost: Any) -> dict[str, int]:
    """Shares to sell per code to raise at least `amount` won after costs: the most overweight first
    toward target (stocks inside their band wait), then pro rata over what is left. No buys.
    """
    sellable = [c for c in codes if c not in kept and current[c] > 0]

    def net(c: str, qty: int) -> int:
        return qty * price[c] - sell_cost(c, qty) if qty > 0 else 0

    most = math.floor(sum(net(c, current[c]) for c in sellable))
    if amount > most:
        raise OptionsError(Msg("plan_notes.sell_over_kept" if kept else "plan_notes.sell_over", amount=amount,
                               most=most))
    sold: dict[str, int] = {}
    raised = 0
    over = sorted((c for c in sellable if target[c] < current[c]),
                  key=lambda c: (-(current[c] - full[c]) * price[c], c))
    for c in over:
        if raised >= amount:
            break
        excess = current[c] - target[c]
        qty = _shares_for(amount - raised, excess, lambda q, c=c: net(c, q))
        sold[c] = qty
        raised += net(c, qty)
    while raised < amount:
        left = {c: current[c] - sold.get(c, 0) for c in sellable if current[c] - sold.get(c, 0) > 0}
        worth = sum(net(c, q) for c, q in left.items())
        share = Fraction(amount - raised, worth)
        for c, q in sorted(left.items(), key=lambda item: (-item[1] * price[item[0]], item[0])):
            extra = min(q, max(1, math.ceil(q * share)))
            before = net(c, sold.get(c, 0))
            sold[c] = sold.get(c, 0) + extra
            raised += net(c, sold[c]) - before
            if raised >= amount:
                break
    return sold


def _shares_for(need: int, most: int, net: Any) -> int:
    """The fewest shares (at most `most`) whose net proceeds reach `need`; `most` when none do."""
    if net(most) < need:
        return most
    low, high = 0, most  # net is increasing in shares: bisect for the first that reaches `need`
    while low < high:
        mid = (low + high) // 2
        if net(mid) >= need:
            high = mid
        else:
            low = mid + 1
    return low


def _fit_buys(wanted: dict[str, int], price: Mapping[str, int], rates: CostRates, budget: int,
              spend: Callable[[str, int], int] | None = None) -> dict[str, int]:
    """Buy quantities whose value and fees fit `budget`: all of `wanted` when they fit, else scaled.

    Scaling cuts every buy by the same share (floored), then hands single shares back, least-served
    stock first, while the budget allows. `spend(code, qty)` is what a buy takes (default: value and fee in won).
    """
    def won_spend(code: str, qty: int) -> int:
        value = qty * price[code]
        return value + rates.buy_cost(value)

    spend = spend or won_spend

    need = sum(spend(c, q) for c, q in wanted.items())
    if need <= budget:
        return dict(wanted)
    if budget <= 0:
        return {c: 0 for c in wanted}
    share = Fraction(budget, need)
    got = {c: math.floor(q * share) for c, q in wanted.items()}
    spent = sum(spend(c, q) for c, q in got.items())
    # Fees are rounded up per stock, so the floor can still be a few won over: take back shares.
    while spent > budget:
        c = max((c for c in got if got[c] > 0), key=lambda c: price[c])
        spent -= spend(c, got[c]) - spend(c, got[c] - 1)
        got[c] -= 1
    while True:
        for c in sorted(got, key=lambda c: (Fraction(got[c], wanted[c]), c)):
            if got[c] < wanted[c]:
                extra = spend(c, got[c] + 1) - spend(c, got[c])
                if spent + extra <= budget:
                    got[c] += 1
                    spent += extra
                    break
        else:
            return got


def _notes(portfolio: Portfolio, balance: Balance, price: Mapping[str, int], target: Mapping[str, int],
           investable: int) -> list[str]:
    notes = []
    weight_sum = math.fsum(t.weight for t in portfolio.targets)
    if weight_sum < 1 - _WEIGHT_TOLERANCE:
        notes.append(i18n.t("plan_notes.weights_short", sum=weight_sum * 100, rest=(1 - weight_sum) * 100))
    for t in portfolio.targets:
        if t.weight > 0 and target[t.code] == 0:
            value = math.floor(exact(t.weight) * investable)
            notes.append(i18n.t("plan_notes.under_one_share", code=t.code, pct=t.weight * 100, value=value,
                                price=math.ceil(price[t.code])))  # a US price in won is a Fraction
    for h in balance.holdings:
        to_sell = h.qty - target.get(h.code, 0)
        if to_sell > 0 and h.orderable_qty < to_sell:
            notes.append(i18n.t("plan_notes.partly_sellable", code=h.code, can=h.orderable_qty, want=to_sell))
    return notes


def _name(code: str, quotes: Mapping[str, Quote], balance: Balance, portfolio: Portfolio,
          us: UsSide | None = None) -> str:
    """The broker's name first (quote, then balance), else the file's name column, else ''."""
    if us is not None and code in us.quotes:
        held = next((h.name for h in us.balance.holdings if h.symbol == code and h.name), "")
        name = us.quotes[code].name or held
        if name:
            return name
    elif quotes[code].name:
        return quotes[code].name
    for h in balance.holdings:
        if h.code == code and h.name:
            return h.name
    for t in portfolio.targets:
        if t.code == code:
            return t.name
    return ""


def _line_order(line: PlanLine) -> tuple[int, int, str]:
    """Sells first (they free the cash buys need), then buys, then unchanged; bigger trades first."""
    group = 0 if line.order_qty < 0 else 1 if line.order_qty > 0 else 2
    return group, -line.order_value, line.code
