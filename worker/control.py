"""The 1-second control tick: carries out the trading state the console (or a safeguard) set.

HALTED cancels every open order and, with flatten, closes every position at market; the
result is written back as the halt's confirmation, which the console shows.
"""

from __future__ import annotations

from datetime import datetime

from core.exits import EMERGENCY_STOP, MAX_DRAWDOWN_HALT
from core.types import TradingState
from db.control import mark_halt_applied
from worker.cycle import TradingCycle


class ControlLoop:
    def __init__(self, cycle: TradingCycle) -> None:
        self.cycle = cycle

    def tick(self, now: datetime, reuse_cycle_read: bool = False) -> str | None:
        """Apply a pending halt; returns its summary when one was applied.

        `reuse_cycle_read` lets a backtest, where nothing but the cycle writes the control row,
        skip the read when the cycle that just ran read the row and wrote no state change.
        """
        cycle = self.cycle
        with cycle.lock:
            if reuse_cycle_read and cycle.last_control is not None and not cycle.state_written:
                control = cycle.last_control
            else:
                control, _ = cycle.journal.read_control()
            cycle.last_state = control.state
            if control.state is not TradingState.HALTED or control.halt_applied_at is not None:
                return None
            reason = MAX_DRAWDOWN_HALT if control.reason_code == "max_drawdown" else EMERGENCY_STOP
            cycle.pending.clear()
            cycle.open_order_symbols.clear()
            before = len(cycle.book.positions())
            updates = cycle.broker.close_all(now) if control.flatten else cycle.broker.cancel_all(now)
            for upd in updates:
                cycle.book_update(upd, now, default_exit=reason)
            cancelled = sum(1 for u in updates if u.status.value == "canceled")
            closed = before - len(cycle.book.positions())
            left = len(cycle.broker.positions())
            summary = (
                f"{cancelled} open orders cancelled, {closed} positions closed at {now:%Y-%m-%d %H:%M:%S %Z}; "
                f"{left} positions left at the broker."
            )
            cycle.journal.flush()
            mark_halt_applied(cycle.journal.engine, summary, at=now)
            cycle.journal.event("warning" if left == 0 else "error", "halt_applied", summary, time=now)
            return summary
