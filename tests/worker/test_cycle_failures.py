"""Failed cycles inside one worker process: the minute is retried and never skipped, a fault in
the cycle halts after the limit and leaves `cycle_failed` decisions instead of a hole, paper
and live record the minutes the broker's clock ran on as a `worker_gap`, and a clean stop
settles the simulator's working orders."""

from __future__ import annotations

import itertools
import sqlite3
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from core.calendar import NY, session_for
from db.control import save_param_version
from db.order_store import OPEN_ORDER_STATES
from tests.conftest import ACTIVE_PARAMS, TEST_DAY
from worker.process.clock import BrokerClock, SimClock
from worker.process.failures import CYCLE_FAILED
from worker.process.main_loop import Worker
from worker.runtime import Runtime


def _rows(rt: Runtime, sql: str, **params: Any) -> list[Any]:
    with rt.engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def _decision_minutes(rt: Runtime, symbol: str) -> list[datetime]:
    return [
        datetime.fromisoformat(str(t)).replace(second=0)
        for (t,) in _rows(rt, "SELECT time FROM decision WHERE symbol = :s ORDER BY time", s=symbol)
    ]


def _assert_every_minute_once(rt: Runtime, count: int) -> None:
    for symbol in rt.market.symbols:
        minutes = _decision_minutes(rt, symbol)
        assert len(minutes) == count, (symbol, minutes)
        assert all(b - a == timedelta(minutes=1) for a, b in itertools.pairwise(minutes)), minutes


def _sim_worker(rt: Runtime, max_failed_cycles: int = 5) -> Worker:
    clock = SimClock.at_session_start(TEST_DAY, rt.next_session_after)
    return Worker(rt, clock, 1.0, max_failed_cycles=max_failed_cycles)


def test_a_cycle_whose_rows_could_not_be_written_runs_its_minute_again(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_param_version(runtime.engine, ACTIVE_PARAMS, author="test")
    worker = _sim_worker(runtime)
    real_flush = runtime.journal.flush
    flushes = itertools.count(1)

    def flaky_flush() -> None:
        if next(flushes) in (3, 4):
            raise sqlite3.OperationalError("database or disk is full")
        real_flush()

    monkeypatch.setattr(runtime.journal, "flush", flaky_flush)
    for _ in range(10):
        worker.cycle_job()
    _assert_every_minute_once(runtime, 8)  # 10 tries, 2 failed: 8 minutes, each once, no hole
    assert worker.clock.now == TEST_DAY_OPEN + timedelta(minutes=8)
    assert worker.exit_status == 0 and worker.database_down is None


def test_the_database_failing_every_retry_stops_the_worker_with_status_4(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = _sim_worker(runtime, max_failed_cycles=3)
    worker.cycle_job()

    def full(*_: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(runtime.journal, "flush", full)
    for _ in range(3):
        worker.cycle_job()
    assert worker.stopping.is_set() and worker.exit_status == 4
    assert worker.database_down is not None and worker.database_down.kind == "disk_full"
    placed = runtime.cycle.desk.place  # nothing is sent any more, whatever asks
    assert placed.__self__.frozen is not None
    worker.cycle_job()  # a tick that still fires does nothing
    assert worker.clock.now == worker.clock.committed == TEST_DAY_OPEN + timedelta(minutes=1)


def test_a_fault_in_the_cycle_halts_after_the_limit_and_records_the_minute_as_failed(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = _sim_worker(runtime, max_failed_cycles=3)
    broken = TEST_DAY_OPEN + timedelta(minutes=2)
    real = runtime.cycle.record_equity

    def record_equity(now: datetime) -> None:
        if now == broken:
            raise RuntimeError("a bug at 09:32")
        real(now)

    monkeypatch.setattr(runtime.cycle, "record_equity", record_equity)
    for _ in range(6):  # 09:31 ok, 09:32 three times, then 09:33 and 09:34
        worker.cycle_job()
    _assert_every_minute_once(runtime, 4)
    sql = "SELECT symbol, blocked_by, final_action FROM decision WHERE blocked_by = :c"
    failed = _rows(runtime, sql, c=CYCLE_FAILED)
    assert sorted(failed) == [("QQQ", CYCLE_FAILED, "hold"), ("SPY", CYCLE_FAILED, "hold")]
    state = _rows(runtime, "SELECT state, reason_code FROM controlstate")
    assert state == [("HALTED", "worker_errors")]
    assert len(_rows(runtime, "SELECT id FROM event WHERE code = :c", c=CYCLE_FAILED)) == 3


def test_paper_records_the_minutes_the_brokers_clock_ran_on_without_a_cycle(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    stamps = iter(TEST_DAY_OPEN + timedelta(minutes=m, seconds=3) for m in (30, 31, 32, 33, 34))
    clock = BrokerClock(lambda: (next(stamps), True), settle_s=2.0)
    worker = Worker(runtime, clock, 1.0)
    real_run = runtime.cycle.run

    def run(now: datetime) -> None:
        if now.minute in (1, 2):  # 10:01 and 10:02 fail: the market does not wait
            raise RuntimeError("the worker could not work")
        real_run(now)

    monkeypatch.setattr(runtime.cycle, "run", run)
    for _ in range(5):
        worker.cycle_job()
    gaps = _rows(runtime, "SELECT message FROM event WHERE code = 'worker_gap'")
    assert len(gaps) == 1, gaps
    assert "2 market minutes" in gaps[0][0] and "10:01 to" in gaps[0][0] and "10:02 ET" in gaps[0][0], gaps


def test_a_clean_stop_settles_the_simulators_working_orders(runtime: Runtime) -> None:
    save_param_version(runtime.engine, ACTIVE_PARAMS, author="test")
    worker = _sim_worker(runtime)
    for _ in range(300):
        worker.cycle_job()
        if runtime.cycle.desk.working:
            break
    assert runtime.cycle.desk.working, "an order is working at the stop"
    states = "', '".join(OPEN_ORDER_STATES)
    assert _rows(runtime, f"SELECT count(*) FROM orders WHERE status IN ('{states}')")[0][0] > 0
    worker.stop()
    assert _rows(runtime, f"SELECT count(*) FROM orders WHERE status IN ('{states}')")[0][0] == 0
    settled = _rows(runtime, "SELECT message FROM event WHERE code = 'orders_settled'")
    assert settled and "left open by the stop" in settled[0][0]


_open = session_for(TEST_DAY)
assert _open is not None
TEST_DAY_OPEN = _open.open.astimezone(NY)
