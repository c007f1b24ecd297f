"""The database-facing paths on SQLite and on a real PostgreSQL server alike: migrations, the
journal (a backtest's rows), control actions, the console's reads, the lease, and a worker
process."""

from __future__ import annotations

import signal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import db.models  # noqa: F401
from core.params import ParamsError
from core.types import TradingState
from db.control import bootstrap, revert_to, save_param_version, set_trading_state
from db.engine import make_engine
from db.lease import LeaseHeldError, LeaseLostError, acquire, fence, release
from db.migrate import upgrade
from tests.conftest import ACTIVE_PARAMS, TEST_DAY, with_params
from tests.console_helpers import PAGES, open_page
from tests.support import poll, start_worker
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        out = [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in conn.execute(text(sql))]
    engine.dispose()
    return out


def test_migrations_create_the_models_schema(any_db_url: str) -> None:
    upgrade(any_db_url)
    engine = create_engine(any_db_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    engine.dispose()


def test_a_backtest_writes_the_same_rows_on_either_database(any_db_url: str, tmp_path: Any) -> None:
    """The journal's two write paths (SQLite's positional SQL, Core elsewhere) store the same."""
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    for url in (reference, any_db_url):
        with_params(url, **ACTIVE_PARAMS)
        run_backtest(RunOptions(db=url, seed=3, flush_every=20, model=None), end=TEST_DAY, days=2, run_id="same")
    trades = (
        "SELECT contract, entry_qty, entry_avg, realized_pnl, entry_reason_code, exit_reason_code "
        "FROM trade ORDER BY id"
    )
    decisions = "SELECT symbol, action, final_action, blocked_by, exit_code FROM decision ORDER BY id"
    for sql in (
        trades,
        decisions,
        "SELECT count(*), sum(qty) FROM fill",
        "SELECT status, count(*) FROM orders GROUP BY status ORDER BY status",
    ):
        assert _rows(any_db_url, sql) == _rows(reference, sql), sql
    assert _rows(any_db_url, "SELECT count(*) FROM trade")[0][0] > 0


def test_control_actions_are_audited_and_refuse_bad_edits(any_db_url: str) -> None:
    upgrade(any_db_url)
    engine = make_engine(any_db_url)
    bootstrap(engine)
    assert set_trading_state(engine, TradingState.HALTED, "alice", "operator_stop", "stop", flatten=True)
    assert set_trading_state(engine, TradingState.HALTED, "alice", "operator_stop", "again", flatten=True) is None
    with pytest.raises(ParamsError):
        save_param_version(engine, {"min_confidence": True}, author="alice")
    v2 = save_param_version(engine, {"min_confidence": 0.6}, author="alice")
    v3 = revert_to(engine, 1, author="alice")
    assert (v2.id, v3.id, v3.reverted_from) == (2, 3, 1)
    assert _rows(any_db_url, "SELECT who, to_state, flatten FROM controlevent") == [("alice", "HALTED", True)]
    engine.dispose()


def test_the_lease_is_taken_once_and_fences_a_lost_holder(any_db_url: str) -> None:
    upgrade(any_db_url)
    engine = make_engine(any_db_url)
    bootstrap(engine)
    first = acquire(engine, "run-a", "sim", period_s=60)
    with pytest.raises(LeaseHeldError):
        acquire(engine, "run-b", "sim", period_s=60)
    release(engine, first)
    second = acquire(engine, "run-b", "sim", period_s=60)
    assert second.token == first.token + 1
    with engine.begin() as conn, pytest.raises(LeaseLostError):
        fence(conn, first)
    engine.dispose()


def test_the_console_reads_every_page(any_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with_params(any_db_url, **ACTIVE_PARAMS)
    run_backtest(RunOptions(db=any_db_url, seed=7, flush_every=60, model=None), end=TEST_DAY, days=2, run_id="seed")
    for page in PAGES:
        at = open_page(any_db_url, page, monkeypatch)
        assert not at.exception


def test_a_worker_process_trades_stops_cleanly_and_refuses_a_second(any_db_url: str) -> None:
    with_params(any_db_url, **ACTIVE_PARAMS)
    proc = start_worker(any_db_url, "--model", "none", "--start", "2026-03-09")
    try:
        poll(any_db_url, "SELECT count(*) FROM decision", lambda n: n >= 100, proc=proc)
        second = start_worker(any_db_url, "--model", "none")
        out, _ = second.communicate(timeout=120)
        assert second.returncode != 0 and "holds the lease" in out
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "worker stopped cleanly" in out, out[-2000:]
    dup = _rows(any_db_url, "SELECT time, symbol FROM decision GROUP BY time, symbol HAVING count(*) > 1")
    assert dup == []
