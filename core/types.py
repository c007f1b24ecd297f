"""Value types shared by the simulator, the cycle, the brokers and the database layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum, StrEnum
from functools import cached_property


class Action(IntEnum):
    """Everything a policy can choose; which of these a policy chooses among is its `ActionSet`.

    The integer is the action's identity; a policy's probability vector is indexed by its action
    set's order (`ActionSet.actions`), not by this integer."""

    HOLD = 0
    BUY_CALL = 1
    BUY_PUT = 2
    CLOSE = 3
    SELL_PUT_SPREAD = 4
    SELL_CALL_SPREAD = 5
    IRON_CONDOR = 6

    @property
    def label(self) -> str:
        return ACTION_NAMES[self]

    @property
    def is_entry(self) -> bool:
        return self not in (Action.HOLD, Action.CLOSE)

    @property
    def direction(self) -> int:
        """The view an entry takes: +1 bullish (a call, a put credit spread), -1 bearish, 0 neutral."""
        return _DIRECTIONS[self]


ACTION_NAMES: tuple[str, ...] = (
    "hold", "buy_call", "buy_put", "close", "sell_put_spread", "sell_call_spread", "iron_condor"
)  # fmt: skip
_DIRECTIONS = (0, 1, -1, 0, 1, -1, 0)


class ActionSet(StrEnum):
    """The actions a policy chooses among, in the order of its probability vector.

    `long`: hold / buy_call / buy_put / close (the rules and the first models).
    `credit`: hold / sell_put_spread / sell_call_spread / iron_condor / close (the first owners'
    premium-selling agent: the action names the structure, whatever `strategy` says)."""

    LONG = "long"
    CREDIT = "credit"

    @property
    def actions(self) -> tuple[Action, ...]:
        return _ACTION_SETS[self]

    @property
    def names(self) -> list[str]:
        return [a.label for a in self.actions]


_ACTION_SETS: dict[ActionSet, tuple[Action, ...]] = {
    ActionSet.LONG: (Action.HOLD, Action.BUY_CALL, Action.BUY_PUT, Action.CLOSE),
    ActionSet.CREDIT: (Action.HOLD, Action.SELL_PUT_SPREAD, Action.SELL_CALL_SPREAD, Action.IRON_CONDOR, Action.CLOSE),
}


