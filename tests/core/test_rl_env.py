"""The training environment: no lookahead, determinism, and trading by the cycle's own rules."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from core.calendar import Session, last_sessions, session_for
from core.market.bars import SessionBars
from core.market.sim_market import SimMarket
from core.market.synthetic import SyntheticWorld
from core.rl.env import ZeroDteEnv
from core.rl.observation import OBS_SHAPE
from core.rl.sessions import SessionCache
from core.types import Action

DAY = date(2026, 3, 10)


class RewrittenWorld:
    """A world whose bars of one session and symbol are replaced from bar `count` on."""

    def __init__(self, base: SyntheticWorld, session: Session, symbol: str, count: int, seed: int) -> None:
        self.base, self.session, self.symbol, self.count = base, session, symbol, count
        self.symbols = base.symbols
        bars = base.session_bars(session, symbol)
        rng = np.random.default_rng(seed)
        drift = np.exp(np.cumsum(rng.normal(0, 0.004, len(bars))))  # a wildly different path
        self.other = SessionBars(
            symbol,
            session,
            bars.start.copy(),
            bars.open * drift,
            bars.high * drift * 1.003,
            bars.low * drift * 0.997,
            bars.close * drift,
            bars.volume * rng.uniform(0.1, 10.0, len(bars)),
        )

    def session_bars(self, session: Session, symbol: str) -> SessionBars:
        bars = self.base.session_bars(session, symbol)
        if session.day == self.session.day and symbol == self.symbol:
            return bars.replace_after(self.count, self.other)
        return bars

    def vix_path(self, session: Session) -> np.ndarray:
        return self.base.vix_path(session)

    def vix_open(self, day: date) -> float:
        return self.base.vix_open(day)

    def vix_closes_before(self, day: date, count: int = 252) -> np.ndarray:
        return self.base.vix_closes_before(day, count)


@pytest.fixture(scope="module")
def session() -> Session:
    s = session_for(DAY)
    assert s is not None
    return s


@pytest.mark.parametrize("t", [0, 5, 19, 20, 61, 200, 388])
def test_the_observation_at_t_ignores_every_bar_not_closed_at_t(session: Session, t: int) -> None:
    """At cycle step t the decision has seen bars 0..t; bars t+1.. (even the one forming) are rewritten."""
    base = SessionCache(SyntheticWorld(7)).get(session, "SPY")
    changed = SessionCache(RewrittenWorld(SyntheticWorld(7), session, "SPY", t + 1, seed=t)).get(session, "SPY")
    assert np.array_equal(base.windows[t], changed.windows[t])
    assert np.array_equal(base.scaled[: t + 1], changed.scaled[: t + 1])
    if t + 1 < base.steps:
        assert not np.array_equal(base.windows[t + 1], changed.windows[t + 1]), "the rewrite must matter later"


def _episode(world: object, session: Session, actions: list[int]) -> tuple[list[np.ndarray], list[float]]:
    env = ZeroDteEnv(world, [session], ["SPY"])  # type: ignore[arg-type]
    obs, _ = env.reset(seed=0, options={"episode": 0})
    observations, rewards = [obs], []
    for a in actions:
        obs, reward, done, _, _ = env.step(a)
        observations.append(obs)
        rewards.append(reward)
        if done:
            break
    return observations, rewards


def test_observations_and_rewards_up_to_t_ignore_the_bars_after_t(session: Session) -> None:
    """With positions opened and closed along the way: everything the agent saw up to step t is the
    same when every bar starting after the cycle time of step t is rewritten (the bar starting
    at that moment gives the quote the position is marked at, as a live quote would)."""
    rng = np.random.default_rng(11)
    actions = rng.choice(4, size=390, p=[0.85, 0.05, 0.05, 0.05]).tolist()
    base_obs, base_rewards = _episode(SyntheticWorld(7), session, actions)
    for t in (40, 90, 150, 230, 330):
        world = RewrittenWorld(SyntheticWorld(7), session, "SPY", t + 2, seed=t)
        obs, rewards = _episode(world, session, actions)
        for k in range(t + 1):
            assert np.array_equal(base_obs[k], obs[k]), f"observation {k} changed by bars after {t}"
        assert base_rewards[:t] == rewards[:t]
        later = zip(base_obs[t + 2 :], obs[t + 2 :], strict=False)
        assert any(not np.array_equal(a, b) for a, b in later), "the rewrite must matter later"


def test_the_environment_is_deterministic_for_a_seed() -> None:
    sessions = last_sessions(date(2025, 12, 31), 4)
    runs = []
    for _ in range(2):
        env = ZeroDteEnv(SyntheticWorld(7), sessions)
        env.reset(seed=42)
        rng = np.random.default_rng(0)
        total, days = 0.0, []
        for _ in range(1500):
            _, reward, done, _, info = env.step(int(rng.choice(4, p=[0.9, 0.04, 0.03, 0.03])))
            total += reward
            if done:
                _, info = env.reset()
                days.append(info["day"])
        runs.append((total, days))
    assert runs[0] == runs[1]


def test_a_trade_pays_the_spread_and_fees_and_rewards_sum_to_the_pnl(session: Session) -> None:
    env = ZeroDteEnv(SyntheticWorld(7), [session], ["SPY"])
    obs, _ = env.reset(options={"episode": 0})
    assert obs.shape == OBS_SHAPE
    rewards = []
    for k in range(session.minutes):
        action = Action.BUY_CALL if k == 40 else Action.HOLD
        obs, reward, done, _, _ = env.step(int(action))
        rewards.append(reward)
        if k == 40:
            assert reward < 0, "buying at the ask and paying fees costs at once against the mid"
            assert obs[-1, 11] == 1.0, "the observation shows the open call"
        if done:
            break
    assert len(env.closed_pnls) == 1, "the position was closed by an exit rule or the flatten"
    assert sum(rewards) == pytest.approx(env.closed_pnls[0] / 100_000 * 100, abs=1e-9)


def test_entries_inside_the_first_30_minutes_are_refused_as_the_cycle_refuses_them(session: Session) -> None:
    env = ZeroDteEnv(SyntheticWorld(7), [session], ["SPY"])
    env.reset(options={"episode": 0})
    for _ in range(25):
        obs, reward, _, _, _ = env.step(int(Action.BUY_PUT))
        assert reward == 0.0 and obs[-1, 11] == 0.0


def test_training_prices_from_real_option_bars_where_the_cache_has_the_day(session: Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bench._option_bars import model_option_bars
    from core.options.history import OptionHistory

    world = SyntheticWorld(7)
    model_option_bars(world, [session], tmp_path, factor=1.4, traded=1.0)
    fills = {}
    for label, history in (("model", None), ("real", OptionHistory(tmp_path))):
        env = ZeroDteEnv(world, [session], ["SPY"], option_history=history)
        env.reset(options={"episode": 0})
        for k in range(60):
            env.step(int(Action.BUY_CALL if k == 40 else Action.HOLD))
        fills[label] = env.desk.fills[0]
    real, model = fills["real"], fills["model"]
    assert real.price_source == "real_bar" and model.price_source == "model"
    # the same contract's model quote at the fill's moment (the real prices may pick another strike by delta)
    same = SimMarket(world).quote_at(real.contract, real.quote_time)
    assert same is not None
    assert real.price > (same.bid + same.ask) / 2 * 1.25, "the environment paid the dearer real price, as backtests do"
