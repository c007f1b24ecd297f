"""Wiring: builds the market, broker, policy, journal, cycle and control loop for a run."""

from __future__ import annotations

import argparse
import os
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine

from core.broker_sim import SimBroker
from core.calendar import Session, next_session
from core.error_band import scaled_surfaces
from core.execution import BrokerRules, execution_model
from core.market.chain_world import ChainWorld
from core.market.csv_source import CsvWorld
from core.market.sim_market import SimMarket
from core.market.synthetic import SyntheticWorld
from core.market.worlds import make_world, market_name, pricing_history
from core.options.history import DEFAULT_FOLDER as DEFAULT_HISTORY
from core.options.history import option_history_folder
from core.policy.ensemble import PolicySet
from core.policy.rl import LstmMemory, RLPolicy
from core.policy.rules import RulePolicy
from core.protocols import Broker, MarketData
from core.rl.metadata import ModelMismatchError
from core.types import BrokerPosition, ModelMismatch, OptionContract, OrderStatus, OrderUpdate
from db.control import bootstrap, database_id
from db.engine import database_url, make_engine
from db.journal import Journal
from db.migrate import upgrade
from db.model_store import load_policy_memories, register_model
from worker.adapters.alpaca_broker import AlpacaBroker
from worker.adapters.alpaca_http import AlpacaClients, AlpacaSettings, make_clients
from worker.adapters.alpaca_market import AlpacaMarketData
from worker.cycle.cycle import TradingCycle
from worker.cycle.recorder import DEFAULT_BAND_PCT, MarketRecorder
from worker.cycle.records import RiskBook
from worker.offline.recorded import RecordedMarket, RecordedWorld
from worker.process.control import ControlLoop

DEFAULT_MODEL = "models/rppo-shipped.zip"


@dataclass
class RunOptions:
    mode: str = "sim"
    source: str = "synthetic"  # synthetic | csv:DIR | chains:PATH | recorded[:URL]
    seed: int = 7
    db: str | None = None
    cash: float = 100_000.0
    fee_per_contract: float = 0.65
    model: str | None = None  # a RecurrentPPO zip (metadata beside it); None: rules only
    flush_every: int = 1
    execution: str = "broker"  # sim only: broker (latency, resting limits, partial fills) | instant
    broker_rules: BrokerRules = field(default_factory=BrokerRules)  # sim only: the broker's cutoffs
    record: bool | None = None  # record bars and quotes (None: in paper and live mode)
    record_band_pct: float = DEFAULT_BAND_PCT  # recorded option quotes: strikes this close to the money
    option_history: str | None = None  # sim only: the real option bars cache (None: the model prices every option)
    error_band_end: str | None = None  # sim only: price at the calibration error's low or high end (core/error_band.py)


@dataclass
class Runtime:
    options: RunOptions
    engine: Engine
    world: SyntheticWorld | CsvWorld | ChainWorld | RecordedWorld | None  # None: a real broker's market (paper, live)
    market: MarketData
    broker: Broker
    journal: Journal
    cycle: TradingCycle
    control: ControlLoop
    clients: AlpacaClients | None = None

    def next_session_after(self, day: date) -> Session | None:
        """The session after `day` that this run has data for."""
        if isinstance(self.world, (CsvWorld, ChainWorld, RecordedWorld)):
            later = [s for s in self.world.sessions() if s.day > day]
            return later[0] if later else None
        return next_session(day)


def load_policies(options: RunOptions, kind: str, engine: Engine, journal: Journal) -> PolicySet:
    """Rules always; the RL model when configured, checked against the pipeline before any cycle.

    On a mismatch the parameter `on_model_mismatch` decides: `refuse` raises (the worker does
    not start) or `rules` runs on the rule policy with an error event the console shows.
    """
    _, params = journal.read_control()
    rules = RulePolicy()
    if not options.model:
        return PolicySet(rules, None, params.policy_mode)
    try:
        rl = RLPolicy(options.model)
    except ModelMismatchError as exc:
        if params.on_model_mismatch is ModelMismatch.REFUSE:
            raise ValueError(f"{exc} (on_model_mismatch = refuse)") from None
        journal.event("error", "model_refused", f"{exc}. Running on the rule policy (on_model_mismatch = rules).")
        return PolicySet(rules, None, params.policy_mode)
    register_model(engine, rl.version, str(options.model), asdict(rl.metadata))
    if kind == "worker":
        for symbol, day, steps, blob in load_policy_memories(engine, rl.version):
            rl.restore(symbol, LstmMemory.from_bytes(blob, rl.state_shape, date.fromisoformat(day), steps))
    return PolicySet(rules, rl, params.policy_mode)


