"""Trade queries for the console: filters run in SQL, timestamps are parsed in one vectorised pass.

Row-by-row type processing is what makes 100,000-row reads slow, so the time columns are read as
stored and turned into UTC timestamps by pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, String, func, select, type_coerce
from sqlalchemy.sql import ColumnElement, Select

from core.calendar import NY
from db.models import Decision, Fill, Order, Trade

TRADE_COLUMNS: tuple[str, ...] = (
    "id",
    "status",
    "underlying",
    "contract",
    "direction",
    "entry_time",
    "exit_time",
    "entry_qty",
    "entry_avg",
    "exit_avg",
    "fees",
    "realized_pnl",
    "entry_reason_code",
    "exit_reason_code",
    "confidence",
    "regime",
    "vix",
    "model_version",
    "param_version",
    "mae_pct",
    "mfe_pct",
    "price_source",
    "structure",
)
# What the analysis needs (fewer columns read = a faster cold page on 100,000 trades).
ANALYSIS_COLUMNS: tuple[str, ...] = (
    "id",
    "underlying",
    "direction",
    "entry_time",
    "exit_time",
    "realized_pnl",
    "entry_reason_code",
    "exit_reason_code",
    "confidence",
    "regime",
    "mae_pct",
    "mfe_pct",
    "structure",
)
TIME_COLUMNS = (
    "entry_time",
    "exit_time",
    "time",
    "bar_time",
    "created_at",
    "updated_at",
    "quote_time",
    "at",
    "applied_at",
    "first_used_at",
    "marked_at",
)
FILTER_FIELDS = (
    "underlying",
    "entry_reason_code",
    "exit_reason_code",
    "regime",
    "model_version",
    "param_version",
    "price_source",
    "structure",
)


@dataclass(frozen=True)
class TradeFilter:
    """What the Trades page filters on; None or an empty tuple means 'any'."""

    start: date | None = None  # New York dates, inclusive
    end: date | None = None
    underlying: tuple[str, ...] = ()
    entry_reason_code: tuple[str, ...] = ()
    exit_reason_code: tuple[str, ...] = ()
    regime: tuple[str, ...] = ()
    model_version: tuple[str, ...] = ()
    param_version: tuple[int, ...] = ()
    price_source: tuple[str, ...] = ()  # how the entry was priced (real_bar, anchored, model, broker, ...)
    structure: tuple[str, ...] = ()  # what was traded: long_call, long_put, iron_condor, ...


def ny_day_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """UTC instants that bound New York dates start..end (inclusive)."""
    lo = datetime(start.year, start.month, start.day, tzinfo=NY) if start else None
    hi = datetime(end.year, end.month, end.day, tzinfo=NY) + timedelta(days=1) if end else None
    return lo, hi


def raw(column: Any) -> ColumnElement[Any]:
    """A column read as stored, skipping per-row type processing."""
    return type_coerce(column, String).label(column.key)


def columns(model: Any, names: tuple[str, ...]) -> list[ColumnElement[Any]]:
    """The model's columns by name, time columns read raw (parsed later by `frame`)."""
    return [raw(getattr(model, c)) if c in TIME_COLUMNS else getattr(model, c) for c in names]


def frame(engine: Engine, stmt: Select[Any], columns: tuple[str, ...]) -> pd.DataFrame:
    """Run a select and build a DataFrame, parsing any time column in one pass."""
    with engine.connect() as conn:
        result = conn.execute(stmt)
        # The driver's own rows: every column here is read raw, so SQLAlchemy's per-row Row objects
        # would only add time (a third of a 100,000-trade read).
        rows = result.cursor.fetchall() if result.cursor is not None else []
    out = pd.DataFrame.from_records(rows, columns=list(columns))
    for col in columns:
        if col in TIME_COLUMNS:
            out[col] = pd.to_datetime(out[col], utc=True, format="ISO8601")
    return out


def _where(f: TradeFilter) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    lo, hi = ny_day_bounds(f.start, f.end)
    if lo is not None:
        clauses.append(Trade.entry_time >= lo)  # type: ignore[arg-type]
    if hi is not None:
        clauses.append(Trade.entry_time < hi)  # type: ignore[arg-type]
    for name in FILTER_FIELDS:
        chosen = getattr(f, name)
        if chosen:
            clauses.append(getattr(Trade, name).in_(chosen))
    return clauses


