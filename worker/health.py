"""Escalation of repeated broker failures: REDUCING first, then HALTED (flatten), with events.

A cycle counts as failed at the broker when it raised BrokerUnavailableError or a submit in it
failed. One good cycle resets the count; the state itself is not lifted automatically: the
operator resumes from the console once the broker is healthy again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from core.types import TradingState
from db.control import EventNote, set_trading_state
from db.journal import Journal

log = logging.getLogger("worker.health")
REDUCE_AFTER = 3
HALT_AFTER = 6


class BrokerHealth:
    def __init__(self, journal: Journal, reduce_after: int = REDUCE_AFTER, halt_after: int = HALT_AFTER) -> None:
        self.journal = journal
        self.reduce_after = reduce_after
        self.halt_after = halt_after
        self.consecutive = 0

    def success(self) -> None:
        self.consecutive = 0

    def failure(self, what: str, now: datetime) -> None:
        """Count one failed cycle; at the thresholds move the trading state and say why."""
        self.consecutive += 1
        n = self.consecutive
        self.journal.event("warning", "broker_error", f"Broker failure {n} in a row: {what}", time=now)
        engine = self.journal.engine
        if n == self.reduce_after:
            text = f"{n} broker failures in a row (last: {what}); only exits until the operator resumes."
            note = EventNote("error", "broker_errors", text, self.journal.run_id)
            if set_trading_state(engine, TradingState.REDUCING, "worker", "broker_errors", text, at=now, note=note):
                log.error("%s", text)
        elif n == self.halt_after:
            text = f"{n} broker failures in a row (last: {what}); halting and flattening."
            note = EventNote("error", "broker_errors", text, self.journal.run_id)
            if set_trading_state(
                engine, TradingState.HALTED, "worker", "broker_errors", text, flatten=True, at=now, note=note
            ):
                log.error("%s", text)
