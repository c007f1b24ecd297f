"""A one-leg position (a long call or put): a structure of one leg with a debit, with what the
long exit rules also track on it (core/exits.py: the peak bid, the partial take-profits) and its
trade row's arithmetic: the average entry, the exit average and realized P&L of each increment,
and the excursions measured on the bid, the price the position could be sold at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.exits import PositionState
from core.structures.types import Leg, Structure, StructureKind
from core.types import FillEvent, Reason

MULTIPLIER = 100


@dataclass
class OneLeg:
    """An open one-leg trade: the exit rules' state and its row's running figures."""

    state: PositionState
    entry_cid: str = ""
    exit_qty: int = 0
    exit_value: float = 0.0
    fees: float = 0.0
    mae_pct: float = 0.0
    mfe_pct: float = 0.0
    structure: Structure = field(init=False)

    def __post_init__(self) -> None:
        kind = StructureKind.LONG_CALL if self.state.direction > 0 else StructureKind.LONG_PUT
        self.structure = Structure(kind, (Leg(self.state.contract, 1),))

    # what every position answers (the book, the stop, reconciliation, the console's close)
    @property
    def trade_id(self) -> int:
        return self.state.trade_id

    @property
    def entry_time(self) -> datetime:
        return self.state.entry_time

    @property
    def direction(self) -> int:
        return self.state.direction

    @property
    def qty_open(self) -> int:
        return self.state.qty_open

    @property
    def held(self) -> dict[str, int]:
        """Its one contract, held long."""
        return {self.state.contract.symbol: self.state.qty_open}

    @property
    def orphaned(self) -> list[str]:
        """A single leg is never left alone by the others."""
        return []

    # the trade row
    def opened_fields(self) -> dict[str, Any]:
        return {"structure": self.structure.kind.value}  # one leg: `contract` (legs NULL)

    def add(self, fill: FillEvent) -> dict[str, Any]:
        """A further increment of the entry order: the same trade, a larger position."""
        st = self.state
        total = st.entry_qty + fill.qty
        st.entry_price = (st.entry_price * st.entry_qty + fill.price * fill.qty) / total
        st.entry_qty, st.qty_open = total, st.qty_open + fill.qty
        self.fees += fill.fee
        pnl = (self.exit_value - st.entry_price * self.exit_qty) * MULTIPLIER - self.fees
        return dict(entry_qty=total, qty_open=st.qty_open, entry_avg=st.entry_price, fees=self.fees, realized_pnl=pnl)

    def reduce(self, fill: FillEvent, reason: Reason) -> dict[str, Any]:
        """A closing increment; the row's fields, `status` closed once nothing is left."""
        st = self.state
        qty = min(fill.qty, st.qty_open)
        st.qty_open -= qty
        self.exit_qty += qty
        self.exit_value += qty * fill.price
        self.fees += fill.fee
        fields: dict[str, Any] = dict(
            qty_open=st.qty_open, exit_qty=self.exit_qty, exit_avg=self.exit_value / self.exit_qty, fees=self.fees,
            realized_pnl=self.realized(), partials_done=st.partials_done, peak_bid=st.peak_bid,
            mae_pct=self.mae_pct, mfe_pct=self.mfe_pct,
        )  # fmt: skip
        if st.qty_open == 0:
            fields.update(status="closed", exit_time=fill.time, exit_reason_code=reason.code, exit_reason=reason.text)
        return fields

    def realized(self) -> float:
        """Dollars made by the closing fills so far, fees included."""
        return (self.exit_value - self.state.entry_price * self.exit_qty) * MULTIPLIER - self.fees

    def mark(self, bid: float) -> float:
        """Peak and excursions from this bar's bid; returns unrealized % on the bid."""
        st = self.state
        move = (bid / st.entry_price - 1.0) * 100.0 if st.entry_price > 0 else 0.0
        self.mae_pct, self.mfe_pct = min(self.mae_pct, move), max(self.mfe_pct, move)
        st.peak_bid = max(st.peak_bid, bid)
        return move
