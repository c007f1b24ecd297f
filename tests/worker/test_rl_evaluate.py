"""The walk-forward evaluation end to end (a tiny one), its storage, and the Models page."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from core.calendar import last_sessions
from core.rl.report import DayResult, bootstrap_report
from db import model_store
from db.engine import make_engine
from tests.console_helpers import open_page
from worker.offline.evaluate import main as evaluate_main
from worker.offline.evaluate import make_folds


def test_folds_roll_forward_without_overlap() -> None:
    sessions = last_sessions(date(2025, 12, 31), 30)
    folds = make_folds(sessions, train_days=10, test_days=5, folds=3)
    assert [f.index for f in folds] == [0, 1, 2]
    for f in folds:
        assert len(f.train) == 10 and len(f.test) == 5
        assert f.train[-1].day < f.test[0].day, "test sessions come after the training sessions"
    assert folds[-1].test[-1] == sessions[-1]
    assert folds[0].test[-1].day < folds[1].test[0].day


def test_bootstrap_intervals_contain_the_point_and_are_seeded() -> None:
    days = [
        DayResult(f"d{i}", pnl, (pnl,) if pnl else ()) for i, pnl in enumerate([120, -80, 40, 0, -30, 200, -60, 90])
    ]
    a = bootstrap_report(days, 100_000, seed=1)
    assert a == bootstrap_report(days, 100_000, seed=1)
    assert a["pnl"] == 280 and a["trades"] == 7 and a["days"] == 8
    for name in ("pnl", "win_rate", "profit_factor", "sharpe", "trades_per_day"):
        assert a[f"{name}_lo"] <= a[name] <= a[f"{name}_hi"], name  # type: ignore[operator]


def test_a_tiny_walk_forward_stores_every_policy_and_the_models_page_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'eval.db'}"
    evaluate_main(
        [
            "--source",
            "synthetic",
            "--start",
            "2025-12-01",
            "--end",
            "2025-12-10",
            "--folds",
            "1",
            "--train-days",
            "4",
            "--test-days",
            "2",
            "--seeds",
            "1",
            "--timesteps",
            "1024",
            "--db",
            url,
            "--strategies",
            "iron_condor",
        ]
    )
    printed = capsys.readouterr().out
    assert "stored as evaluation eval-" in printed
    rows = model_store.evaluations(make_engine(url))
    policies = {(r["policy"], r["fold"]) for r in rows}
    for policy in ("rl", "random", "rules", "hold", "underlying", "rl@0.50", "rl@0.60", "rl@0.70", "rules:iron_condor"):
        assert (policy, 0) in policies and (policy, -1) in policies, policy
    condors = next(r for r in rows if r["policy"] == "rules:iron_condor" and r["fold"] == 0)["metrics"]
    assert condors["note"] == "rule entries opening iron_condor" and condors["trades"] > 0
    assert condors["pnl_band_lo"] <= condors["pnl"] <= condors["pnl_band_hi"], "the structures with the error band"
    strict = next(r for r in rows if r["policy"] == "rl@0.50" and r["fold"] == 0)["metrics"]
    assert strict["note"].endswith("run at min_confidence 0.50"), "the same model, backtested at another threshold"
    hold = next(r for r in rows if r["policy"] == "hold" and r["fold"] == 0)
    assert hold["metrics"]["pnl"] == 0 and hold["metrics"]["trades"] == 0 and hold["sessions"] == 2
    rl = next(r for r in rows if r["policy"] == "rl" and r["fold"] == 0)
    assert rl["train_end"] < rl["test_start"] and rl["seed"] == 1
    rnd = next(r for r in rows if r["policy"] == "random" and r["fold"] == 0)
    assert rnd["metrics"]["trades"] <= rl["metrics"]["trades"], "random entries copy the RL trade count"
    rules = [r["metrics"] for r in rows if r["policy"] == "rules"]
    for m in rules:  # every figure beside its value at the price model's error bounds
        assert m["pnl_band_lo"] <= m["pnl"] <= m["pnl_band_hi"] and isinstance(m["pnl_decided"], bool)
    fold_rules = next(r["metrics"] for r in rows if r["policy"] == "rules" and r["fold"] == 0)
    assert fold_rules["trades"] == 0 or fold_rules["pnl_band_hi"] > fold_rules["pnl_band_lo"]
    assert hold["metrics"]["pnl_band_lo"] == hold["metrics"]["pnl_band_hi"] == 0, "cash has no price error"
    traded = [r["metrics"] for r in rows if r["policy"] in ("rules", "rl") and r["metrics"]["trades"]]
    for m in traded:  # the holding-time distribution of every policy that traded
        assert 0 <= m["hold_p10_min"] <= m["hold_median_min"] <= m["hold_p90_min"]
        assert 0.0 <= m["held_2min_or_less"] <= 1.0
    assert "at error bounds" in printed

    for policy in ("rl", "rules"):
        pooled = next(r for r in rows if r["policy"] == policy and r["fold"] == -1)["metrics"]
        buckets = pooled["confidence_buckets"]
        assert sum(b["trades"] for b in buckets.values()) == pooled["trades"], "every closed trade in a bucket"
        assert [t["min_confidence"] for t in pooled["thresholds"]] == [0.5, 0.6, 0.7, 0.75, 0.8, 0.9]

    at = open_page(url, "models", monkeypatch)
    assert at.selectbox(key="models_conf_policy").options, "the confidence section is shown"
    table = next(d.value for d in at.dataframe if {"policy", "fold"} <= set(d.value.columns))
    assert len(table) == len(rows)
    assert {"pnl_at_error_lo", "pnl_at_error_hi", "decided_by_data", "hold_median_min"} <= set(table.columns)
    assert set(table["policy"]) == {
        "rl", "random", "rules", "hold", "underlying", "rl@0.50", "rl@0.60", "rl@0.70", "rules:iron_condor"
    }  # fmt: skip
    assert len(at.get("plotly_chart")) == 2, "the results chart and the reliability curve"


def _tiny(url: str, workers: int) -> list[str]:
    return [
        "--source", "synthetic", "--start", "2025-12-01", "--end", "2025-12-12", "--folds", "2",
        "--train-days", "4", "--test-days", "2", "--seeds", "1", "2", "--timesteps", "1024",
        "--db", url, "--workers", str(workers), "--thresholds", "0.6", "--strategies", "put_credit_spread",
    ]  # fmt: skip


def test_ray_tasks_give_the_serial_runs_results(tmp_path: Path) -> None:
    """Every (fold, seed, policy) as a Ray task on a local Ray of 2 workers: the same rows as one
    process running them one after another (training included)."""
    serial_url, fanned_url = f"sqlite:///{tmp_path / 'serial.db'}", f"sqlite:///{tmp_path / 'ray.db'}"
    evaluate_main(_tiny(serial_url, 1))
    evaluate_main(_tiny(fanned_url, 2))

    def rows(url: str) -> list[tuple[object, ...]]:
        found = model_store.evaluations(make_engine(url))
        return sorted(
            (
                r["fold"],
                r["policy"],
                r["seed"],
                r["model_version"].split("-f")[-1],
                json.dumps(r["metrics"], sort_keys=True),
            )
            for r in found
        )

    serial, fanned = rows(serial_url), rows(fanned_url)
    # per fold: rl, rl@0.60 and random per seed, then rules, rules:put_credit_spread, hold, underlying;
    # then the pooled rows
    assert len(serial) == 2 * (2 * 3 + 4) + 2 * 3 + 4
    assert serial == fanned
