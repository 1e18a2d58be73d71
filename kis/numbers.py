"""KIS's number strings as ints and floats (every value KIS sends is a string)."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from kis.errors import KisTransportError


def to_int(text: Any) -> int:
    """A KIS number string ("71234.5678", "-500", "") as int, rounded half up; "" is 0."""
    if text is None:
        return 0
    s = str(text).strip().replace(",", "")
    if not s:
        return 0
    try:
        return int(Decimal(s).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation:
        raise KisTransportError(f"KIS sent '{s}' where a number belongs") from None


def to_float(text: Any) -> float:
    s = str(text or "").strip().replace(",", "")
    try:
        return float(s) if s else 0.0
    except ValueError:
        raise KisTransportError(f"KIS sent '{s}' where a number belongs") from None
