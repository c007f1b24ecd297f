"""A database that cannot be written, under a real worker process: a disk that fills up, a
database that turns read-only (Postgres: as after a failover to a standby; a SQLite file system
cannot be remounted read-only under a writer that holds the file open, so a read-only SQLite
file is tested at start) and a Postgres server stopped mid-session. Each time the worker
stops sending, says why (stderr, and the alert to a local apprise endpoint), logs a bounded
number of lines instead of a traceback per second, and exits with status 4; a restart after
the fault is gone continues after the last committed minute, with every money invariant of
the kill -9 test holding and no (time, symbol) missing or decided twice."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.alert_endpoint import alert_endpoint
from tests.conftest import ACTIVE_PARAMS, with_params
from tests.postgres_server import PostgresServer, started_server
from tests.reliability.test_kill9 import check_invariants
from tests.small_disk import small_disk
from tests.support import poll, start_worker

LEASE = "2"
EXIT_DATABASE = 4
DECISIONS = "SELECT count(*) FROM decision"


def _worker(url: str, *extra: str, alert_url: str = "") -> subprocess.Popen[str]:
    """A worker as a supervisor starts it: it resumes after the last committed minute."""
    env = {"ALERT_URLS": alert_url} if alert_url else None
    return start_worker(url, "--model", "none", "--lease-seconds", LEASE, *extra, env=env)


def _run_into_the_fault(url: str, fault: Callable[[], None], alert_url: str) -> str:
    """Start a worker, let it trade, cause the fault; returns its output once it has exited 4."""
    proc = _worker(url, "--start", "2026-03-09", alert_url=alert_url)
    poll(url, DECISIONS, lambda n: n >= 60, proc=proc)
    fault()
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == EXIT_DATABASE, out[-3000:]
    assert "worker: The worker stopped trading and exited (status 4)" in out, out[-3000:]
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if "failed (1 in a row)" in line)
    after = lines[first:]
    records = [line for line in after if line[:2] == "20" and (" ERROR " in line or " CRITICAL " in line)]
    assert len(records) <= 12, "one line per failure kind (per minute), not one per failure:\n" + "\n".join(records)
    assert sum("Traceback (most recent call last)" in line for line in after) <= 8, "\n".join(after[:200])
    assert len(after) <= 300, f"{len(after)} lines after the first failure"
    return out


def _restart_after_the_fault(url: str) -> None:
    """The supervisor's restart: again while the dead worker's lease is fresh; it must continue,
    then stop cleanly, and every invariant holds (no minute missing or decided twice)."""
    while True:
        before = _count(url)
        proc = _worker(url)
        try:
            poll(url, DECISIONS, lambda n, b=before: n >= b + 40, proc=proc)
            break
        except AssertionError:
            out, _ = proc.communicate(timeout=60)
            assert "holds the lease" in out, out[-3000:]
    proc.terminate()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-3000:]
    check_invariants(url)


def _count(url: str) -> int:
    return int(poll(url, DECISIONS, lambda n: n >= 0))


def test_a_full_disk_stops_the_worker_and_a_restart_continues_without_a_hole() -> None:
    with small_disk(64) as disk, alert_endpoint() as endpoint:
        url = f"sqlite:///{disk.path / 'trading.db'}"
        with_params(url, **ACTIVE_PARAMS)
        out = _run_into_the_fault(url, disk.fill, endpoint.url)
        assert "the disk holding the database is full" in out
        assert endpoint.arrived.wait(30), "the alert reached the phone's channel"
        assert "database unavailable" in endpoint.bodies[0]["title"], endpoint.bodies
        assert "disk holding the database is full" in endpoint.bodies[0]["message"]
        disk.free()
        _restart_after_the_fault(url)


def test_a_database_file_moved_away_mid_run_stops_the_worker_and_a_restart_continues(tmp_path: Path) -> None:
    """SQLite keeps writing into a file renamed under it: no write fails, so the worker must look.
    Moved away, it stops at the next cycle (exit 4, said on stderr and to the phone); put back,
    a restart continues after the last committed minute with every invariant holding."""
    path = tmp_path / "trading.db"
    url = f"sqlite:///{path}"
    with_params(url, **ACTIVE_PARAMS)
    with alert_endpoint() as endpoint:
        proc = _worker(url, "--start", "2026-03-09", alert_url=endpoint.url)
        poll(url, DECISIONS, lambda n: n >= 60, proc=proc)
        moved = tmp_path / "moved-away.db"
        path.rename(moved)
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == EXIT_DATABASE, out[-3000:]
        assert "the database file is gone" in out and "was deleted or moved away" in out, out[-3000:]
        assert "worker: The worker stopped trading and exited (status 4)" in out, out[-3000:]
        assert endpoint.arrived.wait(30), "the alert reached the phone's channel"
        assert "database file is gone" in endpoint.bodies[0]["message"], endpoint.bodies
    assert not path.exists(), "nothing recreated the file: the worker wrote nothing after it noticed"
    moved.rename(path)
    _restart_after_the_fault(url)


def test_a_read_only_database_at_start_is_refused_in_one_line() -> None:
    with small_disk(64) as disk:
        url = f"sqlite:///{disk.path / 'trading.db'}"
        with_params(url, **ACTIVE_PARAMS)
        disk.read_only()
        proc = _worker(url)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 1, out
        assert out.strip().splitlines() == [
            line for line in out.strip().splitlines() if line.startswith("worker refused to start: ")
        ], out
        assert "on a read-only file system" in out and "Traceback" not in out, out


def test_an_unreachable_database_at_start_is_refused_in_one_line() -> None:
    url = "postgresql+psycopg://trader:secret-word@127.0.0.1:9/trading"  # port 9: nothing listens
    proc = start_worker(url, "--model", "none")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, out
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("worker refused to start: the database cannot be reached"), out
    assert "secret-word" not in out, "the password stays out of the refusal"


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    """A server of this module's own: these tests stop it and turn it read-only."""
    yield from started_server()


def _read_only(server: PostgresServer, on: bool) -> None:
    """Every session's transactions become read-only (as on a primary that failed over to a
    standby): `cannot execute INSERT in a read-only transaction`."""
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        setting = "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
        conn.execute(text(f"ALTER SYSTEM {setting}"))
        conn.execute(text("SELECT pg_reload_conf()"))
    admin.dispose()


def test_postgres_stopped_mid_session_stops_the_worker_and_a_restart_continues_without_a_hole(
    own_postgres: PostgresServer,
) -> None:
    url = own_postgres.url(own_postgres.fresh_database())
    with_params(url, **ACTIVE_PARAMS)
    with alert_endpoint() as endpoint:
        out = _run_into_the_fault(url, own_postgres.pause, endpoint.url)
        assert "the database cannot be reached" in out
        assert endpoint.arrived.wait(30)
    own_postgres.resume()
    _restart_after_the_fault(url)


def test_a_database_turned_read_only_mid_session_stops_the_worker_and_a_restart_continues(
    own_postgres: PostgresServer,
) -> None:
    url = own_postgres.url(own_postgres.fresh_database())
    with_params(url, **ACTIVE_PARAMS)
    try:
        with alert_endpoint() as endpoint:
            out = _run_into_the_fault(url, lambda: _read_only(own_postgres, True), endpoint.url)
            assert "the database is read-only" in out
            assert endpoint.arrived.wait(30)
    finally:
        _read_only(own_postgres, False)
    _restart_after_the_fault(url)
