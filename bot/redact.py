"""Secrets out of every log line and every uncaught traceback: one filter and one excepthook per process.

`protect(secret, ...)` registers secrets (the bot token, the KIS app key and secret); from then on a
root log handler's records, `sys.excepthook` and `threading.excepthook` show `<secret>` in their place.
"""
from __future__ import annotations

import logging
import sys
import threading
import traceback

MASK = "<secret>"
_secrets: set[str] = set()
_guard = threading.Lock()


def redact(text: str) -> str:
    """`text` with every registered secret masked."""
    for secret in sorted(_secrets, key=len, reverse=True):  # longest first: one may contain another
        text = text.replace(secret, MASK)
    return text


class RedactSecrets(logging.Filter):
    """Masks secrets in the message, the formatted exception and the stack of a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        text = record.getMessage()
        clean = redact(text)
        if clean != text:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:  # formatted here, so the handler prints the masked copy
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _excepthook(exc_type, exc, tb) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(exc_type, exc, tb))))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    sys.stderr.write(redact(f"Exception in thread {name}:\n"
                            + "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))))


_FILTER = RedactSecrets()


def protect(*secrets: str) -> None:
    """Mask these secrets from now on, on every root log handler and in the excepthooks."""
    with _guard:
        _secrets.update(s for s in secrets if s and len(s) >= 6)  # a short value would mask ordinary words
        for handler in logging.getLogger().handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
        sys.excepthook = _excepthook
        threading.excepthook = _thread_excepthook
