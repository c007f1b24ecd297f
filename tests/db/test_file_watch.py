"""The SQLite file watch: a file deleted, moved or replaced under the worker is a database
failure (file_gone); a server database or an untouched file is not."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from db.failures import FILE_GONE
from db.file_watch import SqliteFileWatch


def _engine_on(path: Path):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    return engine


def test_an_untouched_file_has_no_problem_and_a_deleted_one_is_gone(tmp_path: Path) -> None:
    engine = _engine_on(tmp_path / "trading.db")
    watch = SqliteFileWatch.of(engine)
    assert watch is not None and watch.problem() is None
    (tmp_path / "trading.db").unlink()
    failure = watch.problem()
    assert failure is not None and failure.kind == FILE_GONE
    assert "deleted or moved away" in failure.text and "the database file is gone" in failure.describe()


def test_a_file_replaced_under_the_same_name_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "trading.db"
    watch = SqliteFileWatch.of(_engine_on(path))
    assert watch is not None
    path.rename(tmp_path / "old.db")
    _engine_on(path)  # another file now answers to the name
    failure = watch.problem()
    assert failure is not None and "replaced by another file" in failure.text


def test_a_server_or_memory_database_is_not_watched() -> None:
    assert SqliteFileWatch.of(create_engine("sqlite://")) is None
    assert SqliteFileWatch.of(create_engine("postgresql+psycopg://u:p@127.0.0.1:9/x")) is None
