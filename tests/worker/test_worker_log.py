"""The worker's log tells the story: a line per parameter version picked up, per order, fill,
trade opened and closed, and per trading-state change."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from core.calendar import cycle_times, last_sessions
from core.types import TradingState
from db.control import save_param_version, set_trading_state
from tests.conftest import ACTIVE_PARAMS, with_params
from worker.runtime import RunOptions, build_runtime


def test_orders_fills_trades_versions_and_state_changes_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    first = with_params(url, **{**ACTIVE_PARAMS, "policy_mode": "rules"})
    rt = build_runtime(RunOptions(db=url, model=None, seed=7), "backtest")
    caplog.set_level(logging.INFO)
    session = last_sessions(date(2026, 3, 19), 1)[0]
    times = cycle_times(session)
    for now in times[:200]:
        rt.cycle.run(now)
        rt.control.tick(now)
        if "closed:" in caplog.text:
            break
    text = caplog.text
    assert f"parameter version {first} in use from" in text
    assert "order " in text and "fill " in text, "orders and fills"
    assert "trade 1 opened: " in text and "trade 1 closed: " in text and "P&L " in text
    second = save_param_version(rt.engine, {**ACTIVE_PARAMS, "policy_mode": "rules", "min_confidence": 0.9}, "test")
    set_trading_state(rt.engine, TradingState.REDUCING, "console:operator", "operator_reduce", "Only exits.")
    rt.cycle.run(times[250])
    assert f"parameter version {second.id} in use from" in caplog.text
    assert "trading state ACTIVE -> REDUCING (operator_reduce)" in caplog.text
