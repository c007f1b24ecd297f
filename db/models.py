"""SQLModel tables (see DESIGN.md 'Tables'). All times are UTC; reasons are code + sentence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from db.types import UTCDateTime


def _time(index: bool = False, nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, index=index, nullable=nullable)


class Run(SQLModel, table=True):
    """One worker process or backtest: what produced the rows that carry its id."""

    id: str = Field(primary_key=True)
    kind: str  # worker | backtest
    mode: str  # sim | paper | live
    source: str
    seed: int | None = None
    started_at: datetime = _time()
    args: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # paper and live: the broker's trading host (only paper-api.alpaca.markets earns the go-live
    # record); None: the simulator, or a run from before migration 0019
    trading_host: str | None = None


class Decision(SQLModel, table=True):
    """One row per cycle and symbol, also for holds and blocked entries."""

    __table_args__ = (
        Index("ix_decision_symbol_time", "symbol", "time"),
        # partial: only blocked rows pay for this index (migration 0004)
        Index(
            "ix_decision_blocked_by",
            "blocked_by",
            sqlite_where=text("blocked_by IS NOT NULL"),
            postgresql_where=text("blocked_by IS NOT NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    run_id: str
    time: datetime = _time(index=True)
    bar_time: datetime | None = _time(nullable=True)
    symbol: str
    p_hold: float
    p_buy_call: float
    p_buy_put: float
    p_close: float
    p_neutral: float | None = None  # a neutral entry (iron condor); p_buy_call/p_buy_put: the bullish/bearish one
    action: str
    confidence: float
    final_action: str
    blocked_by: str | None = None
    blocked_reason: str | None = None
    exit_code: str | None = None
    regime: str
    vix: float | None = None
    iv_rank: float | None = None
    underlying_price: float | None = None
    # key features as columns, so the console can aggregate them in SQL
    rsi_14: float | None = None
    vwap_dist_pct: float | None = None
    trend_pct: float | None = None
    atr_pct: float | None = None
    rv_annual_pct: float | None = None
    volume_z: float | None = None
    param_version: int
    model_version: str
    data_source: str = "sim"
    degraded: bool = False
    latency_ms: float = 0.0
    order_client_id: str | None = None
    price_source: str | None = None  # real_bar | recorded_quote | anchored | model | live_quote (core.types)


class Order(SQLModel, table=True):
    """Written before the broker sees it; the client order id is unique and deterministic."""

    __tablename__ = "orders"
    id: int | None = Field(default=None, primary_key=True)
    client_order_id: str = Field(unique=True)
    broker_order_id: str | None = None
    run_id: str = Field(index=True)
    trade_id: int | None = Field(default=None, index=True)
    created_at: datetime = _time()
    updated_at: datetime = _time()
    underlying: str
    contract: str
    side: str
    qty: int
    opening: bool
    order_type: str = "market"
    limit_price: float | None = None
    reason_code: str
    status: str = Field(index=True)
    filled_qty: int = 0
    avg_fill_price: float | None = None
    reject_reason: str | None = None
    # a multi-leg order's legs: [{"symbol", "side", "ratio", "opening"}]; `contract` is the first's
    legs: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))


class Fill(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("client_order_id", "contract", "time", "qty", "price", name="uq_fill_identity"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
    client_order_id: str = Field(index=True)
    time: datetime = _time(index=True)
    quote_time: datetime = _time()
    contract: str
    side: str
    qty: int
    price: float
    fee: float
    liquidation: bool = False
    price_source: str | None = None  # the simulator's quote source; NULL: a real broker's fill


class Trade(SQLModel, table=True):
    """One position from open to close, with both reasons and the real average fills."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True)
    status: str = Field(index=True)  # open | closed
    underlying: str = Field(index=True)
    contract: str
    direction: int
    entry_time: datetime = _time(index=True)
    exit_time: datetime | None = _time(nullable=True)
    entry_qty: int
    qty_open: int
    entry_avg: float
    exit_qty: int = 0
    exit_avg: float | None = None
    fees: float = 0.0
    realized_pnl: float = 0.0
    entry_reason_code: str = Field(index=True)
    entry_reason: str
    exit_reason_code: str | None = Field(default=None, index=True)
    exit_reason: str | None = None
    confidence: float
    regime: str = Field(index=True)
    vix: float
    model_version: str = Field(index=True)
    param_version: int = Field(index=True)
    entry_client_order_id: str = Field(index=True)
    mae_pct: float = 0.0
    mfe_pct: float = 0.0
    peak_bid: float = 0.0
    mark_bid: float | None = None  # the newest bid the worker saw while open (unrealized P&L)
    marked_at: datetime | None = _time(nullable=True)
    partials_done: int = 0
    entry_atr_pct: float = 0.0
    entry_trend_pct: float = 0.0
    price_source: str | None = Field(default=None, index=True)  # the entry fill's (Fill.price_source; broker)
    # what the trade is (core/structures StructureKind: long_call, long_put, iron_condor, ...); for a
    # structure of legs also its legs [{"symbol", "ratio"}] (signed per structure) and its max loss and
    # gain at expiry in dollars at entry, and `entry_avg`/`exit_avg` are net prices per share (a debit
    # +, a credit -); a single option has no legs (its `contract`). NULL: a trade from before 0013.
    structure: str | None = Field(default=None, index=True)
    legs: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    max_loss: float | None = None
    max_gain: float | None = None


