"""The alembic migrations create exactly the schema the SQLModel tables describe, in WAL mode."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import db.models  # noqa: F401
from db.engine import make_engine


def test_migrations_match_the_models(migrated: str) -> None:
    engine = create_engine(migrated)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_with_a_busy_timeout(migrated: str) -> None:
    engine = make_engine(migrated)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_orders_are_unique_by_client_order_id(migrated: str) -> None:
    engine = create_engine(migrated)
    with engine.connect() as conn:
        indexes = conn.execute(text("SELECT sql FROM sqlite_master WHERE tbl_name = 'orders'")).scalars().all()
    assert any("UNIQUE" in (s or "") and "client_order_id" in (s or "") for s in indexes)
