"""A gymnasium environment over the simulator: one episode is one session of one symbol.

It trades the way the worker's cycle trades, with the cycle's code: features from
`FeatureEngine` (via core.rl.sessions), entries gated by `core.safeguards.first_block`, the
contract picked by `core.sizing.select_contract` on `core.options.chain.build_chain`, sized by
`contracts_for`, exits from `core.exits.check_exits`, market fills at the quote at the cycle
time (buys at the ask, sells at the bid, a fee per contract), as `core.broker_sim` fills them.

Observation: `core.rl.observation.encode` of the last 20 feature rows and the position.
Actions: hold / buy_call / buy_put / close (an action the cycle would mask is a hold here).
Reward: the change in mark-to-market equity (cash + contracts at mid) after fees and spread,
in percent of the starting capital, so one episode's rewards sum to its P&L in percent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from core.calendar import Session
from core.execution import BrokerRules
from core.exits import PositionState, check_exits
from core.market.sim_market import World
from core.options.chain import build_chain
from core.options.surface import quote_scalar, surface_for
from core.params import TradingParams
from core.regime import classify_regime
from core.rl.observation import CLIP, OBS_SHAPE, with_position
from core.rl.sessions import SessionCache, SessionData
from core.safeguards import EntryContext, first_block
from core.sizing import CONTRACT_MULTIPLIER, contracts_for, select_contract
from core.types import Action, Quote, Right, TradingState


@dataclass
class _Position:
    state: PositionState
    is_call: bool


class ZeroDteEnv(gym.Env[np.ndarray, int]):
    """Steps over precomputed session arrays; the only per-step work is the position's quote."""

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
    ) -> None:
        if not sessions:
            raise ValueError("the environment needs at least one session")
        self.params = params or TradingParams()
        self.capital = capital
        self.fee = fee_per_contract
        self.cache = cache or SessionCache(world)
        self.episodes = [(s, sym) for s in sessions for sym in (symbols or world.symbols)]
        self.observation_space = spaces.Box(-CLIP, CLIP, OBS_SHAPE, np.float32)
        self.action_space = spaces.Discrete(len(Action))
        self.data: SessionData | None = None
        self._k = 0
        self._cash = capital
        self._equity = capital
        self._peak = capital
        self._pos: _Position | None = None
        self._bid = 0.0
        self._trades = 0
        self._last_exit: datetime | None = None
        self._realized = 0.0
        self.closed_pnls: list[float] = []  # realized P&L of the episode's trades, fees included

    # ---- gymnasium API ---------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if options and "episode" in options:
            index = int(options["episode"])
        else:
            index = int(self.np_random.integers(len(self.episodes)))
        session, symbol = self.episodes[index]
        self.data = self.cache.get(session, symbol)
        self._k = 0
        self._cash = self._equity = self._peak = self.capital
        self._pos, self._bid, self._trades, self._last_exit = None, 0.0, 0, None
        self.closed_pnls = []
        return self._observe(), {"day": session.day.isoformat(), "symbol": symbol}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        d = self.data
        assert d is not None, "call reset() first"
        k, before = self._k, self._equity
        if self._pos is not None:
            self._manage(d, k, int(action) == Action.CLOSE)
        elif int(action) in (Action.BUY_CALL, Action.BUY_PUT):
            self._enter(d, k, 1 if int(action) == Action.BUY_CALL else -1)
        self._k = k + 1
        terminated = self._k >= d.steps
        if terminated:
            if self._pos is not None:  # the broker's liquidation: nothing survives the close
                self._sell(self._pos.state.qty_open, self._bid, d.times[k])
            self._equity = self._cash
        else:
            self._mark(d, self._k)
        self._peak = max(self._peak, self._equity)
        reward = (self._equity - before) / self.capital * 100.0
        obs = self._observe() if not terminated else np.zeros(OBS_SHAPE, dtype=np.float32)
        return obs, reward, terminated, False, {}

    # ---- trading ---------------------------------------------------------------------------
    def _quote(self, d: SessionData, k: int) -> tuple[float, float]:
        assert self._pos is not None
        st = self._pos.state
        bid, ask, _, _ = quote_scalar(
            float(d.spot[k]),
            st.contract.strike,
            self._pos.is_call,
            float(d.vix[k]),
            float(d.minutes_left[k]),
            surface_for(d.symbol),
        )
        return bid, ask

    def _mark(self, d: SessionData, k: int) -> None:
        """Cash plus the position at mid; the peak bid feeds the trailing stop (TradeBook.mark)."""
        if self._pos is None:
            self._equity = self._cash
            return
        bid, ask = self._quote(d, k)
        self._bid = bid
        st = self._pos.state
        st.peak_bid = max(st.peak_bid, bid)
        self._equity = self._cash + st.qty_open * CONTRACT_MULTIPLIER * (bid + ask) / 2.0

    def _manage(self, d: SessionData, k: int, policy_close: bool) -> None:
        assert self._pos is not None
        st = self._pos.state
        signal = check_exits(st, self._bid, d.times[k], d.session, self.params, 1.0 if policy_close else None)
        if signal is None:
            return
        if signal.reason.code.startswith("partial_tp"):
            st.partials_done = int(signal.reason.code[-1])
        self._sell(signal.qty, self._bid, d.times[k])

    def _sell(self, qty: int, bid: float, now: datetime) -> None:
        assert self._pos is not None
        st = self._pos.state
        self._cash += qty * (bid * CONTRACT_MULTIPLIER - self.fee)
        st.qty_open -= qty
        self._realized += qty * (bid - st.entry_price) * CONTRACT_MULTIPLIER - qty * self.fee
        if st.qty_open <= 0:
            self.closed_pnls.append(self._realized)
            self._pos, self._last_exit = None, now

    def _enter(self, d: SessionData, k: int, direction: int) -> None:
        now, session = d.times[k], d.session
        if now >= BrokerRules().opening_cutoff(session):
            return  # the broker refuses opening orders on expiring contracts from 15:30 ET
        chosen: list[Quote | None] = []

        def candidate() -> Quote | None:
            if not chosen:
                chain = build_chain(
                    d.symbol,
                    session.day,
                    now,
                    float(d.spot[k]),
                    float(d.vix[k]),
                    float(d.minutes_left[k]),
                    p=surface_for(d.symbol),
                )
                chosen.append(select_contract(chain, direction, self.params.target_delta))
            return chosen[0]

        context = EntryContext(
            params=self.params,
            state=TradingState.ACTIVE,
            now=now,
            session=session,
            data_problem=None,
            equity=self._equity,
            start_of_day_equity=self.capital,
            peak_equity=self._peak,
            vix=float(d.vix[k]),
            iv_rank=float(d.iv_rank[k]),
            regime=classify_regime(float(d.vix[k]), d.latest(k, "rv_annual_pct", 0.0), self.params),
            confidence=1.0,
            trades_today=self._trades,
            last_exit_at=self._last_exit,
            open_positions=0,
            candidate=candidate,
        )
        if first_block(context) is not None:
            return
        quote = candidate()
        assert quote is not None
        qty = contracts_for(self._equity, quote.ask, self.params, self.fee)
        if qty < 1:
            return
        self._cash -= qty * (quote.ask * CONTRACT_MULTIPLIER + self.fee)
        state = PositionState(
            trade_id=self._trades,
            contract=quote.contract,
            direction=direction,
            entry_qty=qty,
            qty_open=qty,
            entry_price=quote.ask,
            entry_time=now,
            peak_bid=quote.ask,
            entry_atr_pct=d.latest(k, "atr_pct", 0.05),
            entry_vix=float(d.vix[k]),
            entry_trend_pct=d.latest(k, "trend_pct", 0.0),
        )
        self._pos = _Position(state, quote.contract.right is Right.CALL)
        self._realized = -qty * self.fee
        self._trades += 1

    # ---- observation -----------------------------------------------------------------------
    def _observe(self) -> np.ndarray:
        d = self.data
        assert d is not None
        k = self._k
        if self._pos is None:
            return with_position(d.scaled[k], 0, 0.0, 0.0)
        st = self._pos.state
        unrealized = (self._bid / st.entry_price - 1.0) * 100.0 if st.entry_price > 0 else 0.0
        held = (d.times[k] - st.entry_time) / timedelta(minutes=1)
        return with_position(d.scaled[k], st.direction, unrealized, held)
