"""The 1-second control tick: carries out the trading state the console (or a safeguard) set.

HALTED cancels every open order and, with flatten, closes every option position on the traded
underlyings through the order desk. The halt is confirmed (the console shows it) only when the
broker's positions read back flat; until then each tick tries again, every failure is an event
with the broker's message, and after `MAX_STOP_ATTEMPTS` the state stays "stop incomplete"
(with what is still open) for the operator. Other holdings in the account are left alone and
listed in the confirmation. The tick also carries out the operator's per-position requests
(close one position, cancel one order: worker/requests.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from core.exits import EMERGENCY_STOP, MAX_DRAWDOWN_HALT
from core.types import TradingState
from db.control import EventNote, mark_halt_applied, mark_halt_incomplete
from worker.cycle import TradingCycle
from worker.requests import carry_out as carry_out_requests

log = logging.getLogger("worker.control")
MAX_STOP_ATTEMPTS = 10


@dataclass
class _StopProgress:
    """The halt being carried out: which one (by its reason code) and how many tries so far."""

    reason_code: str | None = None
    attempts: int = 0
    cancelled: int = 0
    closed: int = 0
    given_up: bool = False


class ControlLoop:
    def __init__(self, cycle: TradingCycle) -> None:
        self.cycle = cycle
        self.progress = _StopProgress()

    def tick(self, now: datetime, reuse_cycle_read: bool = False) -> str | None:
        """Carry out a pending halt; returns its summary once it is confirmed.

        `reuse_cycle_read` lets a backtest, where nothing but the cycle writes the control row,
        skip the read when the cycle that just ran read the row and wrote no state change.
        """
        cycle = self.cycle
        with cycle.lock:
            if reuse_cycle_read and cycle.last_control is not None and not cycle.state_written:
                control = cycle.last_control
            else:
                control, params = cycle.journal.read_control()
                carry_out_requests(cycle, now, params, control.state)  # nobody asks in a backtest
            cycle.last_state = control.state
            if control.state is not TradingState.HALTED or control.halt_applied_at is not None:
                if control.state is not TradingState.HALTED:
                    self.progress = _StopProgress()
                return None
            return self._carry_out(control.reason_code, control.flatten, now)

    def _carry_out(self, reason_code: str, flatten: bool, now: datetime) -> str | None:
        cycle, p = self.cycle, self.progress
        if p.reason_code != reason_code:
            p = self.progress = _StopProgress(reason_code)
        if p.given_up:
            return None
        p.attempts += 1
        reason = MAX_DRAWDOWN_HALT if reason_code == "max_drawdown" else EMERGENCY_STOP
        result = cycle.desk.stop(now, reason, flatten)
        p.cancelled += result.cancelled
        p.closed += result.closed
        journal = cycle.journal
        traded = set(cycle.market.symbols)
        try:
            positions = cycle.broker.positions()
            working = [o for o in cycle.broker.open_orders() if o.contract is None or o.contract.underlying in traded]
        except Exception as exc:
            result.errors.append(f"reading the account back: {exc}")
            positions, working = [], []
        ours = [q for q in positions if q.contract.underlying in traded]
        others = [f"{q.contract.symbol} x{q.qty}" for q in positions if q.contract.underlying not in traded]
        others += cycle.broker.other_holdings()
        left = ours if flatten else []
        for error in result.errors:
            journal.event("error", "stop_failed", f"Stop attempt {p.attempts}: {error}", time=now)
        journal.flush()
        if result.errors or left or working:  # confirmed only when flat and nothing works any more
            what = ", ".join(f"{q.contract.symbol} x{q.qty}" for q in left) or "none"
            orders = ", ".join(o.client_order_id[:8] for o in working) or "none"
            text = (
                f"Stop incomplete after {p.attempts} attempts: positions still open: {what}; orders working: {orders}."
            )
            if p.attempts >= MAX_STOP_ATTEMPTS:
                p.given_up = True
                text += " Giving up retrying: close them at the broker."
            alert = p.given_up or p.attempts == 3  # the first tries often wait on asynchronous cancels
            note = EventNote("error", "stop_incomplete", text, journal.run_id) if alert else None
            mark_halt_incomplete(journal.engine, text, at=now, note=note)
            log.error("%s", text)
            return None
        summary = (
            f"{p.cancelled} open orders cancelled, {p.closed} positions closed at {now:%Y-%m-%d %H:%M:%S %Z}; "
            f"0 positions left at the broker on {', '.join(sorted(traded))}"
        )
        if others:
            summary += "; left alone (not traded by this worker): " + ", ".join(others)
        summary += "."
        mark_halt_applied(
            journal.engine, summary, at=now, note=EventNote("warning", "halt_applied", summary, journal.run_id)
        )
        return summary
