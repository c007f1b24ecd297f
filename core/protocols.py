"""The two seams of the trading cycle: where market data comes from and where orders go.

Implementations: the simulator (core.market.sim_market, core.broker_sim), Alpaca through
alpaca-py and yfinance (worker adapters). The cycle only ever talks to these protocols.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

import numpy as np

from core.calendar import Session
from core.market.bars import SessionBars
from core.options.chain import ChainSnapshot
from core.types import (
    Account,
    BrokerPosition,
    OptionContract,
    OptionEvent,
    OrderRequest,
    OrderUpdate,
    Quote,
    Side,
    SyncFailure,
)


@dataclass(slots=True)  # not frozen: built per symbol per bar, and frozen init costs 3x
class BarView:
    """The completed bars of the current session for one symbol: the first `count` of `bars`."""

    bars: SessionBars
    count: int
    source: str = "sim"
    degraded: bool = False

    @property
    def last_close(self) -> float:
        return float(self.bars.close[self.count - 1]) if self.count else float("nan")


class MarketData(Protocol):
    symbols: tuple[str, ...]

    def session(self, now: datetime) -> Session | None:
        """The session open at `now`, if any."""

    def bars(self, symbol: str, now: datetime) -> BarView:
        """Completed 1-minute bars of today's session up to `now`; never a bar still forming."""

    def spot(self, symbol: str, now: datetime) -> float:
        """The underlying's price at `now` (the open of the bar starting now)."""

    def vix(self, now: datetime) -> float:
        """The latest VIX known at `now`."""

    def vix_history(self, day: date) -> np.ndarray:
        """Daily VIX closes before `day` (for the IV rank)."""

    def chain(self, underlying: str, now: datetime, strikes_each_side: int = 12) -> ChainSnapshot | None:
        """Today's expiry chain around the money at `now`."""

    def quote(self, contract: OptionContract, now: datetime) -> Quote | None:
        """One contract's bid/ask at `now`."""


class Broker(Protocol):
    name: str
    fee_per_contract: float

    def account(self) -> Account: ...

    def positions(self) -> list[BrokerPosition]: ...

    def open_orders(self) -> list[OrderUpdate]: ...

    def other_holdings(self) -> list[str]:
        """Positions and orders in the account that the trading path leaves alone (not options:
        stocks, crypto), described for reconciliation's report."""

    def submit(self, request: OrderRequest, now: datetime) -> OrderUpdate:
        """Send an order. The request's client order id was persisted before this call."""

    def order_by_client_id(self, client_order_id: str) -> OrderUpdate | None:
        """The order with fills not reported before; None when the broker has no such order."""

    def remember(self, client_order_id: str, contract: OptionContract, side: Side, filled_qty: int, avg: float) -> None:
        """Track an order the database knows (after a restart), with the fills already booked."""

    def cancel(self, client_order_id: str, now: datetime) -> OrderUpdate | None:
        """Ask for one order's cancel; it ends when the broker says so (fills can land first)."""

    def cancel_all(self, now: datetime) -> list[OrderUpdate]: ...

    def close_all(self, now: datetime, keep: frozenset[str] = frozenset()) -> list[OrderUpdate]:
        """Cancel open orders and close every position at market, shorts first, except the
        contracts in `keep` (the caller closes those itself, or leaves them)."""

    def sync(self, now: datetime) -> list[OrderUpdate]:
        """Advance to `now`: fills of resting orders, expiries, liquidations since the last call."""

    def sync_failures(self) -> list[SyncFailure]:
        """Orders the last syncs could not read (each is read again at the next sync), with why."""

    def shares_held(self, underlying: str) -> int:
        """The account's shares of `underlying`, signed (a short below zero)."""

    def shares_before(self, contract: OptionContract) -> int | None:
        """The underlying's shares when `contract` was last seen held; None when never seen."""

    def close_shares(self, underlying: str, qty: int) -> str:
        """Close at market only the `qty` shares (signed as they came) of `underlying` that an
        exercise or assignment brought; what was done."""

    def option_events(self, since: date) -> list[OptionEvent]:
        """Exercises, assignments and expiries on or after `since` (not fills: they come as
        account activities at a real broker)."""
