"""The trade rows of structures: one trade from the first fill of its opening order to the last
leg closed, every fill applied to its own contract (core/structures/position.py).

Opening fills of a multi-leg order start the trade (its kind, legs, max loss and gain at expiry
from the net price the fills made) or add to it; any later fill on one of its contracts (its
closing order, the stop's close of one contract, the broker's liquidation, an expiry) moves that
contract's holding, and the trade closes, with the reason on record, when every leg is flat. A
leg left over after the others closed shows in the position's `orphaned` legs, which the cycle
closes (worker/structure_steps.py).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.structures.payoff import payoff
from core.structures.position import MULTIPLIER, StructurePosition
from core.structures.types import Structure
from core.types import FillEvent, Reason
from db.journal import Journal

if TYPE_CHECKING:
    from db.models import Trade
    from worker.tradebook import EntryIntent, TradeBook

log = logging.getLogger("worker.trades")


class StructureBook:
    def __init__(self, journal: Journal, book: TradeBook) -> None:
        self.journal = journal
        self.book = book  # the entry and exit counts the safeguards read
        self.open: dict[int, StructurePosition] = {}  # by trade id
        self.opened_by: dict[int, str] = {}  # trade id -> the client order id that opened it
        self.by_leg: dict[str, int] = {}  # leg symbol -> trade id, while open

    def on(self, underlying: str) -> StructurePosition | None:
        return next((p for p in self.open.values() if p.structure.underlying == underlying), None)

    def holds(self, symbol: str) -> bool:
        return symbol in self.by_leg

    def held_contracts(self) -> dict[str, int]:
        held: dict[str, int] = {}
        for pos in self.open.values():
            for symbol, qty in pos.held.items():
                if qty:
                    held[symbol] = held.get(symbol, 0) + qty
        return held

    # ---- fills ----------------------------------------------------------------------------
    def apply(self, fills: list[FillEvent], cid: str, intent: EntryIntent | None, exit_reason: Reason) -> int | None:
        """Book one broker update's fills: an opening multi-leg order's (with its intent), or
        closing fills on legs of open structures. Returns the trade id."""
        if intent is not None and intent.structure is not None:
            return self._open_fills(fills, cid, intent, intent.structure)
        trade_id = None
        for fill in fills:
            found = self.by_leg.get(fill.contract.symbol)
            if found is None:
                continue
            pos = self.open[found]
            pos.apply(fill, opening=False)
            trade_id = found
        if trade_id is not None:
            self._after_close_fills(self.open[trade_id], exit_reason, fills[-1].time)
        return trade_id

    def _open_fills(self, fills: list[FillEvent], cid: str, intent: EntryIntent, structure: Structure) -> int:
        pos = next((self.open[t] for t, c in self.opened_by.items() if c == cid and t in self.open), None)
        first = pos is None
        if pos is None:
            pos = StructurePosition(0, structure, fills[0].time)
        for fill in fills:
            pos.apply(fill, opening=True)
        pos.count_opened()
        shape = payoff(structure, pos.entry_net, pos.entry_qty)
        fields: dict[str, Any] = dict(
            entry_qty=pos.entry_qty, qty_open=pos.qty_open, entry_avg=round(pos.entry_net, 4), fees=pos.fees,
            realized_pnl=-pos.fees, max_loss=shape.max_loss, max_gain=_finite(shape.max_gain),
        )  # fmt: skip
        if not first:
            self.journal.update_trade(pos.trade_id, **fields)
            return pos.trade_id
        fields.update(
            underlying=structure.underlying, contract=structure.legs[0].contract.symbol, direction=pos.direction,
            entry_time=fills[0].time, entry_reason_code=intent.reason.code, entry_reason=intent.reason.text,
            confidence=intent.confidence, regime=intent.regime, vix=intent.vix, model_version=intent.model_version,
            param_version=intent.param_version, entry_client_order_id=cid, peak_bid=0.0,
            entry_atr_pct=intent.atr_pct, entry_trend_pct=intent.trend_pct,
            price_source=fills[0].price_source or "broker", structure=structure.kind.value,
            legs=structure.leg_rows(),
        )  # fmt: skip
        pos.trade_id = self.journal.open_trade(fields)
        self.open[pos.trade_id] = pos
        self.opened_by[pos.trade_id] = cid
        for leg in structure.legs:
            self.by_leg[leg.contract.symbol] = pos.trade_id
        self.book.count_entry(structure.underlying, fills[0].time)
        log.info("trade %d opened: %s x%d at net %.2f (%s)", pos.trade_id, structure.label, pos.entry_qty,
                 pos.entry_net, intent.reason.code)  # fmt: skip
        return pos.trade_id

    def _after_close_fills(self, pos: StructurePosition, reason: Reason, at: datetime) -> None:
        closed = pos.entry_qty - pos.qty_open
        fields: dict[str, Any] = dict(
            qty_open=pos.qty_open, exit_qty=closed, fees=pos.fees,  # the excursions: the marks' (write_mark)
            exit_avg=round(pos.closed_cash / (MULTIPLIER * max(closed, 1)), 4) if closed else None,
        )  # fmt: skip
        if not pos.flat:
            fields["realized_pnl"] = -pos.fees
            self.journal.update_trade(pos.trade_id, **fields)
            return
        pnl = pos.realized()
        fields.update(
            status="closed", exit_time=at, exit_reason_code=reason.code, exit_reason=reason.text, realized_pnl=pnl,
            exit_qty=pos.entry_qty, exit_avg=round(pos.closed_cash / (MULTIPLIER * max(pos.entry_qty, 1)), 4),
        )  # fmt: skip
        self.journal.update_trade(pos.trade_id, **fields)
        del self.open[pos.trade_id]
        self.opened_by.pop(pos.trade_id, None)
        for leg in pos.structure.legs:
            self.by_leg.pop(leg.contract.symbol, None)
        self.book.count_exit(pos.structure.underlying, at)
        log.info("trade %d closed: %s, P&L %+.2f (%s)", pos.trade_id, pos.structure.label, pnl, reason.code)

    # ---- restart --------------------------------------------------------------------------
    def restore(self, trade: Trade) -> None:
        """An open structure after a restart: its legs and cash rebuilt from its orders' fills."""
        structure = Structure.from_rows(str(trade.structure), trade.legs or [])
        trade_id = int(trade.id or 0)
        pos = StructurePosition(trade_id, structure, trade.entry_time)
        for fill, opening in self.journal.trade_fills(trade_id):
            pos.apply(fill, opening)
        pos.count_opened()
        pos.entry_qty = trade.entry_qty
        self.open[trade_id] = pos
        self.opened_by[trade_id] = trade.entry_client_order_id
        for leg in structure.legs:
            self.by_leg[leg.contract.symbol] = trade_id


def _finite(x: float) -> float | None:
    return x if x != float("inf") else None
