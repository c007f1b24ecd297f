"""`python -m worker` as a user runs it: starts, trades on the accelerated clock, stops cleanly
on SIGTERM, refuses a second worker, and resumes where it stopped."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support import poll, start_worker


def _start(url: str, *extra: str) -> subprocess.Popen[str]:
    return start_worker(url, *extra)


def _wait_for(url: str, sql: str, minimum: int, timeout_s: float = 60.0) -> int:
    return int(poll(url, sql, lambda n: n >= minimum, timeout_s=timeout_s))


def test_worker_runs_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    proc = _start(url, "--start", "2026-03-09")
    try:
        _wait_for(url, "SELECT count(*) FROM decision", 200)
        second = _start(url)
        out, _ = second.communicate(timeout=60)
        assert second.returncode != 0 and "exactly one worker" in out
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "worker stopped cleanly" in out
    engine = create_engine(url)
    with engine.connect() as conn:
        stopped, sim_time = conn.execute(text("SELECT stopped, sim_time FROM workerstatus")).one()
        last_decision = conn.execute(text("SELECT max(time) FROM decision")).scalar()
        count = conn.execute(text("SELECT count(*) FROM decision")).scalar()
    assert stopped == 1 and sim_time == last_decision

    again = _start(url)
    try:
        _wait_for(url, "SELECT count(*) FROM decision", count + 20)
    finally:
        again.send_signal(signal.SIGINT)
        again.communicate(timeout=60)
    with engine.connect() as conn:
        times = conn.execute(text("SELECT time FROM decision WHERE symbol = 'SPY' ORDER BY id")).scalars().all()
    assert times == sorted(times) and len(times) == len(set(times)), "a restart continues, it never replays a minute"


@pytest.mark.parametrize("moment", ["alembic.runtime.migration", "lease taken", "started: mode sim"])
def test_sigterm_at_any_point_of_start_up_exits_0(tmp_path: Path, moment: str) -> None:
    """The handlers are installed before any start-up work: migrations, the lease, the first cycle."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    proc = _start(url, "--start", "2026-03-09", "--model", "none")
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if moment in line:
            proc.send_signal(signal.SIGTERM)
            break
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(seen) + out
    engine = create_engine(url)
    with engine.connect() as conn:
        stopped = conn.execute(text("SELECT stopped FROM workerstatus")).scalar()
    assert stopped in (1, True), "the lease is released: a successor may start at once"
