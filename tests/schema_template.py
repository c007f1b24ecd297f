"""A migrated SQLite file made once per test process and copied for each new test database.

Running the twenty Alembic migrations on an empty file costs about a second on a busy 2-core
machine, and most tests start from a fresh, migrated database: copying one migrated template
(SQLite's backup API, so the copy is consistent) gives the same schema for a few milliseconds.
Only the test fixtures use it; the tests that prove the migrations themselves (tests/db) and
every production path (`python -m worker`, the console, backtests) still run `upgrade`."""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy import make_url

from db.migrate import upgrade

_template: Path | None = None


def _fresh_sqlite_file(url: str) -> Path | None:
    """The file `url` names when it is a SQLite file that does not exist yet (or is empty)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return path if not path.exists() or path.stat().st_size == 0 else None


def _migrated_template() -> Path:
    """This process's migrated template, made on first use and removed at exit."""
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="schema-template-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "template.db"
        upgrade(f"sqlite:///{path}")
        _template = path
    return _template


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of the SQLite file `source` (its WAL included) at `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def migrate(url: str) -> str:
    """`db.migrate.upgrade(url)`, with a new SQLite file copied from the migrated template."""
    fresh = _fresh_sqlite_file(url)
    if fresh is None:
        return upgrade(url)
    copy_sqlite(_migrated_template(), fresh)
    return url