class ParamVersion(SQLModel, table=True):
    """Validated parameter values. The active one is named by ControlState.active_param_version."""

    id: int | None = Field(default=None, primary_key=True)
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    author: str
    note: str = ""
    created_at: datetime = _time()
    first_used_at: datetime | None = _time(nullable=True)
    reverted_from: int | None = None


class ControlState(SQLModel, table=True):
    """The single row the worker obeys: trading state and the active parameter version."""

    id: int = Field(default=1, primary_key=True)
    state: str
    flatten: bool = False
    reason_code: str
    reason: str
    set_by: str
    set_at: datetime = _time()
    active_param_version: int | None = None
    halt_applied_at: datetime | None = _time(nullable=True)
    halt_summary: str | None = None
    database_id: str | None = None  # this database's identity (stable client order ids)


class ControlEvent(SQLModel, table=True):
    """Audit row for every trading-state change: who, when, why, from which state."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(index=True)
    who: str
    from_state: str
    to_state: str
    flatten: bool = False
    reason_code: str
    reason: str
    applied_at: datetime | None = _time(nullable=True)
    applied_summary: str | None = None


class Equity(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True)
    time: datetime = _time(index=True)
    cash: float
    equity: float
    peak: float
    start_of_day: float


class WorkerStatus(SQLModel, table=True):
    """Heartbeat and lease: exactly one live worker per database."""

    id: str = Field(default="worker", primary_key=True)
    run_id: str
    pid: int
    host: str
    mode: str
    started_at: datetime = _time()
    heartbeat_at: datetime = _time()
    sim_time: datetime | None = _time(nullable=True)  # the worker's clock at the heartbeat (display)
    cycle_time: datetime | None = _time(nullable=True)  # the last completed cycle (written with its rows)
    lease_token: int = 0  # fencing token: +1 at every take-over; orders are written only under it
    state_seen: str = "ACTIVE"
    last_cycle_ms: float = 0.0
    stopped: bool = False


class Event(SQLModel, table=True):
    """Errors and alerts the console shows."""

    id: int | None = Field(default=None, primary_key=True)
    time: datetime = _time(index=True)
    run_id: str | None = None
    level: str  # info | warning | error
    code: str
    message: str


class Bar(SQLModel, table=True):
    """Recorded market data, so any live day can be replayed."""

    symbol: str = Field(primary_key=True)
    time: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    open: float
    high: float
    low: float
    close: float
    volume: float
    source: str
    degraded: bool = False  # the feed said so (a fallback source, a delayed feed)


class OptionQuote(SQLModel, table=True):
    """A recorded option quote: what the worker saw of the traded expiry near the money."""

    __table_args__ = (Index("ix_optionquote_underlying_time", "underlying", "time"),)
    id: int | None = Field(default=None, primary_key=True)
    time: datetime = _time(index=True)  # the cycle that read it
    quote_time: datetime = _time()  # the quote's own time, from the feed
    underlying: str
    contract: str
    bid: float
    ask: float
    bid_size: int = 0
    ask_size: int = 0
    iv: float | None = None
    delta: float | None = None
    spot: float  # the underlying as the cycle priced it
    source: str
    degraded: bool = False


class VixHistory(SQLModel, table=True):
    """The daily VIX closes a worker used for the IV rank on a day (recorded for replay)."""

    day: str = Field(primary_key=True)  # ISO date of the session
    closes: list[float] = Field(default_factory=list, sa_column=Column(JSON))


class PolicyMemory(SQLModel, table=True):
    """The RL policy's LSTM state per symbol, so a worker restarted mid-session resumes with it."""

    symbol: str = Field(primary_key=True)
    model_version: str = Field(primary_key=True)
    day: str  # the session (ISO date) the state belongs to
    steps: int  # cycles the LSTM has seen this session
    state: bytes = Field(sa_type=LargeBinary)
    updated_at: datetime = _time()


class ModelRecord(SQLModel, table=True):
    """The model registry: every model a worker or an evaluation has loaded, with its metadata."""

    version: str = Field(primary_key=True)
    path: str
    metadata_json: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    registered_at: datetime = _time()


class ModelEvaluation(SQLModel, table=True):
    """One policy's out-of-sample result on one walk-forward fold (fold -1: all folds pooled)."""

    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: str = Field(index=True)
    created_at: datetime = _time()
    model_version: str = Field(index=True)
    policy: str  # rl | rules | hold | random | underlying
    fold: int
    seed: int | None = None
    train_start: str
    train_end: str
    test_start: str
    test_end: str
    sessions: int
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class ParityDay(SQLModel, table=True):
    """One recorded day replayed on its own recordings: decision agreement and fill slippage."""

    day: str = Field(primary_key=True)  # ISO date of the session
    computed_at: datetime = _time()
    execution: str  # the simulator's execution model used for the replay
    model_version: str
    decisions: int
    agreeing: int
    agreement_pct: float
    fills_both: int
    live_only: int
    sim_only: int
    cost_p10: float | None = None  # $ per contract, live minus simulated, positive: live worse
    cost_median: float | None = None
    cost_p90: float | None = None
    slippage_pct_median: float | None = None
    differences: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))


