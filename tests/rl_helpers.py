"""Shared pieces of the RL tests: a tiny model trained by the project's own training code."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from core.features import FEATURE_NAMES, WINDOW
from core.policy.base import Observation
from core.rl.train import TrainConfig, train

TRAIN_END = date(2025, 12, 31)


def train_tiny(out: Path, seed: int = 3, timesteps: int = 2048, name: str | None = None) -> Path:
    """A few thousand steps on five synthetic sessions: seconds, not minutes."""
    cfg = TrainConfig(
        source="synthetic", end=TRAIN_END, days=5, timesteps=timesteps, seed=seed, out=out, name=name, n_envs=2
    )
    path, _ = train(cfg)
    return path


def random_observation(rng: np.random.Generator, symbol: str = "SPY", direction: int | None = None) -> Observation:
    """A plausible observation: feature rows near their usual ranges, any position."""
    window = np.zeros((WINDOW, len(FEATURE_NAMES)), dtype=np.float32)
    centre = np.array([0, 0.08, 0, 0, 50, 0.06, 20, 0, 200, 0, 15], dtype=np.float32)
    scale = np.array([0.1, 0.05, 1.5, 0.3, 15, 0.03, 6, 4, 100, 0.1, 10], dtype=np.float32)
    window[:] = centre + scale * rng.standard_normal(window.shape).astype(np.float32)
    d = int(rng.integers(-1, 2)) if direction is None else direction
    features = dict(zip(FEATURE_NAMES, window[-1].tolist(), strict=True))
    return Observation(
        symbol,
        lambda: window,
        features,
        d,
        float(rng.normal(0, 15)) if d else 0.0,
        float(rng.uniform(0, 120)) if d else 0.0,
    )
