"""Cycle latency of the worker's trading cycle: rule policy, SQLite file, one commit per cycle
(as the worker runs it). Prints median, p99 and max per cycle (two symbols per cycle).

    .venv/bin/python bench/cycle_latency.py [--sessions 5]
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

from core.calendar import cycle_times, last_sessions
from worker.runtime import RunOptions, build_runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rt = build_runtime(RunOptions(db=f"sqlite:///{tmp}/latency.db", seed=args.seed, flush_every=1), "worker")
        samples = []
        for session in last_sessions(date(2026, 3, 19), args.sessions):
            for now in cycle_times(session):
                started = time.perf_counter()
                rt.cycle.run(now)
                rt.control.tick(now)
                samples.append((time.perf_counter() - started) * 1000.0)
        samples.sort()
        p99 = samples[int(len(samples) * 0.99) - 1]
        trades = rt.journal.open_trades()
        print(
            f"cycle latency over {len(samples)} cycles ({args.sessions} sessions, SPY+QQQ, rule policy, SQLite WAL, "
            f"commit per cycle; {len(trades)} trades still open)"
        )
        print(
            f"  median {statistics.median(samples):.2f} ms   p99 {p99:.2f} ms   max {samples[-1]:.2f} ms   "
            f"target p99 <= 20 ms: {'met' if p99 <= 20 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