def trades(engine: Engine, f: TradeFilter, names: tuple[str, ...] = TRADE_COLUMNS) -> pd.DataFrame:
    """Closed trades matching the filter, oldest entry first (sorted here: cheaper than in SQL)."""
    stmt = select(*columns(Trade, names)).where(*_where(f), Trade.status == "closed")
    out = frame(engine, stmt, names)
    return out.sort_values(["entry_time", "id"], kind="stable", ignore_index=True)


def newest(engine: Engine, f: TradeFilter, limit: int) -> pd.DataFrame:
    """The newest `limit` closed trades matching the filter, every column, newest first."""
    stmt = (
        select(*columns(Trade, TRADE_COLUMNS))
        .where(*_where(f), Trade.status == "closed")
        .order_by(Trade.id.desc())
        .limit(limit)
    )  # type: ignore[union-attr]
    return frame(engine, stmt, TRADE_COLUMNS)


def filter_options(engine: Engine) -> dict[str, list[Any]]:
    """Distinct values of every filterable field, for the filter widgets."""
    out: dict[str, list[Any]] = {}
    with engine.connect() as conn:
        for name in FILTER_FIELDS:
            col = getattr(Trade, name)
            out[name] = [v for v in conn.execute(select(col).distinct().order_by(col)).scalars() if v is not None]
    return out


def trade_date_range(engine: Engine) -> tuple[date, date] | None:
    """The first and last New York entry dates, or None with no trade."""
    with engine.connect() as conn:
        lo, hi = conn.execute(select(func.min(Trade.entry_time), func.max(Trade.entry_time))).one()
    if lo is None:
        return None
    return _ny_date(lo), _ny_date(hi)


def _ny_date(value: Any) -> date:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return stamp.tz_convert("America/New_York").date()


@dataclass(frozen=True)
class TradeTrail:
    """Everything behind one trade: the row, the decisions that led to it, its orders and fills."""

    trade: dict[str, Any]
    decisions: pd.DataFrame
    orders: pd.DataFrame
    fills: pd.DataFrame


TRAIL_DECISION_COLUMNS = (
    "id",
    "time",
    "action",
    "final_action",
    "confidence",
    "p_hold",
    "p_buy_call",
    "p_buy_put",
    "p_close",
    "blocked_by",
    "exit_code",
    "regime",
    "underlying_price",
    "order_client_id",
)
# What matters first (a phone shows three or four columns): side, size, price, status; the
# client order id, a 36-character key, last.
ORDER_COLUMNS = (
    "side",
    "qty",
    "avg_fill_price",
    "status",
    "filled_qty",
    "reason_code",
    "contract",
    "opening",
    "created_at",
    "updated_at",
    "reject_reason",
    "id",
    "client_order_id",
)
FILL_COLUMNS = ("side", "qty", "price", "time", "fee", "liquidation", "quote_time", "id", "client_order_id")


def trade_trail(engine: Engine, trade_id: int, lead_minutes: int = 15) -> TradeTrail | None:
    """The trade, its orders and fills, and the decisions on its symbol from `lead_minutes`
    before the entry through the exit (the entry decision carries the entry order's id)."""
    with engine.connect() as conn:
        row = conn.execute(select(Trade).where(Trade.id == trade_id)).mappings().first()
    if row is None:
        return None
    trade = dict(row)
    orders = frame(
        engine,
        select(*columns(Order, ORDER_COLUMNS)).where(Order.trade_id == trade_id).order_by(Order.id),
        ORDER_COLUMNS,
    )
    ids = tuple(orders["client_order_id"]) or (trade["entry_client_order_id"],)
    fills = frame(
        engine,
        select(*columns(Fill, FILL_COLUMNS))
        .where(Fill.client_order_id.in_(ids))  # type: ignore[attr-defined]
        .order_by(Fill.id),
        FILL_COLUMNS,
    )
    end = trade["exit_time"] or trade["entry_time"] + timedelta(days=1)
    decisions = frame(
        engine,
        select(*columns(Decision, TRAIL_DECISION_COLUMNS))
        .where(
            Decision.symbol == trade["underlying"],
            Decision.time >= trade["entry_time"] - timedelta(minutes=lead_minutes),  # type: ignore[operator]
            Decision.time <= end,  # type: ignore[operator]
        )
        .order_by(Decision.time),
        TRAIL_DECISION_COLUMNS,
    )
    return TradeTrail(trade, decisions, orders, fills)
