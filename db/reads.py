"""The console's read API: small queries that return plain dicts and DataFrames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from db.models import (
    ChatCommand,
    ControlEvent,
    ControlRequest,
    ControlState,
    Decision,
    Equity,
    Event,
    LiveOverride,
    LoginAttempt,
    Order,
    ParamVersion,
    Trade,
    WorkerStatus,
)
from db.order_store import OPEN_ORDER_STATES
from db.trade_reads import columns, frame


def _row(engine: Engine, stmt: Any) -> dict[str, Any] | None:
    with engine.connect() as conn:
        found = conn.execute(stmt).mappings().first()
    return dict(found) if found else None


def worker_status(engine: Engine) -> dict[str, Any] | None:
    return _row(engine, select(WorkerStatus).where(WorkerStatus.id == "worker"))


@dataclass(frozen=True)
class MarketClock:
    """The clock the console times things by: the worker's market clock where the database has
    it (simulated in sim mode, the broker's in paper and live), else the wall clock, labelled."""

    now: datetime
    source: str  # worker | last_cycle | last_decision | wall

    @property
    def label(self) -> str:
        return {
            "worker": "the worker's clock",
            "last_cycle": "the worker's last cycle",
            "last_decision": "the last decision",
            "wall": "the wall clock: no worker clock is recorded",
        }[self.source]


def worker_clock(status: dict[str, Any] | None) -> MarketClock | None:
    """The worker's clock from its status row: the newer of its last committed cycle and its
    heartbeat's clock (at 60x the heartbeat, every few real seconds, lags the cycles by minutes)."""
    beat, cycle = (status or {}).get("sim_time"), (status or {}).get("cycle_time")
    if cycle is not None and (beat is None or cycle > beat):
        return MarketClock(cycle, "last_cycle")
    return None if beat is None else MarketClock(beat, "worker")


def market_clock(engine: Engine, status: dict[str, Any] | None = None) -> MarketClock:
    """The worker's market clock from the database (`worker_clock`, else the newest decision);
    the wall clock only when the database has none of them."""
    found = worker_clock(status if status is not None else worker_status(engine))
    if found is not None:
        return found
    with engine.connect() as conn:
        newest = conn.execute(select(Decision.time).order_by(Decision.id.desc()).limit(1)).scalar()  # type: ignore[union-attr]
    if newest is not None:
        return MarketClock(newest, "last_decision")
    return MarketClock(datetime.now(UTC), "wall")


def control_state(engine: Engine) -> dict[str, Any] | None:
    return _row(engine, select(ControlState).where(ControlState.id == 1))


def latest_equity(engine: Engine) -> dict[str, Any] | None:
    return _row(engine, select(Equity).order_by(Equity.id.desc()).limit(1))  # type: ignore[union-attr]


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
        Trade.underlying,
        Trade.entry_qty,
        Trade.peak_bid,
        Trade.vix,
        Trade.entry_atr_pct,
        Trade.entry_trend_pct,
        Trade.partials_done,
        Trade.param_version,
        Trade.structure,
        Trade.legs,
        Trade.max_loss,
        Trade.max_gain,
    ]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).where(Trade.status == "open").order_by(Trade.id)).mappings().all()
    out = pd.DataFrame([dict(r) for r in rows], columns=[c.key for c in cols])
    # opened this minute, no bid marked yet: the entry price is the mark until the first bid
    out["marked"] = out["mark_bid"].notna()
    mark = out["mark_bid"].astype(float).fillna(out["entry_avg"].astype(float))
    out["mark_bid"] = mark
    out["unrealized_pnl"] = (mark - out["entry_avg"].astype(float)) * out["qty_open"] * OPTION_MULTIPLIER - out[
        "fees"
    ].astype(float)
    return out


def equity_curve(engine: Engine, points: int = 2_000) -> pd.DataFrame:
    """The newest `points` equity rows (one per cycle: about five sessions), oldest first, with the
    drawdown from the running peak in %."""
    cols = ("time", "equity", "peak", "start_of_day")
    stmt = select(*columns(Equity, cols)).order_by(Equity.id.desc()).limit(points)  # type: ignore[union-attr]
    out = frame(engine, stmt, cols).iloc[::-1].reset_index(drop=True)
    out["drawdown_pct"] = (out["equity"] / out["peak"] - 1.0) * 100.0 if len(out) else []
    return out


