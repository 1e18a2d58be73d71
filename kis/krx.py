"""Korea's exchange in one place: its time zone (KST) and the KRX regular sessions (exchange_calendars' XKRX)."""
from __future__ import annotations

import logging
import threading
import warnings
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

log = logging.getLogger(__name__)

# Korea keeps no daylight saving time, so a fixed offset is exact and needs no tz database.
KST = timezone(timedelta(hours=9), "KST")
REGULAR_SESSION = (time(9, 0), time(15, 30))  # KRX 정규장, KST


_build_lock = threading.Lock()
_warned: set[date] = set()  # days already logged as beyond the calendar


def xkrx():
    """exchange_calendars' KRX calendar (holidays, late opens, early closes); built once per process."""
    with _build_lock:  # seconds to build: a second thread waits for the first instead of building again
        return _build_xkrx()


@lru_cache(maxsize=1)
def _build_xkrx():
    import exchange_calendars as xc  # slow to import and build: only when a session is asked for

    with warnings.catch_warnings():  # exchange_calendars trips a pandas 3 deprecation while building
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        return xc.get_calendar("XKRX")


def warm_up() -> None:
    """Build the calendar in the background, so the first session check does not wait seconds for it."""
    threading.Thread(target=xkrx, name="krx-calendar", daemon=True).start()


def session_hours(day: date) -> tuple[datetime, datetime] | None:
    """The KRX regular session on `day` as (open, close) in KST, or None when KRX does not trade that day.

    A day outside the calendar's reach falls back to weekdays 09:00-15:30 (and says so in the log).
    """
    import pandas as pd

    cal = xkrx()
    stamp = pd.Timestamp(day)
    if cal.first_session <= stamp <= cal.last_session:
        if not cal.is_session(stamp):
            return None
        return (cal.session_open(stamp).tz_convert(KST).to_pydatetime(),
                cal.session_close(stamp).tz_convert(KST).to_pydatetime())
    if day not in _warned:
        _warned.add(day)
        log.warning("the KRX calendar does not reach %s; assuming weekdays 09:00-15:30 (update exchange_calendars)",
                    day)
    if day.weekday() >= 5:
        return None
    return (datetime.combine(day, REGULAR_SESSION[0], KST), datetime.combine(day, REGULAR_SESSION[1], KST))
