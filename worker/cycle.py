"""One trading cycle as named steps (DESIGN.md): the same code in simulation, paper, live and
backtest. `run(now)` is called once per minute bar; it handles every symbol."""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from core.calendar import NY, Session
from core.data_quality import check_bars
from core.exits import ExitSignal, check_exits
from core.features import FeatureEngine
from core.ids import client_order_id
from core.params import TradingParams
from core.policy.base import Observation, PolicyOutput, action_mask
from core.policy.ensemble import PolicySet
from core.policy.rl import LstmMemory
from core.protocols import BarView, Broker, MarketData
from core.records import DecisionRow
from core.regime import VixRange, classify_regime
from core.risk.book import limit_breach
from core.risk.shock import HeldLeg
from core.safeguards import AFTER_POLICY, BEFORE_POLICY, EntryContext, first_block
from core.sizing import collar_price, contracts_for, select_contract
from core.structures.legs import Built
from core.structures.orders import choose, kind_for, short_quote
from core.types import (
    Account,
    Action,
    OrderRequest,
    OrderStatus,
    Quote,
    Reason,
    Regime,
    Side,
    TradingState,
)
from db.control import ControlSnapshot, set_trading_state
from db.journal import Journal
from worker.order_desk import OrderDesk
from worker.recorder import MarketRecorder
from worker.structure_steps import StructureSteps
from worker.tradebook import EntryIntent, TradeBook

