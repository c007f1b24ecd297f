"""Escalation of repeated broker failures: REDUCING first, then HALTED (flatten), with events.

A cycle counts as failed at the broker when it raised BrokerUnavailableError or a submit in it
failed. One good cycle resets the count; the state itself is not lifted automatically: the
operator resumes from the console once the broker is healthy again.

A refused entry is not a failure: the broker answered, with a 4xx (options level too low, a
closing-only contract, buying power). Refused every cycle the policy signals, the same entry would
be sent forever; `RefusalWatch` counts refusals of entries on the same contract with the same
message and at `broker_refusals_before_reducing` sets REDUCING (only exits) with the broker's own
words. Refused exits are not counted: REDUCING would not help them (the stop, the end-of-day
flatten and the broker's liquidation deal with a position that cannot be closed).
"""

from __future__ import annotations

import logging
import re
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


def refusal_key(symbol: str, message: str) -> tuple[str, str]:
    """(contract, the message without numbers): the same refusal whatever the quantity or price."""
    return symbol, re.sub(r"[0-9.]+", "#", message)


class RefusalWatch:
    """Counts the broker's refusals per (contract, message) in a row; escalates once at the limit."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.limit = 3  # broker_refusals_before_reducing, set from the active parameters each cycle
        self.in_a_row: dict[tuple[str, str], int] = {}

    def accepted(self, symbol: str) -> None:
        """The broker took an order on `symbol`: its refusals start again from zero."""
        for key in [k for k in self.in_a_row if k[0] == symbol]:
            del self.in_a_row[key]

    def refused(self, symbol: str, message: str, now: datetime) -> None:
        key = refusal_key(symbol, message)
        n = self.in_a_row[key] = self.in_a_row.get(key, 0) + 1
        text = f"The broker refused an order on {symbol} ({n} in a row): {message}"
        self.journal.event("warning", "broker_refused", text[:2000], time=now)
        if n != self.limit:
            return
        text = (
            f"The broker refused orders on {symbol} {n} times in a row with the same answer: {message}. "
            "Only exits until the operator resumes."
        )
        note = EventNote("error", "broker_refusals", text[:2000], self.journal.run_id)
        if set_trading_state(
            self.journal.engine, TradingState.REDUCING, "worker", "broker_refusals", text[:2000], at=now, note=note
        ):
            log.error("%s", text)
