"""The alert relay's reads of the journal (rows newer than its cursors) and its cursors.

Only the worker's own runs count (a backtest written into the same database alerts nobody).
Every read returns typed records, oldest first, so the relay can advance a cursor row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, func, or_, select
from sqlmodel import Session

from db.control import utcnow
from db.models import AlertCursor, ControlEvent, Decision, Event, Run, Trade, WorkerStatus

SELF_CODES = ("alert_failed",)  # the relay's own events: never relayed (a failing channel would loop)


@dataclass(frozen=True)
class EventRow:
    id: int
    time: datetime
    level: str
    code: str
    message: str


@dataclass(frozen=True)
class StateChange:
    id: int
    at: datetime
    who: str
    from_state: str
    to_state: str
    reason_code: str
    reason: str


@dataclass(frozen=True)
class TradeRow:
    id: int
    underlying: str
    contract: str
    direction: int
    entry_time: datetime
    entry_qty: int
    entry_avg: float
    entry_reason: str
    confidence: float
    exit_time: datetime | None
    exit_avg: float | None
    exit_reason_code: str | None
    exit_reason: str | None
    realized_pnl: float
    structure: str = "long_call"  # core.structures.types.StructureKind's value


@dataclass(frozen=True)
class Heartbeat:
    heartbeat_at: datetime
    market_time: datetime | None  # the worker's clock (simulated in sim mode)
    mode: str
    stopped: bool


def _worker_trades() -> list[object]:
    return [Trade.run_id.in_(select(Run.id).where(Run.kind == "worker"))]  # type: ignore[attr-defined]


def _trade(t: Trade) -> TradeRow:
    assert t.id is not None
    return TradeRow(
        t.id,
        t.underlying,
        t.contract,
        t.direction,
        t.entry_time,
        t.entry_qty,
        t.entry_avg,
        t.entry_reason,
        t.confidence,
        t.exit_time,
        t.exit_avg,
        t.exit_reason_code,
        t.exit_reason,
        t.realized_pnl,
        t.structure or ("long_call" if t.direction > 0 else "long_put"),
    )


def events_after(engine: Engine, after_id: int) -> list[EventRow]:
    with Session(engine) as s:
        rows = s.exec(
            select(Event).where(Event.id > after_id, Event.code.not_in(SELF_CODES)).order_by(Event.id)  # type: ignore[arg-type,union-attr,attr-defined]
        ).all()
        return [EventRow(r.id, r.time, r.level, r.code, r.message) for (r,) in rows]


def state_changes_after(engine: Engine, after_id: int) -> list[StateChange]:
    with Session(engine) as s:
        rows = s.exec(select(ControlEvent).where(ControlEvent.id > after_id).order_by(ControlEvent.id)).all()  # type: ignore[arg-type,operator]
        return [StateChange(r.id, r.at, r.who, r.from_state, r.to_state, r.reason_code, r.reason) for (r,) in rows]


def trades_opened_after(engine: Engine, after_id: int) -> list[TradeRow]:
    with Session(engine) as s:
        rows = s.exec(select(Trade).where(Trade.id > after_id, *_worker_trades()).order_by(Trade.id)).all()  # type: ignore[arg-type,operator]
        return [_trade(t) for (t,) in rows]


def trades_closed_after(engine: Engine, after: tuple[datetime, int] | None) -> list[TradeRow]:
    """Closed trades after the cursor (exit time, id), in the order they closed."""
    where = [Trade.status == "closed", *_worker_trades()]
    if after is not None:
        t, i = after
        where.append(or_(Trade.exit_time > t, and_(Trade.exit_time == t, Trade.id > i)))  # type: ignore[arg-type,operator]
    with Session(engine) as s:
        rows = s.exec(select(Trade).where(*where).order_by(Trade.exit_time, Trade.id)).all()  # type: ignore[arg-type]
        return [_trade(t) for (t,) in rows]


def newest_closed_trade(engine: Engine) -> TradeRow | None:
    """The worker's most recently closed trade (where a first start's cursor begins)."""
    with Session(engine) as s:
        found = s.exec(
            select(Trade)
            .where(Trade.status == "closed", *_worker_trades())  # type: ignore[arg-type]
            .order_by(Trade.exit_time.desc(), Trade.id.desc())  # type: ignore[union-attr]
            .limit(1)
        ).first()
        return None if found is None else _trade(found[0])


def closed_between(engine: Engine, start: datetime, end: datetime) -> list[TradeRow]:
    """The worker's trades that closed in [start, end] (a session's summary)."""
    with Session(engine) as s:
        rows = s.exec(
            select(Trade)
            .where(Trade.status == "closed", Trade.exit_time >= start, Trade.exit_time <= end, *_worker_trades())  # type: ignore[arg-type,operator]
            .order_by(Trade.exit_time)
        ).all()
        return [_trade(t) for (t,) in rows]


def latest_ids(engine: Engine) -> dict[str, int]:
    """The newest event, state change and trade ids: where a first start begins (no history flood)."""
    with Session(engine) as s:
        return {
            "events": int(s.exec(select(func.coalesce(func.max(Event.id), 0))).one()[0]),
            "state_changes": int(s.exec(select(func.coalesce(func.max(ControlEvent.id), 0))).one()[0]),
            "trades_opened": int(s.exec(select(func.coalesce(func.max(Trade.id), 0))).one()[0]),
        }


def heartbeat(engine: Engine) -> Heartbeat | None:
    with Session(engine) as s:
        row = s.get(WorkerStatus, "worker")
        return None if row is None else Heartbeat(row.heartbeat_at, row.sim_time, row.mode, row.stopped)


def read_cursors(engine: Engine) -> dict[str, str]:
    with Session(engine) as s:
        return {c.name: c.value for (c,) in s.exec(select(AlertCursor)).all()}


def write_cursors(engine: Engine, values: dict[str, str]) -> None:
    with Session(engine) as s:
        for name, value in values.items():
            row = s.get(AlertCursor, name)
            if row is None:
                s.add(AlertCursor(name=name, value=value, updated_at=utcnow()))
            else:
                row.value, row.updated_at = value, utcnow()
        s.commit()


@dataclass(frozen=True)
class BlockCount:
    code: str
    count: int


def blocks_between(engine: Engine, start: datetime, end: datetime, top: int = 3) -> list[BlockCount]:
    """The worker's most frequent entry blocks in [start, end]: why a day had few trades."""
    runs = select(Run.id).where(Run.kind == "worker")
    stmt = (
        select(Decision.blocked_by, func.count())
        .where(Decision.time >= start, Decision.time <= end, Decision.blocked_by.is_not(None))  # type: ignore[union-attr]
        .where(Decision.run_id.in_(runs))  # type: ignore[attr-defined]
        .group_by(Decision.blocked_by)
        .order_by(func.count().desc())
        .limit(top)
    )
    with engine.connect() as conn:
        return [BlockCount(str(code), int(n)) for code, n in conn.execute(stmt)]
