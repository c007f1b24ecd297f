"""Parity reports: a recorded paper day replayed on its recordings, stored, listed worst first;
and the comparison itself on hand-made frames (slippage signs, one-sided fills)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, text

from core.parity import FillOutcome, compare_decisions, compare_orders
from tests.support import ROOT
from worker.offline.parity import run_parity
from worker.runtime import RunOptions

T = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _orders(*rows: tuple[str, str, bool, int, float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "created_at": T,
                "contract": c,
                "side": side,
                "opening": opening,
                "reason_code": "x",
                "filled_qty": q,
                "avg_fill_price": p,
            }
            for c, side, opening, q, p in rows
        ]
    )


def test_slippage_is_real_minus_simulated_and_its_cost_is_positive_when_live_was_worse() -> None:
    live = _orders(("A", "buy", True, 2, 1.05), ("B", "sell", False, 1, 0.95), ("C", "buy", True, 1, 2.0))
    sim = _orders(("A", "buy", True, 2, 1.00), ("B", "sell", False, 1, 1.00), ("C", "buy", True, 0, None))
    by = {f.contract: f for f in compare_orders(live, sim)}
    assert by["A"].outcome is FillOutcome.BOTH and round(by["A"].slippage or 0, 6) == 0.05
    assert round(by["A"].cost_per_contract or 0, 6) == 5.0, "paid 5 cents more per share: $5 a contract"
    assert round(by["B"].cost_per_contract or 0, 6) == 5.0, "sold 5 cents lower: also $5 worse"
    assert round(by["A"].slippage_pct or 0, 6) == 5.0
    assert by["C"].outcome is FillOutcome.LIVE_ONLY and by["C"].cost_per_contract is None
    only_sim = compare_orders(_orders(), _orders(("D", "buy", True, 1, 1.0)))
    assert [f.outcome for f in only_sim] == [FillOutcome.SIM_ONLY]


def test_decisions_agree_only_when_every_field_does() -> None:
    base = {"time": T, "symbol": "SPY", "action": "hold", "final_action": "hold", "blocked_by": None, "exit_code": None}
    other = {**base, "symbol": "QQQ"}
    a = compare_decisions(pd.DataFrame([base, other]), pd.DataFrame([base, {**other, "blocked_by": "cooldown"}]))
    assert (a.compared, a.agreeing) == (2, 1)
    assert a.differences[0].symbol == "QQQ" and a.differences[0].replayed.endswith("cooldown/")
    missing = compare_decisions(pd.DataFrame([base]), pd.DataFrame([base, other]))
    assert missing.agreeing == 1 and missing.differences[0].live == "-"


def test_a_recorded_day_replayed_instantly_agrees_and_is_stored(recorded_paper: tuple[str, Path]) -> None:
    url, _ = recorded_paper
    [day] = run_parity(url, RunOptions(execution="instant"))
    assert day.agreement.compared > 100 and day.agreement.agreement_pct == 100.0, day.agreement.differences[:3]
    assert day.fills and all(f.outcome is FillOutcome.BOTH for f in day.fills)
    assert all(abs(f.slippage or 0.0) < 1e-9 for f in day.fills), "the fake fills at the quote, as instant does"
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT day, agreement_pct, fills_both, live_only, execution FROM parityday")).all()
        fills = conn.execute(text("SELECT COUNT(*) FROM parityfill")).scalar()
    engine.dispose()
    assert stored == [(day.day.isoformat(), 100.0, len(day.fills), 0, "instant")] and fills == len(day.fills)


def test_the_broker_model_replay_is_measured_and_a_rerun_replaces_the_day(recorded_paper: tuple[str, Path]) -> None:
    url, _ = recorded_paper
    done = subprocess.run(
        [sys.executable, "-m", "worker.parity", "--db", url], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert "recorded days, worst first" in done.stdout and "decisions agree" in done.stdout
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT execution, decisions FROM parityday")).all()
    engine.dispose()
    assert len(rows) == 1 and rows[0][0] == "broker" and rows[0][1] > 100


def test_the_calibration_reads_recorded_quotes(recorded_paper: tuple[str, Path]) -> None:
    url, _ = recorded_paper
    done = subprocess.run(
        [sys.executable, "bench/calibrate_options.py", "--source", f"recorded:{url}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"from recorded:{url}" in done.stdout and "| SPY |" in done.stdout
    assert "median signed mid error" in done.stdout, "the table says whether the model is one-sided"
    held_out = subprocess.run(
        [sys.executable, "bench/calibrate_options.py", "--source", f"recorded:{url}", "--holdout"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert held_out.returncode == 1 and "--holdout needs quotes from at least two days" in held_out.stderr
