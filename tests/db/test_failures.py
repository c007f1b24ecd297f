"""Database failures are recognised from the drivers' real errors: a full SQLite database, a
read-only file, a Postgres server nobody answers for; anything else is not one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from db.failures import CANNOT_OPEN, DISK_FULL, READ_ONLY, UNREACHABLE, database_failure, sqlite_file_problem


def _raised(action: object) -> BaseException:
    with pytest.raises(Exception) as caught:
        action()  # type: ignore[operator]
    return caught.value


def test_a_full_sqlite_database_is_disk_full(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "full.db")
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.execute("PRAGMA max_page_count = 3")  # SQLite's own SQLITE_FULL, as on a full disk
    exc = _raised(lambda: [conn.execute("INSERT INTO t VALUES (?)", ("x" * 4000,)) for _ in range(20)])
    found = database_failure(exc)
    assert found is not None and found.kind == DISK_FULL, exc
    assert "disk holding the database is full" in found.describe()


def test_a_read_only_file_is_read_only_through_sqlalchemy_too(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)")
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")

    def write() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))

    found = database_failure(_raised(write))
    assert found is not None and found.kind == READ_ONLY


def test_a_postgres_server_that_does_not_answer_is_unreachable() -> None:
    engine = create_engine("postgresql+psycopg://u:p@127.0.0.1:9/db?connect_timeout=5")
    found = database_failure(_raised(engine.connect))
    assert found is not None and found.kind == UNREACHABLE


def test_a_missing_folder_cannot_be_opened_and_says_why(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}"
    found = database_failure(_raised(lambda: sqlite3.connect(tmp_path / "nowhere" / "x.db")))
    assert found is not None and found.kind == CANNOT_OPEN
    assert sqlite_file_problem(url) == f"the folder {tmp_path / 'nowhere'} does not exist"
    assert sqlite_file_problem(f"sqlite:///{tmp_path / 'x.db'}") is None
    assert sqlite_file_problem("postgresql+psycopg://u@h/db") is None


def test_other_errors_are_not_database_failures() -> None:
    assert database_failure(RuntimeError("a bug")) is None
    assert database_failure(KeyError("SPY")) is None
    try:
        try:
            raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.OperationalError as inner:
            raise RuntimeError("while flushing") from inner
    except RuntimeError as outer:
        found = database_failure(outer)  # the cause chain is searched
    assert found is not None and found.kind == DISK_FULL
