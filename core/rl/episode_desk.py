"""The order desk of one training episode: the worker's order handling over the real simulated broker.

The environment's orders go where the worker's go: to `core.broker_sim.SimBroker` with the
broker-like execution model (latency, the quote at arrival priced from the underlying's path
inside the bar, displayed sizes and partial fills, resting limits, asynchronous cancels, the
15:30 ET cutoff and the 15:45 ET liquidation). They are worked by the desk's own rules
(`core.order_rules`): limits through the quote, entries cancelled after
`entry_cancel_after_cycles`, exits re-priced every cycle and sent at market once an urgent one
has waited. Positions, average prices and realized P&L are booked from the broker's fills, as
the worker's trade book books them, so a trade in training costs what it costs the worker.
A structure (the credit action set) opens and closes as one multi-leg order, each leg's fill on
its own contract (core.structures.position), as the worker's structure book keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.broker_sim import MULTIPLIER, SimBroker
from core.execution import BROKER_MODEL, ExecutionModel
from core.exits import ExitSignal, PositionState
from core.market.sim_market import SimMarket
from core.order_rules import cycles_before_cancel, exit_order_type
from core.params import TradingParams
from core.sizing import collar_price
from core.structures.orders import closing_limit, leg_quotes, order_for
from core.structures.position import StructurePosition
from core.structures.types import Structure
from core.types import FillEvent, OrderRequest, OrderUpdate, Quote, Side


@dataclass(frozen=True)
class EntryPlan:
    """What an entry order carries for the position its fills open (the worker's EntryIntent)."""

    direction: int
    atr_pct: float
    vix: float
    trend_pct: float


@dataclass
class _Working:
    request: OrderRequest
    plan: EntryPlan | None  # entries only
    structure: Structure | None = None  # a multi-leg order's structure
    cycles: int = 0
    cancel_requested: bool = False


class EpisodeDesk:
    """One symbol's orders and position for one session, booked from the broker's fills."""

    def __init__(
        self,
        market: SimMarket,
        capital: float,
        fee_per_contract: float,
        params: TradingParams,
        model: ExecutionModel = BROKER_MODEL,
    ) -> None:
        self.market = market
        self.params = params
        self.broker = SimBroker(market, cash=capital, fee_per_contract=fee_per_contract, model=model)
        self.position: PositionState | None = None
        self.structure: StructurePosition | None = None
        self.working: dict[str, _Working] = {}
        self.closed_pnls: list[float] = []  # realized P&L of each closed trade, fees included
        self.fills: list[FillEvent] = []  # every fill booked, the broker's own sells included
        self.trades = 0  # entries that filled (the trades-per-day safeguard counts these)
        self.last_exit: datetime | None = None
        self._cycle_no = 0
        self._first_exit_cycle: int | None = None
        self._realized = 0.0
        self._seq = 0

    # ---- the cycle's steps ------------------------------------------------------------------
    def begin_cycle(self, now: datetime) -> None:
        """Book what the broker did since the last cycle, then cancel what worked too long."""
        self._book_all(self.broker.sync(now))
        self._cycle_no += 1
        for cid, w in list(self.working.items()):
            if w.cancel_requested:
                continue
            w.cycles += 1
            if w.cycles >= cycles_before_cancel(w.request.opening, self.params):
                w.cancel_requested = True
                update = self.broker.cancel(cid, now)
                if update is not None:
                    self._book(update)

    def has_working(self) -> bool:
        return bool(self.working)

    def send_entry(self, quote: Quote, qty: int, plan: EntryPlan, now: datetime) -> None:
        limit = collar_price(quote.ask, True, self.params.order_collar_pct)
        request = OrderRequest(self._cid(now, "entry"), quote.contract, Side.BUY, qty, True, "limit", limit)
        self._send(_Working(request, plan), now)

    def send_exit(self, signal: ExitSignal, bid: float, now: datetime) -> None:
        pos = self.position
        assert pos is not None
        if self._first_exit_cycle is None:
            self._first_exit_cycle = self._cycle_no
        code = signal.reason.code
        order_type = exit_order_type(code, self._cycle_no - self._first_exit_cycle, self.params)
        limit = collar_price(bid, False, self.params.order_collar_pct) if order_type == "limit" else None
        request = OrderRequest(
            self._cid(now, f"exit:{code}"), pos.contract, Side.SELL, signal.qty, False, order_type, limit
        )
        if code.startswith("partial_tp"):
            pos.partials_done = int(code[-1])
        self._send(_Working(request, None), now)

    def send_structure_entry(self, structure: Structure, qty: int, limit: float, now: datetime) -> None:
        """One multi-leg order opening `qty` structures at a net limit (a credit is negative)."""
        request = order_for(self._cid(now, "entry"), structure, qty, True, "limit", limit)
        self._send(_Working(request, None, structure), now)

    def send_structure_exit(self, code: str, quotes: dict[str, Quote], now: datetime) -> None:
        """Close every whole structure held as one multi-leg order: a limit through the natural
        price, at market for an urgent exit that has waited."""
        pos = self.structure
        assert pos is not None
        if self._first_exit_cycle is None:
            self._first_exit_cycle = self._cycle_no
        order_type = exit_order_type(code, self._cycle_no - self._first_exit_cycle, self.params)
        limit = closing_limit(pos.structure, quotes, self.params)
        if order_type == "limit" and limit.refused is not None:
            return  # as the worker: a limit that would not keep the closing sign is not sent
        request = order_for(self._cid(now, f"exit:{code}"), pos.structure, pos.qty_open, False, order_type,
                            limit.price if order_type == "limit" else None)  # fmt: skip
        self._send(_Working(request, None, pos.structure), now)

    def structure_quotes(self, now: datetime) -> dict[str, Quote] | None:
        pos = self.structure
        return None if pos is None else leg_quotes(self.market, pos.structure, now)

    # ---- marks ------------------------------------------------------------------------------
    def cash(self) -> float:
        return self.broker.cash

    def equity_on_bid(self) -> float:
        """The broker's account equity (positions at the bid): what the worker's risk checks use."""
        return self.broker.account().equity

    def position_quote(self, now: datetime) -> Quote | None:
        pos = self.position
        return None if pos is None else self.market.quote(pos.contract, now)

    # ---- booking ----------------------------------------------------------------------------
    def _send(self, working: _Working, now: datetime) -> None:
        update = self.broker.submit(working.request, now)
        if update.status.is_open:
            self.working[working.request.client_order_id] = working
        self._book(update, working)

    def _book_all(self, updates: list[OrderUpdate]) -> None:
        for update in updates:
            self._book(update)

    def _book(self, update: OrderUpdate, sent: _Working | None = None) -> None:
        working = sent or self.working.get(update.client_order_id)
        for fill in update.fills:
            if self._is_structure_fill(fill, working):
                self._apply_leg(fill, working)
            else:
                self._apply(fill, working)
        if self.structure is not None:
            self._settle_structure()
        if not update.status.is_open:
            self.working.pop(update.client_order_id, None)

    def _apply(self, fill: FillEvent, working: _Working | None) -> None:
        """A buy opens or adds to the position; a sell (the desk's or the broker's liquidation)
        reduces it, and the last contract closes the trade."""
        self.fills.append(fill)
        if fill.side is Side.BUY:
            assert working is not None and working.plan is not None, "only the desk's entries buy"
            self._open_or_add(fill, working.plan)
            return
        pos = self.position
        if pos is None:
            return
        qty = min(fill.qty, pos.qty_open)
        pos.qty_open -= qty
        self._realized += qty * (fill.price - pos.entry_price) * MULTIPLIER - fill.fee
        if pos.qty_open <= 0:
            self.closed_pnls.append(self._realized)
            self.position, self.last_exit, self._first_exit_cycle = None, fill.time, None

    def _is_structure_fill(self, fill: FillEvent, working: _Working | None) -> bool:
        if working is not None and working.structure is not None:
            return True
        return self.structure is not None and fill.contract.symbol in self.structure.held

    def _apply_leg(self, fill: FillEvent, working: _Working | None) -> None:
        """One leg's fill on its own contract; the opening order's first fill opens the trade."""
        opening = working is not None and working.request.opening
        if self.structure is None:
            if not opening or working is None or working.structure is None:
                return  # a closing fill with nothing held: nothing to book
            self.structure = StructurePosition(self.trades, working.structure, fill.time)
            self.trades += 1
        self.fills.append(fill)
        self.structure.apply(fill, opening)

    def _settle_structure(self) -> None:
        """Count whole structures opened; a structure whose legs are all flat closes its trade."""
        pos = self.structure
        assert pos is not None
        pos.count_opened()
        if pos.flat and pos.entry_qty > 0:
            self.closed_pnls.append(pos.realized())
            self.last_exit = self.fills[-1].time if self.fills else self.last_exit
            self.structure, self._first_exit_cycle = None, None

    def _open_or_add(self, fill: FillEvent, plan: EntryPlan) -> None:
        pos = self.position
        if pos is not None:  # a further increment of the same entry order
            total = pos.entry_qty + fill.qty
            pos.entry_price = (pos.entry_price * pos.entry_qty + fill.price * fill.qty) / total
            pos.entry_qty, pos.qty_open = total, pos.qty_open + fill.qty
            self._realized -= fill.fee
            return
        self.position = PositionState(
            trade_id=self.trades,
            contract=fill.contract,
            direction=plan.direction,
            entry_qty=fill.qty,
            qty_open=fill.qty,
            entry_price=fill.price,
            entry_time=fill.time,
            peak_bid=fill.price,
            entry_atr_pct=plan.atr_pct,
            entry_vix=plan.vix,
            entry_trend_pct=plan.trend_pct,
        )
        self._realized = -fill.fee
        self.trades += 1

    def _cid(self, now: datetime, what: str) -> str:
        self._seq += 1
        return f"env-{now:%Y%m%dT%H%M}-{what}-{self._seq}"
