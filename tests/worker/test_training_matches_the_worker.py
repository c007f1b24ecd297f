"""The training environment trades what the worker trades: the same actions at the same cycle
times give the same orders' fills (time, side, quantity, price) and the same P&L in both, on
the broker-like simulator. A model is trained on the execution it will meet."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from core.calendar import Session, cycle_times, session_for
from core.execution import INSTANT_MODEL, execution_model
from core.market.synthetic import SyntheticWorld
from core.params import TradingParams
from core.policy.base import Observation, PolicyOutput, masked_output
from core.policy.ensemble import PolicySet
from core.rl.env import ZeroDteEnv
from core.types import Action
from tests.conftest import ACTIVE_PARAMS, TEST_DAY, with_params
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions

SEED = 7
# minute of the session -> action on SPY: three round trips (on this synthetic day they end by the
# policy's close, the stop-loss and the trailing stop); QQQ holds throughout
SCRIPT = {40: Action.BUY_CALL, 43: Action.CLOSE, 100: Action.BUY_PUT, 200: Action.BUY_CALL}
Fill = tuple[str, str, int, float]


class ScriptedPolicy:
    """Chooses `SCRIPT`'s action on SPY at its minute, holds otherwise (the mask still applies)."""

    name = "scripted"
    version = "scripted"

    def __init__(self, session: Session) -> None:
        self.at = {cycle_times(session)[m]: a for m, a in SCRIPT.items()}

    def reset(self, symbol: str, day: date | None = None) -> None:
        return None

    def decide(self, obs: Observation, mask: Sequence[bool]) -> PolicyOutput:
        wanted = self.at.get(obs.now) if obs.symbol == "SPY" and obs.now is not None else None
        probs = [1.0, 0.0, 0.0, 0.0]
        if wanted is not None:
            probs = [0.0, 0.0, 0.0, 0.0]
            probs[int(wanted)] = 1.0
        return masked_output(probs, mask)


@pytest.fixture(scope="module")
def session() -> Session:
    found = session_for(TEST_DAY)
    assert found is not None
    return found


def _worker_fills(tmp_path: Path, session: Session, execution: str) -> tuple[list[Fill], float]:
    url = f"sqlite:///{tmp_path / f'{execution}.db'}"
    with_params(url, **ACTIVE_PARAMS)
    options = RunOptions(db=url, seed=SEED, flush_every=50, execution=execution)
    run_backtest(options, start=session.day, end=session.day, policy=PolicySet(ScriptedPolicy(session)))
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT time, side, qty, price FROM fill ORDER BY id")).all()
        pnl = conn.execute(text("SELECT coalesce(sum(realized_pnl), 0) FROM trade")).scalar()
    engine.dispose()
    fills = [(_utc(t), side, qty, price) for t, side, qty, price in rows]
    return fills, float(pnl or 0.0)


def _utc(stored: str) -> str:
    return datetime.fromisoformat(stored).replace(tzinfo=UTC).isoformat()


def _env_fills(session: Session, execution: str) -> tuple[list[Fill], float]:
    env = ZeroDteEnv(
        SyntheticWorld(SEED),
        [session],
        ["SPY"],
        params=TradingParams(**ACTIVE_PARAMS),
        execution=execution_model(execution, SEED),
    )
    env.reset(options={"episode": 0})
    done, minute = False, 0
    while not done:
        _, _, done, _, _ = env.step(int(SCRIPT.get(minute, Action.HOLD)))
        minute += 1
    fills = [(f.time.astimezone(UTC).isoformat(), f.side.value, f.qty, f.price) for f in env.desk.fills]
    return fills, sum(env.closed_pnls)


@pytest.mark.parametrize("execution", ["broker", "instant"])
def test_the_same_actions_fill_the_same_in_training_and_in_the_worker(
    tmp_path: Path, session: Session, execution: str
) -> None:
    worker_fills, worker_pnl = _worker_fills(tmp_path, session, execution)
    env_fills, env_pnl = _env_fills(session, execution)
    assert len(worker_fills) >= 6, "three round trips at least"
    assert env_fills == worker_fills
    assert env_pnl == pytest.approx(worker_pnl, abs=0.01)


def test_broker_execution_costs_more_than_instant_fills_in_training(session: Session) -> None:
    """The broker-like model is never kinder: latency and displayed sizes cost against the
    cycle's own quote (the same script, the same day)."""
    broker_fills, broker_pnl = _env_fills(session, "broker")
    instant_fills, instant_pnl = _env_fills(session, "instant")
    assert [f[0] for f in broker_fills] != [f[0] for f in instant_fills], "broker fills land after the latency"
    assert INSTANT_MODEL.latency_s == 0.0
    assert broker_pnl != instant_pnl
