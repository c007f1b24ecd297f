"""A gymnasium environment over the simulator: one episode is one session of one symbol.

It trades the way the worker's cycle trades, with the cycle's code: features from
`FeatureEngine` (via core.rl.sessions), entries gated by `core.safeguards.first_block`, the
contract picked by `core.sizing.select_contract` on `core.options.chain.build_chain`, sized by
`contracts_for`, exits from `core.exits.check_exits`. Orders go to the real simulated broker
with the broker-like execution model and are worked by the desk's rules
(core.rl.episode_desk): latency, partial fills, resting limits, cancels that take time, the
cutoff and the broker's liquidation, on each underlying's calibrated quotes and spreads.
`execution=INSTANT_MODEL` gives the old fills at the cycle's quote, for comparison only.

Observation: `core.rl.observation.encode` of the last 20 feature rows and the position.
Actions: the action set's (core.types.ActionSet): `long` is hold / buy_call / buy_put / close;
`credit` is hold / sell_put_spread / sell_call_spread / iron_condor / close, each structure with
its legs chosen by the delta and width parameters, sized by its maximum loss, opened and closed
as one multi-leg order and closed by the structure's exits (core.structures), as the worker's
cycle does. An action the cycle would mask is a hold here.
Reward: the change in mark-to-market equity (cash + contracts at mid) after fees and spread,
in percent of the starting capital, so one episode's rewards sum to its P&L in percent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from core.calendar import Session
from core.execution import BROKER_MODEL, ExecutionModel
from core.exits import check_exits
from core.market.sim_market import SimMarket, World
from core.options.chain import ChainSnapshot, build_chain
from core.options.history import OptionHistory
from core.options.surface import surface_for
from core.params import TradingParams
from core.regime import classify_regime
from core.risk.book import limit_breach
from core.risk.shock import HeldLeg
from core.rl.episode_desk import EntryPlan, EpisodeDesk
from core.rl.observation import CLIP, OBS_SHAPE, with_position
from core.rl.sessions import SessionCache, SessionData
from core.safeguards import EntryContext, first_block
from core.sizing import CONTRACT_MULTIPLIER, contracts_for, select_contract
from core.structures.exits import check_structure_exits
from core.structures.orders import choose, held_legs, kind_for, opening, short_quote
from core.structures.types import StructureKind
from core.types import Action, ActionSet, Quote, Regime, TradingState


class ZeroDteEnv(gym.Env[np.ndarray, int]):
    """Steps over precomputed session features; orders and fills go through the episode's desk."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self,
        world: World,
        sessions: Sequence[Session],
        symbols: Sequence[str] | None = None,
        params: TradingParams | None = None,
        capital: float = 100_000.0,
        fee_per_contract: float = 0.65,
        cache: SessionCache | None = None,
        execution: ExecutionModel = BROKER_MODEL,
        option_history: OptionHistory | None = None,
        action_set: ActionSet = ActionSet.LONG,
    ) -> None:
        if not sessions:
            raise ValueError("the environment needs at least one session")
        self.params = params or TradingParams()
        self.capital = capital
        self.fee = fee_per_contract
        self.execution = execution
        self.cache = cache or SessionCache(world)
        # the episode's own: its per-minute memo is not shared; with option history, real option bars
        # price the chain and the fills where they exist (core/options/history_pricing.py)
        self.market = SimMarket(world, source="sim", option_history=option_history)
        self.episodes = [(s, sym) for s in sessions for sym in (symbols or world.symbols)]
        self.observation_space = spaces.Box(-CLIP, CLIP, OBS_SHAPE, np.float32)
        self.action_set = action_set
        self.actions = action_set.actions
        self.action_space = spaces.Discrete(len(self.actions))
        self.data: SessionData | None = None
        self.desk = EpisodeDesk(self.market, capital, fee_per_contract, self.params, execution)
        self._k = 0
        self._equity = capital
        self._peak = capital
        self._bid = 0.0
        self._structure_pnl = 0.0

    @property
    def closed_pnls(self) -> list[float]:
        """Realized P&L of the episode's closed trades, fees included."""
        return self.desk.closed_pnls

    # ---- gymnasium API ---------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if options and "episode" in options:
            index = int(options["episode"])
        else:
            index = int(self.np_random.integers(len(self.episodes)))
        session, symbol = self.episodes[index]
        self.data = self.cache.get(session, symbol)
        self.desk = EpisodeDesk(self.market, self.capital, self.fee, self.params, self.execution)
        self._k = 0
        self._peak = self.capital
        self._advance_to(0)
        return self._observe(), {"day": session.day.isoformat(), "symbol": symbol}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        d = self.data
        assert d is not None, "call reset() first"
        k, before = self._k, self._equity
        chosen = self.actions[int(action)]
        if self.desk.structure is not None:
            self._manage_structure(d, k, chosen is Action.CLOSE)
        elif self.desk.position is not None:
            self._manage(d, k, chosen is Action.CLOSE)
        elif chosen.is_entry and not self.desk.has_working():
            self._enter(d, k, chosen)
        self._k = k + 1
        terminated = self._k >= d.steps
        if terminated:  # the broker liquidates at 15:45 and expires what is left at the close
            self.desk.begin_cycle(d.session.close + timedelta(seconds=1))
            self._equity = self.desk.cash()
        else:
            self._advance_to(self._k)
        self._peak = max(self._peak, self._equity)
        reward = (self._equity - before) / self.capital * 100.0
        obs = self._observe() if not terminated else np.zeros(OBS_SHAPE, dtype=np.float32)
        return obs, reward, terminated, False, {}

    # ---- trading ---------------------------------------------------------------------------
    def _advance_to(self, k: int) -> None:
        """The cycle at step k begins: the broker's news is booked, the position marked (cash
        plus contracts at mid; the peak bid feeds the trailing stop, as the worker's Book.mark)."""
        d = self.data
        assert d is not None
        now = d.times[k]
        self.desk.begin_cycle(now)
        if self.desk.structure is not None:
            self._mark_structure(now)
            return
        pos = self.desk.position
        if pos is None:
            self._equity = self.desk.cash()
            return
        quote = self.desk.position_quote(now)
        if quote is None:
            return  # no quote this minute: the last mark stands
        self._bid = quote.bid
        pos.peak_bid = max(pos.peak_bid, quote.bid)
        self._equity = self.desk.cash() + pos.qty_open * CONTRACT_MULTIPLIER * (quote.bid + quote.ask) / 2.0

    def _manage(self, d: SessionData, k: int, policy_close: bool) -> None:
        pos = self.desk.position
        assert pos is not None
        if self.desk.has_working():  # an order working on it is not sent twice
            return
        signal = check_exits(pos, self._bid, d.times[k], d.session, self.params, 1.0 if policy_close else None)
        if signal is not None:
            self.desk.send_exit(signal, self._bid, d.times[k])

    def _mark_structure(self, now: datetime) -> None:
        """Cash plus every leg held at mid (a short leg counts against it); P&L for the exits."""
        pos = self.desk.structure
        assert pos is not None
        quotes = self.desk.structure_quotes(now)
        if quotes is None:
            return  # no quote for a leg this minute: the last mark stands
        self._structure_pnl = pos.mark(quotes)
        held = sum(qty * quotes[symbol].mid for symbol, qty in pos.held.items())
        self._equity = self.desk.cash() + held * CONTRACT_MULTIPLIER

    def _manage_structure(self, d: SessionData, k: int, policy_close: bool) -> None:
        pos = self.desk.structure
        assert pos is not None
        now = d.times[k]
        quotes = self.desk.structure_quotes(now)
        if self.desk.has_working() or quotes is None:
            return
        close = 1.0 if policy_close else None
        reason = check_structure_exits(pos, pos.mark(quotes), now, d.session, self.params, close)
        if reason is not None:
            self.desk.send_structure_exit(reason.code, quotes, now)

    def _chain(self, d: SessionData, k: int) -> ChainSnapshot:
        now, session = d.times[k], d.session
        real = self.market.chain(d.symbol, now) if self.market.option_history is not None else None
        return real or build_chain(
            d.symbol,
            session.day,
            now,
            float(d.spot[k]),
            float(d.day_vol[k]),
            float(d.minutes_left[k]),
            p=surface_for(d.symbol),
        )

    def _context(self, d: SessionData, k: int, regime: Regime, candidate: Callable[[], Quote | None]) -> EntryContext:
        """The cycle's safeguards for an entry now (the worker's EntryContext, flat and ACTIVE)."""
        equity = self.desk.equity_on_bid()
        return EntryContext(
            params=self.params,
            state=TradingState.ACTIVE,
            now=d.times[k],
            session=d.session,
            data_problem=None,
            equity=equity,
            start_of_day_equity=self.capital,
            peak_equity=max(self._peak, equity),
            vix=float(d.vix[k]),
            iv_rank=float(d.iv_rank[k]),
            regime=regime,
            confidence=1.0,
            trades_today=self.desk.trades,
            last_exit_at=self.desk.last_exit,
            open_positions=0,
            candidate=candidate,
        )

    def _enter(self, d: SessionData, k: int, action: Action) -> None:
        regime = classify_regime(float(d.vix[k]), d.latest(k, "rv_annual_pct", 0.0), self.params)
        kind = kind_for(self.params, regime, float(d.iv_rank[k]), action)
        if kind is None:
            return
        if kind.is_credit:
            self._enter_structure(d, k, regime, kind)
            return
        chosen: list[Quote | None] = []

        def candidate() -> Quote | None:
            if not chosen:
                chosen.append(select_contract(self._chain(d, k), action.direction, self.params.target_delta))
            return chosen[0]

        context = self._context(d, k, regime, candidate)
        if first_block(context) is not None:
            return
        quote = candidate()
        assert quote is not None
        qty = contracts_for(context.equity, quote.ask, self.params, self.fee)
        if qty < 1 or self._breach(d, k, [HeldLeg(quote.contract, qty)], context.equity):
            return
        plan = EntryPlan(action.direction, d.latest(k, "atr_pct", 0.05), float(d.vix[k]), d.latest(k, "trend_pct", 0.0))
        self.desk.send_entry(quote, qty, plan, d.times[k])

    def _breach(self, d: SessionData, k: int, entry: list[HeldLeg], equity: float) -> bool:
        """The cycle's book limits (core/risk/book.py) on the episode's one position."""
        spots, minutes = {d.symbol: float(d.spot[k])}, float(d.minutes_left[k])
        return limit_breach([], entry, spots, float(d.vix[k]), minutes, equity, self.params) is not None

    def _enter_structure(self, d: SessionData, k: int, regime: Regime, kind: StructureKind) -> None:
        """The legs by delta and width, the safeguards on the short leg's quote (as the cycle),
        sized by the maximum loss, one multi-leg order at a net limit through the natural price; none
        where the opening is refused (a wide leg, a limit that would not keep the credit's sign)."""
        built = choose(self._chain(d, k), kind, self.params)
        quote = short_quote(built)
        context = self._context(d, k, regime, lambda: quote)
        if built.structure is None or first_block(context) is not None:
            return
        plan = opening(built, context.equity, self.params, self.fee)
        if plan.refused is not None or plan.qty < 1:
            return
        if self._breach(d, k, held_legs(built.structure, plan.qty), context.equity):
            return
        self.desk.send_structure_entry(built.structure, plan.qty, plan.limit, d.times[k])

    # ---- observation -----------------------------------------------------------------------
    def _observe(self) -> np.ndarray:
        d = self.data
        assert d is not None
        k = self._k
        held = self.desk.structure
        if held is not None:  # its P&L against its maximum loss, as the worker's observation
            minutes = (d.times[k] - held.entry_time) / timedelta(minutes=1)
            return with_position(d.scaled[k], held.direction, held.pnl_pct(self._structure_pnl), minutes)
        st = self.desk.position
        if st is None:
            return with_position(d.scaled[k], 0, 0.0, 0.0)
        unrealized = (self._bid / st.entry_price - 1.0) * 100.0 if st.entry_price > 0 else 0.0
        held = (d.times[k] - st.entry_time) / timedelta(minutes=1)
        return with_position(d.scaled[k], st.direction, unrealized, held)
