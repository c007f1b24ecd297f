"""Sessions prepared for the training environment, through the trading cycle's own data path.

For every cycle time of a session (one minute after the open through the close) this records
what the cycle would see: the feature window from `FeatureEngine` fed bar by bar with the VIX
known at that minute (`SimMarket.bars/vix`), the underlying's price for fills and quotes
(`SimMarket.spot`: the open of the bar starting now, never a bar the decision saw) and the
minutes left. Precomputing this once per session is what lets the environment step over
arrays; it is the same code, run ahead of time, not a copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from core.calendar import Session, cycle_times
from core.features import FEATURE_NAMES, WINDOW, FeatureEngine
from core.market.sim_market import SimMarket, World
from core.regime import VixRange
from core.rl.observation import scale_features


@dataclass(frozen=True)
class SessionData:
    """One session of one symbol, indexed by cycle step (step k is cycle time open + k + 1 min)."""

    session: Session
    symbol: str
    times: list[datetime]
    windows: np.ndarray  # (steps, WINDOW, len(FEATURE_NAMES)) float32, as FeatureEngine.window() gave them
    scaled: np.ndarray  # the same through core.rl.observation.scale_features
    bars_seen: np.ndarray  # completed bars at each step
    spot: np.ndarray  # underlying price at each cycle time
    vix: np.ndarray
    minutes_left: np.ndarray
    iv_rank: np.ndarray
    day_vol: np.ndarray  # the same-day vol index the market's option quotes price from (SimMarket.day_vol)

    @property
    def steps(self) -> int:
        return len(self.times)

    def latest(self, step: int, name: str, before_first_bar: float) -> float:
        """The newest feature row's `name` at a step (`before_first_bar` until a bar has closed)."""
        return float(self.windows[step, -1, FEATURE_NAMES.index(name)]) if self.bars_seen[step] else before_first_bar


def prepare_session(market: SimMarket, session: Session, symbol: str) -> SessionData:
    """Walk the session's cycle times exactly as `TradingCycle.pull_market/build_observation` do."""
    engine = FeatureEngine()
    times = cycle_times(session)
    steps = len(times)
    windows = np.zeros((steps, WINDOW, len(FEATURE_NAMES)), dtype=np.float32)
    bars_seen = np.zeros(steps, dtype=np.int32)
    spot = np.zeros(steps)
    vix = np.zeros(steps)
    minutes_left = np.zeros(steps)
    day_vol = np.zeros(steps)
    vix_range = VixRange.of(market.vix_history(session.day))
    for k, now in enumerate(times):
        view = market.bars(symbol, now)
        vix[k] = market.vix(now)
        engine.catch_up(view, vix[k])
        windows[k] = engine.window()
        bars_seen[k] = engine.bars_seen
        spot[k] = market.spot(symbol, now)
        minutes_left[k] = market.minutes_left(now)
        day_vol[k] = market.day_vol(now)
    iv_rank = np.asarray([vix_range.rank(v) for v in vix])
    return SessionData(
        session, symbol, times, windows, scale_features(windows), bars_seen, spot, vix, minutes_left, iv_rank, day_vol
    )


class SessionCache:
    """Prepared sessions by (day, symbol), built on first use: training revisits them often."""

    def __init__(self, world: World, source: str = "sim") -> None:
        self.market = SimMarket(world, source=source)
        self._prepared: dict[tuple[object, str], SessionData] = {}

    def get(self, session: Session, symbol: str) -> SessionData:
        key = (session.day, symbol)
        found = self._prepared.get(key)
        if found is None:
            found = self._prepared[key] = prepare_session(self.market, session, symbol)
        return found
