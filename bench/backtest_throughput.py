"""Backtest throughput: the product's backtest (every decision persisted to SQLite) against
backtrader running the same rule on the same bars, in the same run.

    .venv/bin/python bench/backtest_throughput.py [--sessions 60] [--repeats 3]
    .venv/bin/python bench/backtest_throughput.py --model models/rppo-shipped.zip   # RL policy

The product's figure includes everything the cycle does: features, policy, regime, safeguards,
0DTE option pricing, the simulated broker, and one decision row per bar and symbol; it excludes
building the synthetic bars, as backtrader's excludes building its DataFrames. The reference is
backtrader running the baseline rule (trend, session VWAP and RSI in ATRs, entry window, fade /
max-hold / 15:40 exits) on the underlying, persisting nothing; the bare EMA/RSI rule the first
version of this benchmark used is timed too and printed beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._backtrader_rule import TrendRsiRule, TrendVwapRsiRule, frames, run_backtrader
from core.calendar import last_sessions
from core.market.synthetic import SyntheticWorld
from worker.offline.backtest import run_backtest
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
    ours, theirs, bare = [], [], []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            options = RunOptions(db=f"sqlite:///{tmp}/bt.db", seed=args.seed, flush_every=60, model=args.model)
            result = run_backtest(options, start=sessions[0].day, end=sessions[-1].day)
        ours.append(result.bars_per_second)
        data = frames(SyntheticWorld(args.seed), sessions)
        bars, seconds, filled = run_backtrader(data, TrendVwapRsiRule)
        theirs.append(bars / seconds)
        bare_bars, bare_seconds, _ = run_backtrader(data, TrendRsiRule)
        bare.append(bare_bars / bare_seconds)
        print(
            f"repeat {i + 1}: product {result.bars_per_second:,.0f} bars/s ({result.bars} bars, "
            f"{result.summary.trades} trades) | backtrader, same rule {bars / seconds:,.0f} bars/s ({bars} bars, "
            f"{filled} orders filled) | backtrader, bare EMA/RSI rule {bare[-1]:,.0f} bars/s"
        )
    mine, ref, ref_bare = statistics.median(ours), statistics.median(theirs), statistics.median(bare)
    ratios = sorted(a / b for a, b in zip(ours, theirs, strict=True))
    print(
        f"median over {args.repeats} ({policy}): product {mine:,.0f} bars/s, backtrader (same rule) {ref:,.0f} bars/s, "
        f"ratio {mine / ref:.2f}x (target >= {target:g}x: {'met' if mine >= target * ref else 'NOT met'}); "
        f"per-repeat ratios {', '.join(f'{r:.2f}x' for r in ratios)}; "
        f"against the bare EMA/RSI rule ({ref_bare:,.0f} bars/s): {mine / ref_bare:.2f}x"
    )


if __name__ == "__main__":
    main()
