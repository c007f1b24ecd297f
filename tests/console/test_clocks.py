"""Which clock a time is on, said out loud: the control bar follows the worker's newest cycle
(the heartbeat lags it at 60x), and the Audit page names the wall clock and the worker's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from console.controls import worker_line
from core.types import TradingState
from db.control import set_trading_state
from db.engine import make_engine
from tests.conftest import with_params
from tests.console_helpers import open_page


def test_the_control_bar_shows_the_newest_cycle_not_a_lagging_heartbeat() -> None:
    now = datetime.now(UTC)
    beat, cycle = datetime(2026, 3, 2, 15, 0, tzinfo=UTC), datetime(2026, 3, 2, 15, 5, tzinfo=UTC)
    status = {"heartbeat_at": now, "sim_time": beat, "cycle_time": cycle, "mode": "sim", "stopped": False}
    line = worker_line(status)
    assert "clock Mon 10:05 ET simulated" in line, line
    assert "10:00" not in line
    paper = {**status, "mode": "paper", "sim_time": cycle + timedelta(minutes=1)}
    assert "clock Mon 10:06 ET" in worker_line(paper) and "simulated" not in worker_line(paper)


def test_the_audit_names_the_wall_clock_and_the_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    with_params(url)
    engine = make_engine(url)
    set_trading_state(engine, TradingState.HALTED, "alice", "operator_stop", "stop", flatten=True)
    engine.dispose()
    raw = create_engine(url)
    with raw.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workerstatus (id, run_id, pid, host, mode, started_at, heartbeat_at, "
                "sim_time, state_seen, last_cycle_ms, stopped, lease_token) VALUES ('worker', 'r', 1, "
                "'h', 'sim', :t, :t, :t, 'HALTED', 1.0, 0, 1)"
            ),
            {"t": "2026-03-02 15:00:00.000000"},
        )
    raw.dispose()
    at = open_page(url, "audit", monkeypatch)
    table = next(d.value for d in at.dataframe if "who" in d.value.columns)
    assert "at (ET, wall clock)" in table.columns and "applied_at (ET, worker clock, simulated)" in table.columns
