"""A paper session against the fake Alpaca is recorded, then replayed from its recordings with
`--source recorded:URL`: every decision and every order comes out the same."""

from __future__ import annotations

import os
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.alpaca_helpers import fake_alpaca, session_time
from tests.conftest import ACTIVE_PARAMS, with_params
from tests.fake_alpaca import alpaca_env
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions, build_runtime

MINUTES = 90
DECISION = "time, symbol, action, final_action, blocked_by, exit_code"
ORDER = "created_at, contract, side, qty, order_type, limit_price, reason_code, status, filled_qty"


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        out = [tuple(r) for r in conn.execute(text(sql))]
    engine.dispose()
    return out


@pytest.fixture(scope="module")
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


def test_a_recorded_paper_session_replays_to_the_same_decisions_and_orders(
    recorded_paper: tuple[str, Path], tmp_path: Path
) -> None:
    paper_url, _ = recorded_paper
    replay_url = f"sqlite:///{tmp_path / 'replay.db'}"
    with_params(replay_url, **{**ACTIVE_PARAMS, "policy_mode": "rules"})
    start = session_time(10, 0)
    run_backtest(
        RunOptions(db=replay_url, source=f"recorded:{paper_url}", execution="instant", model=None, seed=7),
        start=start.date(),
        end=start.date(),
        run_id="replay",
    )
    last = (start + timedelta(minutes=MINUTES - 1)).astimezone(UTC)
    window = f"WHERE time >= '{start.astimezone(UTC):%Y-%m-%d %H:%M:%S}' AND time <= '{last:%Y-%m-%d %H:%M:%S}'"
    live = _rows(paper_url, f"SELECT {DECISION} FROM decision {window} ORDER BY time, symbol")
    replayed = _rows(replay_url, f"SELECT {DECISION} FROM decision {window} ORDER BY time, symbol")
    assert len(live) >= 2 * (MINUTES - 2)
    assert replayed == live
    order_window = window.replace("time", "created_at")
    live_orders = _rows(paper_url, f"SELECT {ORDER} FROM orders {order_window} ORDER BY id")
    assert len(live_orders) >= 2, "the session must trade for this test to mean anything"
    assert _rows(replay_url, f"SELECT {ORDER} FROM orders {order_window} ORDER BY id") == live_orders
