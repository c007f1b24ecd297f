"""Exactly one worker trades: two started at once, and one paused (SIGSTOP, as a GC pause or a
stalled VM) past its lease, taken over, then resumed."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from db.control import bootstrap
from db.engine import make_engine
from db.migrate import upgrade
from tests.conftest import ACTIVE_PARAMS, with_params
from tests.support import poll, start_worker

LEASE = "2"


def _first_to_exit(*procs: subprocess.Popen[str], timeout_s: float = 120.0) -> subprocess.Popen[str]:
    """The first of `procs` to exit (a generous bound for a stuck start, not a speed check)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                return proc
        time.sleep(0.1)
    raise AssertionError("no worker was refused: both kept running")


def _pause_outside_a_write(proc: subprocess.Popen[str], db_file: Path) -> None:
    """SIGSTOP the worker at a moment it holds no SQLite write lock. A process stopped inside a
    write transaction keeps the lock, and no successor can write until it runs again (it is
    refused: "database is locked"); that is SQLite's rule, not the lease's, so the test pauses
    between transactions, as a pause almost always lands."""
    for _ in range(200):
        proc.send_signal(signal.SIGSTOP)
        probe = sqlite3.connect(db_file, timeout=0.5, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:
            proc.send_signal(signal.SIGCONT)
            time.sleep(0.02)
        finally:
            probe.close()
    raise AssertionError("the worker was inside a write transaction at every pause")


def _older_than_the_lease(heartbeat_at: str | datetime) -> bool:
    """The paused worker's last heartbeat is more than 3 s old by this process's clock (the
    workers' clock, also under TEST_CLOCK; the database's own `now` is not moved)."""
    beat = heartbeat_at if isinstance(heartbeat_at, datetime) else datetime.fromisoformat(heartbeat_at)
    return beat.replace(tzinfo=UTC) < datetime.now(UTC) - timedelta(seconds=3)


def test_two_workers_started_at_once_one_trades_the_other_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'two.db'}"
    upgrade(url)
    bootstrap(make_engine(url))
    a = start_worker(url, "--model", "none", "--lease-seconds", LEASE, "--start", "2026-03-09")
    b = start_worker(url, "--model", "none", "--lease-seconds", LEASE, "--start", "2026-03-09")
    refused = _first_to_exit(a, b)
    out, _ = refused.communicate(timeout=60)
    assert "refused to start" in out and "holds the lease" in out, out[-2000:]
    running = b if refused is a else a
    try:
        poll(url, "SELECT count(*) FROM decision", lambda n: n >= 20, proc=running)
    finally:
        running.send_signal(signal.SIGTERM)
        running.communicate(timeout=60)
    with create_engine(url).connect() as conn:
        runs = conn.execute(text("SELECT count(DISTINCT run_id) FROM decision")).scalar()
        tokens = conn.execute(text("SELECT lease_token FROM workerstatus")).scalar()
    assert runs == 1 and tokens == 1


def test_a_paused_worker_taken_over_sends_nothing_when_it_wakes_and_exits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pause.db'}"
    with_params(url, **ACTIVE_PARAMS, entry_delay_min=0, max_hold_min=10)
    first = start_worker(url, "--model", "none", "--lease-seconds", LEASE, "--start", "2026-03-09", speed="600")
    poll(url, "SELECT count(*) FROM orders", lambda n: n >= 2, proc=first)
    _pause_outside_a_write(first, tmp_path / "pause.db")
    try:
        poll(url, "SELECT heartbeat_at FROM workerstatus", _older_than_the_lease)
        second = start_worker(url, "--model", "none", "--lease-seconds", LEASE, speed="600")
        try:
            poll(url, "SELECT lease_token FROM workerstatus", lambda t: t >= 2, proc=second)
        except AssertionError as exc:
            out = second.communicate(timeout=60)[0] if second.poll() is not None else ""
            raise AssertionError(f"{exc}\n{out[-3000:]}") from exc
        poll(url, "SELECT count(DISTINCT run_id) FROM orders", lambda n: n >= 2, proc=second)
    finally:
        first.send_signal(signal.SIGCONT)
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 3, out[-3000:]
    assert "lost the lease" in out
    second.send_signal(signal.SIGTERM)
    second.communicate(timeout=60)
    with create_engine(url).connect() as conn:
        first_run = conn.execute(text("SELECT run_id FROM orders ORDER BY id LIMIT 1")).scalar()
        for table in ("orders", "decision"):
            last_of_first = conn.execute(text(f"SELECT max(id) FROM {table} WHERE run_id = :r"), {"r": first_run})
            first_of_second = conn.execute(text(f"SELECT min(id) FROM {table} WHERE run_id != :r"), {"r": first_run})
            assert last_of_first.scalar() < first_of_second.scalar(), f"the paused worker wrote {table} after"
        events = conn.execute(text("SELECT run_id, message FROM event WHERE code = 'lease_lost'")).all()
    assert [e[0] for e in events] == [first_run]
