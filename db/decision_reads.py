"""Decision queries for "why didn't it trade?": counts are aggregated in SQL by UTC hour, and
pandas only maps those few buckets onto New York days and hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, literal, select
from sqlalchemy.sql import ColumnElement

from db.models import Decision, Run
from db.trade_reads import columns, frame, ny_day_bounds, raw

SERIES_COLUMNS = (
    "id",
    "time",
    "underlying_price",
    "p_hold",
    "p_buy_call",
    "p_buy_put",
    "p_close",
    "confidence",
    "action",
    "final_action",
    "blocked_by",
)
LIST_COLUMNS = (
    "id",
    "time",
    "symbol",
    "action",
    "confidence",
    "final_action",
    "blocked_by",
    "exit_code",
    "regime",
    "underlying_price",
    "param_version",
    "model_version",
    "price_source",
)
SERIES_LIMIT = 5_000  # points per chart: the newest ones when a range holds more


@dataclass(frozen=True)
class DecisionFilter:
    start: date | None = None  # New York dates, inclusive
    end: date | None = None
    symbols: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()  # block codes; "(none)" stands for decisions nothing blocked
    price_sources: tuple[str, ...] = ()  # how the option was priced; "(none)": no option priced


def _where(f: DecisionFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    lo, hi = ny_day_bounds(f.start, f.end)
    if lo is not None:
        clauses.append(Decision.time >= lo)  # type: ignore[arg-type]
    if hi is not None:
        clauses.append(Decision.time < hi)  # type: ignore[arg-type]
    if f.symbols:
        clauses.append(Decision.symbol.in_(f.symbols))  # type: ignore[attr-defined]
    if f.codes:
        clauses.append(_one_of(Decision.blocked_by, f.codes))
    if f.price_sources:
        clauses.append(_one_of(Decision.price_source, f.price_sources))
    return clauses


def _one_of(column: Any, chosen: tuple[str, ...]) -> ColumnElement[bool]:
    """The column is one of the chosen values, "(none)" standing for NULL."""
    named = [c for c in chosen if c != "(none)"]
    either = [column.in_(named)] if named else []
    if "(none)" in chosen:
        either.append(column.is_(None))
    return either[0] if len(either) == 1 else either[0] | either[1]


def _hour_bucket(engine: Engine) -> ColumnElement[Any]:
    """The decision's UTC hour as text 'YYYY-MM-DD HH', in the backend's own functions."""
    if engine.dialect.name == "postgresql":
        return func.to_char(Decision.time, literal("YYYY-MM-DD HH24"))
    return func.substr(Decision.time, 1, 13)


def counts(engine: Engine, f: DecisionFilter, by: str) -> pd.DataFrame:
    """Decision counts per New York day and hour for `by` (final_action or blocked_by):
    columns day, hour, value, count."""
    bucket = _hour_bucket(engine).label("bucket")
    column = getattr(Decision, by)
    stmt = select(bucket, column.label("value"), func.count().label("count")).where(*_where(f))
    if by == "blocked_by":
        stmt = stmt.where(column.is_not(None))
    with engine.connect() as conn:
        rows = conn.execute(stmt.group_by(bucket, column)).all()
    out = pd.DataFrame.from_records(rows, columns=["bucket", "value", "count"])
    if out.empty:
        return pd.DataFrame({"day": [], "hour": [], "value": [], "count": []})
    local = pd.to_datetime(out["bucket"] + ":00", utc=True, format="%Y-%m-%d %H:%M").dt.tz_convert("America/New_York")
    out["day"], out["hour"] = local.dt.strftime("%Y-%m-%d"), local.dt.hour
    return out[["day", "hour", "value", "count"]]


def series(engine: Engine, f: DecisionFilter, limit: int = SERIES_LIMIT) -> pd.DataFrame:
    """Probabilities, confidence and the underlying over time for the filter (newest `limit`)."""
    stmt = select(*columns(Decision, SERIES_COLUMNS)).where(*_where(f)).order_by(Decision.time.desc()).limit(limit)  # type: ignore[union-attr]
    return frame(engine, stmt, SERIES_COLUMNS).iloc[::-1].reset_index(drop=True)


def latest(engine: Engine, f: DecisionFilter, limit: int = 200) -> pd.DataFrame:
    """The newest decisions matching the filter, newest first."""
    stmt = select(*columns(Decision, LIST_COLUMNS)).where(*_where(f)).order_by(Decision.id.desc()).limit(limit)  # type: ignore[union-attr]
    return frame(engine, stmt, LIST_COLUMNS)


def decision(engine: Engine, decision_id: int) -> dict[str, Any] | None:
    """One decision's full record, with the mode of the run that made it (sim: a simulated clock)."""
    with engine.connect() as conn:
        row = conn.execute(select(Decision).where(Decision.id == decision_id)).mappings().first()
        if row is None:
            return None
        mode = conn.execute(select(Run.mode).where(Run.id == row["run_id"])).scalar()
    return {**dict(row), "run_mode": mode}


def block_codes(engine: Engine) -> list[str]:
    """Every block code recorded so far (for the filter)."""
    with engine.connect() as conn:
        found = conn.execute(select(Decision.blocked_by).distinct().where(Decision.blocked_by.is_not(None)))  # type: ignore[union-attr]
        return sorted(str(v) for v in found.scalars())


def last_decision_day(engine: Engine) -> date | None:
    """The New York date of the newest decision."""
    with engine.connect() as conn:
        newest = conn.execute(select(raw(Decision.time)).order_by(Decision.id.desc()).limit(1)).scalar()
    if newest is None:
        return None
    return pd.Timestamp(newest, tz="UTC").tz_convert("America/New_York").date()