log = logging.getLogger("worker.cycle")


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
    built: Built | None = None  # a credit structure chosen for the entry (worker/structure_steps.py)
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
        self.book = TradeBook(journal)
        self.risk = risk or RiskBook()
        self.features = {s: FeatureEngine() for s in market.symbols}
        self.last_control: ControlSnapshot | None = None
        self.state_written = False  # the cycle changed the trading state during its last run
        self._account: Account | None = None  # read at the start of the cycle; re-read after any fill
        self._fills_at_risk = 0
        self.desk = OrderDesk(broker, journal, self.book)
        self.structures = StructureSteps(self)
        self.recorder: MarketRecorder | None = None  # set in paper and live mode (worker/recorder.py)
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
                entry = self.entry_gate(symbol, now, session, params, control, snap, obs, regime, equity)
                out = self.ask_policy(obs, entry, now)
                exit_code = self.manage_position(symbol, now, session, params, out)
                block, cid = self.consider_entry(symbol, now, params, control, snap, obs, out, regime, equity, entry)
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
        if self.size_cap < 1.0:  # live trading on a go-live override (worker/go_live.py)
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
        pos = self.book.position(symbol)
        direction, unrealized, held = 0, 0.0, 0.0
        multi = self.book.multi.on(symbol)
        if multi is not None:  # a structure: its P&L now against its maximum loss
            direction = multi.direction
            unrealized = self.structures.unrealized_pct(multi, now)
            held = (now - multi.entry_time).total_seconds() / 60.0
            window = engine.window
            return Observation(
                symbol, window, latest, direction, unrealized, held, now, engine.bars_seen, structure_open=True
            ), regime
        if pos is not None:
            quote = self.market.quote(pos.contract, now)
            direction = pos.direction
            if quote is not None:
                unrealized = self.book.mark(symbol, quote.bid, now)
                snap.price_source = quote.price_source.value
            held = (now - pos.entry_time).total_seconds() / 60.0
        return Observation(symbol, engine.window, latest, direction, unrealized, held, now, engine.bars_seen), regime

    # step 4
    def entry_gate(
        self,
        symbol: str,
        now: datetime,
        session: Session,
        params: TradingParams,
        control: ControlSnapshot,
        snap: MarketSnapshot,
        obs: Observation,
        regime: Regime,
        equity: float,
    ) -> EntryGate | None:
        """When flat: the safeguards that do not depend on the policy's answer. A block masks the
        buy actions before the policy is asked; the rest run once it has answered."""
        if obs.in_position:
            return None
        chosen: list[Quote | None] = []

        def candidate() -> Quote | None:  # runs in step 6, after the policy set gate.action
            if not chosen:
                chain = self.market.chain(symbol, now)
                kind = kind_for(params, regime, snap.iv_rank, gate.action)
                if chain is None or kind is None:
                    if kind is None:
                        gate.refused = Reason("no_structure", f"strategy auto opens nothing ({regime.value} regime).")
                    chosen.append(None)
                elif kind.is_credit:  # a structure: the safeguards look at its short leg's quote
                    gate.built = built = choose(chain, kind, params)
                    gate.refused = built.refused
                    chosen.append(short_quote(built))
                else:
                    chosen.append(select_contract(chain, gate.direction, params.target_delta))
            return chosen[0]

        context = EntryContext(
            params=params,
            state=control.state,
            now=now,
            session=session,
            data_problem=snap.data_problem,
            equity=equity,
            start_of_day_equity=self.risk.start_of_day,
            peak_equity=self.risk.peak,
            vix=snap.vix,
            iv_rank=snap.iv_rank,
            regime=regime,
            confidence=0.0,
            trades_today=self.book.entries_today.get(symbol, 0),
            last_exit_at=self.book.last_exit_at.get(symbol),
            open_positions=self.book.open_count(),
            candidate=candidate,
        )
        gate = EntryGate(context, first_block(context, BEFORE_POLICY))
        if gate.block is None and self.desk.working_for(symbol):
            gate.block = Reason("order_open", f"An order for {symbol} is still working at the broker.")
        return gate

    def ask_policy(self, obs: Observation, entry: EntryGate | None, now: datetime) -> PolicyOutput:
        may_enter = entry is not None and entry.block is None
        out = self.policy.decide(obs, action_mask(obs.in_position, may_enter, self.policy.actions))
        rl = self.policy.rl
        memory = None if rl is None else rl.memory(obs.symbol)
        if rl is not None and memory is not None:  # written with the next flush
            self.journal.remember_policy(obs.symbol, rl.version, memory, now)
        return out

    # step 5
    def manage_position(
        self, symbol: str, now: datetime, session: Session, params: TradingParams, out: PolicyOutput
    ) -> str | None:
        multi = self.book.multi.on(symbol)
        if multi is not None:
            close_conf = out.confidence if out.action is Action.CLOSE else None
            return self.structures.manage(multi, now, session, params, close_conf, self.operator_closes.get(symbol))
        pos = self.book.position(symbol)
        if pos is None:
            self.operator_closes.pop(symbol, None)  # flat: the operator's close is done
            return None
        if self.desk.working_for(symbol):  # an exit already working is not sent twice
            return None
        quote = self.market.quote(pos.contract, now)
        if quote is None:
            return None
        requested = self.operator_closes.get(symbol)
        close_conf = out.confidence if out.action is Action.CLOSE else None
        signal = (
            ExitSignal(requested, pos.qty_open)
            if requested is not None
            else check_exits(pos, quote.bid, now, session, params, close_conf)
        )
        if signal is None:
            return None
        sent = self.send_exit(symbol, signal, now, quote.bid, params)
        return signal.reason.code if sent else None

    def close_now(self, symbol: str, reason: Reason, now: datetime, params: TradingParams) -> str:
        """The operator's close of one position: sent now when there is a quote, then re-sent by
        every cycle until flat (worker/requests.py). Returns what happened, in words."""
        multi = self.book.multi.on(symbol)
        if multi is not None:  # a structure closes whole, as one order
            self.operator_closes[symbol] = reason
            sent = self.structures.manage(multi, now, self.market.session(now), params, None, reason)  # type: ignore[arg-type]
            return f"close of {multi.structure.label} sent" if sent else "the close follows at the next cycle"
        pos = self.book.position(symbol)
        if pos is None:
            return "no open position"
        self.operator_closes[symbol] = reason
        if self.desk.working_for(symbol):
            return "an order is working on it: the close follows when it ends"
        quote = self.market.quote(pos.contract, now)
        if quote is None:
            return "no quote yet: the close follows at the next cycle"
        if not self.send_exit(symbol, ExitSignal(reason, pos.qty_open), now, quote.bid, params):
            return "not sent: the trading state forbids it"
        return f"exit of {pos.qty_open} {pos.contract.symbol} sent (limit through the bid {quote.bid:.2f})"

    def send_exit(self, symbol: str, signal: ExitSignal, now: datetime, bid: float, params: TradingParams) -> bool:
        """A limit through the bid, or a market order for an urgent exit that has waited; False
        when the desk sent nothing (the trading state changed)."""
        pos = self.book.position(symbol)
        assert pos is not None
        order_type = self.desk.exit_order_type(pos.trade_id, signal.reason.code, params)
        limit = collar_price(bid, False, params.order_collar_pct) if order_type == "limit" else None
        cid = client_order_id(self.journal.identity, symbol, now, f"exit:{signal.reason.code}")
        request = OrderRequest(
            cid, pos.contract, Side.SELL, signal.qty, opening=False, order_type=order_type, limit_price=limit
        )
        placed = self.desk.place(request, signal.reason.code, now, None, signal.reason, pos.trade_id)
        if placed.denied is None and signal.reason.code.startswith("partial_tp"):
            pos.partials_done = int(signal.reason.code[-1])
        return placed.denied is None

    # steps 6 and 7
    def consider_entry(
        self,
        symbol: str,
        now: datetime,
        params: TradingParams,
        control: ControlSnapshot,
        snap: MarketSnapshot,
        obs: Observation,
        out: PolicyOutput,
        regime: Regime,
        equity: float,
        entry: EntryGate | None,
    ) -> tuple[Reason | None, str | None]:
        if entry is None:
            return None, None
        if entry.block is not None:  # the buys were masked: record the block if the policy wanted one
            wanted = out.wanted(in_position=False)
            return (entry.block if wanted.is_entry else None), None
        if not out.action.is_entry:
            return None, None
        entry.action = out.action
        entry.context.confidence = out.confidence
        block = first_block(entry.context, AFTER_POLICY)
        if block is not None:
            return (entry.refused if block.code == "no_contract" and entry.refused else block), None
        if entry.built is not None:
            return self.structures.enter(now, params, control, snap, obs, out, regime, equity, entry)
        quote = entry.context.candidate()
        assert quote is not None
        snap.price_source = quote.price_source.value
        age_s = (now - quote.time).total_seconds()
        if age_s > params.max_quote_age_s:
            snap.view.degraded = True
            text = f"The option quote is {age_s:.0f} s old (limit {params.max_quote_age_s} s)."
            return Reason("quote_stale", text), None
        qty = contracts_for(equity, quote.ask, params, self.broker.fee_per_contract)
        if qty < 1:
            return Reason("size_zero", f"Risk budget buys no whole contract at {quote.ask:.2f}."), None
        breach = self.risk_block([HeldLeg(quote.contract, qty)], now, snap.vix, equity, params)
        if breach is not None:
            return breach, None
        f = obs.features
        intent = EntryIntent(
            reason=Reason(
                f"policy_{out.action.label}",
                f"{self.policy.name} chose {out.action.label} with confidence "
                f"{out.confidence:.2f} (trend {f['trend_pct']:+.3f}%, VWAP {f['vwap_dist_pct']:+.3f}%, "
                f"RSI {f['rsi_14']:.0f}).",
            ),
            confidence=out.confidence,
            regime=regime.value,
            vix=snap.vix,
            model_version=self.policy.version,
            param_version=control.param_version,
            atr_pct=f["atr_pct"],
            trend_pct=f["trend_pct"],
            direction=entry.direction,
        )
        cid = client_order_id(self.journal.identity, symbol, now, "entry")
        limit = collar_price(quote.ask, True, params.order_collar_pct)
        request = OrderRequest(cid, quote.contract, Side.BUY, qty, opening=True, order_type="limit", limit_price=limit)
        placed = self.desk.place(request, intent.reason.code, now, intent, None, None)
        if placed.denied is not None:
            return placed.denied, None
        assert placed.update is not None
        if placed.update.status is OrderStatus.REJECTED:
            return Reason("broker_rejected", f"Broker refused the order: {placed.update.reject_reason}."), cid
        return None, cid

    def risk_block(
        self, entry: list[HeldLeg], now: datetime, vix: float, equity: float, params: TradingParams
    ) -> Reason | None:
        """The book's limits with the entry added (net delta, gamma, the shock grid's worst loss;
        core/risk/book.py): the block with its own code, or None."""
        if not (params.max_book_delta_pct or params.max_book_gamma_pct or params.max_shock_loss_pct):
            return None
        session = self.session
        if session is None or not math.isfinite(vix):
            return None
        held = self.book.held_legs()
        spots = {u: self.market.spot(u, now) for u in {leg.contract.underlying for leg in held + entry}}
        minutes_left = max((session.close - now).total_seconds() / 60.0, 0.0)  # as SimMarket.minutes_left
        return limit_breach(held, entry, spots, vix, minutes_left, equity, params)

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
