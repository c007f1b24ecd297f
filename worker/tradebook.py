"""Open positions as the exit rules see them, and the trade rows they become.

Every fill goes through `apply_fill`: an opening fill starts a trade row with its entry reason
(further increments of the same entry order add to that trade: one order, one trade), closing
fills accumulate the exit average and realized P&L, and the last one closes the trade with its
exit reason. The book is kept per contract: a fill is applied only to the trade that holds that
very contract, so a fill on another contract of the same underlying (an order placed by hand in
the account) never closes or resizes the worker's trade; it is left to reconciliation, which
compares the account with the book contract by contract. Marks update the peak bid and the max
adverse/favourable excursion, both measured on the bid: the price the position could be sold at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from core.exits import PositionState
from core.risk.shock import HeldLeg
from core.structures.types import Structure
from core.types import FillEvent, OptionContract, Reason, Side
from db.journal import Journal
from worker.structure_book import StructureBook

MULTIPLIER = 100


log = logging.getLogger("worker.trades")


@dataclass(frozen=True)
class EntryIntent:
    """What the cycle knew when it sent an opening order; becomes the trade's entry record."""

    reason: Reason
    confidence: float
    regime: str
    vix: float
    model_version: str
    param_version: int
    atr_pct: float
    trend_pct: float
    direction: int
    structure: Structure | None = None  # a multi-leg entry: the structure its order opens


@dataclass
class _Open:
    state: PositionState
    entry_cid: str = ""
    exit_qty: int = 0
    exit_value: float = 0.0
    fees: float = 0.0
    mae_pct: float = 0.0
    mfe_pct: float = 0.0


