"""What the stop sends for the positions the book holds, and what it leaves (worker/process/control.py).

A structure is closed by the desk, not by the broker's close-all: the legs still held go out as
one multi-leg market order (shorts bought back, longs sold, every leg together, so no short is
ever left uncovered), or, where the broker refused that order, leg by leg with the shorts
bought back first and the longs sold only once no short is left. A long leg nobody bids for is
left: it is worth 0 and a long option's worst case is 0, so nothing can be lost on it, while a
market sell of it would work unfilled forever (at Alpaca and in the simulator). A single option
with no bid is left the same way. Everything else the account holds on the traded underlyings
is closed by the broker's close-all, which leaves the contracts named in `keep` to the desk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.ids import client_order_id
from core.protocols import MarketData
from core.structures.orders import market_close
from core.structures.position import StructurePosition
from core.types import OptionContract, OrderLeg, OrderRequest, Side
from worker.book.book import Book

NO_BID = "long, no bid: worth 0, and a long option cannot lose more"


@dataclass(frozen=True)
class LeftLeg:
    """A long contract the stop leaves in the account, and why it is at no risk."""

    contract: OptionContract
    qty: int
    trade_id: int
    why: str = NO_BID

    def describe(self) -> str:
        return f"{self.contract.symbol} x{self.qty} ({self.why})"


@dataclass(frozen=True)
class StopClose:
    """One order the desk sends for the stop: a structure's legs (or one leg) of one trade."""

    request: OrderRequest
    trade_id: int
    label: str


@dataclass
class StopPlan:
    """The stop's orders for the book's structures, the legs it leaves, and the contracts the
    broker's close-all must leave to the desk (every leg of a structure, every leg left)."""

    closes: list[StopClose] = field(default_factory=list)
    left: list[LeftLeg] = field(default_factory=list)
    keep: frozenset[str] = frozenset()

    def left_at_no_risk(self, symbol: str, qty: int) -> bool:
        """A position the stop may leave: a long it recorded as left (a short never is)."""
        return qty > 0 and any(leg.contract.symbol == symbol for leg in self.left)


def plan_stop(
    book: Book, market: MarketData, identity: str, now: datetime, attempt: int, leg_by_leg: set[int]
) -> StopPlan:
    """The stop's plan now; `leg_by_leg`: trades whose multi-leg close the broker refused."""
    plan = StopPlan()
    keep: set[str] = set()
    for pos in book.structures():
        keep.update(symbol for symbol, qty in pos.held.items() if qty)
        _plan_structure(plan, pos, market, identity, now, attempt, pos.trade_id in leg_by_leg)
    for single in book.positions():
        quote = market.quote(single.contract, now)
        if single.qty_open > 0 and quote is not None and quote.bid <= 0:
            plan.left.append(LeftLeg(single.contract, single.qty_open, single.trade_id))
            keep.add(single.contract.symbol)
    plan.keep = frozenset(keep)
    return plan


def _plan_structure(
    plan: StopPlan,
    pos: StructurePosition,
    market: MarketData,
    identity: str,
    now: datetime,
    attempt: int,
    leg_by_leg: bool,
) -> None:
    """The orders closing what `pos` still holds: shorts and the longs someone bids for."""
    contracts = {leg.contract.symbol: leg.contract for leg in pos.structure.legs}
    shorts: list[OrderLeg] = []
    longs: list[OrderLeg] = []
    for symbol, qty in pos.held.items():
        if qty == 0:
            continue
        contract = contracts[symbol]
        if qty < 0:
            shorts.append(OrderLeg(contract, Side.BUY, -qty, False))
            continue
        quote = market.quote(contract, now)
        if quote is None:
            continue  # no quote this minute: the next attempt sells it
        if quote.bid <= 0:
            plan.left.append(LeftLeg(contract, qty, pos.trade_id))
        else:
            longs.append(OrderLeg(contract, Side.SELL, qty, False))
    underlying = pos.structure.underlying
    label = pos.structure.label

    def cid(part: str) -> str:
        return client_order_id(identity, underlying, now, f"stop:{pos.trade_id}:{attempt}:{part}")

    legs = shorts + longs  # shorts first in the order, as they are bought back first
    if len(legs) >= 2 and not leg_by_leg:
        plan.closes.append(StopClose(market_close(cid("mleg"), legs), pos.trade_id, label))
        return
    for leg in shorts or longs:  # leg by leg: the longs only once no short is left
        plan.closes.append(StopClose(market_close(cid(leg.contract.symbol), [leg]), pos.trade_id, label))
