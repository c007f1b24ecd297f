"""Backtests with structures against single-leg backtests: bars per second on the same sessions,
interleaved in one run (issue 23's target: structures at least half the single-leg speed).

    .venv/bin/python bench/structure_backtest.py [--sessions 20] [--repeats 3]

Both runs are the product's own backtest (every decision persisted to SQLite, the broker-like
simulator, the rule policy with the entry safeguards opened up so that both trade all day): one
with `strategy long_option`, one with `strategy iron_condor` (four legs priced, ordered, filled
and marked each cycle a condor is held). Prints each repeat, the medians and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.calendar import last_sessions
from db.control import bootstrap, save_param_version
from db.engine import make_engine
from db.migrate import upgrade
from worker.offline.backtest import run_backtest
from worker.runtime import RunOptions

END = date(2026, 3, 19)
OPEN_UP = {"min_confidence": 0.5, "cooldown_s": 0, "max_trades_per_symbol_day": 20, "iv_rank_max": 100.0,
           "iv_rank_min": 0.0, "vix_ceiling": 150.0, "blocked_regimes": [], "policy_mode": "rules",
           "max_drawdown_pct": -100.0, "daily_loss_limit_pct": -100.0}  # fmt: skip


def one(strategy: str, start: date, end: date, seed: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bt.db"
        upgrade(url)
        engine = make_engine(url)
        bootstrap(engine)
        save_param_version(engine, {**OPEN_UP, "strategy": strategy}, author="bench")
        engine.dispose()
        result = run_backtest(RunOptions(db=url, seed=seed, flush_every=60), start=start, end=end)
        return result.bars_per_second, result.summary.trades


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    sessions = last_sessions(END, a.sessions)
    single, condor = [], []
    for i in range(a.repeats):
        s_rate, s_trades = one("long_option", sessions[0].day, sessions[-1].day, a.seed)
        c_rate, c_trades = one("iron_condor", sessions[0].day, sessions[-1].day, a.seed)
        single.append(s_rate)
        condor.append(c_rate)
        print(f"repeat {i + 1}: single-leg {s_rate:,.0f} bars/s ({s_trades} trades) | "
              f"iron condor {c_rate:,.0f} bars/s ({c_trades} trades)")  # fmt: skip
    ms, mc = statistics.median(single), statistics.median(condor)
    print(f"\nmedians over {a.repeats} repeats, {a.sessions} sessions: single-leg {ms:,.0f} bars/s, "
          f"iron condor {mc:,.0f} bars/s: {mc / ms:.2f}x (target >= 0.5x)")  # fmt: skip


if __name__ == "__main__":
    main()
