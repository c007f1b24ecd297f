"""The core tests' shared tiny RL model: trained once per test run by the project's own training
code (about 15 s on a busy 2-core machine), read by the policy and calibration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rl_helpers import train_tiny


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2,048-step model on five synthetic sessions, seed 3 (tests copy it before editing it)."""
    return train_tiny(tmp_path_factory.mktemp("models"), name="tiny-s3")
