"""`make model`'s command: walk-forward over seeds, the out-of-sample winner shipped with its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, insert, text
from streamlit.testing.v1 import AppTest

from core.policy.rl import RLPolicy
from db import model_store
from db.control import save_param_version
from db.models import Run
from tests.console_helpers import open_page
from tests.support import ROOT
from worker.offline.ship_model import candidates, choose_seed, markdown, oos_table, verdict


def _row(policy: str, seed: int | None, pnl: float, lo: float = 0.0, trades: int = 30) -> dict[str, Any]:
    metrics = {"pnl": pnl, "pnl_lo": lo, "pnl_hi": pnl + 1, "trades": trades}
    return {"fold": -1, "policy": policy, "seed": seed, "metrics": metrics}


def test_doing_nothing_cannot_win_and_the_score_is_against_the_best_baseline() -> None:
    baselines = [_row("rules", None, -900.0, -2_000.0), _row("underlying", None, 50.0, -300.0), _row("hold", None, 0.0)]
    rows = [
        _row("rl", 1, 0.0, 0.0, trades=0),  # never trades: ties holding cash, not eligible
        _row("rl", 2, 400.0, -100.0),
        _row("rl", 3, 900.0, -250.0),  # more P&L, but a wider interval
        _row("random", 2, 10.0, -50.0),
        _row("random", 3, 10.0, -400.0),
        *baselines,
    ]
    assert choose_seed(rows, [1, 2, 3]) == 2, "the lower bound against the best baseline, not the point P&L"
    ranked = {c.seed: c for c in candidates(rows, [1, 2, 3])}
    assert not ranked[1].eligible and ranked[2].best_baseline == "hold" and ranked[2].score == -100.0
    assert "No candidate beats holding cash" in verdict(ranked[2])
    winner = [_row("rl", 1, 5_000.0, 1_200.0), _row("random", 1, 10.0, -50.0), *baselines]
    assert verdict(candidates(winner, [1])[0]).endswith("every baseline at the lower end of its interval.")
    idle = [_row("rl", 1, 0.0, 0.0, trades=0), _row("rl", 2, -50.0, -500.0, trades=3), *baselines]
    assert choose_seed(idle, [1, 2]) == 1 and "was not chosen on merit" in verdict(candidates(idle, [1])[0])


def test_the_table_puts_the_chosen_seed_beside_the_baselines_with_intervals() -> None:
    rows = [_row("rl", 1, 10.0), _row("rl", 2, 20.0), _row("random", 2, -5.0), _row("random", 1, 7.0)]
    rows += [_row("hold", None, 0.0), _row("underlying", None, 30.0)]
    table = oos_table(rows, 2)
    assert [(r["policy"], r["pnl"]) for r in table] == [
        ("rl", 20.0),
        ("random", -5.0),
        ("hold", 0.0),
        ("underlying", 30.0),
    ]
    assert "| rl |" in markdown(table, 100_000.0) and "20 [0, 21]" in markdown(table, 100_000.0)


def test_make_models_command_ships_the_chosen_seed_and_its_out_of_sample_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, out = f"sqlite:///{tmp_path / 'eval.db'}", tmp_path / "models" / "shipped.zip"
    args = ["--source", "synthetic", "--seeds", "1", "2", "--timesteps", "512", "--folds", "2"]
    args += ["--train-days", "10", "--test-days", "2", "--workers", "1", "--db", db, "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "worker.ship_model", *args], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    meta = json.loads(out.with_suffix(".json").read_text())
    selection = meta["metrics"]["selection"]
    best = max(selection["candidates"], key=lambda c: (c["eligible"], c["score"], c["pnl"], -c["seed"]))
    assert selection["chosen_seed"] == best["seed"] and selection["seeds_compared"] == 2
    assert selection["verdict"] in done.stdout, "the command says what the selection found"
    calibration = meta["metrics"]["confidence_calibration"]
    assert calibration["days"] == 5, "the last 5 of 10 training days were held back to calibrate the confidence"
    assert calibration["x"] or calibration["method"].startswith("none: fewer than")
    assert {r["policy"] for r in selection["out_of_sample"]} >= {"rl", "rules", "hold"}
    assert meta["model_version"] == f"rppo-synthetic-wf-s{best['seed']}" and meta["seed"] == best["seed"]
    assert meta["command"].startswith("python -m worker.ship_model --source synthetic")
    policies = [r["policy"] for r in selection["out_of_sample"]]
    assert {"rl", "random", "rules", "hold", "underlying"} <= set(policies)
    assert RLPolicy(out).version == meta["model_version"], "the shipped model loads into the pipeline"
    engine = create_engine(db)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM modelevaluation WHERE evaluation_id = :e"), {"e": selection["evaluation_id"]}
        ).scalar()
    engine.dispose()
    assert stored and stored > 0, "the walk-forward's rows are in the database for the Models page"
    assert "| rl |" in done.stdout and "shipped" in done.stdout
    _models_page_shows_the_candidates(db, meta, monkeypatch)


def _models_page_shows_the_candidates(db: str, meta: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The Models page, once a worker runs the shipped model: each candidate beside the baselines."""
    at = open_page(db, "models", monkeypatch)  # migrates and seeds the control rows (policy_mode rl)
    engine = create_engine(db)
    model_store.register_model(engine, meta["model_version"], "models/shipped.zip", meta)
    with engine.begin() as conn:
        run = {"id": "w1", "kind": "worker", "mode": "sim", "source": "synthetic", "started_at": datetime.now(UTC)}
        conn.execute(insert(Run).values(**run, args={"model_version": meta["model_version"]}))
    engine.dispose()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    registry, table = _registry_and_candidates(at)
    assert list(registry[registry["active"]]["version"]) == [meta["model_version"]]
    assert {"candidate", "baseline"} == set(table["role"]) and {"rules", "hold", "underlying"} <= set(table["policy"])
    running = table[table["worker runs"].astype(bool)]
    assert list(running["policy"]) == ["rl"] and running["seed"].iloc[0] == str(meta["seed"])
    assert running["worker runs"].iloc[0] == f"yes: {meta['model_version']} (policy_mode rl)"
    assert any(meta["metrics"]["selection"]["verdict"] in c.value for c in at.caption)
    engine = create_engine(db)
    save_param_version(engine, {"policy_mode": "rules"}, author="alice", note="the demo trades on rules")
    engine.dispose()
    at.run()
    registry, table = _registry_and_candidates(at)
    assert not registry["active"].any(), "under policy_mode rules the model is loaded but decides nothing"
    assert list(table[table["worker runs"].astype(bool)]["policy"]) == ["rules"]


def _registry_and_candidates(at: AppTest) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The model registry and the candidates-beside-baselines table, found by their columns (the
    page also shows the shipped model's own out-of-sample record)."""
    frames = [d.value for d in at.dataframe]
    registry = next(f for f in frames if "active" in f.columns and "version" in f.columns)
    table = next(f for f in frames if "role" in f.columns)
    return registry, table
