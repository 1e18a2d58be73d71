"""The doctor's own test orders: a record of each it placed, and the stop signals that make it withdraw one.

`kisbot doctor --orders` rests one 1-share limit buy. The record (`<data dir>/doctor-orders/`, per environment
and server, like the listing lag) holds every test order the doctor sent and has not seen closed: written
before the order leaves, completed with KIS's order number, dropped once today's orders show it closed. So a
later run can say, by order number, that an earlier test order still rests; that is the only reliable match
(a 1-share limit buy at that price may be the owner's own), and an order whose answer was lost is matched by
code, 1 share, the price and the time, and named as such.

SIGINT, SIGTERM and SIGHUP (Ctrl-C, `timeout`, systemd, a closed ssh session) are noted, not fatal, while the
doctor runs (`StopSignals`); it stops at its next safe point, never in the middle of a request to KIS.
"""
from __future__ import annotations

import json
import logging
import signal
import threading
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from kis.config import KisConfig
from kis.files import server_name, write_private
from kis.krx import KST
from kis.listing_lag import settle_horizon
from kis.models import OrderSide, OrderStatus, OrderType
from kis.orders import matching_orders, same_order_no, since_stamp

log = logging.getLogger(__name__)

STOP_SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s)
LISTED_WITHIN = 120.0  # seconds an order may stay unlisted before the record of it is dropped (or the lag, if longer)


class Stopped(BaseException):
    """A stop signal arrived; raised at the doctor's next safe point (a wait, or between two checks)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class StopSignals:
    """While entered in the main thread, SIGINT, SIGTERM and SIGHUP are noted; `check()` raises `Stopped`.

    After the first stop (`stopping`), further signals are noted but `check()` no longer raises: the
    doctor is withdrawing its order, and a second Ctrl-C must not leave it resting.
    """

    def __init__(self) -> None:
        self.signum = 0
        self.stopping = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._old[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._old.items():
            signal.signal(signum, handler)
        self._old.clear()

    def _note(self, signum: int, frame) -> None:
        self.signum = self.signum or signum

    def check(self) -> None:
        """Raise `Stopped` if a stop signal came (once; not while stopping)."""
        if self.signum and not self.stopping:
            self.stopping = True
            raise Stopped(self.signum)

    def sleeping(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        """`sleep`, checked before and after: a doctor's wait is where a stop is taken."""
        def checked(seconds: float) -> None:
            self.check()
            sleep(seconds)
            self.check()
        return checked


@dataclass(frozen=True)
class TestOrder:
    """One test order the doctor sent: what it was, when, and KIS's number once known ('' if its answer was lost)."""

    code: str
    price: int
    placed_at: str  # ISO datetime, KST
    order_no: str = ""
    org_no: str = ""
    qty: int = 1
    market: str = ""  # "" for KRX (price in won); NASD, NYSE or AMEX for a US test order (price in cents)
    venue: str = ""  # EXCG_ID_DVSN_CD of a KRX-listed one: "" or KRX, SOR (bot/doctor_venues.py)

    @property
    def placed(self) -> datetime:
        return datetime.fromisoformat(self.placed_at)


def record_path(config: KisConfig) -> Path:
    return Path(config.data_dir) / "doctor-orders" / f"{config.env.value}-{server_name(config.base_url)}.json"


def load_records(config: KisConfig) -> list[TestOrder]:
    """The test orders recorded for this environment and server (none when the file is missing or unreadable)."""
    path = record_path(config)
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [TestOrder(str(r["code"]), int(r["price"]), str(r["placed_at"]), str(r.get("order_no", "")),
                          str(r.get("org_no", "")), int(r.get("qty", 1)), str(r.get("market", "")),
                          str(r.get("venue", ""))) for r in rows]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("the record of doctor test orders in %s is unreadable; it is ignored", path)
        return []


def _save(config: KisConfig, orders: list[TestOrder]) -> None:
    write_private(record_path(config), json.dumps([asdict(o) for o in orders], ensure_ascii=False))


def remember(config: KisConfig, order: TestOrder) -> None:
    """Add `order`, or complete the entry sent at the same moment (its number came)."""
    kept = [o for o in load_records(config) if o.placed_at != order.placed_at]
    _save(config, kept + [order])


def forget(config: KisConfig, order: TestOrder) -> None:
    """Drop `order` from the record: today's orders showed it closed (or it can no longer rest)."""
    kept = [o for o in load_records(config) if o.placed_at != order.placed_at]
    _save(config, kept)


def find_row(order: TestOrder, rows: list[OrderStatus]) -> OrderStatus | None:
    """`order`'s row in today's orders: by its number, or (answer lost) the one 1-share limit buy at its price sent then."""
    if order.order_no:
        mine = same_order_no(order.order_no)
        return next((r for r in rows if same_order_no(r.order_no) == mine and not r.orig_order_no.strip("0")), None)
    found = matching_orders(rows, order.code, OrderSide.BUY, order.qty, OrderType.LIMIT, order.price,
                            since=since_stamp(order.placed))
    exact = [r for r in found if r.order_type is OrderType.LIMIT and r.price == order.price]
    return exact[0] if len(exact) == 1 else None


@dataclass(frozen=True)
class Leftover:
    """An earlier test order today's orders still show resting (`row`), or that is not listed yet (`row` None)."""

    order: TestOrder
    row: OrderStatus | None

    @property
    def order_no(self) -> str:
        return self.order.order_no or (self.row.order_no if self.row else "")


def earlier_orders(config: KisConfig, orders_today: Callable[[str], list[OrderStatus]], now: datetime,
                   us_orders_today: Callable[[], list] | None = None) -> list[Leftover]:
    """Look each recorded test order up in today's orders (a US one in today's US orders, by its number); forget
    those closed or gone, return those that may rest."""
    leftovers = []
    horizon = timedelta(seconds=settle_horizon(LISTED_WITHIN, config))
    for order in load_records(config):
        if order.market:
            if us_orders_today is None:
                continue
            if now - order.placed > timedelta(hours=20):
                forget(config, order)  # a US day order of an earlier session: KIS ended it at the close
                continue
            mine = order.order_no.lstrip("0")
            row = next((r for r in us_orders_today() if mine and r.order_no.lstrip("0") == mine
                        and r.kind == "new"), None)
        elif order.placed.astimezone(KST).date() != now.astimezone(KST).date():
            forget(config, order)  # a day order of an earlier day: KIS ended it at the close
            continue
        else:
            row = find_row(order, orders_today(order.code))
        if row is not None and row.closed:
            forget(config, order)
        elif row is not None:
            leftovers.append(Leftover(replace(order, order_no=order.order_no or row.order_no), row))
        elif now - order.placed <= horizon:
            leftovers.append(Leftover(order, None))  # KIS lists orders late: it may still appear
        else:
            forget(config, order)
    return leftovers