def build_runtime(
    options: RunOptions, kind: str, run_id: str | None = None, policy: PolicySet | None = None
) -> Runtime:
    """Migrate the database, then assemble every part of a run: the simulator in sim mode,
    Alpaca (settings from the environment) in paper and live mode."""
    if options.mode not in ("sim", "paper", "live"):
        raise ValueError(f"--mode must be sim, paper or live, got {options.mode!r}")
    clients = None
    world: SyntheticWorld | CsvWorld | ChainWorld | None = None
    market: MarketData
    broker: Broker
    if options.mode == "sim":
        if options.source.startswith("recorded"):
            recorded_url = options.source.removeprefix("recorded").removeprefix(":") or database_url()
            world = RecordedWorld(make_engine(recorded_url, role="reader"))  # type: ignore[assignment]
            market = RecordedMarket(world)  # type: ignore[arg-type]
        else:
            world = make_world(options.source, options.seed)
            history = pricing_history(world, options.source, options.option_history)
            name = market_name(world, options.source)
            surfaces = scaled_surfaces(options.error_band_end)
            market = SimMarket(world, name, surfaces, option_history=history)
        model = execution_model(options.execution, options.seed)
        broker = SimBroker(market, options.cash, options.fee_per_contract, model, options.broker_rules)
    else:
        clients = make_clients(AlpacaSettings.from_env(options.mode))  # SettingsError names what is missing
        market = AlpacaMarketData(clients)
        broker = AlpacaBroker(clients, options.fee_per_contract, underlyings=market.symbols)
        options.source = "alpaca"
    url = upgrade(options.db)
    engine = make_engine(url)
    bootstrap(engine)
    journal = Journal(engine, run_id or f"{kind}-{uuid.uuid4().hex[:12]}", options.flush_every)
    if kind == "worker":
        journal.identity = database_id(engine)  # stable client order ids across restarts
        journal.history_of_all_runs = True  # a restart continues the same account
    policy = policy or load_policies(options, kind, engine, journal)
    loaded = {"model_version": policy.rl.version if policy.rl else None}
    host = None if clients is None else clients.settings.trading_host
    journal.start_run(kind, options.mode, options.source, options.seed, _jsonable({**asdict(options), **loaded}), host)
    cycle = TradingCycle(market, broker, policy, journal, threading.Lock())
    record = options.record if options.record is not None else options.mode != "sim"
    if record and (kind == "worker" or options.record):  # a backtest records only when asked (benches)
        cycle.recorder = MarketRecorder(journal, options.record_band_pct)
    return Runtime(options, engine, world, market, broker, journal, cycle, ControlLoop(cycle), clients)


def restore_simulated_account(rt: Runtime) -> None:
    """After a restart: rebuild the simulator's cash from fills and positions from open trades,
    the loss limits' memory from the equity rows, and settle the orders a crash left open (the
    restarted simulator never received them: they end as cancelled, with an event)."""
    rt.cycle.book.restore()
    positions = [
        BrokerPosition(OptionContract.from_symbol(p.contract.symbol), p.qty_open, p.entry_price)
        for p in rt.cycle.book.positions()
    ]
    for multi in rt.cycle.book.structures():  # a structure's legs, shorts negative
        positions += [
            BrokerPosition(OptionContract.from_symbol(symbol), qty, 0.0) for symbol, qty in multi.held.items() if qty
        ]
    assert isinstance(rt.broker, SimBroker)
    rt.broker.restore(rt.journal.cash_from_fills(rt.options.cash), positions)
    rt.cycle.risk = RiskBook.from_journal(rt.journal)
    settle_simulated_orders(rt, "the worker restarted: settled", "a crash")


def settle_simulated_orders(rt: Runtime, why: str, left_by: str = "the stop") -> int:
    """Orders the database counts as open end as cancelled, keeping what filled: the simulated
    broker that worked them lives and dies with the worker's process (a clean stop settles them
    at once; a crash leaves them to the next start). Returns how many were settled."""
    left_open = rt.journal.open_orders()
    for row in left_open:
        settled = OrderUpdate(
            row.client_order_id,
            OrderStatus.CANCELED,
            filled_qty=row.filled_qty,  # what was filled stays filled
            avg_fill_price=row.avg_fill_price,
            reject_reason=why,
        )
        rt.cycle.desk.book(settled, row.updated_at)
    if left_open:
        ids = ", ".join(r.client_order_id[:8] for r in left_open)
        rt.journal.event("warning", "orders_settled", f"{len(left_open)} orders left open by {left_by} settled: {ids}")
    return len(left_open)


def add_run_arguments(parser: argparse.ArgumentParser, default_db: str | None) -> None:
    """The options a worker and a backtest share."""
    parser.add_argument(
        "--source",
        default="synthetic",
        help="synthetic, csv:DIR, chains:PATH[,vix=DIR][,bars=PATH][,pricing=quotes|model] (imported same-day "
        "chains or a chain file, core/market/chain_world.py), or recorded[:URL] (a worker's recordings; default "
        "its DATABASE_URL)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--db", default=default_db, help="SQLAlchemy URL (default: DATABASE_URL or sqlite:///data/trading.db)"
    )
    parser.add_argument("--cash", type=float, default=100_000.0)
    parser.add_argument(
        "--execution",
        default="broker",
        choices=["broker", "instant"],
        help="sim only: how orders meet the simulated market (broker: latency, resting limits, partial fills, "
        "asynchronous cancels; instant: the old fill-at-once model, for comparison)",
    )
    parser.add_argument(
        "--option-history",
        default=os.environ.get("OPTION_HISTORY", "auto"),
        help="sim only: real option bars (python -m worker.option_history) to price from; 'auto' (default): "
        f"{DEFAULT_HISTORY} when it holds any day, 'none': the model alone",
    )
    parser.add_argument("--fee-per-contract", type=float, default=0.65)
    parser.add_argument(
        "--model",
        default=os.environ.get("MODEL_PATH", DEFAULT_MODEL),
        help=f"RecurrentPPO zip with its .json metadata (default: MODEL_PATH or {DEFAULT_MODEL}); 'none': rules only",
    )


def options_from_args(args: argparse.Namespace, **extra: Any) -> RunOptions:
    return RunOptions(
        source=args.source,
        seed=args.seed,
        db=args.db,
        cash=args.cash,
        fee_per_contract=args.fee_per_contract,
        execution=args.execution,
        model=None if args.model in ("", "none") else args.model,
        option_history=option_history_folder(args.option_history),
        **extra,
    )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v)) for k, v in values.items()}
