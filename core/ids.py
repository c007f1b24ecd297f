"""Deterministic client order ids: the same intent always gets the same id, so a retry can
look the order up instead of sending it twice. Alpaca requires ids to be UUIDs.

The decision time enters the id as UTC: a process whose clock reads New York time (a fresh
start) and one whose clock reads UTC (a resumed one) must derive the same id for the same
minute, or a restart would send the same intent twice under two ids.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

NAMESPACE = uuid.UUID("0d7e0c1a-5b3f-4c4e-9a51-2f1f6b8c0d7e")


def client_order_id(identity: str, symbol: str, decision_time: datetime, purpose: str) -> str:
    """UUID5 of (identity, underlying, decision time in UTC, purpose): unique per intent, the same
    in every process whatever timezone its clock carries. `identity` is the database's (a worker:
    a restart that remakes a decision finds its order) or a backtest run's."""
    if decision_time.tzinfo is None or decision_time.utcoffset() is None:
        raise ValueError(f"client_order_id needs a timezone-aware decision time, got {decision_time!r}")
    moment = decision_time.astimezone(UTC).isoformat()
    return str(uuid.uuid5(NAMESPACE, f"{identity}|{symbol}|{moment}|{purpose}"))
