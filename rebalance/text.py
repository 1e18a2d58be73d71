"""Text in a monospace table cell, for a chat, a terminal or a chart label: the one rule for display width.

Wide East Asian characters (Hangul, CJK) take two columns, everything else one; a cell is one line.
"""
from __future__ import annotations

import unicodedata


def width(text: str) -> int:
    """Columns `text` takes in a monospace font (wide East Asian characters count two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def one_line(text: str) -> str:
    """`text` as one table cell: whitespace runs (newlines, tabs) become one space, control characters go.

    A stock name from a file cell (Alt+Enter) or the broker may hold a newline, which would break a row.
    """
    return "".join(ch for ch in " ".join(text.split()) if unicodedata.category(ch) != "Cc")


def clip(text: str, columns: int) -> str:
    """`text` on one line, cut to at most `columns` display columns, with an ellipsis when cut."""
    text = one_line(text)
    if width(text) <= columns:
        return text
    out, used = "", 0
    for ch in text:
        w = width(ch)
        if used + w > columns - 1:
            break
        out, used = out + ch, used + w
    return out + "…"


def pad(text: str, columns: int, *, right: bool = False) -> str:
    """`text` padded with spaces to `columns` display columns (on the left when `right`)."""
    gap = " " * max(0, columns - width(text))
    return gap + text if right else text + gap


def fit(text: str, columns: int) -> str:
    """`text` clipped and padded to exactly `columns` display columns."""
    return pad(clip(text, columns), columns)
