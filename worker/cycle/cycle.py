"""One trading cycle as named steps (DESIGN.md): the same code in simulation, paper, live and
backtest. `run(now)` is called once per minute bar; it handles every symbol."""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime

import numpy as np

from core.calendar import Session
from core.data_quality import check_bars
from core.features import FeatureEngine
from core.params import TradingParams
from core.policy.base import Observation, PolicyOutput, action_mask
from core.policy.ensemble import PolicySet
from core.policy.rl import LstmMemory
from core.protocols import Broker, MarketData
from core.records import DecisionRow
from core.regime import VixRange, classify_regime
from core.structures.position import StructurePosition
from core.types import (
    Account,
    Action,
    Reason,
    Regime,
    TradingState,
)
from db.control import ControlSnapshot, set_trading_state
from db.journal import Journal
from worker.book.book import Book
from worker.book.order_desk import OrderDesk
from worker.cycle.entry import Entries
from worker.cycle.exits import Exits
from worker.cycle.recorder import MarketRecorder
from worker.cycle.records import EntryGate, LiveCheck, MarketSnapshot, RiskBook, capped

log = logging.getLogger("worker.cycle")


class TradingCycle:
    def __init__(
        self,
        market: MarketData,
        broker: Broker,
        policy: PolicySet,
        journal: Journal,
        lock: threading.Lock,
        risk: RiskBook | None = None,
    ) -> None:
        self.market = market
        self.broker = broker
        self.policy = policy
        self.journal = journal
        self.lock = lock
        self.book = Book(journal)
        self.risk = risk or RiskBook()
        self.features = {s: FeatureEngine() for s in market.symbols}
        self.last_control: ControlSnapshot | None = None
        self.state_written = False  # the cycle changed the trading state during its last run
        self._account: Account | None = None  # read at the start of the cycle; re-read after any fill
        self._fills_at_risk = 0
        self.desk = OrderDesk(broker, journal, self.book)
        self.entries = Entries(self)  # the one way in (worker/cycle/entry.py)
        self.exits = Exits(self)  # the one way out (worker/cycle/exits.py)
        self.recorder: MarketRecorder | None = None  # set in paper and live mode (worker/cycle/recorder.py)
        self.session: Session | None = None
        self.last_latency_ms = 0.0
        self.last_state = TradingState.ACTIVE
        self._vix_range: tuple[object, VixRange] = (None, VixRange.of(np.empty(0)))
        self.operator_closes: dict[str, Reason] = {}  # underlying -> the console's close, until flat
        self.size_cap = 1.0  # below 1: live on a go-live override, the risk per trade and contracts scaled
        self.live_check: LiveCheck | None = None  # live: the gate judges a changed version or override
        self._memory_before: dict[str, LstmMemory] | None = None  # the RL memory before this cycle

    # ---- the cycle ------------------------------------------------------------------------
    def run(self, now: datetime) -> None:
        with self.lock:
            started = time.perf_counter()
            rl = self.policy.rl
            self._memory_before = None if rl is None else rl.memories()
            control, params = self.read_control(now)
            session = self.market.session(now)
            if session is None:
                return
            self.on_session(session, control)
            self.apply_broker_events(now, params)
            equity = self.update_risk(now, control, params)
            vix, iv_rank = self.read_vix(now)
            for symbol in self.market.symbols:
                snap = self.pull_market(symbol, now, vix, iv_rank)
                if self.recorder is not None:
                    self.record_inputs(symbol, snap, now)
                obs, regime = self.build_observation(symbol, snap, params, now)
                entry = self.entries.gate(symbol, now, session, params, control, snap, obs, regime, equity)
                out = self.ask_policy(obs, entry, now)
                exit_code = self.exits.manage(symbol, now, session, params, out)
                block, cid = self.entries.enter(now, params, control, snap, obs, out, regime, equity, entry)
                self.record_decision(
                    symbol, now, snap, out, regime, block, exit_code, cid, control, obs.features, started
                )
            self.record_equity(now)
            self.last_latency_ms = (time.perf_counter() - started) * 1000.0
            self.journal.end_cycle(now)

    def rollback(self) -> None:
        """After a failed cycle: nothing it buffered is written and the policy's memory is as it
        was before it, so the same minute can run again and decide as if for the first time.
        Orders it sent are found again by their client order ids and never resent."""
        self.journal.discard_pending()
        rl = self.policy.rl
        if rl is not None and self._memory_before is not None:
            rl.restore_memories(self._memory_before)

    # step 1
    def read_control(self, now: datetime) -> tuple[ControlSnapshot, TradingParams]:
        control, params = self.journal.read_control()
        previous = self.last_control
        if previous is None or previous.param_version != control.param_version:
            log.info("parameter version %d in use from %s (policy %s)", control.param_version, now, params.policy_mode)
        if previous is not None and previous.state is not control.state:
            log.info("trading state %s -> %s (%s)", previous.state.value, control.state.value, control.reason_code)
        self.journal.note_param_used(control.param_version, now)
        self.policy.set_mode(params.policy_mode)
        if self.live_check is not None:  # before any entry on a version the gate has not judged
            control = self.live_check.check(control, self.policy.version, params, now)
            self.size_cap = self.live_check.size_cap
        if self.size_cap < 1.0:  # live trading on a go-live override (worker/process/go_live.py)
            params = capped(params, self.size_cap)
        self.last_state = control.state
        self.last_control, self.state_written = control, False
        return control, params

    def on_session(self, session: Session, control: ControlSnapshot) -> None:
        """At a new session: reset features and policy memory; lift a daily-loss REDUCING."""
        if self.session is not None and self.session.day == session.day:
            return
        self.session = session
        for symbol, engine in self.features.items():
            engine.reset()
            self.policy.reset(symbol, session.day)
        self.book.new_session(session.open, session.close)
        if control.state is TradingState.REDUCING and control.reason_code == "daily_loss_limit":
            self.set_state(
                TradingState.ACTIVE,
                "new_session",
                "New session: the daily loss limit resets.",
                at=session.open,
            )

    def set_state(self, to_state: TradingState, code: str, reason: str, at: datetime, flatten: bool = False) -> None:
        """The worker's own state changes (loss limits, a new session), noted for the control tick."""
        self.state_written = True
        set_trading_state(self.journal.engine, to_state, "worker", code, reason, flatten=flatten, at=at)

    @property
    def broker_errors(self) -> int:
        """Submits that failed at the broker (the worker escalates repeats)."""
        return self.desk.broker_errors

    def apply_broker_events(self, now: datetime, params: TradingParams) -> None:
        """Fills of resting orders, cancels, expiries and broker liquidations since the last
        cycle; then working orders that waited too long are cancelled (exits are re-priced)."""
        self.desk.sync(now)
        self.desk.review(now, params)

    def update_risk(self, now: datetime, control: ControlSnapshot, params: TradingParams) -> float:
        self._account, self._fills_at_risk = self.broker.account(), self.desk.fills_booked
        equity = self._account.equity
        if self.risk.day != now.date():
            self.risk.day, self.risk.start_of_day = now.date(), equity
        self.risk.peak = max(self.risk.peak, equity)
        if control.state is TradingState.HALTED:
            return equity
        drawdown = (equity / self.risk.peak - 1.0) * 100.0 if self.risk.peak > 0 else 0.0
        day_pnl = (equity / self.risk.start_of_day - 1.0) * 100.0 if self.risk.start_of_day > 0 else 0.0
        if drawdown <= params.max_drawdown_pct:
            self.set_state(
                TradingState.HALTED,
                "max_drawdown",
                f"Drawdown {drawdown:.1f}% reached the limit {params.max_drawdown_pct}%.",
                flatten=True,
                at=now,
            )
        elif day_pnl <= params.daily_loss_limit_pct and control.state is TradingState.ACTIVE:
            self.set_state(
                TradingState.REDUCING,
                "daily_loss_limit",
                f"Down {day_pnl:.1f}% today (limit {params.daily_loss_limit_pct}%).",
                at=now,
            )
        return equity

    # step 2
    def read_vix(self, now: datetime) -> tuple[float, float]:
        """VIX and its IV rank against the trailing year: market-wide, read once per cycle."""
        vix = self.market.vix(now)
        day = now.date()
        if self._vix_range[0] != day:
            self._vix_range = (day, VixRange.of(self.market.vix_history(day)))
        return vix, self._vix_range[1].rank(vix)

    def pull_market(self, symbol: str, now: datetime, vix: float, iv_rank: float) -> MarketSnapshot:
        return MarketSnapshot(self.market.bars(symbol, now), self.market.spot(symbol, now), vix, iv_rank, None)

    def record_inputs(self, symbol: str, snap: MarketSnapshot, now: datetime) -> None:
        """Paper and live: the bars, VIX and near-the-money quotes this cycle saw, for replay."""
        recorder = self.recorder
        assert recorder is not None
        view = snap.view
        recorder.record_vix_history(now.date().isoformat(), self.market.vix_history(now.date()))
        recorder.record_bars(symbol, view)
        recorder.record_vix(now, snap.vix, view.source, view.degraded)
        recorder.record_quotes(now, self.market.chain(symbol, now), view.source, view.degraded)

    # step 3
    def build_observation(
        self, symbol: str, snap: MarketSnapshot, params: TradingParams, now: datetime
    ) -> tuple[Observation, Regime]:
        engine = self.features[symbol]
        engine.catch_up(snap.view, snap.vix)
        snap.data_problem = check_bars(snap.view, now, params)
        if snap.data_problem is None and not math.isfinite(snap.vix):
            snap.data_problem = Reason("data_vix", "No VIX value is available.")
        latest = engine.latest()
        regime = classify_regime(snap.vix, latest.get("rv_annual_pct", 0.0), params)
        pos = self.book.on(symbol)
        if pos is None:
            return Observation(symbol, engine.window, latest, 0, 0.0, 0.0, now, engine.bars_seen), regime
        unrealized, source = self.exits.mark(pos, now)  # the one mark of the cycle
        snap.price_source = source or snap.price_source
        held = (now - pos.entry_time).total_seconds() / 60.0
        multi = isinstance(pos, StructurePosition)  # its P&L now against its maximum loss
        return Observation(symbol, engine.window, latest, pos.direction, unrealized, held, now, engine.bars_seen,
                           structure_open=multi), regime  # fmt: skip

    # step 4: Entries.gate (worker/cycle/entry.py)
    def ask_policy(self, obs: Observation, entry: EntryGate | None, now: datetime) -> PolicyOutput:
        may_enter = entry is not None and entry.block is None
        out = self.policy.decide(obs, action_mask(obs.in_position, may_enter, self.policy.actions))
        rl = self.policy.rl
        memory = None if rl is None else rl.memory(obs.symbol)
        if rl is not None and memory is not None:  # written with the next flush
            self.journal.remember_policy(obs.symbol, rl.version, memory, now)
        return out

    # step 5: Exits.manage, steps 6 and 7: Entries.enter
    def close_now(self, symbol: str, reason: Reason, now: datetime, params: TradingParams) -> str:
        """The operator's close of one position (worker/process/requests.py), through the one way out."""
        return self.exits.close_now(symbol, reason, now, params)

    # step 8
    def record_decision(
        self,
        symbol: str,
        now: datetime,
        snap: MarketSnapshot,
        out: PolicyOutput,
        regime: Regime,
        block: Reason | None,
        exit_code: str | None,
        cid: str | None,
        control: ControlSnapshot,
        features: dict[str, float],
        started: float,
    ) -> None:
        final = out.action
        if block is not None:
            final = Action.HOLD
        elif out.action is Action.CLOSE and exit_code is None:
            final = Action.HOLD  # the policy's close did not clear policy_exit_min_confidence
        elif exit_code is not None:
            final = Action.CLOSE
        view = snap.view
        latest = features
        p_hold, p_bullish, p_bearish, p_close, p_neutral = out.by_view()
        self.journal.add_decision(
            DecisionRow(
                now,
                float(view.bars.start[view.count - 1]) if view.count else None,
                symbol,
                p_hold,
                p_bullish,
                p_bearish,
                p_close,
                out.action.label,
                out.confidence,
                final.label,
                block.code if block else None,
                block.text if block else None,
                exit_code,
                regime.value,
                snap.vix,
                snap.iv_rank,
                snap.spot,
                latest.get("rsi_14"),
                latest.get("vwap_dist_pct"),
                latest.get("trend_pct"),
                latest.get("atr_pct"),
                latest.get("rv_annual_pct"),
                latest.get("volume_z"),
                control.param_version,
                self.policy.version,
                view.source,
                int(view.degraded),
                (time.perf_counter() - started) * 1000.0,
                cid,
                snap.price_source,
                p_neutral,
            )
        )

    def record_equity(self, now: datetime) -> None:
        unchanged = self._account is not None and self.desk.fills_booked == self._fills_at_risk
        account = self._account if unchanged else self.broker.account()
        self.journal.add_equity(now, account.cash, account.equity, self.risk.peak, self.risk.start_of_day)
