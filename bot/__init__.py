"""kisbot's outside: the Telegram bot, the terminal demo, the `kisbot` command line, configuration."""
from __future__ import annotations

from importlib import metadata


def version() -> str:
    """The installed kisbot's version (pyproject's), or 'unknown' when run from a bare checkout."""
    try:
        return metadata.version("kisbot")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a plain checkout
        return "unknown"
