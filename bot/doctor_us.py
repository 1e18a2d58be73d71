"""`kisbot doctor`'s overseas checks: a US quote, buying power, the US balance and KIS's rate; with `--orders` one
resting 1-share US limit buy far below the price, timed until today's US orders list it, then cancelled.

The US test order goes through the same record as the KRX one (bot/doctor_orders.py: written before it leaves,
completed with KIS's number, dropped once today's US orders show it closed) and is withdrawn on a stop signal.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from kis.errors import KisError, KisTransportError, NotSent, OrderUncertain
from kis.krx import KST
from kis.markets import market_named
from kis.markets.us import us_session
from kis.models import OrderSide, UsOrderAck
from kis.overseas import us_price_text
from bot.cli_common import failure_sentence
from bot.doctor_orders import TestOrder, forget, remember
from rebalance.i18n import t

US_SYMBOL = "AAPL"  # listed on Nasdaq for KIS real and mock alike
US_DISCOUNT = Decimal("0.2")  # the test buy rests 20 % below the price
POLL_GAP = 0.5


@dataclass
class UsTest:
    """The doctor's US test order while it lives: KIS's ack, its record, whether its cancel left and was confirmed."""

    ack: UsOrderAck | None = None
    record: TestOrder | None = None
    cancel_sent: bool = False
    cancel_confirmed: bool = False


@dataclass(frozen=True)
class UsFinding:
    """What one US check found; bot/cli_doctor.py turns it into its Finding (status "ok", "warn" or "fail")."""

    name: str
    status: str
    text: str
    fields: dict


def _finding(name: str, status: str, text: str, fields: dict | None = None) -> UsFinding:
    return UsFinding(name, status.lower(), text, fields or {})


def check_overseas(doc) -> Any:
    """A US quote, what a buy of one share can take (psamount), the US balance and the rate KIS applies."""
    client = doc.client
    quote = client.overseas_price(US_SYMBOL)
    doc.us_quote = quote
    power = client.us_psamount(US_SYMBOL, quote.price)
    balance = client.us_balance()
    usd = balance.usd()
    at = balance.rate_at.astimezone(KST).strftime("%H:%M KST") if balance.rate_at else "?"
    fields = {"overseas": {"symbol": quote.symbol, "market": quote.market, "price": str(quote.price),
                           "psamount_max_qty": power.max_qty, "psamount_integrated_qty": power.integrated_qty,
                           "psamount_orderable_cents": power.orderable, "usd_cash_cents": usd.deposit,
                           "us_holdings": len(balance.holdings), "rate": str(balance.rate), "rate_at": at}}
    text = t("ussim.doctor_overseas", symbol=quote.symbol, market=quote.market, price=us_price_text(quote.price),
             qty=power.max_qty, integrated=power.integrated_qty, cash=f"{usd.deposit / 100:,.2f}",
             holdings=len(balance.holdings), rate=f"{balance.rate:,.2f}", at=at)
    status = "OK" if balance.rate > 0 else "WARN"
    if balance.rate <= 0:
        text += " " + t("ussim.doctor_no_rate")
    return _finding("overseas", status, text, fields)


def resting_us_price(price: Decimal) -> Decimal:
    """20 % below `price`, on the US grid, rounded down (a buy never pays more than asked)."""
    return market_named("NASD").round_price(price * (1 - US_DISCOUNT), OrderSide.BUY)


def _shut(doc) -> str:
    """'' while the US regular session is open now; else the sentence that says it is shut."""
    now = doc.client._wall()
    from kis.markets.us import NEW_YORK

    hours = us_session(now.astimezone(NEW_YORK).date())
    if hours is not None and hours[0] <= now < hours[1]:
        return ""
    return t("ussim.doctor_us_shut")


def _look(doc, order_no: str, done, wait: float) -> tuple[Any, float]:
    """Poll today's US orders until `order_no`'s row satisfies `done`; (row or None, seconds waited)."""
    start = doc.monotonic()
    while True:
        begun = doc.monotonic()
        rows = [o for o in doc.client.us_orders_today() if o.order_no.lstrip("0") == order_no.lstrip("0")]
        if rows and done(rows[0]):
            return rows[0], doc.monotonic() - start
        if doc.monotonic() - start >= wait:
            return None, doc.monotonic() - start
        doc.sleep(max(0.0, POLL_GAP - (doc.monotonic() - begun)))


def _cancel(doc, test: UsTest) -> str:
    """Cancel the US test order once (never again after it left); '' when KIS took it, else why not."""
    test.cancel_sent = True
    try:
        doc.client.us_cancel(test.ack.order_no, test.ack.symbol, 1)
    except (KisError, KisTransportError) as exc:
        return failure_sentence(exc)
    return ""


def check_us_test_order(doc) -> Any:
    """One 1-share US limit buy 20 % below the price: how late today's US orders list it, then its cancel."""
    quote = getattr(doc, "us_quote", None) or doc.client.overseas_price(US_SYMBOL)
    price = resting_us_price(quote.price)
    test = doc.us_test = UsTest()
    fields: dict[str, Any] = {"us_test_order": {"symbol": quote.symbol, "market": quote.market,
                                                "price": us_price_text(price), "qty": 1},
                              "us_listing_lag_s": None, "us_cancelled": False}
    what = dict(symbol=quote.symbol, price=us_price_text(price))
    test.record = TestOrder(quote.symbol, int(price * 100), datetime.now(KST).isoformat(timespec="seconds"),
                            market=quote.market)
    remember(doc.config, test.record)  # before it leaves
    try:
        ack = doc.client.us_order(quote.symbol, OrderSide.BUY, 1, price)
    except KisError as exc:
        forget(doc.config, test.record)
        test.record = None
        shut = _shut(doc)
        return _finding("US test order", "WARN" if shut else "FAIL",
                        t("ussim.doctor_us_refused", reason=f"{exc.msg1 or exc} ({exc.msg_cd or '-'})", **what)
                        + (" " + shut if shut else ""), fields)
    except NotSent as exc:
        forget(doc.config, test.record)
        test.record = None
        return _finding("US test order", "FAIL", f"{exc}. " + t("ussim.doctor_nothing_placed"), fields)
    except OrderUncertain as exc:
        return _finding("US test order", "FAIL", t("ussim.doctor_us_lost", reason=str(exc), **what), fields)
    answered = doc.monotonic()
    test.ack = ack
    test.record = TestOrder(quote.symbol, int(price * 100), test.record.placed_at, ack.order_no, ack.org_no,
                            market=quote.market)
    remember(doc.config, test.record)
    fields["us_test_order"]["order_no"] = ack.order_no
    notes = [t("ussim.doctor_us_placed", order_no=ack.order_no, **what)]
    status = "OK"
    try:
        row, _ = _look(doc, ack.order_no, lambda r: True, doc.wait_seconds)
        lag = doc.monotonic() - answered
    except (KisError, KisTransportError) as exc:
        row, lag, status = None, None, "FAIL"
        notes.append(failure_sentence(exc) + ".")
    if row is not None:
        fields["us_listing_lag_s"] = round(lag, 2)
        notes.append(t("ussim.doctor_us_listed", seconds=f"{lag:.1f}"))
    elif lag is not None:
        status = "WARN"
        notes.append(t("ussim.doctor_us_unlisted", seconds=f"{lag:.0f}"))
    failure = _cancel(doc, test)
    if failure:
        return _finding("US test order", "FAIL", " ".join(notes) + " "
                        + t("ussim.doctor_us_cancel_failed", reason=failure, order_no=ack.order_no), fields)
    started = doc.monotonic()
    try:
        row, _ = _look(doc, ack.order_no, lambda r: r.closed, doc.wait_seconds)
    except (KisError, KisTransportError) as exc:
        row = None
        notes.append(failure_sentence(exc) + ".")
    seconds = doc.monotonic() - started
    if row is None:
        return _finding("US test order", "FAIL", " ".join(notes) + " "
                        + t("ussim.doctor_us_unconfirmed", seconds=f"{seconds:.0f}", order_no=ack.order_no), fields)
    fields["us_cancelled"] = test.cancel_confirmed = True
    forget(doc.config, test.record)
    notes.append(t("ussim.doctor_us_cancelled", seconds=f"{seconds:.1f}"))
    return _finding("US test order", status, " ".join(notes), fields)


