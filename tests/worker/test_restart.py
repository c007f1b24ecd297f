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


def _trading_params(engine: object) -> None:
    save_param_version(
        engine,  # type: ignore[arg-type]
        {"min_confidence": 0.3, "cooldown_s": 600, "iv_rank_max": 100, "blocked_regimes": [], "max_hold_min": 5},
        author="test",
    )


def test_a_restart_restores_the_loss_limits_memory_and_the_sessions_counts(migrated: str) -> None:
    first = build_runtime(RunOptions(db=migrated, seed=11), "worker", run_id="before")
    _trading_params(first.engine)
    session = session_for(TEST_DAY)
    assert session is not None
    minute = 31
    while first.journal.session_trades(session.open, session.close) == [] or first.cycle.book.open_count():
        first.cycle.run(session.at(minute))
        minute += 1
        assert minute < 380, "the policy never completed a trade"
    first.cycle.run(session.at(minute))
    first.journal.flush()
    second = build_runtime(RunOptions(db=migrated, seed=11), "worker", run_id="after")
    restore_simulated_account(second)
    assert (second.cycle.risk.peak, second.cycle.risk.start_of_day, second.cycle.risk.day) == (
        first.cycle.risk.peak,
        first.cycle.risk.start_of_day,
        first.cycle.risk.day,
    )
    second.cycle.run(session.at(minute + 1))
    assert second.cycle.book.entries_today == first.cycle.book.entries_today
    assert second.cycle.book.last_exit_at == first.cycle.book.last_exit_at  # the cooldown goes on


def test_a_remade_decision_finds_its_order_and_never_sends_it_again(migrated: str) -> None:
    """The same intent gets the same client order id in another process (the database's
    identity, not the run's): re-running a minute after a crash sends nothing new."""
    from sqlalchemy import text

    first = build_runtime(RunOptions(db=migrated, seed=11), "worker", run_id="before")
    _trading_params(first.engine)
    after = run_until_open_position(first)
    entry_minute = after - timedelta(minutes=1)
    with first.engine.connect() as conn:
        orders = conn.execute(text("SELECT client_order_id, created_at FROM orders")).all()
    assert len(orders) == 1
    # a crash right after the order: the new process restores, then decides that minute again
    second = build_runtime(RunOptions(db=migrated, seed=11), "worker", run_id="after")
    restore_simulated_account(second)
    second.cycle.book.open.clear()  # as if the fill had not been booked: the policy wants the entry again
    second.cycle.run(entry_minute)
    second.journal.flush()
    with second.engine.connect() as conn:
        again = conn.execute(text("SELECT client_order_id FROM orders")).scalars().all()
        decided = (
            conn.execute(
                text("SELECT order_client_id FROM decision WHERE run_id = 'after' AND order_client_id IS NOT NULL")
            )
            .scalars()
            .all()
        )
    assert again == [orders[0][0]], "no second order"
    assert decided == [orders[0][0]], "the remade decision names the order it found"
