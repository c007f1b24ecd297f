"""The console's read API: small queries that return plain dicts and DataFrames."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from core.calendar import NY
from db.models import ControlEvent, ControlState, Equity, Event, ParamVersion, Trade, WorkerStatus
from db.trade_reads import TIME_COLUMNS, frame, raw


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


OPTION_MULTIPLIER = 100


def open_positions(engine: Engine) -> pd.DataFrame:
    """Open trades with their newest mark and unrealized P&L on the bid (after entry fees)."""
    cols = [
        Trade.id,
        Trade.contract,
        Trade.direction,
        Trade.qty_open,
        Trade.entry_avg,
        Trade.mark_bid,
        Trade.marked_at,
        Trade.fees,
        Trade.entry_time,
        Trade.entry_reason_code,
        Trade.confidence,
        Trade.regime,
    ]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).where(Trade.status == "open").order_by(Trade.id)).mappings().all()
    out = pd.DataFrame([dict(r) for r in rows], columns=[c.key for c in cols])
    mark = out["mark_bid"].astype(float)
    out["unrealized_pnl"] = (mark - out["entry_avg"].astype(float)) * out["qty_open"] * OPTION_MULTIPLIER - out[
        "fees"
    ].astype(float)
    return out


def equity_curve(engine: Engine, points: int = 2_000) -> pd.DataFrame:
    """The newest `points` equity rows (one per cycle: about five sessions), oldest first, with the
    drawdown from the running peak in %."""
    cols = ("time", "equity", "peak", "start_of_day")
    stmt = (
        select(raw(Equity.time), Equity.equity, Equity.peak, Equity.start_of_day)
        .order_by(Equity.id.desc())  # type: ignore[union-attr]
        .limit(points)
    )
    out = frame(engine, stmt, cols).iloc[::-1].reset_index(drop=True)
    out["drawdown_pct"] = (out["equity"] / out["peak"] - 1.0) * 100.0 if len(out) else []
    return out


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


def alerts(engine: Engine, limit: int = 10) -> pd.DataFrame:
    """The newest warnings and errors the worker recorded."""
    cols = ("time", "level", "code", "message")
    stmt = (
        select(raw(Event.time), Event.level, Event.code, Event.message)
        .where(Event.level.in_(("warning", "error")))  # type: ignore[attr-defined]
        .order_by(Event.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    )
    return frame(engine, stmt, cols)


def events(engine: Engine, limit: int = 200) -> pd.DataFrame:
    """The newest worker events of every level."""
    cols = ("time", "level", "code", "message", "run_id")
    stmt = (
        select(raw(Event.time), Event.level, Event.code, Event.message, Event.run_id)
        .order_by(Event.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    )
    return frame(engine, stmt, cols)


def control_events(engine: Engine, limit: int = 500) -> pd.DataFrame:
    """Trading-state changes, newest first: who, when, why, and when the worker carried them out."""
    cols = (
        "id",
        "at",
        "who",
        "from_state",
        "to_state",
        "flatten",
        "reason_code",
        "reason",
        "applied_at",
        "applied_summary",
    )
    stmt = (
        select(*[raw(getattr(ControlEvent, c)) if c in TIME_COLUMNS else getattr(ControlEvent, c) for c in cols])
        .order_by(ControlEvent.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    )
    return frame(engine, stmt, cols)


def param_versions(engine: Engine) -> pd.DataFrame:
    """Every parameter version, newest first: who, when, the note, when the worker first used it."""
    cols = ("id", "author", "created_at", "note", "first_used_at", "reverted_from")
    stmt = select(*[raw(getattr(ParamVersion, c)) if c.endswith("_at") else getattr(ParamVersion, c) for c in cols])
    return frame(engine, stmt.order_by(ParamVersion.id.desc()), cols)  # type: ignore[union-attr]


def param_values(engine: Engine, version_id: int) -> dict[str, Any] | None:
    """The stored values of one parameter version."""
    with engine.connect() as conn:
        found = conn.execute(select(ParamVersion.values).where(ParamVersion.id == version_id)).scalar()
    return dict(found) if found is not None else None


def param_version(engine: Engine, version_id: int) -> dict[str, Any] | None:
    return _row(engine, select(ParamVersion).where(ParamVersion.id == version_id))
