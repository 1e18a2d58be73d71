"""`kisbot doctor --orders`' venue checks: does this account take a SOR order, and KRX's after-market an order?

Each runs only when its setting asks for it (KISBOT_SOR for SOR, KISBOT_AFTER_WORK for the after-market), so the
doctor places no order the owner did not opt into, and only in the hours the venue trades. Each rests one 1-share
limit buy 20 % below the price (as the test order does), cancels it, and records what it found in the data dir
(rebalance/venues.py `VenueChecks`), which keeps SOR and `/confirm after` off until it says they work:
- SOR: on KIS mock it is recorded as failed without an order (KIS mock routes only KRX, as reported); elsewhere
  the stock must be on NXT's list today (CTPF1002R), and KRX's session or one of NXT's must be trading.
- KRX after-market (16:00-20:00): a KRX limit order (ORD_DVSN 00; KIS's own codes for that market are unverified).
An order whose answer was lost records nothing: it is looked for no further here (the test-order record in the data
dir names it to the next run, as for the doctor's other test orders).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from bot.cli_common import failure_sentence
from bot.doctor_orders import TestOrder, forget, remember
from kis.errors import KisError, KisTransportError, NotSent, OrderUncertain
from kis.krx import KST, session_hours
from kis.models import Env, OrderSide, OrderType
from kis.venues import KRX_AFTER, Venue, entry_from, nxt_session
from bot.venues import venue_checks
from rebalance.i18n import t
from rebalance.venues import AFTER_CHECK, SOR_CHECK, VenueChecks, doctor_check

ON = ("1", "true", "yes", "on")


def wanted(doc: Any, name: str) -> bool:
    setting = "KISBOT_SOR" if name == SOR_CHECK else "KISBOT_AFTER_WORK"
    return str(doc.source.get(setting, "") or "").strip().lower() in ON


def now_of(doc: Any) -> datetime:
    """The doctor's now in KST: the client's wall clock (the simulator's in tests), else the real one."""
    wall = getattr(doc.client, "_wall", None)
    return (wall() if callable(wall) else datetime.now(KST)).astimezone(KST)


def _krx_regular(now: datetime) -> bool:
    hours = session_hours(now.date())
    return hours is not None and hours[0] <= now < hours[1]


def _krx_after(now: datetime) -> bool:
    return session_hours(now.date()) is not None and KRX_AFTER.holds(now)


def check_sor(doc: Any, *, resting_price: Callable, confirm_cancel: Callable) -> tuple[str, str, str, dict] | None:
    """(status, name, text, fields) of the SOR check, or None when KISBOT_SOR is off (nothing to check)."""
    if not wanted(doc, SOR_CHECK):
        return None
    checks = venue_checks(doc.config)
    fields: dict[str, Any] = {"venue_check": SOR_CHECK}
    code = doc.code
    if doc.config.env is Env.MOCK:
        said = "KIS mock routes only KRX"
        checks.record(doctor_check(SOR_CHECK, False, said, now=lambda: now_of(doc)))
        return "warn", "SOR", t("nxt.doctor_sor_refused", code=code, why=said), {**fields, "ok": False}
    now = now_of(doc)
    if nxt_session(now) is None and not _krx_regular(now):
        return "warn", "SOR", t("nxt.doctor_sor_shut"), fields
    entry = entry_from(doc.client.stock_info_output(code) or {}, now.date().isoformat())
    if not entry.listed or entry.etp:
        return "warn", "SOR", t("nxt.doctor_sor_no_stock", code=code), fields
    return _try(doc, checks, SOR_CHECK, Venue.SOR, "SOR", resting_price, confirm_cancel, fields)


def check_after_market(doc: Any, *, resting_price: Callable, confirm_cancel: Callable) -> tuple | None:
    """(status, name, text, fields) of KRX's after-market check, or None when KISBOT_AFTER_WORK is off."""
    if not wanted(doc, AFTER_CHECK):
        return None
    fields: dict[str, Any] = {"venue_check": AFTER_CHECK}
    if not _krx_after(now_of(doc)):
        return "warn", "KRX after-market", t("nxt.doctor_after_shut"), fields
    return _try(doc, venue_checks(doc.config), AFTER_CHECK, Venue.KRX, "KRX after-market", resting_price,
                confirm_cancel, fields)


def _try(doc: Any, checks: VenueChecks, name: str, venue: Venue, label: str, resting_price: Callable,
         confirm_cancel: Callable, fields: dict) -> tuple:
    """One resting 1-share limit buy to `venue`, recorded before it leaves; its cancel; what KIS said, kept."""
    quote = doc.client.price(doc.code)
    price = resting_price(quote)
    at = now_of(doc)
    stamp = dict(code=quote.code, at=f"{at:%H:%M}")
    record = TestOrder(quote.code, price, at.isoformat(timespec="seconds"), venue=venue.value)
    remember(doc.config, record)
    # While it lives it is the doctor's test order: a stop signal withdraws it (bot/cli_doctor.py `withdraw`).
    doc.record, doc.test_order, doc.cancel_sent, doc.cancel_confirmed = record, None, False, False
    try:
        ack = doc.client.order(quote.code, OrderSide.BUY, 1, OrderType.LIMIT, price, venue=venue)
    except KisError as exc:
        doc.record = None
        forget(doc.config, record)
        said = " ".join(x for x in (exc.msg_cd, exc.msg1 or str(exc)) if x)
        checks.record(doctor_check(name, False, said, now=lambda: at))
        key = "nxt.doctor_sor_refused" if name == SOR_CHECK else "nxt.doctor_after_refused"
        return "fail", label, t(key, why=said, **stamp), {**fields, "ok": False, "said": said}
    except NotSent as exc:
        doc.record = None
        forget(doc.config, record)
        return "fail", label, f"{label}: {exc}", fields
    except OrderUncertain:
        return "fail", label, t("nxt.doctor_uncertain", what=label), fields
    doc.record = TestOrder(quote.code, price, record.placed_at, ack.order_no, ack.org_no, venue=venue.value)
    doc.test_order = ack
    remember(doc.config, doc.record)
    checks.record(doctor_check(name, True, now=lambda: at))
    fields.update(ok=True, order_no=ack.order_no)
    key = "nxt.doctor_sor_ok" if name == SOR_CHECK else "nxt.doctor_after_ok"
    ok_text = t(key, order_no=ack.order_no, **stamp)
    doc.cancel_sent = True  # never sent twice, answered or not
    try:
        doc.client.cancel(ack.order_no, ack.org_no, 0, original=ack)
    except (KisError, KisTransportError) as exc:
        return "fail", label, t("nxt.doctor_cancel_failed", what=label, order_no=ack.order_no,
                                why=failure_sentence(exc)), fields
    try:
        row, _ = confirm_cancel(doc, ack)
    except (KisError, KisTransportError):
        row = None
    if row is not None:
        doc.cancel_confirmed = True
        forget(doc.config, record)
    else:
        ok_text += " " + t("doctor_lines.cancel_unconfirmed", seconds=doc.wait_seconds, keys="-",
                           order=ack.order_no)
    return "ok" if row is not None else "warn", label, ok_text, fields
