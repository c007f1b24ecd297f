"""The trade rows of multi-leg structures: one trade from the first fill of its opening order to
the last leg closed, every fill applied to its own contract (core/structures/position.py).

Opening fills of a multi-leg order start the trade (its kind, legs, max loss and gain at expiry
from the net price the fills made) or add to it; any later fill on one of its contracts (its
closing order, the stop's close of one contract, the broker's liquidation, an expiry) moves that
contract's holding, and the trade closes, with the reason on record, when every leg is flat. A
leg left over after the others closed shows in the position's `orphaned` legs, which the cycle
closes (worker/cycle/exits.py). The book (worker/book/book.py) keeps the positions; these are
the rows' figures.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.structures.payoff import payoff
from core.structures.position import MULTIPLIER, StructurePosition
from core.structures.types import Structure
from core.types import FillEvent, Reason
from db.journal import Journal

if TYPE_CHECKING:
    from db.models import Trade


def opened(pos: StructurePosition, fills: list[FillEvent]) -> dict[str, Any]:
    """Apply an opening order's fills; the row's size, net price, fees and shape at expiry."""
    for fill in fills:
        pos.apply(fill, opening=True)
    pos.count_opened()
    shape = payoff(pos.structure, pos.entry_net, pos.entry_qty)
    return dict(
        entry_qty=pos.entry_qty, qty_open=pos.qty_open, entry_avg=round(pos.entry_net, 4), fees=pos.fees,
        realized_pnl=-pos.fees, max_loss=shape.max_loss, max_gain=_finite(shape.max_gain),
    )  # fmt: skip


def first_fields(pos: StructurePosition, first: FillEvent) -> dict[str, Any]:
    """What only a new structure's row carries: its kind, legs and first contract."""
    structure = pos.structure
    return dict(
        underlying=structure.underlying, contract=structure.legs[0].contract.symbol, direction=pos.direction,
        peak_bid=0.0, structure=structure.kind.value, legs=structure.leg_rows(),
    )  # fmt: skip


def closed(pos: StructurePosition, reason: Reason, at: datetime) -> dict[str, Any]:
    """The row after closing fills; `status` closed, with the reason, once every leg is flat."""
    done = pos.entry_qty - pos.qty_open
    fields: dict[str, Any] = dict(
        qty_open=pos.qty_open, exit_qty=done, fees=pos.fees,  # the excursions: the marks' (write_mark)
        exit_avg=round(pos.closed_cash / (MULTIPLIER * max(done, 1)), 4) if done else None,
    )  # fmt: skip
    if not pos.flat:
        fields["realized_pnl"] = -pos.fees
        return fields
    fields.update(
        status="closed", exit_time=at, exit_reason_code=reason.code, exit_reason=reason.text,
        realized_pnl=pos.realized(), exit_qty=pos.entry_qty,
        exit_avg=round(pos.closed_cash / (MULTIPLIER * max(pos.entry_qty, 1)), 4),
    )  # fmt: skip
    return fields


def restore(journal: Journal, trade: Trade) -> StructurePosition:
    """An open structure after a restart: its legs and cash rebuilt from its orders' fills."""
    structure = Structure.from_rows(str(trade.structure), trade.legs or [])
    trade_id = int(trade.id or 0)
    pos = StructurePosition(trade_id, structure, trade.entry_time)
    for fill, opening in journal.trade_fills(trade_id):
        pos.apply(fill, opening)
    pos.count_opened()
    pos.entry_qty = trade.entry_qty
    return pos


def _finite(x: float) -> float | None:
    return x if x != float("inf") else None
