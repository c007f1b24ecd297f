"""The worker tests' shared recorded paper session: built once per test run (it takes about
25 s), read by the replay, parity and after-close tests (those that write copy it first or
write only their own report rows)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.alpaca_helpers import fake_alpaca, session_time
from tests.conftest import ACTIVE_PARAMS, with_params
from tests.fake_alpaca import FakeAlpacaServer, alpaca_env
from worker.runtime import RunOptions, build_runtime

MINUTES = 90


@pytest.fixture(scope="session")
def recorded_paper(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A rules session of MINUTES minutes against the fake Alpaca, recorded: (its URL, its folder)."""
    folder = tmp_path_factory.mktemp("recorded")
    paper_url = f"sqlite:///{folder / 'paper.db'}"
    with_params(paper_url, **{**ACTIVE_PARAMS, "policy_mode": "rules"})
    start = session_time(10, 0)
    with fake_alpaca(start=start, fee=0.65) as server, pytest.MonkeyPatch.context() as mp:
        for key, value in alpaca_env(server.url, ALPACA_MAX_REQUESTS_PER_MINUTE="100000").items():
            mp.setenv(key, value)
        paper = build_runtime(RunOptions(mode="paper", db=paper_url, model=None), "worker", run_id="paper")
        assert paper.cycle.recorder is not None, "paper mode records"
        for i in range(MINUTES):
            if i:
                server.state.advance(1)
            paper.cycle.run(start + timedelta(minutes=i))
        paper.journal.flush()
    assert os.path.exists(folder / "paper.db")
    return paper_url, folder


@pytest.fixture
def server() -> Iterator[FakeAlpacaServer]:
    """A fake Alpaca with a million dollars in the account (a test file needing less defines its own)."""
    with fake_alpaca(cash=1_000_000.0) as srv:
        yield srv
