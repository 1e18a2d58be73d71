"""`kisbot run` keeps its log in the data dir: `logs/kisbot.log`, rotated, private, secrets masked.

A bot that runs for weeks under systemd or Docker needs a record a user can read after the fact
(what was sent, what KIS said); stderr goes to the journal or `docker logs` as well.
"""
from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

from kis.files import private_dir

LOG_NAME = "kisbot.log"
MAX_BYTES = 5 * 1024 * 1024  # per file; five old files are kept beside it: at most 30 MB in all
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _PrivateRotatingFileHandler(RotatingFileHandler):
    """Each new log file is created 0600: it names orders, amounts and the masked account."""

    def _open(self):  # type: ignore[override]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return os.fdopen(fd, self.mode.replace("w", "a"), encoding=self.encoding)


def log_to_data_dir(data_dir: Path, *, level: int = logging.INFO) -> Path:
    """Add a rotating file handler at `<data_dir>/logs/kisbot.log` to the root logger; its path.

    Call it before `bot.redact.protect`, which puts the secret filter on every root handler."""
    path = private_dir(Path(data_dir) / "logs") / LOG_NAME
    handler = _PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for existing in root.handlers:  # the terminal keeps the level it was given (--verbose or not)
        if existing.level == logging.NOTSET:
            existing.setLevel(root.level)
    root.addHandler(handler)
    root.setLevel(min(root.level, level))
    return path
