"""A worker restarted mid-session keeps its positions, cash and exit state."""

from __future__ import annotations

from datetime import timedelta

from core.calendar import session_for
from db.control import save_param_version
from tests.conftest import EXITS_OFF, TEST_DAY, run_until_open_position
from worker.runtime import RunOptions, build_runtime, restore_simulated_account


def test_restart_restores_positions_and_cash(migrated: str) -> None:
    first = build_runtime(RunOptions(db=migrated, seed=11), "worker", run_id="before")
    save_param_version(
        first.engine,
        {
            "min_confidence": 0.3,
            "cooldown_s": 0,
            "iv_rank_max": 100,
            "blocked_regimes": [],
            **EXITS_OFF,
        },
        author="test",
    )
    run_until_open_position(first)
    session = session_for(TEST_DAY)
    assert session is not None
    first.journal.flush()
    held = first.broker.positions()
    assert held
    peak_before = first.cycle.book.positions()[0].peak_bid

    second = build_runtime(RunOptions(db=migrated, seed=11), "worker", run_id="after")
    restore_simulated_account(second)
    assert second.broker.positions() == held
    assert abs(second.broker.cash - first.broker.cash) < 1e-6
    restored = second.cycle.book.positions()[0]
    assert restored.peak_bid == peak_before and restored.qty_open == held[0].qty
    second.cycle.run(session.close - timedelta(minutes=34))
    assert second.broker.positions() == [], "the restored position is managed (flattened) by the new process"
