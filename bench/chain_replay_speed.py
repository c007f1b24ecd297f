"""Replay speed priced from real same-day chain quotes against the model-priced replay of the same
days and minutes (issue 32.7: at least 0.8x), in one run.

    .venv/bin/python bench/chain_replay_speed.py [--chains FILE] [--data ../shared/data] [--repeats 3]

The chain file is imported once, untimed, into a scratch cache; then each repeat replays every
day through the worker's cycle (the rule policy, the broker-like simulator, every decision
persisted) with `--source chains:CACHE` (priced from the quotes) and `chains:CACHE,pricing=model`
(the surface alone), in alternating order. Each cycle is timed on its own; as backtrader's clock
starts on loaded frames, each day is read before its clock starts. Prints bars per second (median
of the repeats), the median and p99 per-cycle time, and the ratio. Needs the shared data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.calendar import cycle_times
from core.market.worlds import pick_sessions
from core.options.chain_import import import_chains
from core.options.history import OptionHistory
from worker.offline.backtest import load_session
from worker.runtime import RunOptions, build_runtime

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CHAINS = SHARED / "options" / "SPY_0DTE_chains_5min_2026-07-17_2026-08-07_cboe_delayed.parquet"


def replay(source: str, folder: str, tag: str) -> tuple[float, list[float]]:
    """(bars per second, each cycle's seconds) of one replay of every day of `source`."""
    options = RunOptions(db=f"sqlite:///{folder}/{tag}.db", source=source, seed=7, flush_every=60, model=None)
    rt = build_runtime(options, "backtest")
    sessions = pick_sessions(rt.world, None, None, None)
    cycles: list[float] = []
    bars = 0
    for session in sessions:
        load_session(rt.world, session, rt.market)  # type: ignore[arg-type]
        for now in cycle_times(session):
            began = time.perf_counter()
            rt.cycle.run(now)
            rt.control.tick(now, reuse_cycle_read=True)
            cycles.append(time.perf_counter() - began)
        bars += session.minutes * len(rt.market.symbols)
    began = time.perf_counter()
    rt.journal.flush()
    total = sum(cycles) + time.perf_counter() - began
    rt.engine.dispose()
    return bars / total, cycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=Path, default=CHAINS)
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.chains.is_file():
        print(f"(no chain file {args.chains}: nothing is timed)")
        return
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder) / "cache"
        result = import_chains(OptionHistory(cache), [args.chains], args.data / "5min")
        days = len(result.days)
        source = f"chains:{cache},vix={args.data}"
        runs: dict[str, list[tuple[float, list[float]]]] = {"quotes": [], "model": []}
        for i in range(args.repeats):
            order = ("quotes", "model") if i % 2 == 0 else ("model", "quotes")
            for kind in order:
                spec = source if kind == "quotes" else f"{source},pricing=model"
                runs[kind].append(replay(spec, folder, f"{kind}-{i}"))
    speed = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
    print(f"{days} chain days ({args.chains.name}), medians of {args.repeats} replays each:")
    for kind, label in (("quotes", "priced from chain quotes"), ("model", "priced by the model alone")):
        cycles = np.concatenate([np.asarray(r[1]) for r in runs[kind]]) * 1e3
        print(
            f"  {label:<26} {speed[kind]:>8,.0f} bars/s; per cycle median {np.median(cycles):.3f} ms, "
            f"p99 {np.percentile(cycles, 99):.3f} ms"
        )
    print(f"ratio quotes / model: {speed['quotes'] / speed['model']:.2f}x (target >= 0.8x)")


if __name__ == "__main__":
    main()
