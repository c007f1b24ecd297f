"""The order desk: the one way an order leaves the worker, and the one place fills are booked.

Every order (entries, exits, the end-of-day flatten, the stop, reconciliation's settlements)
goes through `place` or `stop`. Right before a submit the desk re-reads the trading state from
the database (a stop committed while a cycle runs wins): HALTED sends nothing, REDUCING only
closing orders. It persists the order before the broker hears of it, sends it once (a failed
submit is looked up by its client order id, never resent), tracks it while it works, and books
each fill exactly once with the reason on record: the entry's intent, the exit's reason, the
stop's reason for anything filled while the stop runs (also fills that land after a cancel was
asked for), `broker_liquidation` for the broker's own sells, `imported_fill` for an opening
fill with no intent on record.

Working orders are managed each cycle (`review`): an exit still working after one cycle is
cancelled so the next cycle can re-price it at the current quote; urgent exits (stop-loss,
end-of-day, the stop) go at market once `urgent_exit_market_after_cycles` have passed since
the first try; an entry still working after `entry_cancel_after_cycles` is cancelled.
Orders are single-leg; `OrderRequest` leaves room for legs later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from core.exits import BROKER_LIQUIDATION
from core.order_rules import cycles_before_cancel, exit_order_type
from core.params import TradingParams
from core.protocols import Broker
from core.types import (
    FillEvent,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    Reason,
    Side,
    SyncFailure,
    TradingState,
)
from db.failures import DatabaseFailure, database_failure
from db.journal import Journal
from db.lease import LeaseLostError
from worker.book.book import Book
from worker.book.intent import EntryIntent, imported_intent
from worker.book.stop_plan import StopClose, StopPlan
from worker.process.health import RefusalWatch

log = logging.getLogger("worker.desk")
UNKNOWN_EXIT = Reason("unknown_exit", "Closed by an order the worker did not send.")


@dataclass
class WorkingOrder:
    """An order the desk sent (or adopted) that the broker has not finished with."""

    request: OrderRequest
    reason_code: str
    intent: EntryIntent | None
    exit_reason: Reason | None
    trade_id: int | None
    sent_at: datetime
    cycles: int = 0  # cycles it has been seen working
    cancel_requested: bool = False


@dataclass(frozen=True)
class Placement:
    """The desk's answer to `place`: the broker's update, or why nothing was sent."""

    update: OrderUpdate | None
    denied: Reason | None = None


@dataclass
class StopResult:
    """One attempt of the stop: orders cancelled, trades closed, and failures."""

    cancelled: int = 0
    closed: int = 0
    errors: list[str] = field(default_factory=list)


class OrderDesk:
    def __init__(self, broker: Broker, journal: Journal, book: Book) -> None:
        self.broker = broker
        self.journal = journal
        self.trades = book
        self.working: dict[str, WorkingOrder] = {}
        self.first_exit_cycle: dict[int, int] = {}  # trade id -> the cycle of its first exit try
        self.broker_errors = 0  # submits that failed at the broker (the worker escalates repeats)
        self.stop_reason: Reason | None = None  # set while a stop is being carried out
        self.cycle_no = 0
        self.fills_booked = 0
        self.stop_orders: set[str] = set()  # the running stop's orders (the broker's close-all, the desk's own)
        self.stop_trades: set[int] = set()  # trades the running stop booked fills to (its summary's P&L)
        self.stop_leg_by_leg: set[int] = set()  # structures whose multi-leg close the broker refused
        self.frozen: Reason | None = None  # set when the worker stops on a database failure: nothing is sent
        # the worker's check that its rows still reach the database file (db/file_watch.py), read
        # before each order: an order is never persisted into a file deleted or moved away
        self.storage_gone: Callable[[], DatabaseFailure | None] | None = None
        self.refusals = RefusalWatch(journal)  # the same 4xx refusal again and again: REDUCING
        self.sync_failing: dict[str, str] = {}  # client order id -> why the broker could not read it (said once)

    # ---- queries ------------------------------------------------------------------------
    def working_for(self, underlying: str) -> bool:
        return any(w.request.contract.underlying == underlying for w in self.working.values())

    def exit_order_type(self, trade_id: int, code: str, params: TradingParams) -> str:
        """limit, or market for an urgent exit unfilled since `urgent_exit_market_after_cycles`."""
        waited = self.cycle_no - self.first_exit_cycle.setdefault(trade_id, self.cycle_no)
        return exit_order_type(code, waited, params)

    # ---- sending ------------------------------------------------------------------------
    def place(
        self,
        request: OrderRequest,
        reason_code: str,
        now: datetime,
        intent: EntryIntent | None = None,
        exit_reason: Reason | None = None,
        trade_id: int | None = None,
    ) -> Placement:
        """Gate on the trading state read now, persist, submit once, book the answer."""
        if self.frozen is None and self.storage_gone is not None and (gone := self.storage_gone()) is not None:
            self.frozen = Reason("database_unavailable", f"Nothing is sent: {gone.describe()}.")
        if self.frozen is not None:
            return Placement(None, self.frozen)
        control, _ = self.journal.read_control()
        if control.state is TradingState.HALTED or (control.state is TradingState.REDUCING and request.opening):
            what = "an entry" if request.opening else "an exit"
            return Placement(
                None,
                Reason(
                    "trading_state",
                    f"Trading state became {control.state.value} before {what} was sent: nothing was sent.",
                ),
            )
        order = WorkingOrder(request, reason_code, intent, exit_reason, trade_id, now)
        # a worker continues one account across processes: the same intent may have been sent by
        # the process before this one (a backtest's run starts its own account: it cannot)
        stored = self.journal.order_status(request.client_order_id) if self.journal.history_of_all_runs else None
        if stored is not None:
            return Placement(self._already_sent(order, OrderStatus(stored), now))
        return Placement(self._send(order, now))

    def _already_sent(self, order: WorkingOrder, stored: OrderStatus, now: datetime) -> OrderUpdate:
        """The same intent was sent before (a restart remade the decision; the id is stable): it
        is never sent again; what the broker did with it is booked instead."""
        cid = order.request.client_order_id
        log.warning("order %s was sent before this process started: not sent again", cid[:8])
        if stored.is_open:
            self.working.setdefault(cid, order)
        found = self.broker.order_by_client_id(cid)
        if found is None:
            return OrderUpdate(cid, stored, reject_reason="sent before a restart; looked up, not resent")
        self.book(found, now)
        return found

    def _send(self, order: WorkingOrder, now: datetime) -> OrderUpdate:
        """Persist, then submit once; on any error look the order up by its id, never resend.

        Found: it is booked as the broker has it. Not found: it never arrived, and is closed as
        rejected. Lookup failed too: it stays pending (working), which blocks new orders on the
        symbol until reconciliation learns what happened to it.
        """
        request = order.request
        cid = request.client_order_id
        self.journal.persist_order(request, order.reason_code, now, order.trade_id)
        self.working[cid] = order
        try:
            upd = self.broker.submit(request, now)
            if request.opening and upd.status is OrderStatus.REJECTED:  # a refused entry (a 4xx): not a failure
                self.refusals.refused(request, upd.reject_reason or "rejected", now)
            elif request.opening:
                self.refusals.accepted(request)
        except Exception as exc:
            self.broker_errors += 1
            try:
                found = self.broker.order_by_client_id(cid)
            except Exception as lookup_exc:
                upd = OrderUpdate(
                    cid,
                    OrderStatus.PENDING,
                    reject_reason=f"unknown: submit failed ({exc}); lookup failed ({lookup_exc})",
                )
            else:
                upd = found or OrderUpdate(
                    cid, OrderStatus.REJECTED, reject_reason=f"submit failed and the broker has no such order: {exc}"
                )
        self.book(upd, now)
        log.info("order %s %s %d %s: %s", cid[:8], request.side.value, request.qty, request.contract.symbol, upd.status)
        return upd

    def cancel(self, cid: str, now: datetime) -> None:
        """Ask the broker to cancel; the order stays working until the broker says it ended."""
        working = self.working.get(cid)
        if working is None or working.cancel_requested:
            return
        working.cancel_requested = True
        upd = self.broker.cancel(cid, now)
        if upd is not None:
            self.book(upd, now)

    # ---- each cycle ---------------------------------------------------------------------
    def sync(self, now: datetime) -> None:
        """Book what the broker did since the last call: fills, cancels, expiries, liquidations.
        Each order in its own transaction: one that fails to book (not a database failure: those
        stop the cycle) is an event with the reason, and the others are still booked; orders the
        broker could not read are events too (the broker reads them again at the next sync)."""
        for upd in self.broker.sync(now):
            try:
                with self.journal.transaction():
                    self._book(upd, now)
            except (SQLAlchemyError, LeaseLostError):  # the database's failures: the cycle's to handle
                raise
            except Exception as exc:
                if database_failure(exc) is not None:
                    raise
                log.exception("order %s not booked", upd.client_order_id)
                self._sync_failed(SyncFailure(upd.client_order_id, f"booking failed: {exc}"), now, ".")
        failures = {f.client_order_id: f for f in self.broker.sync_failures()}
        for cid, failure in failures.items():
            if self.sync_failing.get(cid) != failure.reason:  # a failure repeated at every sync is said once
                self.sync_failing[cid] = failure.reason
                self._sync_failed(failure, now, "; it is read again at the next sync.")
        for cid in [cid for cid in self.sync_failing if cid not in failures]:
            del self.sync_failing[cid]
            self.journal.event("info", "order_synced", f"Order {cid} synced again.", time=now)

    def _sync_failed(self, failure: SyncFailure, now: datetime, then: str) -> None:
        """An order the sync left behind: an event (alerted as a broker failure) with the reason."""
        what = f"Order {failure.client_order_id} could not be synced ({failure.reason})"
        text = f"{what}; the account's other orders were{then}"
        log.warning("%s", text)
        self.journal.event("warning", "order_sync_failed", text[:2000], time=now)

    def review(self, now: datetime, params: TradingParams) -> None:
        """Cancel what has worked too long: exits after one cycle (re-priced next cycle),
        entries after `entry_cancel_after_cycles`."""
        self.cycle_no += 1
        self.refusals.limit = params.broker_refusals_before_reducing
        for cid, w in list(self.working.items()):
            if w.cancel_requested:
                continue
            w.cycles += 1
            if w.cycles >= cycles_before_cancel(w.request.opening, params):
                self.cancel(cid, now)

    # ---- the stop -----------------------------------------------------------------------
    def stop(self, now: datetime, reason: Reason, flatten: bool, plan: StopPlan | None = None) -> StopResult:
        """Cancel every order and, with flatten, close every position; everything that fills
        from now on books with the stop's reason (exits), or opens a trade the stop then closes.

        With a `plan` (worker/book/stop_plan.py) the broker's close-all leaves the plan's contracts
        alone and the desk closes the structures itself, once no order of theirs still works."""
        result = StopResult()
        if self.frozen is not None:
            result.errors.append(self.frozen.text)
            return result
        self.stop_reason = reason
        for w in self.working.values():
            w.cancel_requested = True
            if not w.request.opening:
                w.exit_reason = reason
        stop_working = any(cid in self.stop_orders for cid in self.working)
        keep = plan.keep if plan is not None else frozenset()
        try:
            if stop_working:  # the stop's own orders are still working: wait for them, send nothing new
                updates = self.broker.sync(now)
            else:
                updates = self.broker.close_all(now, keep) if flatten else self.broker.cancel_all(now)
        except Exception as exc:
            result.errors.append(f"{'close_all' if flatten else 'cancel_all'}: {exc}")
            return result
        before = self.trades.open_count()
        for upd in updates:
            if upd.client_order_id.startswith("close-failed:"):
                result.errors.append(f"{upd.client_order_id.split(':', 1)[1]}: {upd.reject_reason}")
                continue
            if upd.status is OrderStatus.CANCELED:
                result.cancelled += 1
            self.book(upd, now)
            if upd.client_order_id not in self.working and upd.status.is_open and upd.contract is not None:
                self._adopt_broker_order(upd, now, reason)
        if flatten and plan is not None and not stop_working:
            held = {leg.contract.symbol for w in self.working.values() for leg in w.request.leg_orders()}
            for close in plan.closes:  # a structure's close, once no order (a cancel pending) holds its legs
                if not held & {leg.contract.symbol for leg in close.request.leg_orders()}:
                    self._send_stop_close(close, reason, now, result)
        result.closed = max(before - self.trades.open_count(), 0)
        return result

    def _send_stop_close(self, close: StopClose, reason: Reason, now: datetime, result: StopResult) -> None:
        """One of the stop's own orders: persisted and sent once like any other (the trading
        state's gate is the stop's to pass), booked to its trade with the stop's reason."""
        order = WorkingOrder(close.request, reason.code, None, reason, close.trade_id, now, 0, True)
        cid = close.request.client_order_id
        self.stop_orders.add(cid)
        stored = self.journal.order_status(cid) if self.journal.history_of_all_runs else None
        upd = self._send(order, now) if stored is None else self._already_sent(order, OrderStatus(stored), now)
        if upd.status is OrderStatus.REJECTED:
            if close.request.is_multi_leg:
                self.stop_leg_by_leg.add(close.trade_id)  # the next attempt closes it leg by leg
            result.errors.append(f"{close.label}: {upd.reject_reason or 'rejected by the broker'}")

    def _adopt_broker_order(self, upd: OrderUpdate, now: datetime, reason: Reason) -> None:
        assert upd.contract is not None
        request = OrderRequest(upd.client_order_id, upd.contract, upd.side or Side.SELL, upd.qty, opening=False)
        self.working[upd.client_order_id] = WorkingOrder(request, reason.code, None, reason, None, now, 0, True)
        self.stop_orders.add(upd.client_order_id)

    def adopt(
        self,
        request: OrderRequest,
        reason_code: str,
        intent: EntryIntent | None,
        exit_reason: Reason | None,
        trade_id: int | None,
        sent_at: datetime,
    ) -> None:
        """Track an order the database counts as open (after a restart, by reconciliation)."""
        if request.client_order_id not in self.working:
            self.working[request.client_order_id] = WorkingOrder(
                request, reason_code, intent, exit_reason, trade_id, sent_at
            )

    # ---- booking ------------------------------------------------------------------------
    def book(self, upd: OrderUpdate, now: datetime, reason: Reason | None = None) -> None:
        """Record the broker's answer, then book its fills into trades, in one transaction;
        `reason`: the exit reason of a broker event (an expiry, an exercise) that no order carries."""
        with self.journal.transaction():
            self._book(upd, now, reason)

    def _structure_fills(self, working: WorkingOrder | None, upd: OrderUpdate) -> bool:
        """Fills of a multi-leg order, or every fill on a leg of an open structure (its closing
        by the stop, the broker's liquidation, an expiry): booked to the structure's trade."""
        if working is not None and working.request.is_multi_leg:
            return True
        return all(self.trades.in_structure(f.contract.symbol) for f in upd.fills)

    def _foreign_fill(self, fill: FillEvent, now: datetime) -> None:
        """A sell on a contract the worker holds no trade in (placed outside the worker): the fill is
        recorded with its order, no trade changes, and reconciliation compares that contract."""
        text = (
            f"Sell fill of {fill.qty} {fill.contract.symbol} at {fill.price:.2f} (order {fill.client_order_id}) on a "
            "contract the worker holds no trade in: booked to no trade; reconciliation compares the account."
        )
        log.warning("%s", text)
        self.journal.event("warning", "foreign_fill", text, time=now)

    def _book(self, upd: OrderUpdate, now: datetime, reason: Reason | None = None) -> None:
        cid = upd.client_order_id
        fresh = self.journal.unbooked(upd.fills)
        if len(fresh) < len(upd.fills):  # read twice: booked once
            log.info("order %s: %d fill(s) already booked, skipped", cid[:8], len(upd.fills) - len(fresh))
            upd = replace(upd, fills=fresh)
        working = self.working.get(cid)
        intent = working.intent if working else None
        exit_reason = working.exit_reason if working else None
        if any(f.liquidation for f in upd.fills):
            exit_reason = BROKER_LIQUIDATION  # the broker's own order: its reason comes from the fill
        elif exit_reason is None:
            exit_reason = reason or self.stop_reason or UNKNOWN_EXIT
        broker_request = None
        if working is None and (upd.fills or upd.contract is not None):
            contract = upd.contract or upd.fills[0].contract
            side = upd.side or upd.fills[0].side
            qty = upd.qty or sum(f.qty for f in upd.fills)
            broker_request = OrderRequest(cid, contract, side, qty, side is Side.BUY)
        trade_id = None
        self.fills_booked += len(upd.fills)
        if upd.fills and self._structure_fills(working, upd):
            opening_intent = intent if working is not None and working.request.opening else None
            trade_id = self.trades.apply_structure(list(upd.fills), cid, opening_intent, exit_reason)
            if trade_id is not None and trade_id not in self.trades.open:
                self.first_exit_cycle.pop(trade_id, None)
        for fill in upd.fills if trade_id is None else []:
            fill_intent = intent
            if fill.side is Side.BUY and fill_intent is None:
                control, _ = self.journal.read_control()
                sent_for = working.reason_code if working else ""
                fill_intent = imported_intent(cid, fill.contract, sent_for, control.param_version)
            booked_to = self.trades.apply_fill(fill, fill_intent, exit_reason)
            if booked_to is None:  # a sell of a contract no trade holds: never applied to another one
                self._foreign_fill(fill, now)
                continue
            trade_id = booked_to
            if fill.side is Side.SELL and self.trades.holding(fill.contract) is None:
                self.first_exit_cycle.pop(trade_id, None)
            log.info("fill %s %s %d %s @ %.2f", cid[:8], fill.side.value, fill.qty, fill.contract.symbol, fill.price)
        if trade_id is not None and upd.fills and self.stop_reason is not None and exit_reason == self.stop_reason:
            self.stop_trades.add(trade_id)
        self.journal.record_update(upd, now, trade_id, broker_request, exit_reason.code if broker_request else "")
        if not upd.status.is_open:
            self.working.pop(cid, None)
            self.stop_orders.discard(cid)
            if not self.working:
                self.stop_reason = None if self.trades.open_count() == 0 else self.stop_reason
