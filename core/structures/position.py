"""An open structure as the book and the exit rules see it: the legs held, contract by contract,
and the cash it has paid and received.

The P&L of a structure is its cash: what its fills received minus what they paid, fees included,
plus (while open) what closing it would cost now. No leg is ever priced against another leg's
contract: each fill moves its own contract's holding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from core.structures.payoff import payoff
from core.structures.types import Structure
from core.types import FillEvent, Quote, Right, Side

MULTIPLIER = 100


@dataclass
class StructurePosition:
    trade_id: int
    structure: Structure
    entry_time: datetime
    entry_qty: int = 0  # structures opened
    held: dict[str, int] = field(default_factory=dict)  # symbol -> signed contracts held now
    opened_cash: float = 0.0  # dollars the opening fills paid (+) or received (-), fees aside
    closed_cash: float = 0.0  # dollars the closing fills paid (+) or received (-), fees aside
    closed_qty: int = 0  # structures closed (counted on the first leg)
    fees: float = 0.0
    worst_pnl: float = 0.0  # dollars, the lowest mark-to-market P&L seen
    best_pnl: float = 0.0

    @property
    def direction(self) -> int:
        """+1 a bullish structure (a put credit spread, a long call), -1 bearish, 0 neutral."""
        kinds = {leg.contract.right for leg in self.structure.legs}
        if len(kinds) == 2:
            return 0
        sign = sum(leg.ratio for leg in self.structure.legs)
        right = kinds.pop()
        if sign == 0:  # a credit spread: short the nearer strike
            short = next(leg for leg in self.structure.legs if leg.ratio < 0)
            return 1 if short.contract.right is Right.PUT else -1
        return 1 if right is Right.CALL else -1

    @property
    def entry_net(self) -> float:
        """The net opening price per share (a debit +, a credit -)."""
        return self.opened_cash / (MULTIPLIER * self.entry_qty) if self.entry_qty else 0.0

    @property
    def qty_open(self) -> int:
        """Whole structures still held on every leg."""
        counts = [abs(self.held.get(leg.contract.symbol, 0)) // abs(leg.ratio) for leg in self.structure.legs]
        return min(counts) if counts else 0

    @property
    def flat(self) -> bool:
        return all(qty == 0 for qty in self.held.values())

    @property
    def orphaned(self) -> list[str]:
        """Legs held beyond the whole structures held (one leg closed alone, e.g. by the broker)."""
        n = self.qty_open
        return [
            leg.contract.symbol for leg in self.structure.legs if self.held.get(leg.contract.symbol, 0) != leg.ratio * n
        ]

    def apply(self, fill: FillEvent, opening: bool) -> None:
        """One leg's fill: its contract's holding and the cash."""
        sign = 1 if fill.side is Side.BUY else -1
        symbol = fill.contract.symbol
        self.held[symbol] = self.held.get(symbol, 0) + sign * fill.qty
        cash = sign * fill.price * fill.qty * MULTIPLIER
        if opening:
            self.opened_cash += cash
        else:
            self.closed_cash += cash
        self.fees += fill.fee

    def count_opened(self) -> None:
        self.entry_qty = max(self.entry_qty, self.qty_open)

    def realized(self) -> float:
        """Dollars made by the fills so far (the whole P&L once flat), fees included."""
        return -(self.opened_cash + self.closed_cash) - self.fees

    def close_cost(self, quotes: dict[str, Quote]) -> float:
        """Dollars to close what is held now at the natural prices (longs sold at the bid, shorts
        bought at the ask); positive is a payment."""
        total = 0.0
        for symbol, qty in self.held.items():
            q = quotes[symbol]
            total += -qty * (q.bid if qty > 0 else q.ask) * MULTIPLIER
        return total

    def pnl_pct(self, pnl: float) -> float:
        """`pnl` as a % of the maximum loss of the structures held (of one contract's $100 when
        the loss is unbounded): what the policy's observation carries, in the worker and training."""
        max_loss = payoff(self.structure, self.entry_net, max(self.qty_open, 1)).max_loss
        scale = max_loss if max_loss > 0 and math.isfinite(max_loss) else MULTIPLIER
        return pnl / scale * 100.0

    def mark(self, quotes: dict[str, Quote]) -> float:
        """Dollars made if closed now at the natural prices, fees paid so far included."""
        pnl = self.realized() - self.close_cost(quotes)
        self.worst_pnl, self.best_pnl = min(self.worst_pnl, pnl), max(self.best_pnl, pnl)
        return pnl
