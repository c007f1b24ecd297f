"""Cycle latency of the worker's trading cycle: rule policy, SQLite file, one commit per cycle
(as the worker runs it). Prints median, p99 and max per cycle (two symbols per cycle).

    .venv/bin/python bench/cycle_latency.py [--sessions 5]
    .venv/bin/python bench/cycle_latency.py --strategy iron_condor   # entries open iron condors
    .venv/bin/python bench/cycle_latency.py --live-guard             # with the live worker's gate check

With `--strategy` the rule policy's entries open that structure (its legs chosen from the chain
in the cycle, one multi-leg order, four legs marked every cycle while held), with the entry
safeguards opened up so that it trades through the sessions. With `--live-guard` every cycle also
passes the live worker's go-live check (worker/go_live.LiveGuard.check, on an override: the
override's id read each cycle, the gate judged only on a change).
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

from bench.structure_backtest import OPEN_UP
from core.calendar import cycle_times, last_sessions
from db.control import bootstrap, save_param_version
from db.engine import make_engine
from db.go_live import grant_override
from db.migrate import upgrade
from worker.process.go_live import open_live
from worker.runtime import RunOptions, build_runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--strategy", default=None, help="e.g. iron_condor (default: the product's defaults)")
    parser.add_argument("--live-guard", action="store_true", help="every cycle passes the live go-live check")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/latency.db"
        if args.strategy:
            upgrade(url)
            engine = make_engine(url)
            bootstrap(engine)
            save_param_version(engine, {**OPEN_UP, "strategy": args.strategy}, author="bench")
            engine.dispose()
        rt = build_runtime(RunOptions(db=url, seed=args.seed, flush_every=1), "worker")
        if args.live_guard:
            grant_override(rt.engine, who="bench", reason="the live check's cost per cycle", size_cap=0.5, sessions=20,
                           model_version=rt.cycle.policy.version)  # fmt: skip
            rt.cycle.live_check = open_live(rt.engine, rt.cycle.policy.version)
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
            f"commit per cycle, strategy {args.strategy or 'default'}{', live guard' if args.live_guard else ''}; "
            f"{len(trades)} trades still open)"
        )
        print(
            f"  median {statistics.median(samples):.2f} ms   p99 {p99:.2f} ms   max {samples[-1]:.2f} ms   "
            f"target p99 <= 20 ms: {'met' if p99 <= 20 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
