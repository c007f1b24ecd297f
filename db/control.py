"""Control actions shared by the console and the worker: the trading state (with an audit row
for every change) and parameter versions (validated before anything is stored)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from core.params import TradingParams, params_to_json, validate_params
from core.types import TradingState
from db.engine import session_scope
from db.models import ControlEvent, ControlState, Event, ParamVersion, Trade


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ControlSnapshot:
    """What the worker reads at the start of every cycle and every control tick."""

    state: TradingState
    flatten: bool
    reason_code: str
    param_version: int
    halt_applied_at: datetime | None


@dataclass(frozen=True)
class EventNote:
    """An `event` row written in the same transaction as the change it explains (a crash can
    never leave the state changed without its event, or the reverse)."""

    level: str
    code: str
    message: str
    run_id: str | None = None

    def row(self, at: datetime) -> Event:
        return Event(time=at, run_id=self.run_id, level=self.level, code=self.code, message=self.message[:2000])


def bootstrap(engine: Engine, author: str = "system") -> None:
    """Create the control row (ACTIVE) and parameter version 1 (the defaults) if missing."""
    with session_scope(engine) as s:
        if s.get(ControlState, 1) is not None:
            return
        version = ParamVersion(
            values=params_to_json(TradingParams()), author=author, note="defaults", created_at=utcnow()
        )
        s.add(version)
        s.flush()
        s.add(
            ControlState(
                id=1,
                state=TradingState.ACTIVE.value,
                reason_code="bootstrap",
                reason="New database.",
                set_by=author,
                set_at=utcnow(),
                active_param_version=version.id,
                database_id=str(uuid.uuid4()),
            )
        )


def database_id(engine: Engine) -> str:
    """This database's identity: the root of stable client order ids (the same intent gets the
    same id in any process that trades on this database)."""
    with session_scope(engine) as s:
        row = s.get(ControlState, 1)
        if row is None:
            raise RuntimeError("the database has no control row: run `python -m db.migrate` first")
        if row.database_id is None:
            row.database_id = str(uuid.uuid4())
            s.add(row)
        return row.database_id


def read_control(session: Session) -> ControlSnapshot:
    row = session.get(ControlState, 1)
    if row is None:
        raise RuntimeError("the database has no control row: run `python -m db.migrate` first")
    return ControlSnapshot(
        TradingState(row.state), row.flatten, row.reason_code, row.active_param_version or 0, row.halt_applied_at
    )


def set_trading_state(
    engine: Engine,
    to_state: TradingState,
    who: str,
    reason_code: str,
    reason: str,
    flatten: bool = False,
    at: datetime | None = None,
    note: EventNote | None = None,
) -> ControlEvent | None:
    """Move to `to_state` and write the audit row (and `note`'s event), in one transaction.

    Idempotent: asking for the state already in force (with the same flatten) writes nothing
    and returns None, so a double click or a rerun never applies an action twice.
    """
    at = at or utcnow()
    flatten = flatten and to_state is TradingState.HALTED
    with session_scope(engine) as s:
        row = s.get(ControlState, 1)
        if row is None:
            raise RuntimeError("the database has no control row: run `python -m db.migrate` first")
        if row.state == to_state.value and (row.flatten or not flatten):
            return None
        event = ControlEvent(
            at=at,
            who=who,
            from_state=row.state,
            to_state=to_state.value,
            flatten=flatten,
            reason_code=reason_code,
            reason=reason,
        )
        row.state, row.flatten, row.reason_code, row.reason = to_state.value, flatten, reason_code, reason
        row.set_by, row.set_at = who, at
        row.halt_applied_at, row.halt_summary = None, None
        s.add(row)
        s.add(event)
        if note is not None:
            s.add(note.row(at))
        s.flush()
        s.expunge(event)
        return event


def mark_halt_applied(engine: Engine, summary: str, at: datetime | None = None, note: EventNote | None = None) -> None:
    """The worker's confirmation that a HALTED state was carried out at the broker (with its event)."""
    at = at or utcnow()
    with session_scope(engine) as s:
        row = s.get(ControlState, 1)
        if row is None or row.state != TradingState.HALTED.value:
            return
        row.halt_applied_at, row.halt_summary = at, summary
        s.add(row)
        if note is not None:
            s.add(note.row(at))
        last = s.exec(
            select(ControlEvent)
            .where(ControlEvent.to_state == TradingState.HALTED.value)
            .order_by(ControlEvent.id.desc())
            .limit(1)
        ).first()  # type: ignore[union-attr]
        if last is not None and last.applied_at is None:
            last.applied_at, last.applied_summary = at, summary
            s.add(last)


def mark_halt_incomplete(
    engine: Engine, summary: str, at: datetime | None = None, note: EventNote | None = None
) -> None:
    """The worker could not (yet) confirm a HALTED state: the summary says what is still open;
    `halt_applied_at` stays empty, so the console shows "stop incomplete" and the worker retries."""
    with session_scope(engine) as s:
        row = s.get(ControlState, 1)
        if row is None or row.state != TradingState.HALTED.value or row.halt_applied_at is not None:
            return
        row.halt_summary = summary
        s.add(row)
        if note is not None:
            s.add(note.row(at or utcnow()))


@dataclass(frozen=True)
class TradeResult:
    """A trade as a stop's confirmation names it: what it is, whether it closed, its P&L."""

    trade_id: int
    label: str
    status: str
    realized_pnl: float


def trade_results(engine: Engine, trade_ids: set[int]) -> list[TradeResult]:
    """The trades `trade_ids` as stored now (a closed trade's realized P&L is its whole P&L)."""
    if not trade_ids:
        return []
    with session_scope(engine) as s:
        found = s.exec(select(Trade).where(Trade.id.in_(sorted(trade_ids)))).all()  # type: ignore[union-attr]
        return [
            TradeResult(
                int(t.id or 0),
                f"{t.underlying} {t.structure.replace('_', ' ')}" if t.legs and t.structure else t.contract,
                t.status,
                float(t.realized_pnl or 0.0),
            )
            for t in sorted(found, key=lambda t: t.id or 0)
        ]


def save_param_version(
    engine: Engine, values: dict[str, Any], author: str, note: str = "", reverted_from: int | None = None
) -> ParamVersion:
    """Validate, store as a new version and make it active. Raises ParamsError, storing nothing."""
    params = validate_params(values)
    with session_scope(engine) as s:
        version = ParamVersion(
            values=params_to_json(params), author=author, note=note, created_at=utcnow(), reverted_from=reverted_from
        )
        s.add(version)
        s.flush()
        row = s.get(ControlState, 1)
        if row is None:
            raise RuntimeError("the database has no control row: run `python -m db.migrate` first")
        row.active_param_version = version.id
        s.add(row)
        s.flush()
        s.expunge(version)
        return version


def revert_to(engine: Engine, version_id: int, author: str, note: str = "") -> ParamVersion:
    """Make an earlier version's values active again, as a new version."""
    with session_scope(engine) as s:
        old = s.get(ParamVersion, version_id)
        if old is None:
            raise LookupError(f"parameter version {version_id} does not exist")
        values = dict(old.values)
    return save_param_version(
        engine, values, author, note or f"revert to version {version_id}", reverted_from=version_id
    )
