"""Exchange calendars other than KRX's (which kis/krx.py keeps): built once per process, with a weekday fallback.

exchange_calendars names them (`XNYS`: the New York Stock Exchange, whose holidays and 13:00 early closes
Nasdaq and NYSE American keep too).
"""
from __future__ import annotations

import logging
import threading
import warnings
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

_build_lock = threading.Lock()
_warned: set[tuple[str, date]] = set()


def calendar(name: str):
    """exchange_calendars' calendar `name` (e.g. "XNYS"), built once per process."""
    with _build_lock:  # seconds to build: a second thread waits for the first instead of building again
        return _build(name)


@lru_cache(maxsize=8)
def _build(name: str):
    import exchange_calendars as xc  # slow to import and build: only when a session is asked for

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        return xc.get_calendar(name)


def session_hours(name: str, day: date, tz: ZoneInfo, regular: tuple[time, time]) -> tuple[datetime, datetime] | None:
    """The regular session of calendar `name` on the local `day` as (open, close) in `tz`; None on a closed day.

    A day outside the calendar's reach falls back to weekdays at `regular` hours (and says so in the log).
    """
    import pandas as pd

    cal = calendar(name)
    stamp = pd.Timestamp(day)
    if cal.first_session <= stamp <= cal.last_session:
        if not cal.is_session(stamp):
            return None
        return (cal.session_open(stamp).tz_convert(tz).to_pydatetime(),
                cal.session_close(stamp).tz_convert(tz).to_pydatetime())
    if (name, day) not in _warned:
        _warned.add((name, day))
        log.warning("the %s calendar does not reach %s; assuming weekdays %s-%s (update exchange_calendars)",
                    name, day, regular[0], regular[1])
    if day.weekday() >= 5:
        return None
    return datetime.combine(day, regular[0], tz), datetime.combine(day, regular[1], tz)
