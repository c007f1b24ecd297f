"""Replay speed: the product replaying real CSV bars and recorded sessions, beside the synthetic
market and beside backtrader running the same rule on the same real bars, in one run.

    .venv/bin/python bench/replay_speed.py [--sessions 20] [--csv ../shared/data] [--repeats 3]

Bars per second with every decision persisted (the rule policy, the broker-like simulator). The
recorded sessions are made first, untimed: a backtest of the same CSV days with the recorder on
writes the bars, VIX and every minute's near-the-money quotes (about 100 a minute), as a paper
worker would; the replay then reads them (`--source recorded:URL`) instead of pricing options.
The CSV replay priced from option bars (`--option-history`) reads a cache made first, untimed,
from the model (bench/_option_bars.py: a bar in 60% of the minutes for each contract near the
money; no vendor file covers these days), so real-bar, anchored and model prices all occur.
As backtrader's clock starts on loaded frames, each replayed day is read before its clock starts.
Needs the CSV folder (`../shared/data`); without it nothing is timed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._backtrader_rule import TrendVwapRsiRule, frames, run_backtrader
from bench._option_bars import model_option_bars
from core.market.csv_source import CsvWorld
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions


def product(source: str, sessions: list, repeats: int, option_history: str | None = None) -> float:  # type: ignore[type-arg]
    speeds = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            options = RunOptions(
                db=f"sqlite:///{tmp}/r.db",
                source=source,
                seed=7,
                flush_every=60,
                model=None,
                option_history=option_history,
            )
            speeds.append(run_backtest(options, start=sessions[0].day, end=sessions[-1].day).bars_per_second)
    return statistics.median(speeds)


def record(csv: str, sessions: list, folder: str) -> str:  # type: ignore[type-arg]
    """Record the CSV days as a worker would (untimed); returns the recordings' URL."""
    url = f"sqlite:///{folder}/recorded.db"
    options = RunOptions(db=url, source=f"csv:{csv}", seed=7, flush_every=60, model=None, record=True)
    run_backtest(options, start=sessions[0].day, end=sessions[-1].day)
    return url


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
    with tempfile.TemporaryDirectory() as folder:
        recorded_url = record(args.csv, sessions, folder)
        model_option_bars(world, sessions, Path(folder) / "option_history")
        csv = product(f"csv:{args.csv}", sessions, args.repeats)
        from_bars = product(f"csv:{args.csv}", sessions, args.repeats, f"{folder}/option_history")
        recorded = product(f"recorded:{recorded_url}", sessions, args.repeats)
        synthetic = product("synthetic", sessions, args.repeats)
    references = []
    for _ in range(args.repeats):
        bars, seconds, _ = run_backtrader(frames(world, sessions), TrendVwapRsiRule)  # type: ignore[arg-type]
        references.append(bars / seconds)
    reference = statistics.median(references)
    print(
        f"{len(sessions)} real sessions ({sessions[0].day} .. {sessions[-1].day}), medians of {args.repeats}:\n"
        f"  CSV replay       {csv:,.0f} bars/s: {csv / synthetic:.2f}x synthetic, {csv / reference:.2f}x backtrader\n"
        f"  CSV replay priced from option bars {from_bars:,.0f} bars/s: {from_bars / synthetic:.2f}x synthetic, "
        f"{from_bars / csv:.2f}x the model-priced replay\n"
        f"  recorded replay  {recorded:,.0f} bars/s: {recorded / synthetic:.2f}x synthetic, "
        f"{recorded / reference:.2f}x backtrader\n"
        f"  synthetic market on the same days {synthetic:,.0f} bars/s; backtrader (same rule, same real bars) "
        f"{reference:,.0f} bars/s\n"
        f"targets: replays >= 1x synthetic and >= 2x backtrader; priced from option bars >= 0.8x synthetic"
    )


if __name__ == "__main__":
    main()
