"""The worker's status row: the lease, the heartbeat and the clock of the last completed cycle.
Exactly one worker trades on a database, also through pauses.

Taking the lease is one conditional write in one transaction: the `workerstatus` row is claimed
only if it is free (never held, stopped, or its heartbeat older than the lease period), and the
claim increments a fencing token. The heartbeat renews only the holder's own lease (same run id
and token). Every order row is written in a transaction that first renews the lease the same
way (`fence`): a worker that lost its lease (it was paused past the period and a successor took
over) writes no order, so it sends none, and raises `LeaseLostError`.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from db.control import utcnow
from db.models import WorkerStatus

LEASE_SECONDS = 15.0
ROW_ID = "worker"


class LeaseHeldError(RuntimeError):
    """Another worker holds the lease on this database."""


class LeaseLostError(RuntimeError):
    """This worker's lease was taken over: it must send nothing more and stop."""


@dataclass(frozen=True)
class Lease:
    """The lease this process holds: its run id and the fencing token it was granted."""

    run_id: str
    token: int
    period_s: float = LEASE_SECONDS


def acquire(engine: Engine, run_id: str, mode: str, period_s: float = LEASE_SECONDS) -> Lease:
    """Claim the lease in one conditional write; LeaseHeldError names the live holder."""
    now = utcnow()
    values = {
        "run_id": run_id,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "mode": mode,
        "started_at": now,
        "heartbeat_at": now,
        "stopped": False,
    }
    stale = now - timedelta(seconds=period_s)
    with engine.begin() as conn:
        claimed = conn.execute(
            update(WorkerStatus)
            .where(
                WorkerStatus.id == ROW_ID,
                or_(WorkerStatus.stopped.is_(True), WorkerStatus.heartbeat_at < stale),  # type: ignore[attr-defined]
            )
            .values(lease_token=WorkerStatus.lease_token + 1, **values)
        ).rowcount
        if claimed:
            token = conn.execute(select(WorkerStatus.lease_token).where(WorkerStatus.id == ROW_ID)).scalar_one()
            return Lease(run_id, int(token), period_s)
    try:
        with engine.begin() as conn:
            conn.execute(insert(WorkerStatus).values(id=ROW_ID, lease_token=1, **values))
        return Lease(run_id, 1, period_s)
    except IntegrityError:
        pass  # the row exists and is held (or another worker inserted it first)
    with engine.connect() as conn:
        row = conn.execute(select(WorkerStatus).where(WorkerStatus.id == ROW_ID)).mappings().one()
    age = (utcnow() - row["heartbeat_at"]).total_seconds()
    raise LeaseHeldError(
        f"another worker (run {row['run_id']}, pid {row['pid']} on {row['host']}) holds the lease: heartbeat "
        f"{age:.0f} s ago, lease period {period_s:.0f} s; exactly one worker may run per database"
    )


def _held(lease: Lease) -> object:
    return and_(
        WorkerStatus.id == ROW_ID,
        WorkerStatus.run_id == lease.run_id,
        WorkerStatus.lease_token == lease.token,
        WorkerStatus.stopped.is_(False),  # type: ignore[attr-defined]
    )


def fence(conn: Connection, lease: Lease, at: datetime | None = None, **values: object) -> None:
    """Inside a transaction: renew the lease if this worker still holds it, else LeaseLostError
    (and the caller's transaction, with the order it was writing, rolls back)."""
    done = conn.execute(
        update(WorkerStatus).where(_held(lease)).values(heartbeat_at=at or utcnow(), **values)  # type: ignore[arg-type]
    ).rowcount
    if not done:
        raise LeaseLostError(f"run {lease.run_id} lost the lease (token {lease.token}); another worker holds it")


@dataclass(frozen=True)
class Heartbeat:
    """What the worker reports every few seconds (the console shows it)."""

    run_id: str
    mode: str
    sim_time: datetime | None
    state_seen: str
    last_cycle_ms: float
    started_at: datetime
    stopped: bool = False


def write_heartbeat(conn: Connection, beat: Heartbeat, lease: Lease | None) -> None:
    """With a lease: renew it (LeaseLostError if it was taken) and report; without one (a
    one-off command, an old test): write the row as it is."""
    if lease is not None:
        fence(conn, lease, sim_time=beat.sim_time, state_seen=beat.state_seen, last_cycle_ms=beat.last_cycle_ms)
        if beat.stopped:
            conn.execute(update(WorkerStatus).where(WorkerStatus.id == ROW_ID).values(stopped=True))
        return
    values = {
        "run_id": beat.run_id,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "mode": beat.mode,
        "started_at": beat.started_at,
        "heartbeat_at": utcnow(),
        "sim_time": beat.sim_time,
        "state_seen": beat.state_seen,
        "last_cycle_ms": beat.last_cycle_ms,
        "stopped": beat.stopped,
    }
    if not conn.execute(update(WorkerStatus).where(WorkerStatus.id == ROW_ID).values(**values)).rowcount:
        conn.execute(insert(WorkerStatus).values(id=ROW_ID, **values))


def release(engine: Engine, lease: Lease) -> None:
    """Mark the lease free (a clean stop): a successor may start at once."""
    with engine.begin() as conn:
        conn.execute(update(WorkerStatus).where(_held(lease)).values(stopped=True, heartbeat_at=utcnow()))


def last_cycle_time(engine: Engine) -> datetime | None:
    """The last completed cycle of a worker on this database (a restart continues after it)."""
    with engine.connect() as conn:
        return conn.execute(select(WorkerStatus.cycle_time).where(WorkerStatus.id == ROW_ID)).scalar()
