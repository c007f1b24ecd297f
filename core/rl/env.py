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
Actions: hold / buy_call / buy_put / close (an action the cycle would mask is a hold here).
Reward: the change in mark-to-market equity (cash + contracts at mid) after fees and spread,
in percent of the starting capital, so one episode's rewards sum to its P&L in percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from core.calendar import Session
from core.execution import BROKER_MODEL, ExecutionModel
from core.exits import check_exits
from core.market.sim_market import SimMarket, World
from core.options.chain import build_chain
from core.options.history import OptionHistory
from core.options.surface import surface_for
from core.params import TradingParams
from core.regime import classify_regime
from core.rl.episode_desk import EntryPlan, EpisodeDesk
from core.rl.observation import CLIP, OBS_SHAPE, with_position
from core.rl.sessions import SessionCache, SessionData
from core.safeguards import EntryContext, first_block
from core.sizing import CONTRACT_MULTIPLIER, contracts_for, select_contract
from core.types import Action, Quote, TradingState


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
        self.action_space = spaces.Discrete(len(Action))
        self.data: SessionData | None = None
        self.desk = EpisodeDesk(self.market, capital, fee_per_contract, self.params, execution)
        self._k = 0
        self._equity = capital
        self._peak = capital
        self._bid = 0.0

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
        if self.desk.position is not None:
            self._manage(d, k, int(action) == Action.CLOSE)
        elif int(action) in (Action.BUY_CALL, Action.BUY_PUT) and not self.desk.has_working():
            self._enter(d, k, 1 if int(action) == Action.BUY_CALL else -1)
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
        plus contracts at mid; the peak bid feeds the trailing stop, as TradeBook.mark)."""
        d = self.data
        assert d is not None
        now = d.times[k]
        self.desk.begin_cycle(now)
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

    def _enter(self, d: SessionData, k: int, direction: int) -> None:
        now, session = d.times[k], d.session
        chosen: list[Quote | None] = []

        def candidate() -> Quote | None:
            if not chosen:
                real = self.market.chain(d.symbol, now) if self.market.option_history is not None else None
                chain = real or build_chain(
                    d.symbol,
                    session.day,
                    now,
                    float(d.spot[k]),
                    float(d.day_vol[k]),
                    float(d.minutes_left[k]),
                    p=surface_for(d.symbol),
                )
                chosen.append(select_contract(chain, direction, self.params.target_delta))
            return chosen[0]

        equity = self.desk.equity_on_bid()
        context = EntryContext(
            params=self.params,
            state=TradingState.ACTIVE,
            now=now,
            session=session,
            data_problem=None,
            equity=equity,
            start_of_day_equity=self.capital,
            peak_equity=max(self._peak, equity),
            vix=float(d.vix[k]),
            iv_rank=float(d.iv_rank[k]),
            regime=classify_regime(float(d.vix[k]), d.latest(k, "rv_annual_pct", 0.0), self.params),
            confidence=1.0,
            trades_today=self.desk.trades,
            last_exit_at=self.desk.last_exit,
            open_positions=0,
            candidate=candidate,
        )
        if first_block(context) is not None:
            return
        quote = candidate()
        assert quote is not None
        qty = contracts_for(equity, quote.ask, self.params, self.fee)
        if qty < 1:
            return
        plan = EntryPlan(direction, d.latest(k, "atr_pct", 0.05), float(d.vix[k]), d.latest(k, "trend_pct", 0.0))
        self.desk.send_entry(quote, qty, plan, now)

    # ---- observation -----------------------------------------------------------------------
    def _observe(self) -> np.ndarray:
        d = self.data
        assert d is not None
        k = self._k
        st = self.desk.position
        if st is None:
            return with_position(d.scaled[k], 0, 0.0, 0.0)
        unrealized = (self._bid / st.entry_price - 1.0) * 100.0 if st.entry_price > 0 else 0.0
        held = (d.times[k] - st.entry_time) / timedelta(minutes=1)
        return with_position(d.scaled[k], st.direction, unrealized, held)