def worker_warnings(engine: Engine, limit: int = 10) -> pd.DataFrame:
    """The newest warnings and errors the worker recorded (its events: not the alerts the relay sent)."""
    return events(engine, limit, levels=("warning", "error")).drop(columns="run_id")


def events(engine: Engine, limit: int = 200, levels: tuple[str, ...] = ()) -> pd.DataFrame:
    """The newest worker events (of `levels`, or of every level), newest first."""
    cols = ("time", "level", "code", "message", "run_id")
    stmt = select(*columns(Event, cols)).order_by(Event.id.desc()).limit(limit)  # type: ignore[union-attr]
    if levels:
        stmt = stmt.where(Event.level.in_(levels))  # type: ignore[attr-defined]
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
        select(*columns(ControlEvent, cols))
        .order_by(ControlEvent.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    )
    return frame(engine, stmt, cols)


def param_versions(engine: Engine) -> pd.DataFrame:
    """Every parameter version, newest first: who, when, the note, when the worker first used it."""
    cols = ("id", "author", "created_at", "note", "first_used_at", "reverted_from")
    stmt = select(*columns(ParamVersion, cols))
    return frame(engine, stmt.order_by(ParamVersion.id.desc()), cols)  # type: ignore[union-attr]


def param_version(engine: Engine, version_id: int) -> dict[str, Any] | None:
    return _row(engine, select(ParamVersion).where(ParamVersion.id == version_id))


def open_orders(engine: Engine) -> pd.DataFrame:
    """Orders still working at the broker (pending, accepted, partially filled), oldest first."""
    # side, size, price and status first (a phone shows three or four columns); the id last
    cols = (
        "side",
        "qty",
        "limit_price",
        "status",
        "filled_qty",
        "order_type",
        "contract",
        "created_at",
        "client_order_id",
    )
    stmt = select(*columns(Order, cols)).where(Order.status.in_(OPEN_ORDER_STATES)).order_by(Order.id)  # type: ignore[attr-defined,arg-type]
    return frame(engine, stmt, cols)


def control_requests(engine: Engine, limit: int = 20) -> pd.DataFrame:
    """The operator's per-position requests, newest first: who, what, why, what the worker did."""
    cols = ("id", "at", "who", "kind", "trade_id", "client_order_id", "reason", "status", "result", "updated_at")
    stmt = select(*columns(ControlRequest, cols)).order_by(ControlRequest.id.desc()).limit(limit)  # type: ignore[union-attr]
    return frame(engine, stmt, cols)


def chat_commands(engine: Engine, limit: int = 200) -> pd.DataFrame:
    """Chat commands, newest first: when, who (Telegram id and name), what, how it ended, the reply
    and whether it reached Telegram."""
    cols = ("at", "user_id", "username", "command", "args", "outcome", "reply", "delivery")
    stmt = select(*columns(ChatCommand, cols)).order_by(ChatCommand.id.desc()).limit(limit)  # type: ignore[union-attr]
    return frame(engine, stmt, cols)


def login_attempts(engine: Engine, limit: int = 200) -> pd.DataFrame:
    """Console login attempts, newest first: when, who, from where, how it ended."""
    cols = ("at", "user", "source", "outcome")
    stmt = select(*columns(LoginAttempt, cols)).order_by(LoginAttempt.id.desc()).limit(limit)  # type: ignore[union-attr]
    return frame(engine, stmt, cols)


def live_overrides(engine: Engine, limit: int = 200) -> pd.DataFrame:
    """Every go-live override, newest first: who, why, the cap, the sessions used, how it ended."""
    cols = ("id", "created_at", "who", "reason", "size_cap", "sessions", "used_days", "model_version",
            "param_version", "gate_summary", "ended_at", "ended_reason")  # fmt: skip
    stmt = select(*columns(LiveOverride, cols)).order_by(LiveOverride.id.desc()).limit(limit)  # type: ignore[union-attr]
    return frame(engine, stmt, cols)


def latest_market(engine: Engine, symbol: str) -> dict[str, Any] | None:
    """The newest decision's view of a symbol: its time, the underlying's price and VIX."""
    stmt = (
        select(Decision.time, Decision.underlying_price, Decision.vix)
        .where(Decision.symbol == symbol)
        .order_by(Decision.id.desc())  # type: ignore[union-attr]
        .limit(1)
    )
    return _row(engine, stmt)
