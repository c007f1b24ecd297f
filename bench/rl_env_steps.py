"""Training-environment speed: steps per second without the network, on one core.

    .venv/bin/python bench/rl_env_steps.py [--sessions 20] [--steps 200000] [--chunk 1000]

Sessions are prepared first (features through the cycle's FeatureEngine; printed separately: a
training run pays it once per session). Actions are drawn ahead of time from a seeded
generator (90% hold, the rest buys and closes), so the loop times the environment only.
Target: at least 50,000 steps per second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from core.calendar import last_sessions
from core.market.synthetic import SyntheticWorld
from core.rl.env import ZeroDteEnv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    env = ZeroDteEnv(SyntheticWorld(7), last_sessions(date(2025, 12, 31), args.sessions))
    began = time.perf_counter()
    for i in range(len(env.episodes)):
        env.reset(options={"episode": i})
    prepare = time.perf_counter() - began
    actions = np.random.default_rng(args.seed).choice(4, size=args.steps, p=[0.9, 0.035, 0.035, 0.03]).tolist()
    env.reset(seed=args.seed)
    per_step_us, episodes, in_position = [], 0, 0
    step = env.step
    total_began = time.perf_counter()
    for start in range(0, args.steps, args.chunk):
        t0 = time.perf_counter()
        for a in actions[start : start + args.chunk]:
            obs, _, done, _, _ = step(a)
            if done:
                episodes += 1
                env.reset()
        per_step_us.append((time.perf_counter() - t0) / args.chunk * 1e6)
        in_position += int(obs[-1, 11] != 0)
    total = time.perf_counter() - total_began
    per_step_us.sort()
    p99 = per_step_us[min(len(per_step_us) - 1, int(0.99 * len(per_step_us)))]
    rate = args.steps / total
    each_ms = prepare / len(env.episodes) * 1000
    print(f"prepared {len(env.episodes)} session-symbols in {prepare:.2f} s ({each_ms:.0f} ms each)")
    print(
        f"{args.steps:,} steps, {episodes} episodes: {rate:,.0f} steps/s; per step over {args.chunk}-step chunks: "
        f"median {statistics.median(per_step_us):.1f} us, p99 {p99:.1f} us "
        f"(target >= 50,000 steps/s: {'met' if rate >= 50_000 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