class TradingState(StrEnum):
    """Who may trade: ACTIVE trades, REDUCING only exits, HALTED cancels and flattens."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class Regime(StrEnum):
    """Volatility regime, from VIX and realized volatility."""

    CALM = "calm"
    NORMAL = "normal"
    STORM = "storm"
    CRASH = "crash"


class PolicyMode(StrEnum):
    """Which policy decides: the RL model, the rule baseline, or both (they must agree)."""

    RL = "rl"
    RULES = "rules"
    BOTH = "both"


class Strategy(StrEnum):
    """What an entry opens: the long option (a call or a put by the policy's direction), one of the
    defined-risk credit structures, or `auto` (by regime and IV rank: core/structures/choice.py)."""

    LONG_OPTION = "long_option"
    PUT_CREDIT_SPREAD = "put_credit_spread"
    CALL_CREDIT_SPREAD = "call_credit_spread"
    IRON_CONDOR = "iron_condor"
    IRON_BUTTERFLY = "iron_butterfly"
    AUTO = "auto"


class ExercisedShares(StrEnum):
    """What the worker does with shares an option exercise or assignment puts in the account."""

    FLATTEN = "flatten"  # closed at market as soon as they are booked (a 0DTE book holds no stock)
    REPORT = "report"  # reported and left for the operator


class ModelMismatch(StrEnum):
    """What the worker does when the model does not fit the feature pipeline at start."""

    RULES = "rules"  # run on the rule policy, with an event the console shows
    REFUSE = "refuse"  # do not start


class Right(StrEnum):
    CALL = "C"
    PUT = "P"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderStatus(StrEnum):
    PENDING = "pending"  # written to the database, not yet acknowledged by the broker
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"  # a cancel was asked for; fills can still land until it takes effect
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in (
            OrderStatus.PENDING,
            OrderStatus.ACCEPTED,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.PENDING_CANCEL,
        )


class PriceSource(StrEnum):
    """Where an option price came from: every decision and fill records it (a past day's figure is
    only as good as its prices)."""

    REAL_BAR = "real_bar"  # a real trade bar of that contract in that minute
    RECORDED_QUOTE = "recorded_quote"  # a quote a paper or live worker recorded, replayed
    ANCHORED = "anchored"  # the model, anchored to the contract's last real price that day
    REAL_QUOTE = "real_quote"  # a real quote of that contract (an imported chain) from the last minute, as quoted
    QUOTE_ANCHORED = "quote_anchored"  # the model, anchored to the implied vol of the contract's last real quote
    MODEL = "model"  # the model alone: no real price of that contract that day
    LIVE_QUOTE = "live_quote"  # the broker's quote now (paper and live)
    INTRINSIC = "intrinsic"  # the simulator's expiry settlement at intrinsic value


@dataclass(frozen=True)
class Reason:
    """A stable short code plus a human sentence: every block, exit and halt carries one."""

    code: str
    text: str


@dataclass(frozen=True)
class OptionContract:
    """One listed option; `symbol` is the OCC symbol, e.g. SPY260211C00692000."""

    underlying: str
    expiry: date
    strike: float
    right: Right

    @cached_property
    def symbol(self) -> str:
        strike_milli = round(self.strike * 1000)
        return f"{self.underlying}{self.expiry:%y%m%d}{self.right.value}{strike_milli:08d}"

    @staticmethod
    def from_symbol(occ: str) -> OptionContract:
        """Parse an OCC symbol back into a contract."""
        root = occ[:-15]
        expiry = datetime.strptime(occ[-15:-9], "%y%m%d").date()
        return OptionContract(root, expiry, int(occ[-8:]) / 1000.0, Right(occ[-9]))


@dataclass(frozen=True)
class Quote:
    """A bid/ask for one contract at one moment, with the model's greeks where known."""

    contract: OptionContract
    bid: float
    ask: float
    time: datetime
    iv: float = float("nan")
    delta: float = float("nan")
    bid_size: int = 0  # displayed contracts; 0: the source does not say
    ask_size: int = 0
    price_source: PriceSource = PriceSource.MODEL

    @property
    def mid(self) -> float:
        return 0.5 * (self.bid + self.ask)

    @property
    def spread(self) -> float:
        return self.ask - self.bid

    @property
    def spread_pct(self) -> float:
        return self.spread / self.mid if self.mid > 0 else float("inf")


@dataclass(frozen=True)
class OrderRequest:
    """What the cycle asks a broker to do; the client order id is decided before sending.

    With `legs` it is one multi-leg order (Alpaca's `mleg`: 2 to 4 legs filled together): `qty`
    counts structures, `limit_price` is the net per share (a debit positive, a credit negative),
    and `contract` and `side` are the first leg's (the underlying the order is on)."""

    client_order_id: str
    contract: OptionContract
    side: Side
    qty: int
    opening: bool
    order_type: str = "market"  # market | limit
    limit_price: float | None = None
    time_in_force: str = "day"
    legs: tuple[OrderLeg, ...] = ()

    @property
    def is_multi_leg(self) -> bool:
        return bool(self.legs)

    def leg_orders(self) -> tuple[OrderLeg, ...]:
        """The legs, or the order itself as one leg: every order seen the same way."""
        return self.legs or (OrderLeg(self.contract, self.side, 1, self.opening),)


@dataclass(frozen=True)
class OrderLeg:
    """One leg of a multi-leg order: `ratio` contracts of `contract` per structure, bought or sold."""

    contract: OptionContract
    side: Side
    ratio: int
    opening: bool

    @property
    def sign(self) -> int:
        return 1 if self.side is Side.BUY else -1


@dataclass(frozen=True)
class FillEvent:
    """One execution. `quote_time` is when the quote it filled against was observed."""

    client_order_id: str
    contract: OptionContract
    side: Side
    qty: int
    price: float
    fee: float
    time: datetime
    quote_time: datetime
    liquidation: bool = False
    price_source: str | None = None  # the simulator's: the quote's PriceSource; None: a real broker's fill


class OptionEventKind(StrEnum):
    """What the broker did to a held option outside any order (Alpaca's non-trade activities)."""

    EXERCISE = "OPEXC"  # a long option exercised (Alpaca auto-exercises one in the money by $0.01)
    ASSIGNMENT = "OPASN"  # a short option assigned
    EXPIRY = "OPEXP"  # expired worthless


@dataclass(frozen=True)
class OptionEvent:
    """One exercise, assignment or expiry: the contracts it removed from the account."""

    activity_id: str
    kind: OptionEventKind
    contract: OptionContract
    qty: int  # as the broker reports it: contracts added (+) or removed (-)
    day: date


@dataclass(frozen=True)
class SyncFailure:
    """One order a broker sync could not read, and why; it is read again at the next sync."""

    client_order_id: str
    reason: str


@dataclass
class OrderUpdate:
    """The broker's answer about one order."""

    client_order_id: str
    status: OrderStatus
    broker_order_id: str | None = None
    filled_qty: int = 0
    avg_fill_price: float | None = None
    reject_reason: str | None = None
    fills: list[FillEvent] = field(default_factory=list)
    # what the order is, where the broker says (its own orders: close-all, liquidations)
    contract: OptionContract | None = None
    side: Side | None = None
    qty: int = 0


@dataclass(frozen=True)
class BrokerPosition:
    contract: OptionContract
    qty: int
    avg_price: float


@dataclass(frozen=True)
class Account:
    cash: float
    equity: float
