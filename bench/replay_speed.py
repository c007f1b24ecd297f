"""Replay speed: the product replaying real CSV bars, beside the synthetic market and beside
backtrader running the same rule on the same real bars, in one run.

    .venv/bin/python bench/replay_speed.py [--sessions 20] [--csv ../shared/data] [--repeats 3]

Bars per second with every decision persisted (the rule policy, the broker-like simulator).
Needs the CSV folder (`../shared/data`); without it only the synthetic figure is printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._backtrader_rule import TrendVwapRsiRule, frames, run_backtrader
from core.market.csv_source import CsvWorld
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions


def product(source: str, sessions: list, repeats: int) -> float:  # type: ignore[type-arg]
    speeds = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            options = RunOptions(db=f"sqlite:///{tmp}/r.db", source=source, seed=7, flush_every=60, model=None)
            speeds.append(run_backtest(options, start=sessions[0].day, end=sessions[-1].day).bars_per_second)
    return statistics.median(speeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--csv", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = parser.parse_args()
    if not Path(args.csv).is_dir():
        print(f"(no folder {args.csv}: only the synthetic market is timed)")
        return
    world = CsvWorld(args.csv)
    sessions = world.sessions()[-args.sessions :]
    csv = product(f"csv:{args.csv}", sessions, args.repeats)
    synthetic = product("synthetic", sessions, args.repeats)
    bars, seconds, _ = run_backtrader(frames(world, sessions), TrendVwapRsiRule)  # type: ignore[arg-type]
    reference = bars / seconds
    print(
        f"{len(sessions)} real sessions ({sessions[0].day} .. {sessions[-1].day}), medians of {args.repeats}: "
        f"CSV replay {csv:,.0f} bars/s, the synthetic market on the same days {synthetic:,.0f} bars/s "
        f"(CSV/synthetic {csv / synthetic:.2f}x), backtrader (same rule, same real bars) {reference:,.0f} bars/s "
        f"(CSV/backtrader {csv / reference:.2f}x)"
    )


if __name__ == "__main__":
    main()
