"""Escalation of repeated broker failures: REDUCING first, then HALTED (flatten), with events.

A cycle counts as failed at the broker when it raised BrokerUnavailableError or a submit in it
failed. One good cycle resets the count; the state itself is not lifted automatically: the
operator resumes from the console once the broker is healthy again.

A refused entry is not a failure: the broker answered, with a 4xx (options level too low, a
closing-only contract, buying power). Refused every cycle the policy signals, the same entry would
be sent forever; `RefusalWatch` counts refusals of entries by what was refused, the structure kind
on its underlying (an iron condor on SPY, a long call on QQQ: not the strikes, which move from one
cycle to the next), and the broker's message without its numbers. The first refusal of each is
an error event the alert relay forwards (one per kind and message while the worker runs); at
`broker_refusals_before_reducing` it sets REDUCING (only exits) with the broker's own words.
Refused exits are not counted: REDUCING would not help them (the stop, the end-of-day flatten and
the broker's liquidation deal with a position that cannot be closed).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from core.structures.types import structure_of
from core.types import OrderRequest, TradingState
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


def refused_what(request: OrderRequest) -> str:
    """What an opening order opens, as refusals are counted: its structure kind and underlying
    (e.g. `iron_condor SPY`), the same whatever strikes it picked."""
    return f"{structure_of(request.leg_orders()).kind.value} {request.contract.underlying}"


def refusal_key(what: str, message: str) -> tuple[str, str]:
    """(what was refused, the message without numbers): the same refusal whatever the quantity or price."""
    return what, re.sub(r"[0-9.]+", "#", message)


class RefusalWatch:
    """Counts the broker's refusals of entries per (structure kind and underlying, message) until one
    of that kind is accepted; alerts at the first of each, escalates once at the limit."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.limit = 3  # broker_refusals_before_reducing, set from the active parameters each cycle
        self.in_a_row: dict[tuple[str, str], int] = {}
        self.alerted: set[tuple[str, str]] = set()  # (what, message) already told to the operator

    def accepted(self, request: OrderRequest) -> None:
        """The broker took an opening order: refusals of what it opens start again from zero."""
        what = refused_what(request)
        for key in [k for k in self.in_a_row if k[0] == what]:
            del self.in_a_row[key]

    def refused(self, request: OrderRequest, message: str, now: datetime) -> None:
        what = refused_what(request)
        key = refusal_key(what, message)
        n = self.in_a_row[key] = self.in_a_row.get(key, 0) + 1
        first = key not in self.alerted
        self.alerted.add(key)
        text = f"The broker refused an order opening {what} ({request.contract.symbol}; {n} in a row): {message}"
        # the first of its kind is an error, which the alert relay forwards; repeats are warnings
        self.journal.event("error" if first else "warning", "broker_refused", text[:2000], time=now)
        if n != self.limit:
            return
        text = (
            f"The broker refused orders opening {what} {n} times in a row with the same answer: {message}. "
            "Only exits until the operator resumes."
        )
        note = EventNote("error", "broker_refusals", text[:2000], self.journal.run_id)
        if set_trading_state(
            self.journal.engine, TradingState.REDUCING, "worker", "broker_refusals", text[:2000], at=now, note=note
        ):
            log.error("%s", text)
