"""Test doubles and model files for tests, benchmarks and the examples: nothing in kisbot imports this."""
from __future__ import annotations

import io
import threading
from datetime import datetime, timedelta

from openpyxl import Workbook

from kis.krx import KST

Sheet = tuple[str, list[list[object]], str]  # title, rows (the first usually the header), "visible"/"hidden"


def workbook(*sheets: Sheet, active: int = 0, cells: dict[str, object] | None = None) -> bytes:
    """An .xlsx of `sheets` that opens on sheet number `active`; `cells` ({"A1": value}) go on the first."""
    book = Workbook()
    book.remove(book.active)
    for title, rows, state in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        sheet.sheet_state = state
    for address, value in (cells or {}).items():
        book.worksheets[0][address] = value
    book.active = active
    # A fixed date: the same sheets give the same content whenever they are written.
    book.properties.created = book.properties.modified = datetime(2026, 1, 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class FakeClock:
    """Test time: `wait` advances the clock instead of sleeping. Thread-safe."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(KST)
        self._lock = threading.Lock()
        self.waits: list[float] = []  # every wait asked for, to check there is no busy loop

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def wait(self, seconds: float, cancel: threading.Event) -> bool:
        if cancel.is_set():
            return True
        seconds = max(0.0, seconds)
        with self._lock:
            self.waits.append(seconds)
            self._now += timedelta(seconds=seconds)
        return cancel.is_set()
