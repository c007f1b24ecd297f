"""A paper session against the fake Alpaca is recorded, then replayed from its recordings with
`--source recorded:URL`: every decision and every order comes out the same."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.alpaca_helpers import session_time
from tests.conftest import ACTIVE_PARAMS, with_params
from tests.worker.conftest import MINUTES
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions

DECISION = "time, symbol, action, final_action, blocked_by, exit_code"
ORDER = "created_at, contract, side, qty, order_type, limit_price, reason_code, status, filled_qty"


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        out = [tuple(r) for r in conn.execute(text(sql))]
    engine.dispose()
    return out


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
    live_sources = _rows(paper_url, "SELECT DISTINCT price_source FROM decision WHERE price_source IS NOT NULL")
    replay_sources = _rows(replay_url, "SELECT DISTINCT price_source FROM decision WHERE price_source IS NOT NULL")
    assert live_sources == [("live_quote",)], "paper decisions priced from the broker's quotes"
    assert replay_sources == [("recorded_quote",)], "the replay says it priced from the recordings"
