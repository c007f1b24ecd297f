"""The same seed gives identical decisions and trades; another seed does not."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import ACTIVE_PARAMS, with_params
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions

DECISION_COLS = (
    "time, symbol, p_hold, p_buy_call, p_buy_put, p_close, action, final_action, blocked_by, underlying_price"
)
TRADE_COLS = (
    "contract, entry_time, exit_time, entry_qty, entry_avg, exit_avg, realized_pnl, entry_reason_code, exit_reason_code"
)


def _run(tmp_path: Path, name: str, seed: int) -> tuple[list[tuple], list[tuple]]:
    url = f"sqlite:///{tmp_path / name}"
    with_params(url, **ACTIVE_PARAMS)
    run_backtest(
        RunOptions(db=url, seed=seed, flush_every=30), start=date(2026, 3, 2), end=date(2026, 3, 4), run_id="same-id"
    )
    engine = create_engine(url)
    with engine.connect() as conn:
        decisions = conn.execute(text(f"SELECT {DECISION_COLS} FROM decision ORDER BY id")).all()
        trades = conn.execute(text(f"SELECT {TRADE_COLS} FROM trade ORDER BY id")).all()
    return [tuple(r) for r in decisions], [tuple(r) for r in trades]


def test_same_seed_same_decisions_and_trades(tmp_path: Path) -> None:
    d1, t1 = _run(tmp_path, "a.db", seed=5)
    d2, t2 = _run(tmp_path, "b.db", seed=5)
    assert len(d1) == 3 * 390 * 2
    assert t1, "the run must trade for the comparison to mean anything"
    assert d1 == d2
    assert t1 == t2


def test_other_seed_other_trades(tmp_path: Path) -> None:
    d1, t1 = _run(tmp_path, "a.db", seed=5)
    d3, t3 = _run(tmp_path, "c.db", seed=6)
    assert d1 != d3
    assert t1 != t3
