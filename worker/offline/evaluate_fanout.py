"""Running the evaluation's tasks: in this process one after another, or as Ray tasks (a local
Ray on this machine's cores, started and stopped here, or an existing cluster by address).

Results come back in the serial order whatever order the tasks finish in, so the stored rows
are the same either way. A progress bar counts every task across folds, seeds and policies.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tqdm import tqdm

from worker.offline.evaluate_tasks import (
    Fold,
    PolicyResult,
    Settings,
    random_task,
    rl_task,
    rules_task,
    strategy_task,
)

ROOT = Path(__file__).resolve().parents[2]
# What a cluster's workers need of this checkout (the code and the models), not its environment or data.
UPLOAD_EXCLUDES = [".venv", "data", "artifacts", ".git", "**/__pycache__", ".pytest_cache", ".ruff_cache"]


def serial_results(settings: Settings, folds: list[Fold], seeds: list[int]) -> list[PolicyResult]:
    out: list[PolicyResult] = []
    per_fold = 2 * len(seeds) + 1 + len(settings.strategies)
    with tqdm(total=len(folds) * per_fold, desc="evaluation tasks", unit="task") as bar:
        for fold in folds:
            for seed in seeds:
                rl = rl_task(settings, fold, seed)
                out += [rl, random_task(settings, fold, seed, rl)]
                bar.update(2)
            out.append(rules_task(settings, fold))
            bar.update(1)
            for strategy in settings.strategies:
                out.append(strategy_task(settings, fold, strategy))
                bar.update(1)
    return out


def _init_ray(workers: int, address: str | None) -> bool:
    """Connect to the cluster at `address`, or start a local Ray with `workers` CPUs; True when
    this process started it (and must stop it)."""
    import ray

    if address:
        ray.init(
            address=address,
            runtime_env={"working_dir": str(ROOT), "excludes": UPLOAD_EXCLUDES},
            log_to_driver=False,
        )
        return False
    python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(
        num_cpus=workers,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": python_path}},
    )
    return True


def ray_results(
    settings: Settings, folds: list[Fold], seeds: list[int], workers: int, address: str | None
) -> list[PolicyResult]:
    import ray

    started = _init_ray(workers, address)
    try:
        rl_remote = ray.remote(num_cpus=1)(rl_task)
        random_remote = ray.remote(num_cpus=1)(random_task)
        rules_remote = ray.remote(num_cpus=1)(rules_task)
        strategy_remote = ray.remote(num_cpus=1)(strategy_task)
        refs: list[Any] = []
        for fold in folds:
            for seed in seeds:
                rl = rl_remote.remote(settings, fold, seed)
                refs += [rl, random_remote.remote(settings, fold, seed, rl)]  # Ray hands it rl's result
            refs.append(rules_remote.remote(settings, fold))
            refs += [strategy_remote.remote(settings, fold, strategy) for strategy in settings.strategies]
        pending = list(refs)
        with tqdm(total=len(refs), desc="evaluation tasks", unit="task") as bar:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                bar.update(len(done))
        return list(ray.get(refs))
    finally:
        if started:
            ray.shutdown()
