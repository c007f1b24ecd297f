"""The console's read API: small queries that return plain dicts and DataFrames."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from core.calendar import NY
from db.models import ControlEvent, ControlState, Equity, Trade, WorkerStatus


def _row(engine: Engine, stmt: Any) -> dict[str, Any] | None:
    with engine.connect() as conn:
        found = conn.execute(stmt).mappings().first()
    return dict(found) if found else None


def worker_status(engine: Engine) -> dict[str, Any] | None:
    return _row(engine, select(WorkerStatus).where(WorkerStatus.id == "worker"))


def control_state(engine: Engine) -> dict[str, Any] | None:
    return _row(engine, select(ControlState).where(ControlState.id == 1))


def latest_equity(engine: Engine) -> dict[str, Any] | None:
    return _row(engine, select(Equity).order_by(Equity.id.desc()).limit(1))  # type: ignore[union-attr]


def trading_day(engine: Engine) -> date:
    """The session the worker is in: its simulated date in sim mode, else today in New York."""
    status = worker_status(engine)
    moment = status["sim_time"] if status and status.get("sim_time") else datetime.now(NY)
    return moment.astimezone(NY).date()


def open_positions(engine: Engine) -> pd.DataFrame:
    cols = [
        Trade.id,
        Trade.contract,
        Trade.direction,
        Trade.qty_open,
        Trade.entry_avg,
        Trade.entry_time,
        Trade.entry_reason_code,
        Trade.confidence,
        Trade.regime,
    ]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).where(Trade.status == "open").order_by(Trade.id)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.key for c in cols])


def trades_on(engine: Engine, day: date) -> pd.DataFrame:
    """Trades entered on `day` (New York date), newest first."""
    start = datetime(day.year, day.month, day.day, tzinfo=NY)
    cols = [
        Trade.id,
        Trade.status,
        Trade.contract,
        Trade.entry_qty,
        Trade.entry_time,
        Trade.entry_avg,
        Trade.exit_time,
        Trade.exit_avg,
        Trade.realized_pnl,
        Trade.entry_reason_code,
        Trade.exit_reason_code,
        Trade.exit_reason,
        Trade.confidence,
        Trade.regime,
    ]
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(*cols)
                .where(Trade.entry_time >= start, Trade.entry_time < start + timedelta(days=1))
                .order_by(Trade.id.desc())
            )
            .mappings()
            .all()
        )  # type: ignore[union-attr]
    return pd.DataFrame([dict(r) for r in rows], columns=[c.key for c in cols])


def recent_control_events(engine: Engine, limit: int = 20) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(select(ControlEvent).order_by(ControlEvent.id.desc()).limit(limit)).mappings().all()  # type: ignore[union-attr]
    return pd.DataFrame([dict(r) for r in rows])
