"""The shares an option exercise or assignment owes the account, persisted from the booking of
the broker's activity until they arrive and are closed or reported (worker/book/option_events.py),
so a restarted worker keeps tracking them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, update

from db.models import OwedShares

OWED, CLOSED, REPORTED = "owed", "closed", "reported"


@dataclass(frozen=True)
class Owed:
    """One activity's shares still owed: `shares` signed as they come, beyond `baseline` (the
    account's other shares of the underlying, signed)."""

    id: int
    activity_id: str
    underlying: str
    contract: str
    kind: str
    shares: int
    baseline: int
    result: str | None


def add_owed(
    conn: Connection,
    *,
    activity_id: str,
    underlying: str,
    contract: str,
    kind: str,
    shares: int,
    baseline: int,
    at: datetime,
) -> None:
    """Record the shares an activity owes (in the transaction that books the activity)."""
    values = {
        "activity_id": activity_id, "created_at": at, "underlying": underlying, "contract": contract, "kind": kind,
        "shares": shares, "baseline": baseline, "status": OWED, "updated_at": at,
    }  # fmt: skip
    conn.execute(insert(OwedShares).values(**values))


def owed(engine: Engine) -> list[Owed]:
    """Every activity's shares still owed, oldest first."""
    t = OwedShares.__table__.c  # type: ignore[attr-defined]
    stmt = select(t.id, t.activity_id, t.underlying, t.contract, t.kind, t.shares, t.baseline, t.result)
    with engine.connect() as conn:
        rows = conn.execute(stmt.where(t.status == OWED).order_by(t.id)).all()
    return [Owed(*row) for row in rows]


def settle(conn: Connection, ids: list[int], status: str, result: str, at: datetime) -> None:
    """Mark these owed shares closed, reported, or (status `owed`) still owed with a new result."""
    t = OwedShares.__table__.c  # type: ignore[attr-defined]
    conn.execute(update(OwedShares).where(t.id.in_(ids)).values(status=status, result=result, updated_at=at))