class ParityFill(SQLModel, table=True):
    """A live order beside its replayed twin: both fills, or which side filled alone."""

    id: int | None = Field(default=None, primary_key=True)
    day: str = Field(index=True)
    time: datetime = _time()
    contract: str
    side: str
    opening: bool
    reason_code: str
    live_qty: int
    live_price: float | None = None
    sim_qty: int
    sim_price: float | None = None
    outcome: str
    slippage: float | None = None
    slippage_pct: float | None = None
    cost_per_contract: float | None = None


class AlertCursor(SQLModel, table=True):
    """How far the alert relay has read (python -m worker.alerts): a restarted relay neither
    repeats an alert nor skips one."""

    name: str = Field(primary_key=True)  # events, controlevents, trades_opened, trades_closed, summary_day, stale
    value: str
    updated_at: datetime = _time()


class ConsoleSession(SQLModel, table=True):
    """A logged-in console session (the browser holds the token, the database its hash): it
    survives reloads until it expires, is revoked by logout, and dies with a password change
    (it is bound to the password hash it was opened under)."""

    token_hash: str = Field(primary_key=True)  # sha256 of the cookie's token
    user: str
    created_at: datetime = _time()
    expires_at: datetime = _time()
    password_fingerprint: str  # sha256 of the password hash in force at login (first 16 hex)
    revoked_at: datetime | None = _time(nullable=True)


class LoginAttempt(SQLModel, table=True):
    """Every console login attempt (the audit of who tried from where); the failures in a window
    lock the account (console/auth.py)."""

    __tablename__ = "login_attempt"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(index=True)
    user: str = Field(index=True)
    source: str  # the browser's address as the console saw it
    outcome: str  # ok | wrong_password | locked


class ChatCommand(SQLModel, table=True):
    """Every command a chat user sent (allowed or not), with what the bot did: the audit of the
    phone's control (worker/chat/)."""

    __tablename__ = "chat_command"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(index=True)
    user_id: int = Field(index=True, sa_type=BigInteger)
    username: str = ""
    command: str
    args: str = ""
    # done | asked_to_confirm | confirmed | cancelled | expired | refused | not_allowed | too_many |
    # ignored_edit | worker_working | worker_done | worker_refused | worker_silent | error | skipped_update
    outcome: str
    reply: str = ""
    delivery: str = ""  # the reply: sent | sent cut (to fit Telegram) | failed: why ("" none sent yet)


class ControlRequest(SQLModel, table=True):
    """An operator's request about one position or order (close this position, cancel this
    order), carried out by the worker through its order path. The row is its audit: who, when,
    why, and what the worker did with it."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(index=True)
    who: str
    kind: str  # close_position | cancel_order
    trade_id: int | None = None  # close_position
    client_order_id: str | None = None  # cancel_order
    reason: str = ""  # typed by the operator, may be empty
    status: str = Field(default="pending", index=True)  # pending | working | done | refused
    result: str | None = None  # what the worker did, in words
    updated_at: datetime | None = _time(nullable=True)


class LiveOverride(SQLModel, table=True):
    """An operator's decision to trade live without meeting the go-live gate: who, why, at what
    size and for how many sessions; the audit of it and of how it ended."""

    __tablename__ = "live_override"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _time(index=True)
    who: str
    reason: str
    size_cap: float  # fraction of the risk per trade and of max_contracts live trading may use (0 to 1]
    sessions: int  # live sessions it allows
    param_version: int
    model_version: str
    gate_summary: str  # the gate's verdict when it was given
    used_days: list[str] = Field(default_factory=list, sa_column=Column(JSON))  # live sessions traded on it
    ended_at: datetime | None = _time(nullable=True)
    ended_reason: str | None = None  # expired | gate_met | revoked


class OwedShares(SQLModel, table=True):
    """Shares an option exercise or assignment owes the account (signed: a short call assigned
    takes 100 a contract away), tracked from the booking of the broker's activity until they
    are in the account and closed (exercised_shares flatten) or reported (report)."""

    id: int | None = Field(default=None, primary_key=True)
    activity_id: str = Field(unique=True)  # the broker's activity that owes them
    created_at: datetime = _time()
    underlying: str
    contract: str  # the option exercised or assigned
    kind: str  # OPEXC | OPASN
    shares: int  # signed, as they come into the account
    baseline: int  # the account's other shares of the underlying (signed): the owed ones are beyond them
    status: str = Field(default="owed", index=True)  # owed | closed | reported
    result: str | None = None  # what was last done or said, in words
    updated_at: datetime | None = _time(nullable=True)
