"""Small core pieces: metrics, client order ids, and the import boundary of core/."""

from __future__ import annotations

import ast
import math
import uuid
from pathlib import Path

import pytest

from core.ids import client_order_id
from core.metrics import max_drawdown_pct, profit_factor, sharpe, summarize

CORE = Path(__file__).resolve().parents[1] / "core"
FORBIDDEN = ("streamlit", "sqlmodel", "sqlalchemy", "alpaca", "yfinance")


def test_core_never_imports_the_outside() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_client_order_ids_are_deterministic_uuids() -> None:
    a = client_order_id("run", "SPY", "2026-03-10T10:31:00-04:00", "entry")
    assert a == client_order_id("run", "SPY", "2026-03-10T10:31:00-04:00", "entry")
    assert a != client_order_id("run", "SPY", "2026-03-10T10:31:00-04:00", "exit:stop_loss")
    assert uuid.UUID(a).version == 5


def test_metrics() -> None:
    assert profit_factor([100, -50, 50]) == 3.0
    assert math.isinf(profit_factor([10])) and profit_factor([]) == 0.0
    assert max_drawdown_pct([100, 120, 90, 130]) == pytest.approx(-25.0)
    assert sharpe([1, 1, 1], 100) == 0.0
    s = summarize([100, -50], [100, -50], [1000, 1100, 1050], 1000)
    assert (s.trades, s.win_rate, s.expectancy, s.total_pnl) == (2, 0.5, 25.0, 50)
    assert s.max_drawdown_pct == pytest.approx(-100 * 50 / 1100)
