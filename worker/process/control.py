"""The 1-second control tick: carries out the trading state the console (or a safeguard) set.

HALTED cancels every open order and, with flatten, closes every option position on the traded
underlyings through the order desk: a structure as one multi-leg order of the legs still held
(its shorts bought back first where it goes leg by leg), everything else by the broker's
close-all (worker/book/stop_plan.py). A long leg nobody bids for is left, recorded as at no risk: it
is worth 0 and a long option cannot lose more. The halt is confirmed (the console shows it)
only when the broker's positions read back flat but for those legs; the confirmation names the
trades the stop closed with their realized P&L, and the legs it left and why. Until then each
tick tries again, every failure is an event with the broker's message, and after
`MAX_STOP_ATTEMPTS` the state stays "stop incomplete" (with what is still open) for the
operator. Other holdings in the account are left alone and listed in the confirmation. The tick
also carries out the operator's per-position requests (close one position, cancel one order:
worker/process/requests.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from core.exits import EMERGENCY_STOP, MAX_DRAWDOWN_HALT
from core.types import TradingState
from db.control import EventNote, mark_halt_applied, mark_halt_incomplete, trade_results
from worker.book.stop_plan import LeftLeg, StopPlan, plan_stop
from worker.cycle.cycle import TradingCycle
from worker.process.requests import carry_out as carry_out_requests

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
        desk = cycle.desk
        if p.reason_code != reason_code:
            p = self.progress = _StopProgress(reason_code)
            desk.stop_trades.clear()
            desk.stop_leg_by_leg.clear()
        if p.given_up:
            return None
        p.attempts += 1
        reason = MAX_DRAWDOWN_HALT if reason_code == "max_drawdown" else EMERGENCY_STOP
        plan, planning_error = self._plan(now, p.attempts) if flatten else (None, None)
        result = desk.stop(now, reason, flatten, plan)
        if planning_error:
            result.errors.append(planning_error)
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
        no_risk = [q for q in ours if plan is not None and plan.left_at_no_risk(q.contract.symbol, q.qty)]
        left = [q for q in ours if q not in no_risk] if flatten else []
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
        left_legs = [leg for leg in (plan.left if plan else []) if any(q.contract.symbol == leg.contract.symbol
                                                                       for q in no_risk)]  # fmt: skip
        for leg in left_legs:  # the cycle's close of legs left alone does not tell them again
            cycle.exits.told_left(leg.trade_id, leg.contract.symbol, leg.qty)
        summary = self._summary(p, now, traded, left_legs, others)
        mark_halt_applied(
            journal.engine, summary, at=now, note=EventNote("warning", "halt_applied", summary, journal.run_id)
        )
        return summary

    def _plan(self, now: datetime, attempt: int) -> tuple[StopPlan, str | None]:
        """The stop's plan; without quotes the structures wait for the next attempt (their legs
        are kept from the broker's close-all, which would sell a wing nobody bids for)."""
        cycle = self.cycle
        try:
            plan = plan_stop(cycle.book, cycle.market, cycle.journal.identity, now, attempt, cycle.desk.stop_leg_by_leg)
        except Exception as exc:
            keep = frozenset(cycle.book.held_contracts(multi_leg_only=True))
            return StopPlan(keep=keep), f"quotes for the stop: {exc}"
        return plan, None

    def _summary(
        self, p: _StopProgress, now: datetime, traded: set[str], left: list[LeftLeg], others: list[str]
    ) -> str:
        """The confirmation: what was cancelled and closed, each trade the stop closed with its
        P&L, the legs it left and why, and the realized P&L of the trades it closed."""
        cycle = self.cycle
        results = trade_results(cycle.journal.engine, cycle.desk.stop_trades)
        closed = len(results) or p.closed
        where = ", ".join(sorted(traded))
        summary = f"{p.cancelled} open orders cancelled, {closed} positions closed at {now:%Y-%m-%d %H:%M:%S %Z}; "
        if left:
            summary += f"{len(left)} positions left at the broker on {where}, all at no risk"
        else:
            summary += f"0 positions left at the broker on {where}"
        total = 0.0
        named = []
        for r in results:
            pos = next((s for s in cycle.book.structures() if s.trade_id == r.trade_id), None)
            pnl = pos.realized() if pos is not None else r.realized_pnl  # open: its wings left, counted at 0
            total += pnl
            with_left = " (its long legs left at no risk, counted at 0)" if pos is not None else ""
            named.append(f"trade {r.trade_id} {r.label}{with_left}, P&L {pnl:+,.2f} USD")
        if named:
            summary += ". Closed by the stop: " + "; ".join(named)
        if left:
            summary += ". Left at no risk: " + "; ".join(f"{leg.describe()} of trade {leg.trade_id}" for leg in left)
        summary += f". Realized P&L of the {len(results)} trades the stop closed: {total:+,.2f} USD"
        if others:
            summary += ". Left alone (not traded by this worker): " + ", ".join(others)
        return summary + "."
