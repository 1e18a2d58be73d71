"""Small files in the data dir that several kisbot processes share: an exclusive lock and atomic writes.

The token cache, the shared pace and the measured listing lag all live there; each is written by one
process at a time (a POSIX advisory lock) and replaced whole, so a reader never sees half a file.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

from kis.errors import ConfigError

try:  # POSIX: also keep two processes apart, not only two threads
    import fcntl
except ImportError:  # pragma: no cover - Windows: callers' in-process locks still hold
    fcntl = None  # type: ignore[assignment]

HAS_FILE_LOCKS = fcntl is not None


class DataDirUnusable(ConfigError, OSError):
    """The data directory cannot hold kisbot's files: a setting to fix (ConfigError), met as an OSError."""


class DiskFull(OSError):
    """A write to the data directory failed for want of space (ENOSPC, a quota, SQLite's SQLITE_FULL).

    `data_dir` is the directory kisbot writes to, `disk` the mount point holding it, `free` its free bytes.
    """

    def __init__(self, data_dir: Path, disk: Path, free: int | None):
        self.data_dir, self.disk, self.free = data_dir, disk, free
        super().__init__(errno.ENOSPC, f"the disk {disk} holding the data directory {data_dir} is full")


_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13  # sqlite3.SQLITE_FULL: "database or disk is full"


def disk_full(exc: BaseException, data_dir: Path) -> DiskFull | None:
    """`exc` as a DiskFull naming `data_dir` and its disk when it says the disk is full, else None."""
    if isinstance(exc, DiskFull):
        return exc
    full = (isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS) \
        or getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL
    if not full:
        return None
    data_dir = Path(data_dir)
    try:
        free: int | None = shutil.disk_usage(data_dir).free
    except OSError:
        free = None
    return DiskFull(data_dir, mount_point(data_dir), free)


def mount_point(path: Path) -> Path:
    """The mount point of the file system that holds `path` (the disk a user would clear)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    while path != path.parent and not os.path.ismount(path):
        path = path.parent
    return path


def private_dir(path: Path) -> Path:
    """`path` as a directory kisbot can write to, created 0700 when new; DataDirUnusable says why not."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)  # the parents are not ours: default mode
        usable = os.access(path, os.W_OK | os.X_OK)
        why = "it is not writable"
    except OSError as exc:
        usable = False
        why = "it is a file, not a directory" if path.is_file() else (exc.strerror or str(exc))
    if not usable:
        raise DataDirUnusable(f"the data directory {path} cannot be used ({why}): set KISBOT_DATA_DIR to a "
                              "directory you can write to")
    return path


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[int | None]:
    """Hold an exclusive lock on `path` (created 0600) across processes; yields its descriptor."""
    if fcntl is None:  # pragma: no cover
        yield None
        return
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def try_lock(path: Path) -> int | None:
    """Take an exclusive lock on `path` (created 0600) without waiting: its descriptor, or None when another
    process holds it. Closing the descriptor, or the process ending, drops the lock."""
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically (mode 0600, flushed to disk first)."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def server_name(base_url: str) -> str:
    """A KIS server as it appears in a data-dir file name: `host_port` of its URL, or 'default' without one."""
    return urlsplit(base_url).netloc.replace(":", "_") or "default"
