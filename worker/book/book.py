"""The book: every open position the worker holds, one trade each, kept per contract.

Every position answers the same questions (core/structures: its structure of legs, the contracts
it holds signed, its whole units open, its direction): a long call or put is a structure of one
leg with a debit (`worker/book/single.py`), a credit spread or a condor one of two to four legs
(`core/structures/position.py`). The book indexes every held contract to its trade, so a fill is
applied only to the trade that holds that very contract: a fill on another contract of the same
underlying (an order placed by hand in the account) never closes or resizes a trade; it is left
to reconciliation, which compares the account with the book contract by contract.

Every fill goes through `apply`: an opening order's fills start a trade row with its entry reason
(further increments of the same order add to it: one order, one trade), closing fills move the
contracts they were on, and the trade closes, with the reason on record, when nothing is held.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from core.exits import PositionState
from core.risk.shock import HeldLeg
from core.structures.position import StructurePosition
from core.structures.types import Structure
from core.types import FillEvent, OptionContract, Reason, Side
from db.journal import Journal
from worker.book import structure_fills
from worker.book.intent import EntryIntent
from worker.book.single import OneLeg

log = logging.getLogger("worker.trades")
UNKNOWN_EXIT = Reason("unknown_exit", "Closed by an order the worker did not send.")


class Position(Protocol):
    """What the book, the exits, the stop, reconciliation and the console's close read of any
    open position, whatever its legs."""

    @property
    def trade_id(self) -> int: ...
    @property
    def entry_time(self) -> datetime: ...
    @property
    def direction(self) -> int: ...
    @property
    def qty_open(self) -> int: ...
    @property
    def held(self) -> dict[str, int]: ...
    @property
    def orphaned(self) -> list[str]: ...

    structure: Structure


class Book:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.open: dict[int, OneLeg | StructurePosition] = {}  # every open position, by trade id
        self.by_contract: dict[str, int] = {}  # every contract held -> the trade holding it
        self.opened_by: dict[int, str] = {}  # trade id -> the client order id that opened it
        self.last_exit_at: dict[str, datetime] = {}
        self.entries_today: dict[str, int] = {}

    # ---- queries ------------------------------------------------------------------------
    def on(self, underlying: str) -> OneLeg | StructurePosition | None:
        """The worker's open position on `underlying` (it opens at most one per underlying)."""
        return next((p for p in self.open.values() if p.structure.underlying == underlying), None)

    def position(self, underlying: str) -> PositionState | None:
        """The one-leg position on `underlying` as the long exit rules see it, if that is what is held."""
        found = self.on(underlying)
        return found.state if isinstance(found, OneLeg) else None

    def holding(self, contract: OptionContract) -> PositionState | None:
        """The open one-leg trade on exactly this contract, if any."""
        found = self.open.get(self.by_contract.get(contract.symbol, -1))
        return found.state if isinstance(found, OneLeg) else None

    def holds(self, symbol: str) -> bool:
        return symbol in self.by_contract

    def in_structure(self, symbol: str) -> bool:
        """A contract held as a leg of a multi-leg structure."""
        return isinstance(self.open.get(self.by_contract.get(symbol, -1)), StructurePosition)

    def open_count(self) -> int:
        return len(self.open)

    def held_contracts(self, multi_leg_only: bool = False) -> dict[str, int]:
        """Every contract the book holds, signed (shorts negative): what the account should hold."""
        held: dict[str, int] = {}
        for pos in self.open.values():
            if multi_leg_only and isinstance(pos, OneLeg):
                continue
            for symbol, qty in pos.held.items():
                if qty:
                    held[symbol] = held.get(symbol, 0) + qty
        return held

    def held_legs(self) -> list[HeldLeg]:
        """Every contract held with its signed quantity (the risk view and the entry's limits)."""
        legs = []
        for pos in self.open.values():
            for leg in pos.structure.legs:
                qty = pos.held.get(leg.contract.symbol, 0)
                if qty or isinstance(pos, OneLeg):
                    legs.append(HeldLeg(leg.contract, qty))
        return legs

    def positions(self) -> list[PositionState]:
        """The one-leg positions as the long exit rules see them."""
        return [p.state for p in self.open.values() if isinstance(p, OneLeg)]

    def structures(self) -> list[StructurePosition]:
        """The multi-leg positions."""
        return [p for p in self.open.values() if isinstance(p, StructurePosition)]

    def count_entry(self, underlying: str) -> None:
        self.entries_today[underlying] = self.entries_today.get(underlying, 0) + 1

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
            if t.legs:  # a structure of legs, rebuilt from its orders' fills
                self._add_open(structure_fills.restore(self.journal, t), t.entry_client_order_id)
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
            one = OneLeg(state, t.entry_client_order_id, t.exit_qty, exit_value, t.fees, t.mae_pct, t.mfe_pct)
            self._add_open(one, t.entry_client_order_id)

    def _add_open(self, pos: OneLeg | StructurePosition, cid: str) -> None:
        self.open[pos.trade_id] = pos
        self.opened_by[pos.trade_id] = cid
        for leg in pos.structure.legs:
            self.by_contract[leg.contract.symbol] = pos.trade_id

    def _closed(self, pos: OneLeg | StructurePosition, at: datetime) -> None:
        del self.open[pos.trade_id]
        self.opened_by.pop(pos.trade_id, None)
        for leg in pos.structure.legs:
            self.by_contract.pop(leg.contract.symbol, None)
        self.last_exit_at[pos.structure.underlying] = at

    # ---- fills --------------------------------------------------------------------------
    def apply_structure(
        self, fills: list[FillEvent], cid: str, intent: EntryIntent | None, exit_reason: Reason
    ) -> int | None:
        """Book one broker update's fills of a multi-leg order (with its intent when opening), or
        closing fills on legs of open structures. Returns the trade id, None when no leg matched."""
        if intent is not None and intent.structure is not None:
            return self._open_structure(fills, cid, intent, intent.structure)
        found = None
        for fill in fills:
            pos = self.open.get(self.by_contract.get(fill.contract.symbol, -1))
            if isinstance(pos, StructurePosition):
                pos.apply(fill, opening=False)
                found = pos
        if found is None:
            return None
        self._after_structure_close(found, exit_reason, fills[-1].time)
        return found.trade_id

    def apply_fill(self, fill: FillEvent, intent: EntryIntent | None, exit_reason: Reason | None) -> int | None:
        """Book one fill of a one-leg order on the trade holding that contract; returns the trade
        id, or None for a sell of a contract no trade holds (applied to nothing)."""
        found = self.open.get(self.by_contract.get(fill.contract.symbol, -1))
        held = found if isinstance(found, OneLeg) else None
        if fill.side is Side.BUY:
            if intent is None:
                raise ValueError(f"opening fill {fill.client_order_id} without an entry intent")
            return self._open_one_leg(fill, intent, held)
        if held is None:
            log.warning("sell fill %s on %s: no trade holds that contract; applied to nothing",
                        fill.client_order_id, fill.contract.symbol)  # fmt: skip
            return None
        return self._reduce_one_leg(held, fill, exit_reason or UNKNOWN_EXIT)

    def _open_one_leg(self, fill: FillEvent, intent: EntryIntent, held: OneLeg | None) -> int:
        if held is not None and held.entry_cid == fill.client_order_id:
            self.journal.update_trade(held.trade_id, **held.add(fill))
            return held.trade_id
        if held is not None:  # another order's fill on the same contract: the newer trade is kept
            self.open.pop(held.trade_id, None)
        state = PositionState(0, fill.contract, intent.direction, fill.qty, fill.qty, fill.price, fill.time,
                              fill.price, 0, intent.atr_pct, intent.vix, intent.trend_pct)  # fmt: skip
        one = OneLeg(state, fill.client_order_id, fees=fill.fee)
        fields = _entry_fields(intent, fill.client_order_id, fill)
        fields.update(
            underlying=fill.contract.underlying, contract=fill.contract.symbol, direction=intent.direction,
            entry_qty=fill.qty, qty_open=fill.qty, entry_avg=fill.price, fees=fill.fee, realized_pnl=-fill.fee,
            peak_bid=fill.price, **one.opened_fields(),
        )  # fmt: skip
        state.trade_id = self.journal.open_trade(fields)
        self._add_open(one, fill.client_order_id)
        log.info("trade %d opened: %d %s at %.2f (%s, confidence %.2f)", state.trade_id, fill.qty,
                 fill.contract.symbol, fill.price, intent.reason.code, intent.confidence)  # fmt: skip
        self.count_entry(fill.contract.underlying)
        return state.trade_id

    def _reduce_one_leg(self, one: OneLeg, fill: FillEvent, reason: Reason) -> int:
        fields = one.reduce(fill, reason)
        if one.qty_open == 0:
            self._closed(one, fill.time)
            st = one.state
            log.info("trade %d closed: %s at %.2f after %.0f min, P&L %+.2f (%s)", st.trade_id, st.contract.symbol,
                     fields["exit_avg"], (fill.time - st.entry_time).total_seconds() / 60.0, fields["realized_pnl"],
                     reason.code)  # fmt: skip
        self.journal.update_trade(one.trade_id, **fields)
        return one.trade_id

    def _open_structure(self, fills: list[FillEvent], cid: str, intent: EntryIntent, structure: Structure) -> int:
        pos = next((self.open[t] for t, c in self.opened_by.items() if c == cid and t in self.open), None)
        if isinstance(pos, StructurePosition):
            self.journal.update_trade(pos.trade_id, **structure_fills.opened(pos, fills))
            return pos.trade_id
        pos = StructurePosition(0, structure, fills[0].time)
        fields = {**_entry_fields(intent, cid, fills[0]), **structure_fills.opened(pos, fills)}
        fields.update(structure_fills.first_fields(pos, fills[0]))
        pos.trade_id = self.journal.open_trade(fields)
        self._add_open(pos, cid)
        self.count_entry(structure.underlying)
        log.info("trade %d opened: %s x%d at net %.2f (%s)", pos.trade_id, structure.label, pos.entry_qty,
                 pos.entry_net, intent.reason.code)  # fmt: skip
        return pos.trade_id

    def _after_structure_close(self, pos: StructurePosition, reason: Reason, at: datetime) -> None:
        self.journal.update_trade(pos.trade_id, **structure_fills.closed(pos, reason, at))
        if pos.flat:
            self._closed(pos, at)
            log.info("trade %d closed: %s, P&L %+.2f (%s)", pos.trade_id, pos.structure.label, pos.realized(),
                     reason.code)  # fmt: skip

    # ---- marks --------------------------------------------------------------------------
    def mark(self, underlying: str, bid: float, at: datetime) -> float:
        """A one-leg position's peak and excursions from this bar's bid; returns unrealized % on the bid."""
        held = self.on(underlying)
        if not isinstance(held, OneLeg):
            return 0.0
        move = held.mark(bid)
        st = held.state
        self.journal.mark_trade(st.trade_id, bid, at, held.mae_pct, held.mfe_pct, st.peak_bid)
        return move


def _entry_fields(intent: EntryIntent, cid: str, first: FillEvent) -> dict[str, object]:
    """The trade row's entry record, the same for every position."""
    return dict(
        entry_time=first.time, entry_reason_code=intent.reason.code, entry_reason=intent.reason.text,
        confidence=intent.confidence, regime=intent.regime, vix=intent.vix, model_version=intent.model_version,
        param_version=intent.param_version, entry_client_order_id=cid, entry_atr_pct=intent.atr_pct,
        entry_trend_pct=intent.trend_pct, price_source=first.price_source or "broker",
    )  # fmt: skip
