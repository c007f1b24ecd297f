"""Small core pieces: metrics, client order ids, and the import boundary of core/."""

from __future__ import annotations

import ast
import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core.calendar import NY
from core.ids import client_order_id
from core.metrics import max_drawdown_pct, profit_factor, sharpe, summarize
from tests.support import ROOT

CORE = ROOT / "core"
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
    at = datetime(2026, 3, 10, 10, 31, tzinfo=NY)
    a = client_order_id("run", "SPY", at, "entry")
    assert a == client_order_id("run", "SPY", at, "entry")
    assert a != client_order_id("run", "SPY", at, "exit:stop_loss")
    assert uuid.UUID(a).version == 5


def test_the_same_intent_has_the_same_id_whatever_timezone_the_clock_carries() -> None:
    """A fresh worker's clock reads New York time, a resumed one's UTC: one intent, one id."""
    in_new_york = datetime(2026, 3, 10, 10, 31, tzinfo=NY)
    in_utc = in_new_york.astimezone(UTC)
    assert client_order_id("db", "SPY", in_new_york, "entry") == client_order_id("db", "SPY", in_utc, "entry")
    assert client_order_id("db", "SPY", in_new_york, "entry") != client_order_id(
        "db", "SPY", in_new_york + timedelta(minutes=1), "entry"
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        client_order_id("db", "SPY", in_new_york.replace(tzinfo=None), "entry")


def test_metrics() -> None:
    assert profit_factor([100, -50, 50]) == 3.0
    assert math.isinf(profit_factor([10])) and profit_factor([]) == 0.0
    assert max_drawdown_pct([100, 120, 90, 130]) == pytest.approx(-25.0)
    assert sharpe([1, 1, 1], 100) == 0.0
    s = summarize([100, -50], [100, -50], [1000, 1100, 1050], 1000)
    assert (s.trades, s.win_rate, s.expectancy, s.total_pnl) == (2, 0.5, 25.0, 50)
    assert s.max_drawdown_pct == pytest.approx(-100 * 50 / 1100)


def test_masked_output_and_wanted_agree_with_a_plain_reference() -> None:
    """The hand-unrolled masking (it runs per symbol per bar) against the obvious version."""
    import random

    from core.policy.base import action_mask, masked_output
    from core.types import Action

    def reference(raw: list[float], mask: tuple[bool, ...]) -> tuple[list[float], int]:
        kept = [p if m and p > 0 else 0.0 for p, m in zip(raw, mask, strict=True)]
        total = sum(kept)
        probs = [p / total for p in kept] if total > 0 else [1.0 / sum(mask) if m else 0.0 for m in mask]
        return probs, max(range(4), key=lambda i: (probs[i], -i))

    rng = random.Random(3)
    for _ in range(2_000):
        raw = [rng.choice([0.0, rng.random(), -rng.random(), 0.5]) for _ in range(4)]
        for in_position in (False, True):
            for may_enter in (False, True):
                mask = action_mask(in_position, may_enter)
                out = masked_output(raw, mask)
                probs, best = reference(raw, mask)
                assert out.probabilities == pytest.approx(tuple(probs))
                assert out.action is Action(best) and out.confidence == pytest.approx(probs[best])
            assert out.wanted(in_position) is masked_output(raw, action_mask(in_position)).action
