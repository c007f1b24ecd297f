"""A soak: the worker at high speed, 8 console readers, and a writer that toggles parameters
and trading states, for a bounded number of rounds. No "database is locked" anywhere, every
halt carried out, every parameter version stamped on the next cycle's decisions."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from core.types import TradingState
from db import decision_reads, reads, trade_reads
from db.control import save_param_version, set_trading_state
from db.engine import make_engine
from tests.conftest import ACTIVE_PARAMS, with_params
from tests.support import poll, start_worker

ROUNDS = int(os.environ.get("SOAK_ROUNDS", "12"))
READERS = 8


def _reader(url: str, stop: threading.Event, errors: list[str], reads_done: list[int]) -> None:
    engine = make_engine(url, role="reader")
    done = 0
    while not stop.is_set():
        try:
            reads.control_state(engine)
            reads.worker_status(engine)
            reads.open_positions(engine)
            reads.equity_curve(engine)
            trade_reads.trades(engine, trade_reads.TradeFilter())
            decision_reads.latest(engine, decision_reads.DecisionFilter(), limit=50)
            done += 1
        except Exception as exc:  # every failure is counted, "locked" ones above all
            errors.append(repr(exc))
    reads_done.append(done)
    engine.dispose()


@pytest.mark.slow
def test_a_soak_with_readers_and_a_writer_locks_nothing_and_loses_no_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'soak.db'}"
    with_params(url, **ACTIVE_PARAMS, entry_delay_min=0)
    writer = make_engine(url)
    proc = start_worker(url, "--model", "none", "--start", "2026-03-09")
    stop, errors, reads_done = threading.Event(), [], []
    threads = [threading.Thread(target=_reader, args=(url, stop, errors, reads_done)) for _ in range(READERS)]
    for t in threads:
        t.start()
    try:
        poll(url, "SELECT count(*) FROM decision", lambda n: n >= 20, proc=proc)
        for i in range(ROUNDS):
            version = save_param_version(
                writer, {**ACTIVE_PARAMS, "entry_delay_min": 0, "min_confidence": 0.5 + 0.01 * (i % 10)}, "soak"
            )
            poll(url, f"SELECT count(*) FROM decision WHERE param_version = {version.id}", lambda n: n >= 2, proc=proc)
            set_trading_state(writer, TradingState.HALTED, "soak", "operator_stop", f"round {i}", flatten=True)
            poll(url, "SELECT halt_applied_at IS NOT NULL FROM controlstate", bool, proc=proc)
            poll(url, "SELECT count(*) = 0 FROM trade WHERE status = 'open'", bool, proc=proc)
            set_trading_state(writer, TradingState.ACTIVE, "soak", "operator_resume", f"round {i}")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    locked = [e for e in errors if "locked" in e]
    assert locked == [] and "database is locked" not in out, (locked[:3], out[-2000:])
    assert errors == [], errors[:3]
    assert proc.returncode == 0, out[-2000:]
    engine = create_engine(url)
    with engine.connect() as conn:
        halts = conn.execute(text("SELECT count(*) FROM controlevent WHERE to_state = 'HALTED'")).scalar()
        applied = conn.execute(
            text("SELECT count(*) FROM controlevent WHERE to_state = 'HALTED' AND applied_at IS NOT NULL")
        ).scalar()
        unused = conn.execute(text("SELECT count(*) FROM paramversion WHERE first_used_at IS NULL")).scalar()
    assert halts == applied == ROUNDS, "every halt carried out"
    assert unused <= 1, "every parameter version was picked up (the test's own seed version may stay unused)"
    print(f"\nsoak: {ROUNDS} rounds, {sum(reads_done)} console read rounds by {READERS} readers, 0 locked")
