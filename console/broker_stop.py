"""The console's own line to the broker: the stop must work while the worker is down.

With a real broker (paper or live) the stop button records HALTED for the worker and also
cancels every order and closes every position at Alpaca directly, with the keys from the
console's environment, then reads the account back. Both results are written as events.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine

from db.control import utcnow
from db.journal import Journal

REAL_MODES = ("paper", "live")


def trading_mode(status: dict[str, Any] | None) -> str:
    """The mode of the worker on this database (its heartbeat), else TRADING_MODE, else sim."""
    if status and status.get("mode"):
        return str(status["mode"])
    return os.environ.get("TRADING_MODE", "sim")


def flatten_at_broker(engine: Engine, mode: str, operator: str) -> tuple[bool, str]:
    """Cancel all orders and close all positions at the broker; (flat, summary) for the page."""
    from worker.alpaca_broker import AlpacaBroker  # imported here: sim consoles never need alpaca-py
    from worker.alpaca_http import AlpacaSettings, make_clients

    journal = Journal(engine, "console")
    try:
        broker = AlpacaBroker(make_clients(AlpacaSettings.from_env(mode)))
        orders = broker.close_all(utcnow())
        left = broker.positions()
    except Exception as exc:
        summary = f"Direct broker stop by {operator} failed: {type(exc).__name__}: {exc}"
        journal.event("error", "console_broker_stop", summary)
        return False, summary
    summary = (
        f"Direct broker stop by {operator}: {len(orders)} close orders, {len(left)} positions left at Alpaca ({mode})."
    )
    journal.event("warning" if not left else "error", "console_broker_stop", summary)
    return not left, summary
