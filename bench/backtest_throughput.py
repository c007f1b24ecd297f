"""Backtest throughput: the product's backtest (every decision persisted to SQLite) against
backtrader running a simple rule on the same bars, in the same run.

    .venv/bin/python bench/backtest_throughput.py [--sessions 60] [--repeats 3]
    .venv/bin/python bench/backtest_throughput.py --model models/rppo-synthetic-s7.zip   # RL policy

The product's figure includes everything the cycle does: features, policy, regime, safeguards,
0DTE option pricing, the simulated broker, and one decision row per bar and symbol. Backtrader's
rule (EMA 9/21 + RSI 14) trades the underlying only and persists nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._backtrader_rule import frames, run_backtrader
from core.calendar import last_sessions
from core.market.synthetic import SyntheticWorld
from worker.backtest import run_backtest
from worker.runtime import RunOptions

END = date(2026, 3, 19)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", help="run the product on this RL model (target: at least backtrader's speed)")
    args = parser.parse_args()
    target = 1.0 if args.model else 2.0
    policy = f"RL model {args.model}" if args.model else "rule policy"
    sessions = last_sessions(END, args.sessions)
    ours, theirs = [], []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            options = RunOptions(db=f"sqlite:///{tmp}/bt.db", seed=args.seed, flush_every=60, model=args.model)
            result = run_backtest(options, start=sessions[0].day, end=sessions[-1].day)
        ours.append(result.bars_per_second)
        bars, seconds = run_backtrader(frames(SyntheticWorld(args.seed), sessions))
        theirs.append(bars / seconds)
        print(
            f"repeat {i + 1}: product {result.bars_per_second:,.0f} bars/s ({result.bars} bars, "
            f"{result.summary.trades} trades) | backtrader {bars / seconds:,.0f} bars/s ({bars} bars)"
        )
    mine, ref = statistics.median(ours), statistics.median(theirs)
    ratios = sorted(a / b for a, b in zip(ours, theirs, strict=True))
    print(
        f"median over {args.repeats} ({policy}): product {mine:,.0f} bars/s, backtrader {ref:,.0f} bars/s, "
        f"ratio {mine / ref:.2f}x (target >= {target:g}x: {'met' if mine >= target * ref else 'NOT met'}); "
        f"per-repeat ratios {', '.join(f'{r:.2f}x' for r in ratios)}"
    )


if __name__ == "__main__":
    main()