def withdraw_us(doc, signal_name: str) -> Any:
    """After a stop signal: cancel a resting US test order (unless its cancel left) and say what became of it;
    None when no US test order was sent."""
    test: UsTest | None = getattr(doc, "us_test", None)
    if test is None or (test.ack is None and test.record is None):
        return None
    if test.ack is None:  # sent, no answer: it may rest; its record stays for the next run
        return _finding("stopped (US)", "FAIL", t("ussim.doctor_us_stopped_unknown", signal=signal_name,
                                                  symbol=test.record.code), {})
    what = dict(signal=signal_name, symbol=test.ack.symbol, price=us_price_text(test.ack.price),
                order_no=test.ack.order_no)
    if test.cancel_confirmed:
        return _finding("stopped (US)", "WARN", t("ussim.doctor_us_stopped_cancelled", **what), {})
    failure = "" if test.cancel_sent else _cancel(doc, test)
    if not failure:
        try:
            row, _ = _look(doc, test.ack.order_no, lambda r: r.closed, min(doc.wait_seconds, 20.0))
        except (KisError, KisTransportError) as exc:
            row, failure = None, failure_sentence(exc)
        if row is not None:
            test.cancel_confirmed = True
            if test.record is not None:
                forget(doc.config, test.record)
            return _finding("stopped (US)", "WARN", t("ussim.doctor_us_stopped_cancelled", **what), {})
    return _finding("stopped (US)", "FAIL", t("ussim.doctor_us_stopped_resting", **what), {})
