"""Notice a SQLite database file deleted or moved under a running worker.

SQLite keeps writing into the file it opened: a file unlinked or renamed under a running
process takes every later row with it (the writes succeed, into a file nobody will open
again), so no write error ever says so. The worker compares the path's device and inode with
the file it opened, each cycle and each control tick, and stops (exit 4) as on a full disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from db.failures import FILE_GONE, DatabaseFailure


@dataclass(frozen=True)
class SqliteFileWatch:
    """The database file as the worker opened it: its absolute path, device and inode."""

    path: Path
    device: int
    inode: int

    @staticmethod
    def of(engine: Engine) -> SqliteFileWatch | None:
        """The watch for `engine`'s file; None for a server database or an in-memory one."""
        url = engine.url
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        path = Path(url.database).resolve()
        found = os.stat(path)
        return SqliteFileWatch(path, found.st_dev, found.st_ino)

    def problem(self) -> DatabaseFailure | None:
        """Why the worker's rows no longer reach the file it opened, or None while they do."""
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return DatabaseFailure(FILE_GONE, f"{self.path} was deleted or moved away")
        except OSError as exc:
            return DatabaseFailure(FILE_GONE, f"{self.path} cannot be read: {exc.strerror or exc}")
        if (now.st_dev, now.st_ino) != (self.device, self.inode):
            return DatabaseFailure(FILE_GONE, f"{self.path} was replaced by another file")
        return None
