"""Deterministic client order ids: the same intent always gets the same id, so a retry can
look the order up instead of sending it twice. Alpaca requires ids to be UUIDs."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("0d7e0c1a-5b3f-4c4e-9a51-2f1f6b8c0d7e")


def client_order_id(run_id: str, symbol: str, decision_time_iso: str, purpose: str) -> str:
    """UUID5 of (run, underlying, decision time, purpose): unique per intent, stable across retries."""
    return str(uuid.uuid5(NAMESPACE, f"{run_id}|{symbol}|{decision_time_iso}|{purpose}"))
