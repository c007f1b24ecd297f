"""The console's stop on an open iron condor, carried out by the real worker process.

The worker trades iron condors on the simulator (whose 0DTE wings are often bid at nothing); once
one is open the operator's stop is set as the console sets it (HALTED with flatten). The halt
must be confirmed with the condor's trade closed by the stop, or its shorts bought back and its
long wings recorded in the confirmation as left at no risk. Every wait is for a condition in
the database."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from core.types import TradingState
from db.control import set_trading_state
from db.engine import make_engine
from tests.conftest import ACTIVE_PARAMS, with_params
from tests.support import poll, start_worker

# the condor lives until the stop: no exit of its own before the end-of-day flatten
CONDOR_HELD: dict[str, Any] = {
    "strategy": "iron_condor",
    "policy_mode": "rules",
    "credit_stop_multiple": 0.0,
    "credit_take_profit_pct": 100.0,
    "max_hold_min": 390,
    "policy_exit_min_confidence": 1.0,
}


def _rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


@pytest.mark.slow
def test_the_stop_is_confirmed_on_an_open_iron_condor_in_the_worker_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'condor-stop.db'}"
    with_params(url, **ACTIVE_PARAMS, **CONDOR_HELD)
    proc = start_worker(url, "--model", "none", "--start", "2026-03-10", speed="600")
    try:
        trade_id = poll(
            url, "SELECT min(id) FROM trade WHERE structure = 'iron_condor' AND status = 'open'", bool, proc=proc
        )
        engine = make_engine(url)
        set_trading_state(engine, TradingState.HALTED, "tester", "operator_stop", "stop", flatten=True)
        engine.dispose()
        poll(url, "SELECT halt_applied_at FROM controlstate", bool, timeout_s=120, proc=proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-3000:]
    summary = str(_rows(url, "SELECT halt_summary FROM controlstate")[0][0])
    status, code, underlying = _rows(
        url, f"SELECT status, exit_reason_code, underlying FROM trade WHERE id = {trade_id}"
    )[0]
    assert f"trade {trade_id} {underlying} iron condor" in summary and "Realized P&L of the" in summary
    if status == "closed":
        assert code == "emergency_stop" and "0 positions left at the broker" in summary
        return
    held: dict[str, int] = {}
    fills = _rows(url, f"SELECT f.contract, f.side, f.qty FROM fill f JOIN orders o ON o.id = f.order_id "
                       f"WHERE o.trade_id = {trade_id}")  # fmt: skip
    for contract, side, qty in fills:
        held[contract] = held.get(contract, 0) + (qty if side == "buy" else -qty)
    assert all(qty >= 0 for qty in held.values()), f"a short left open: {held}"
    left = [symbol for symbol, qty in held.items() if qty > 0]
    assert left and "all at no risk" in summary and all(f"{s} x{held[s]} (long, no bid" in summary for s in left)
