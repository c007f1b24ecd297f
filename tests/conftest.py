"""Shared fixtures: a real SQLite file per test, a migrated database, runtimes on the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from core.calendar import session_for
from db.control import bootstrap, save_param_version
from db.engine import make_engine
from tests.moved_clock import start_from_environment
from tests.schema_template import migrate
from worker.runtime import RunOptions, Runtime, build_runtime

CLOCK_LINE = start_from_environment()  # TEST_CLOCK: this process and its subprocesses on a moved clock

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# A short stretch of sessions that includes an early close (Friday 2025-11-28, 13:00 ET).
EARLY_CLOSE_DAY = date(2025, 11, 28)


def pytest_report_header() -> str:
    return CLOCK_LINE or "test clock: the real one"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def migrated(db_url: str) -> str:
    migrate(db_url)
    bootstrap(make_engine(db_url))
    return db_url


def with_params(url: str, **values: Any) -> int:
    """Store and activate a parameter version (defaults plus `values`); returns its id."""
    migrate(url)
    engine = make_engine(url)
    try:
        bootstrap(engine)
        version = save_param_version(engine, values, author="test", note="test params")
    finally:
        engine.dispose()  # no connection left open (a test may remount the file system next)
    return int(version.id or 0)


# Parameters that make the rule baseline trade often, so short runs exercise every path.
ACTIVE_PARAMS: dict[str, Any] = {
    "min_confidence": 0.5,
    "cooldown_s": 0,
    "max_trades_per_symbol_day": 20,
    "iv_rank_max": 100.0,
    "iv_rank_min": 0.0,
    "vix_ceiling": 150.0,
    "blocked_regimes": [],
}

# Every price- and policy-driven exit switched off: a position lives until the end-of-day flatten
# or the broker's liquidation.
EXITS_OFF: dict[str, Any] = {
    "stop_loss_pct": -99.0,
    "take_profit_base_pct": 500.0,
    "take_profit_max_pct": 900.0,
    "trailing_arm_pct": 500.0,
    "partial1_gain_pct": 400.0,
    "partial2_gain_pct": 500.0,
    "max_hold_min": 390,
    "policy_exit_min_confidence": 1.0,
}


@pytest.fixture
def runtime(migrated: str) -> Iterator[Runtime]:
    rt = build_runtime(RunOptions(db=migrated, seed=11), "worker", run_id="test-run")
    yield rt
    rt.engine.dispose()


TEST_DAY = date(2026, 3, 10)


def run_until_open_position(rt: Runtime, day: date = TEST_DAY) -> datetime:
    """Run the cycle minute by minute from 10:01 ET until a position is open; returns the next cycle time."""
    session = session_for(day)
    assert session is not None
    minute = 31
    while rt.cycle.book.open_count() == 0 and minute < 300:
        rt.cycle.run(session.at(minute))
        minute += 1
    assert rt.cycle.book.open_count() > 0, "the policy never entered"
    return session.at(minute)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A PostgreSQL server for this test run (Debian's binaries), removed at the end."""
    from tests.postgres_server import started_server

    yield from started_server()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on a SQLite file and on a fresh Postgres database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = server.fresh_database()
    yield server.url(name)
    server.drop_database(name)
