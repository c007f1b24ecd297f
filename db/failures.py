"""What kind of database failure an exception is, in words an operator can act on.

The worker decides by the exception's type whether a failed cycle is worth retrying or whether
the database cannot take writes at all (Freqtrade's rule: the exception type decides retry or
stop). SQLAlchemy wraps the driver's errors, but the journal also reads through a raw DBAPI
connection, so both layers are recognised, and the whole cause chain is searched.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

try:  # the Postgres driver is optional at import time (requirements install it)
    import psycopg

    _DRIVER_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, psycopg.Error)
except ImportError:  # pragma: no cover
    _DRIVER_ERRORS = (sqlite3.Error,)

DISK_FULL = "disk_full"
READ_ONLY = "read_only"
UNREACHABLE = "unreachable"
CANNOT_OPEN = "cannot_open"
DATABASE_ERROR = "database_error"
FILE_GONE = "file_gone"  # the SQLite file deleted or moved under the worker (db/file_watch.py)

_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (DISK_FULL, ("database or disk is full", "no space left on device", "disk full", "could not extend file")),
    (READ_ONLY, ("readonly database", "read-only file system", "read-only transaction", "readonly")),
    (CANNOT_OPEN, ("unable to open database file",)),
    (
        UNREACHABLE,
        (
            "connection refused",
            "could not connect",
            "server closed the connection",
            "terminating connection",
            "connection is closed",
            "connection is bad",
            "connection failed",
            "the connection is lost",
            "consuming input failed",
            "connection timeout",
            "no such host",
            "the database system is shutting down",
            "the database system is starting up",
        ),
    ),
)


@dataclass(frozen=True)
class DatabaseFailure:
    """A failure of the database itself: `kind` is one of the constants above, `text` the driver's words."""

    kind: str
    text: str

    def describe(self) -> str:
        words = {
            DISK_FULL: "the disk holding the database is full",
            READ_ONLY: "the database is read-only",
            UNREACHABLE: "the database cannot be reached",
            CANNOT_OPEN: "the database file cannot be opened",
            DATABASE_ERROR: "the database refused the write",
            FILE_GONE: "the database file is gone: rows would be written into a file nobody reads",
        }[self.kind]
        return f"{words} ({self.text})"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def database_failure(exc: BaseException) -> DatabaseFailure | None:
    """The database failure behind `exc`, or None when it is not one (a bug, a broker error)."""
    chain = _chain(exc)
    is_database = any(
        isinstance(e, (DBAPIError, SQLAlchemyError, *_DRIVER_ERRORS))
        or (isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT))
        for e in chain
    )
    if not is_database:
        return None
    text = " ".join(str(e).splitlines()[0] if str(e) else type(e).__name__ for e in chain[:1])
    lowered = " ".join(str(e) for e in chain).lower()
    for kind, markers in _MARKERS:
        if any(m in lowered for m in markers):
            return DatabaseFailure(kind, text[:300])
    if any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in chain):
        return DatabaseFailure(DISK_FULL, text[:300])
    return DatabaseFailure(DATABASE_ERROR, text[:300])


def sqlite_file_problem(url: str) -> str | None:
    """Why a SQLite file cannot be written, read from the file system (SQLite itself only says
    "unable to open database file"); None when nothing is found or the URL is not SQLite."""
    if not url.startswith("sqlite") or "///" not in url:
        return None
    path = Path(url.split("///", 1)[1].split("?", 1)[0])
    if str(path) in ("", ":memory:"):
        return None
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    stats = os.statvfs(folder)
    if stats.f_flag & os.ST_RDONLY:
        return f"{folder} is on a read-only file system"
    if stats.f_bavail == 0:
        return f"the disk holding {folder} is full"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} is read-only"
    return None
