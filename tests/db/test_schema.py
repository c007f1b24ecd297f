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


def test_sqlite_fast_rows_equal_sqlalchemy_core_rows(migrated: str) -> None:
    """The journal's positional SQL (db/rows.py) stores what Core would: same times, booleans,
    defaults and updates, read back through SQLAlchemy's own types."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy import insert, select, update

    from db.models import Fill, Order, Trade
    from db.rows import RowWriter

    at = datetime(2026, 3, 2, 10, 31, 0, 250_000, tzinfo=ZoneInfo("America/New_York"))
    samples = {
        Order: {
            "client_order_id": "c-{n}",
            "run_id": "r",
            "created_at": at,
            "updated_at": at,
            "underlying": "SPY",
            "contract": "SPY260302C00680000",
            "side": "buy",
            "qty": 2,
            "opening": True,
            "reason_code": "x",
            "status": "pending",
            "limit_price": 1.25,
        },
        Fill: {
            "order_id": 1,
            "client_order_id": "c-{n}",
            "time": at,
            "quote_time": at,
            "contract": "SPY260302C00680000",
            "side": "buy",
            "qty": 2,
            "price": 1.2,
            "fee": 1.3,
            "liquidation": True,
        },
        Trade: {
            "run_id": "r",
            "status": "open",
            "underlying": "SPY",
            "contract": "SPY260302C00680000",
            "direction": 1,
            "entry_time": at,
            "entry_qty": 2,
            "qty_open": 2,
            "entry_avg": 1.2,
            "entry_reason_code": "policy",
            "entry_reason": "because",
            "confidence": 0.8,
            "regime": "calm",
            "vix": 15.0,
            "model_version": "m",
            "param_version": 1,
            "entry_client_order_id": "c-{n}",
        },
    }
    change = {
        Order: {"status": "filled", "updated_at": at},
        Fill: {"price": 1.4},
        Trade: {"exit_time": at, "qty_open": 0},
    }
    engine = make_engine(migrated)
    for model, values in samples.items():
        table = model.__table__  # type: ignore[attr-defined]
        writer = RowWriter(table)
        fast = {k: v.format(n=1) if isinstance(v, str) else v for k, v in values.items()}
        core = {k: v.format(n=2) if isinstance(v, str) else v for k, v in values.items()}
        with engine.begin() as conn:
            fast_id = writer.insert_one(conn, fast)
            writer.update(conn, fast_id, change[model])
            core_id = conn.execute(insert(table).values(**core)).inserted_primary_key[0]
            conn.execute(update(table).where(table.c.id == core_id).values(**change[model]))
        with engine.connect() as conn:
            rows = conn.execute(select(table).where(table.c.id.in_([fast_id, core_id])))
            got = {r.id: dict(r._mapping) for r in rows}
        a, b = got[fast_id], got[core_id]
        for row in (a, b):
            row.pop("id")
            for k, v in row.items():
                if isinstance(v, str):
                    row[k] = v.replace("c-2", "c-1")
        assert a == b, model.__name__
