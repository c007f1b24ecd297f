"""The out-of-sample result against the training budget: does training longer help?

    .venv/bin/python bench/timesteps_curve.py [--timesteps 25000 50000 100000 200000] [--seeds 1 2]
        [--source csv:../shared/data] [--folds 3 --train-days 60 --test-days 20] [--ray-address auto]

For each budget, the walk-forward evaluation `make model` runs (the same folds, seeds, broker-like
simulator, calibration days and baselines; fanned out on Ray, a cluster by `--ray-address`) into
a throwaway database, and one line per budget: the pooled out-of-sample trades, median holding
time, win rate and P&L with its 95% interval of the candidates at the shipped threshold
(min_confidence 0.75) and at 0.50, the best seed's selection score against the best baseline,
and the wall time. The price-model error band is skipped (`--no-error-band`): it moves every
budget alike. The README quotes the latest run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from worker.offline.evaluate import Evaluation
from worker.offline.evaluate import parse_args as evaluation_args
from worker.offline.ship_model import candidates, default_source, pooled_metrics


def evaluate(budget: int, a: argparse.Namespace, folder: Path) -> tuple[list[dict[str, Any]], float]:
    argv = [
        "--source", a.source, "--folds", str(a.folds), "--train-days", str(a.train_days), "--test-days",
        str(a.test_days), "--seeds", *map(str, a.seeds), "--timesteps", str(budget), "--thresholds", "0.5",
        "--no-error-band", "--db", f"sqlite:///{folder / f'curve-{budget}.db'}",
    ]  # fmt: skip
    if a.ray_address:
        argv += ["--ray-address", a.ray_address]
    began = time.perf_counter()
    evaluation = Evaluation(evaluation_args(argv))
    evaluation.run()
    return evaluation.rows, time.perf_counter() - began


def summary(rows: list[dict[str, Any]], policy: str, seeds: list[int]) -> str:
    """Trades, median hold, win rate and P&L [interval] of `policy`, pooled over folds and seeds."""
    got = [pooled_metrics(rows, policy, s) for s in seeds]
    trades = sum(int(m.get("trades") or 0) for m in got)
    pnl = sum(float(m.get("pnl") or 0.0) for m in got)
    holds = [float(m["hold_median_min"]) for m in got if m.get("hold_median_min") is not None]
    wins = [float(m["win_rate"]) * int(m.get("trades") or 0) for m in got if m.get("win_rate") is not None]
    win = f"{100.0 * sum(wins) / trades:.0f}%" if trades else "-"
    hold = f"{statistics.median(holds):.0f}" if holds else "-"
    per_seed = ", ".join(f"{float(m.get('pnl') or 0):,.0f} [{float(m.get('pnl_lo') or 0):,.0f}]" for m in got)
    return f"{trades} | {hold} | {win} | {pnl:,.0f} ({per_seed})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timesteps", type=int, nargs="+", default=[25_000, 50_000, 100_000, 200_000])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--source", default=None, help="csv:DIR or synthetic (default: ../shared/data if present)")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--train-days", type=int, default=60)
    p.add_argument("--test-days", type=int, default=20)
    p.add_argument("--ray-address", default=None)
    a = p.parse_args()
    a.source = a.source or default_source()
    print(f"walk-forward on {a.source}: {a.folds} folds, train {a.train_days}, test {a.test_days}, seeds {a.seeds}")
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for budget in a.timesteps:
            rows, wall = evaluate(budget, a, Path(tmp))
            best = max(candidates(rows, a.seeds), key=lambda c: (c.eligible, c.score, c.pnl, -c.seed))
            lines.append(
                f"| {budget:,} | {summary(rows, 'rl', a.seeds)} | {summary(rows, 'rl@0.50', a.seeds)} | "
                f"{best.score:,.0f} (seed {best.seed}, {best.trades} trades) | {wall / 60:.1f} |"
            )
            print(lines[-1], flush=True)
    print(
        "\n| timesteps | rl@0.75 trades | median hold min | win rate | P&L (per seed [interval low]) "
        "| rl@0.50 trades | median hold min | win rate | P&L (per seed [interval low]) "
        "| best score vs baselines | wall min |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
