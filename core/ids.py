"""Deterministic client order ids: the same intent always gets the same id, so a retry can
look the order up instead of sending it twice. Alpaca requires ids to be UUIDs."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("0d7e0c1a-5b3f-4c4e-9a51-2f1f6b8c0d7e")


def client_order_id(identity: str, symbol: str, decision_time_iso: str, purpose: str) -> str:
    """UUID5 of (identity, underlying, decision time, purpose): unique per intent, the same in every
    process. `identity` is the database's (a worker: a restart that remakes a decision finds its
    order) or a backtest run's."""
    return str(uuid.uuid5(NAMESPACE, f"{identity}|{symbol}|{decision_time_iso}|{purpose}"))
