"""Reconciliation: the database and the broker must tell the same story before trading.

At start and every few minutes: every order the database counts as open is looked up by its
client order id (fills the database missed are imported, orders that never reached the broker
are closed as rejected), the broker's recent order changes are applied, its exercises,
assignments and expiries are booked (worker/book/option_events.py), and then the broker's
open orders and positions are compared with the database. Anything the database does not know
halts trading (without flattening: the worker does not trade what it does not understand); a
later clean pass lifts that halt and trading resumes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

from core.structures.types import structure_of
from core.types import OptionContract, OrderLeg, OrderRequest, OrderStatus, OrderUpdate, Reason, Side, TradingState
from db.control import EventNote, set_trading_state
from worker.book.intent import imported_intent
from worker.book.option_events import OptionEventBook
from worker.cycle.cycle import TradingCycle

log = logging.getLogger("worker.reconcile")
MISMATCH = "reconcile_mismatch"


@dataclass
class ReconcileReport:
    checked_orders: int = 0
    imported_fills: int = 0
    option_events: int = 0  # exercises, assignments and expiries booked
    problems: list[str] = field(default_factory=list)
    other_holdings: list[str] = field(default_factory=list)  # not traded here: reported, never touched

    @property
    def clean(self) -> bool:
        return not self.problems


class Reconciler:
    def __init__(self, cycle: TradingCycle) -> None:
        self.cycle = cycle
        self.option_events = OptionEventBook(cycle)
        self._reported_holdings: list[str] = []

    def run(self, now: datetime) -> ReconcileReport:
        """Compare, import, and set the trading state; errors talking to the broker are problems."""
        cycle = self.cycle
        report = ReconcileReport()
        with cycle.lock:
            try:
                self._settle_open_orders(now, report)
                before = cycle.desk.fills_booked
                cycle.desk.sync(now)
                report.imported_fills += cycle.desk.fills_booked - before
                report.option_events = self.option_events.poll(now)  # positions gone without a fill
                self._compare(report)
                report.other_holdings = cycle.broker.other_holdings() + self.option_events.owed_lines()
            except Exception as exc:
                log.exception("reconciliation failed")
                report.problems.append(f"the broker could not be read: {exc}")
            cycle.journal.flush()
            self._apply(report, now)
            if report.other_holdings and report.other_holdings != self._reported_holdings:
                text = "Left alone in the account (not traded by this worker): " + "; ".join(report.other_holdings)
                cycle.journal.event("info", "other_holdings", text[:2000], time=now)
            self._reported_holdings = report.other_holdings
        return report

    def _settle_open_orders(self, now: datetime, report: ReconcileReport) -> None:
        cycle = self.cycle
        control, _ = cycle.journal.read_control()
        for row in cycle.journal.open_orders():
            cid = row.client_order_id
            report.checked_orders += 1
            contract, side = OptionContract.from_symbol(row.contract), Side(row.side)
            cycle.broker.remember(cid, contract, side, row.filled_qty, row.avg_fill_price or 0.0)
            legs = tuple(
                OrderLeg(
                    OptionContract.from_symbol(leg["symbol"]),
                    Side(leg["side"]),
                    int(leg["ratio"]),
                    bool(leg["opening"]),
                )
                for leg in row.legs or []
            )
            request = OrderRequest(
                cid, contract, side, row.qty, row.opening, row.order_type, row.limit_price, legs=legs
            )
            intent = imported_intent(cid, contract, row.reason_code, control.param_version) if row.opening else None
            if intent is not None and legs:  # a structure's opening order: the structure its legs make
                intent = replace(intent, structure=structure_of(legs))
            settled = "Exit order settled by reconciliation after a restart."
            reason = None if row.opening else Reason(row.reason_code, settled)
            cycle.desk.adopt(request, row.reason_code, intent, reason, row.trade_id, row.created_at)
            found = cycle.broker.order_by_client_id(cid)
            if found is None:
                if row.status == OrderStatus.PENDING.value:
                    found = OrderUpdate(cid, OrderStatus.REJECTED, reject_reason="never reached the broker")
                else:
                    report.problems.append(f"order {cid} is {row.status} in the database but unknown to the broker")
                    continue
            report.imported_fills += len(found.fills)
            cycle.desk.book(found, now)

    def _compare(self, report: ReconcileReport) -> None:
        cycle = self.cycle
        broker_open = cycle.broker.open_orders()
        known = cycle.journal.known_order_ids([o.client_order_id for o in broker_open])
        for o in broker_open:
            if o.client_order_id not in known:
                report.problems.append(f"unknown open order {o.client_order_id} (broker id {o.broker_order_id})")
        held = {p.contract.symbol: p.qty for p in cycle.broker.positions()}
        booked = cycle.book.held_contracts()  # single options and every structure's legs, signed
        for symbol in sorted(held.keys() | booked.keys()):
            at_broker, in_db = held.get(symbol, 0), booked.get(symbol, 0)
            if at_broker != in_db:
                what = "unknown position" if in_db == 0 else "position mismatch"
                report.problems.append(f"{what} {symbol}: broker {at_broker}, database {in_db}")

    def _apply(self, report: ReconcileReport, now: datetime) -> None:
        engine = self.cycle.journal.engine
        control, _ = self.cycle.journal.read_control()
        if report.problems:
            text = "Reconciliation found: " + "; ".join(report.problems)
            note = EventNote("error", MISMATCH, text, self.cycle.journal.run_id)
            changed = set_trading_state(engine, TradingState.HALTED, "worker", MISMATCH, text[:2000], at=now, note=note)
            if changed is None and control.reason_code != MISMATCH:  # halted already, for another reason
                self.cycle.journal.event("error", MISMATCH, text[:2000], time=now)
            log.error("%s", text)
        elif control.state is TradingState.HALTED and control.reason_code == MISMATCH:
            note = EventNote("info", "reconciled", "Database and broker agree again; trading resumes.")
            set_trading_state(
                engine,
                TradingState.ACTIVE,
                "worker",
                "reconciled",
                "Database and broker agree again.",
                at=now,
                note=note,
            )
