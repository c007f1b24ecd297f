"""The RL policy as the worker serves it: load checks, carried LSTM memory, masks, determinism,
restarts, and a freshly trained model running in the real worker process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from sqlalchemy import text

from core.calendar import session_for
from core.policy.base import Action, PolicyOutput, action_mask
from core.policy.ensemble import PolicySet, agreement
from core.policy.rl import RLPolicy
from core.policy.rules import RulePolicy
from core.rl.metadata import ModelMetadata, ModelMismatchError, metadata_path, pipeline_layout
from core.rl.observation import OBS_NAMES
from core.types import PolicyMode
from db.control import save_param_version
from tests.rl_helpers import random_observation, train_tiny
from tests.support import ROOT, poll, start_worker
from worker.runtime import RunOptions, build_runtime

DAY = date(2026, 3, 10)


def _copy(model: Path, folder: Path, edit: dict | None = None) -> Path:
    target = folder / model.name
    shutil.copy(model, target)
    meta = json.loads(metadata_path(model).read_text())
    meta.update(edit or {})
    metadata_path(target).write_text(json.dumps(meta))
    return target


def test_training_writes_a_small_model_and_its_metadata(tiny_model: Path) -> None:
    meta = ModelMetadata.read(metadata_path(tiny_model))
    assert meta.obs_names == list(OBS_NAMES) and meta.window == 20 and meta.action_names[3] == "close"
    assert meta.source == "synthetic" and meta.train_end == "2025-12-31" and meta.sessions == 5
    assert meta.seed == 3 and meta.timesteps >= 2048 and meta.code_version and meta.pipeline_hash
    assert meta.metrics["steps_per_second"] > 0
    assert tiny_model.stat().st_size < 5 * 1024 * 1024


def test_a_model_with_another_feature_layout_is_refused_with_expected_and_found(
    tiny_model: Path, tmp_path: Path
) -> None:
    swapped = list(OBS_NAMES)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    broken = _copy(tiny_model, tmp_path, {"obs_names": swapped, "window": 30})
    with pytest.raises(ModelMismatchError) as err:
        RLPolicy(broken)
    message = str(err.value)
    assert "obs_names: expected ['ret_1m', 'range_pct'" in message
    assert "found ['range_pct', 'ret_1m'" in message
    assert "window: expected 20, found 30" in message


class _NarrowEnv(gym.Env):
    """An environment with a 10-bar window: a network trained on it cannot read our 20 bars."""

    observation_space = gym.spaces.Box(-10, 10, (10, len(OBS_NAMES)), np.float32)
    action_space = gym.spaces.Discrete(4)

    def reset(self, *, seed=None, options=None):  # type: ignore[no-untyped-def]
        return np.zeros((10, len(OBS_NAMES)), np.float32), {}

    def step(self, action):  # type: ignore[no-untyped-def]
        return np.zeros((10, len(OBS_NAMES)), np.float32), 0.0, True, False, {}


def test_a_network_of_another_input_shape_is_refused_even_with_matching_metadata(tmp_path: Path) -> None:
    from sb3_contrib import RecurrentPPO

    RecurrentPPO("MlpLstmPolicy", _NarrowEnv(), policy_kwargs={"lstm_hidden_size": 8}, device="cpu").save(
        tmp_path / "narrow.zip"
    )
    ModelMetadata(model_version="narrow", **pipeline_layout()).write(tmp_path / "narrow.json")
    with pytest.raises(ModelMismatchError, match=r"network input shape: expected \[20, 14\], found \[10, 14\]"):
        RLPolicy(tmp_path / "narrow.zip")


def test_the_lstm_state_is_carried_between_cycles_and_reset_at_the_open(tiny_model: Path) -> None:
    rng = np.random.default_rng(1)
    first, second = random_observation(rng, direction=0), random_observation(rng, direction=0)
    policy = RLPolicy(tiny_model)
    policy.reset("SPY", DAY)
    policy.probabilities(first)
    carried = policy.probabilities(second)
    memory = policy.memory("SPY")
    assert memory is not None and memory.steps == 2 and np.abs(memory.hidden).sum() > 0
    policy.reset("SPY", date(2026, 3, 11))  # the next session's open
    fresh_memory = policy.memory("SPY")
    assert fresh_memory is not None and fresh_memory.steps == 0 and not fresh_memory.hidden.any()
    fresh = policy.probabilities(second)
    assert not np.allclose(carried, fresh, atol=1e-6), "two consecutive cycles must differ from a fresh call"
    again = RLPolicy(tiny_model)
    again.reset("SPY", DAY)
    assert np.allclose(again.probabilities(second), fresh), "a fresh state is a fresh state"
    # symbols do not share memory
    policy.probabilities(random_observation(rng, "QQQ"))
    assert policy.memory("SPY").steps == 1  # type: ignore[union-attr]


def test_a_restart_of_the_same_session_keeps_the_state(tiny_model: Path) -> None:
    policy = RLPolicy(tiny_model)
    policy.reset("SPY", DAY)
    policy.probabilities(random_observation(np.random.default_rng(2)))
    before = policy.memory("SPY")
    policy.reset("SPY", DAY)  # what on_session does on the first cycle after a restart
    assert policy.memory("SPY") is before


def test_masks_hold_over_many_random_states(tiny_model: Path) -> None:
    rng = np.random.default_rng(4)
    rl = RLPolicy(tiny_model)
    for mode in PolicyMode:
        policies = PolicySet(RulePolicy(), rl, mode)
        for _ in range(150):
            obs = random_observation(rng)
            mask = action_mask(obs.in_position, may_enter=bool(rng.integers(2)))
            out = policies.decide(obs, mask)
            assert mask[out.action], (mode, mask, out)
            assert all(p == 0.0 for p, m in zip(out.probabilities, mask, strict=True) if not m)
            assert abs(sum(out.probabilities) - 1.0) < 1e-9
            assert out.confidence == out.probabilities[out.action]
            if mode is not PolicyMode.BOTH:
                assert out.confidence == max(out.probabilities)


def test_both_mode_needs_agreement() -> None:
    buy = PolicyOutput((0.1, 0.8, 0.1, 0.0), Action.BUY_CALL, 0.8, (0.1, 0.8, 0.1, 0.0))
    also_buy = PolicyOutput((0.2, 0.7, 0.1, 0.0), Action.BUY_CALL, 0.7, (0.2, 0.7, 0.1, 0.0))
    hold = PolicyOutput((0.6, 0.3, 0.1, 0.0), Action.HOLD, 0.6, (0.6, 0.3, 0.1, 0.0))
    agreed = agreement(buy, also_buy)
    assert agreed.action is Action.BUY_CALL and agreed.confidence == pytest.approx(0.75)
    assert agreement(buy, hold).action is Action.HOLD


def test_the_same_seed_gives_the_same_model_and_actions(tmp_path: Path) -> None:
    # one rollout and one update each (n_steps 256 x 2 envs): determinism does not need a longer budget
    a = RLPolicy(train_tiny(tmp_path / "a", seed=5, timesteps=512))
    b = RLPolicy(train_tiny(tmp_path / "b", seed=5, timesteps=512))
    c = RLPolicy(train_tiny(tmp_path / "c", seed=6, timesteps=512))
    rng = np.random.default_rng(7)
    observations = [random_observation(rng) for _ in range(40)]
    pa = [a.probabilities(o) for o in observations]
    pb = [b.probabilities(o) for o in observations]
    pc = [c.probabilities(o) for o in observations]
    assert all(np.array_equal(x, y) for x, y in zip(pa, pb, strict=True))
    assert not all(np.allclose(x, y) for x, y in zip(pa, pc, strict=True))


def test_a_restarted_worker_resumes_the_lstm_state_from_the_database(tiny_model: Path, db_url: str) -> None:
    session = session_for(DAY)
    assert session is not None
    options = RunOptions(db=db_url, model=str(tiny_model))
    first = build_runtime(options, "worker")
    for m in range(1, 46):
        first.cycle.run(session.at(m))
    first.journal.flush()
    before = first.cycle.policy.memory("SPY")
    assert before is not None and before.steps == 45 and before.day == DAY

    second = build_runtime(options, "worker")  # a new process on the same database
    restored = second.cycle.policy.memory("SPY")
    assert restored is not None and restored.steps == 45
    assert np.array_equal(restored.hidden, before.hidden) and np.array_equal(restored.cell, before.cell)
    second.cycle.run(session.at(46))
    after = second.cycle.policy.memory("SPY")
    assert after is not None and after.steps == 46, "the first cycle after the restart kept the session's state"

    other_day = build_runtime(options, "worker")
    next_session = session_for(date(2026, 3, 11))
    assert next_session is not None
    other_day.cycle.run(next_session.at(1))
    assert other_day.cycle.policy.memory("SPY").steps == 1  # type: ignore[union-attr]


def test_decisions_and_trades_carry_the_model_version(tiny_model: Path, db_url: str) -> None:
    session = session_for(DAY)
    assert session is not None
    rt = build_runtime(RunOptions(db=db_url, model=str(tiny_model)), "backtest")
    for m in range(1, 60):
        rt.cycle.run(session.at(m))
    save_param_version(rt.engine, {"policy_mode": "both"}, author="tester", note="both")
    for m in range(60, 70):
        rt.cycle.run(session.at(m))
    rt.journal.flush()
    with rt.engine.connect() as conn:
        versions = [v for (v,) in conn.execute(text("SELECT model_version FROM decision ORDER BY id"))]
        registry = conn.execute(text("SELECT version FROM modelrecord")).scalars().all()
    assert versions[0] == "tiny-s3" and versions[-1] == "tiny-s3+rules-1"
    assert registry == ["tiny-s3"]


def _worker(url: str, *extra: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker", "--db", url, "--speed", "3000", "--start", "2026-03-09", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_the_worker_refuses_to_start_on_a_mismatched_model(tiny_model: Path, tmp_path: Path) -> None:
    broken = _copy(tiny_model, tmp_path, {"window": 30})
    url = f"sqlite:///{tmp_path / 'w.db'}"
    done = _worker(url, "--model", str(broken))
    assert done.returncode != 0
    assert "worker refused to start" in done.stderr and "window: expected 20, found 30" in done.stderr


def test_on_model_mismatch_rules_runs_the_rule_policy_with_an_event(tiny_model: Path, tmp_path: Path) -> None:
    broken = _copy(tiny_model, tmp_path, {"window": 30})
    url = f"sqlite:///{tmp_path / 'w.db'}"
    rt = build_runtime(RunOptions(db=url), "backtest")
    save_param_version(rt.engine, {"on_model_mismatch": "rules"}, author="tester", note="fall back")
    fallback = build_runtime(RunOptions(db=url, model=str(broken)), "worker")
    assert fallback.cycle.policy.rl is None and fallback.cycle.policy.version == "rules-1"
    with fallback.engine.connect() as conn:
        message = conn.execute(text("SELECT message FROM event WHERE code = 'model_refused'")).scalar()
    assert message and "window: expected 20, found 30" in message and "rule policy" in message


def test_the_worker_process_trades_on_a_freshly_trained_model(tiny_model: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    proc = start_worker(url, "--start", "2026-03-09", "--model", str(tiny_model))
    try:
        poll(url, "SELECT count(*) FROM decision WHERE model_version = 'tiny-s3'", lambda n: n >= 100, timeout_s=90)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out


def test_the_numpy_forward_pass_equals_sb3s_own_over_a_carried_sequence(tiny_model: Path) -> None:
    fast, reference = RLPolicy(tiny_model), RLPolicy(tiny_model)
    assert fast._actor is not None, "the shipped architecture runs on the numpy path"
    rng = np.random.default_rng(9)
    for day in (DAY, date(2026, 3, 11)):
        fast.reset("SPY", day)
        reference.reset("SPY", day)
        for _ in range(60):
            obs = random_observation(rng)
            p_fast = fast.probabilities(obs)
            p_ref = reference.probabilities(obs, use_torch=True)
            assert np.allclose(p_fast, p_ref, atol=1e-5), (p_fast, p_ref)
            a, b = fast.memory("SPY"), reference.memory("SPY")
            assert np.allclose(a.hidden, b.hidden, atol=1e-5) and np.allclose(a.cell, b.cell, atol=1e-5)  # type: ignore[union-attr]


def test_the_rolling_scaled_window_equals_a_full_rescale_through_the_cycle(tiny_model: Path, db_url: str) -> None:
    """The live policy scales only each new bar's row; it must see what a full rescale would."""
    from core.rl.observation import scale_features

    session = session_for(DAY)
    assert session is not None
    rt = build_runtime(RunOptions(db=db_url, model=str(tiny_model)), "backtest")
    rl = rt.cycle.policy.rl
    assert rl is not None
    for m in range(1, 120):
        rt.cycle.run(session.at(m))
        for symbol in ("SPY", "QQQ"):
            seen, scaled = rl._scaled[symbol]
            engine = rt.cycle.features[symbol]
            assert seen == engine.bars_seen
            assert np.array_equal(scaled, scale_features(engine.window())), (symbol, m)