class TradeBook:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._open: dict[str, _Open] = {}  # by contract symbol; the worker opens one per underlying
        self.multi = StructureBook(journal, self)  # structures of legs (worker/structure_book.py)
        self.last_exit_at: dict[str, datetime] = {}
        self.entries_today: dict[str, int] = {}

    # ---- queries ------------------------------------------------------------------------
    def position(self, underlying: str) -> PositionState | None:
        """The worker's open position on `underlying` (it opens at most one per underlying)."""
        found = self._on(underlying)
        return None if found is None else found.state

    def holding(self, contract: OptionContract) -> PositionState | None:
        """The open trade on exactly this contract, if any."""
        found = self._open.get(contract.symbol)
        return None if found is None else found.state

    def _on(self, underlying: str) -> _Open | None:
        return next((o for o in self._open.values() if o.state.contract.underlying == underlying), None)

    def open_count(self) -> int:
        return len(self._open) + len(self.multi.open)

    def held_contracts(self) -> dict[str, int]:
        """Every contract the book holds, signed (shorts negative): what the account should hold."""
        held = {symbol: o.state.qty_open for symbol, o in self._open.items()}
        for symbol, qty in self.multi.held_contracts().items():
            held[symbol] = held.get(symbol, 0) + qty
        return held

    def held_legs(self) -> list[HeldLeg]:
        """Every contract held with its signed quantity, singles and structures' legs (the risk view)."""
        legs = [HeldLeg(o.state.contract, o.state.qty_open) for o in self._open.values()]
        for pos in self.multi.open.values():
            for leg in pos.structure.legs:
                qty = pos.held.get(leg.contract.symbol, 0)
                if qty:
                    legs.append(HeldLeg(leg.contract, qty))
        return legs

    def positions(self) -> list[PositionState]:
        return [o.state for o in self._open.values()]

    def count_entry(self, underlying: str, at: datetime) -> None:
        self.entries_today[underlying] = self.entries_today.get(underlying, 0) + 1

    def count_exit(self, underlying: str, at: datetime) -> None:
        self.last_exit_at[underlying] = at

    def new_session(self, start: datetime, end: datetime) -> None:
        """At a session's first cycle: what the safeguards count for it, from the database (zero
        in a new session; after a restart mid-session, the entries and exits already made)."""
        self.entries_today.clear()
        self.last_exit_at.clear()
        for underlying, _entry, exit_time in self.journal.session_trades(start, end):
            self.entries_today[underlying] = self.entries_today.get(underlying, 0) + 1
            if exit_time is not None:
                self.last_exit_at[underlying] = max(exit_time, self.last_exit_at.get(underlying, exit_time))

    # ---- restore ------------------------------------------------------------------------
    def restore(self) -> None:
        """Load open trades after a restart so exits keep working on them."""
        for t in self.journal.open_trades():
            if t.legs:  # a structure of legs (a single option's trade has none)
                self.multi.restore(t)
                continue
            state = PositionState(
                trade_id=int(t.id or 0),
                contract=OptionContract.from_symbol(t.contract),
                direction=t.direction,
                entry_qty=t.entry_qty,
                qty_open=t.qty_open,
                entry_price=t.entry_avg,
                entry_time=t.entry_time,
                peak_bid=t.peak_bid,
                partials_done=t.partials_done,
                entry_atr_pct=t.entry_atr_pct,
                entry_vix=t.vix,
                entry_trend_pct=t.entry_trend_pct,
            )
            exit_value = (t.exit_avg or 0.0) * t.exit_qty
            self._open[state.contract.symbol] = _Open(
                state, t.entry_client_order_id, t.exit_qty, exit_value, t.fees, t.mae_pct, t.mfe_pct
            )

    # ---- fills --------------------------------------------------------------------------
    def apply_fill(self, fill: FillEvent, intent: EntryIntent | None, exit_reason: Reason | None) -> int | None:
        """Book one fill on the trade holding that contract; returns the trade id it belongs to, or
        None for a sell of a contract no trade holds (applied to nothing)."""
        held = self._open.get(fill.contract.symbol)
        if fill.side is Side.BUY:
            if intent is None:
                raise ValueError(f"opening fill {fill.client_order_id} without an entry intent")
            if held is not None and held.entry_cid == fill.client_order_id:
                return self._add(held, fill)
            return self._open_or_add(fill, intent)
        if held is None:
            log.warning(
                "sell fill %s on %s: no trade holds that contract; applied to nothing",
                fill.client_order_id,
                fill.contract.symbol,
            )
            return None
        return self._reduce(
            held, fill, exit_reason or Reason("unknown_exit", "Closed by an order the worker did not send.")
        )

    def _open_or_add(self, fill: FillEvent, intent: EntryIntent) -> int:
        fields = dict(
            underlying=fill.contract.underlying,
            contract=fill.contract.symbol,
            direction=intent.direction,
            entry_time=fill.time,
            entry_qty=fill.qty,
            qty_open=fill.qty,
            entry_avg=fill.price,
            fees=fill.fee,
            realized_pnl=-fill.fee,
            entry_reason_code=intent.reason.code,
            entry_reason=intent.reason.text,
            confidence=intent.confidence,
            regime=intent.regime,
            vix=intent.vix,
            model_version=intent.model_version,
            param_version=intent.param_version,
            entry_client_order_id=fill.client_order_id,
            peak_bid=fill.price,
            entry_atr_pct=intent.atr_pct,
            entry_trend_pct=intent.trend_pct,
            price_source=fill.price_source or "broker",
            structure="long_call" if intent.direction > 0 else "long_put",  # one leg: `contract` (legs NULL)
        )
        trade_id = self.journal.open_trade(fields)
        state = PositionState(
            trade_id,
            fill.contract,
            intent.direction,
            fill.qty,
            fill.qty,
            fill.price,
            fill.time,
            fill.price,
            0,
            intent.atr_pct,
            intent.vix,
            intent.trend_pct,
        )
        self._open[fill.contract.symbol] = _Open(state, fill.client_order_id, fees=fill.fee)
        log.info(
            "trade %d opened: %d %s at %.2f (%s, confidence %.2f)",
            trade_id,
            fill.qty,
            fill.contract.symbol,
            fill.price,
            intent.reason.code,
            intent.confidence,
        )
        self.entries_today[fill.contract.underlying] = self.entries_today.get(fill.contract.underlying, 0) + 1
        return trade_id

    def _add(self, held: _Open, fill: FillEvent) -> int:
        """A further increment of the entry order: the same trade, a larger position."""
        st = held.state
        total = st.entry_qty + fill.qty
        st.entry_price = (st.entry_price * st.entry_qty + fill.price * fill.qty) / total
        st.entry_qty, st.qty_open = total, st.qty_open + fill.qty
        held.fees += fill.fee
        pnl = (held.exit_value - st.entry_price * held.exit_qty) * MULTIPLIER - held.fees
        self.journal.update_trade(
            st.trade_id,
            entry_qty=total,
            qty_open=st.qty_open,
            entry_avg=st.entry_price,
            fees=held.fees,
            realized_pnl=pnl,
        )
        return st.trade_id

    def _reduce(self, held: _Open, fill: FillEvent, reason: Reason) -> int:
        st = held.state
        qty = min(fill.qty, st.qty_open)
        st.qty_open -= qty
        held.exit_qty += qty
        held.exit_value += qty * fill.price
        held.fees += fill.fee
        exit_avg = held.exit_value / held.exit_qty
        pnl = (held.exit_value - st.entry_price * held.exit_qty) * MULTIPLIER - held.fees
        fields: dict[str, object] = dict(
            qty_open=st.qty_open,
            exit_qty=held.exit_qty,
            exit_avg=exit_avg,
            fees=held.fees,
            realized_pnl=pnl,
            partials_done=st.partials_done,
            peak_bid=st.peak_bid,
            mae_pct=held.mae_pct,
            mfe_pct=held.mfe_pct,
        )
        if st.qty_open == 0:
            fields.update(status="closed", exit_time=fill.time, exit_reason_code=reason.code, exit_reason=reason.text)
            del self._open[st.contract.symbol]
            self.last_exit_at[st.contract.underlying] = fill.time
            log.info(
                "trade %d closed: %s at %.2f after %.0f min, P&L %+.2f (%s)",
                st.trade_id,
                st.contract.symbol,
                exit_avg,
                (fill.time - st.entry_time).total_seconds() / 60.0,
                pnl,
                reason.code,
            )
        self.journal.update_trade(st.trade_id, **fields)
        return st.trade_id

    # ---- marks --------------------------------------------------------------------------
    def mark(self, underlying: str, bid: float, at: datetime) -> float:
        """Update peak and excursions from this bar's bid; returns unrealized % on the bid."""
        held = self._on(underlying)
        if held is None:
            return 0.0
        st = held.state
        move = (bid / st.entry_price - 1.0) * 100.0 if st.entry_price > 0 else 0.0
        held.mae_pct, held.mfe_pct = min(held.mae_pct, move), max(held.mfe_pct, move)
        st.peak_bid = max(st.peak_bid, bid)
        self.journal.mark_trade(st.trade_id, bid, at, held.mae_pct, held.mfe_pct, st.peak_bid)
        return (bid / st.entry_price - 1.0) * 100.0 if st.entry_price > 0 else 0.0
