"""Walk-forward evaluation fanned out on Ray against the same evaluation run serially, in one run.

    .venv/bin/python bench/evaluate_speedup.py [--workers 2] [--folds 3] [--seeds 1 2] [--timesteps 8192]

Both runs evaluate the same folds, seeds and policies (training included) on the synthetic world
and store their rows in throwaway databases; the script checks that the rows are the same and
prints both wall times and the speed-up (target on this 2-core machine: at least 1.7x). The Ray
run's time includes starting and stopping the local Ray.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db import model_store
from db.engine import make_engine
from worker.offline.evaluate import main as evaluate_main


def run(url: str, workers: int, args: argparse.Namespace) -> float:
    argv = [
        "--source", "synthetic", "--start", "2025-09-01", "--end", "2025-12-31", "--folds", str(args.folds),
        "--train-days", "20", "--test-days", "10", "--seeds", *map(str, args.seeds), "--timesteps",
        str(args.timesteps), "--db", url, "--workers", str(workers),
    ]  # fmt: skip
    began = time.perf_counter()
    evaluate_main(argv)
    return time.perf_counter() - began


def rows(url: str) -> list[tuple[object, ...]]:
    return sorted(
        (r["fold"], r["policy"], r["seed"], json.dumps(r["metrics"], sort_keys=True))
        for r in model_store.evaluations(make_engine(url))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timesteps", type=int, default=8192)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        serial_url, ray_url = f"sqlite:///{tmp}/serial.db", f"sqlite:///{tmp}/ray.db"
        serial = run(serial_url, 1, args)
        fanned = run(ray_url, args.workers, args)
        same = rows(serial_url) == rows(ray_url)
    tasks = args.folds * (2 * len(args.seeds) + 1)
    print(
        f"{args.folds} folds x {len(args.seeds)} seeds, {tasks} tasks ({args.timesteps} training steps each RL task): "
        f"serial {serial:.1f} s, Ray with {args.workers} workers {fanned:.1f} s: speed-up {serial / fanned:.2f}x "
        f"(target >= 1.7x: {'met' if serial / fanned >= 1.7 else 'NOT met'}); rows identical: {same}"
    )


if __name__ == "__main__":
    main()
