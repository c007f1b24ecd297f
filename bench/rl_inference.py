"""RL inference latency per cycle and symbol, and the whole cycle's latency with the RL policy.

    .venv/bin/python bench/rl_inference.py [--model models/rppo-shipped.zip] [--sessions 3]

1. `RLPolicy.decide` alone (encode the observation, one LSTM step, mask) on the real feature
   windows of synthetic sessions, LSTM state carried as in the worker.
2. The worker's full cycle (features, both policies, safeguards, pricing, broker, SQLite commit
   per cycle) divided by the two symbols.
Target: p99 of (1) at most 5 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from core.calendar import cycle_times, last_sessions
from core.market.synthetic import SyntheticWorld
from core.policy.base import Observation, action_mask
from core.policy.rl import RLPolicy
from core.rl.sessions import SessionCache
from worker.runtime import DEFAULT_MODEL, RunOptions, build_runtime


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--sessions", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    sessions = last_sessions(date(2026, 3, 19), args.sessions)
    cache = SessionCache(SyntheticWorld(7))
    policy = RLPolicy(args.model)
    mask = action_mask(False)
    samples = []
    for session in sessions:
        for symbol in ("SPY", "QQQ"):
            data = cache.get(session, symbol)
            policy.reset(symbol, session.day)
            for k in range(data.steps):
                window = data.windows[k]
                obs = Observation(symbol, lambda w=window: w, {}, 0, 0.0, 0.0)
                t0 = time.perf_counter()
                policy.decide(obs, mask)
                samples.append((time.perf_counter() - t0) * 1000.0)
    p99 = _pct(samples, 0.99)
    print(
        f"RLPolicy.decide over {len(samples):,} cycle-symbols: median {statistics.median(samples):.3f} ms, "
        f"p99 {p99:.3f} ms, max {max(samples):.3f} ms (target p99 <= 5 ms: {'met' if p99 <= 5 else 'NOT met'})"
    )

    with tempfile.TemporaryDirectory() as tmp:
        rt = build_runtime(RunOptions(db=f"sqlite:///{tmp}/c.db", model=args.model), "backtest")
        per_symbol = []
        for session in sessions:
            for now in cycle_times(session):
                t0 = time.perf_counter()
                rt.cycle.run(now)
                per_symbol.append((time.perf_counter() - t0) * 1000.0 / len(rt.market.symbols))
    print(
        f"full cycle with the RL policy, per symbol over {len(per_symbol):,} cycles: "
        f"median {statistics.median(per_symbol):.3f} ms, p99 {_pct(per_symbol, 0.99):.3f} ms"
    )


if __name__ == "__main__":
    main()
