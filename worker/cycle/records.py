"""What the cycle's steps hand each other, and the parts of the cycle the entry and exit steps use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.calendar import NY, Session
from core.params import TradingParams
from core.policy.ensemble import PolicySet
from core.protocols import BarView, Broker, MarketData
from core.safeguards import EntryContext
from core.structures.legs import Built
from core.types import Action, Reason
from db.control import ControlSnapshot
from db.journal import Journal
from worker.book.book import Book
from worker.book.order_desk import OrderDesk


class LiveCheck(Protocol):
    """Live only (worker/go_live.LiveGuard): the go-live gate's look at every cycle's control read."""

    @property
    def size_cap(self) -> float: ...

    def check(
        self, control: ControlSnapshot, policy_version: str, params: TradingParams, now: datetime
    ) -> ControlSnapshot:
        """The control the cycle runs on: REDUCING when the versions it reads may not trade live."""
        ...


@dataclass(slots=True)
class MarketSnapshot:
    """Step 2's output for one symbol."""

    view: BarView
    spot: float
    vix: float
    iv_rank: float
    data_problem: Reason | None
    price_source: str | None = None  # where the option price this cycle used came from (core.types.PriceSource)


@dataclass(slots=True)
class EntryGate:
    """Step 4's pre-policy safeguard check for a flat symbol, finished in step 6."""

    context: EntryContext
    block: Reason | None
    action: Action = Action.BUY_CALL  # the policy's entry (a credit action names its structure)
    built: Built | None = None  # the structure chosen for the entry, one leg or several (worker/cycle/entry.py)
    refused: Reason | None = None  # why the strategy's structure could not be chosen

    @property
    def direction(self) -> int:
        return self.action.direction


def capped(params: TradingParams, cap: float) -> TradingParams:
    """The parameters with the risk per trade and the contract limit scaled by a go-live override's cap."""
    return params.model_copy(
        update={
            "risk_per_trade_pct": params.risk_per_trade_pct * cap,
            "max_contracts": max(1, int(params.max_contracts * cap)),
        }
    )


@dataclass
class RiskBook:
    """Start-of-day equity and the running peak: the inputs of the loss safeguards. Written with
    every equity row, so a restart restores them (`from_journal`) and the limits fire where they
    would have fired without it."""

    day: object = None
    start_of_day: float = 0.0
    peak: float = 0.0

    @staticmethod
    def from_journal(journal: Journal) -> RiskBook:
        last = journal.last_equity()
        if last is None:
            return RiskBook()
        at, _equity, peak, start_of_day = last
        return RiskBook(at.astimezone(NY).date(), start_of_day, peak)


class CycleParts(Protocol):
    """The parts of the trading cycle its entry and exit steps work with (worker/cycle/cycle.py)."""

    market: MarketData
    broker: Broker
    policy: PolicySet
    journal: Journal
    book: Book
    desk: OrderDesk
    risk: RiskBook
    session: Session | None
    last_control: ControlSnapshot | None
    operator_closes: dict[str, Reason]
