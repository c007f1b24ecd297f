"""Real beside model on the same days (issue 32.2): each policy and structure replayed on the chain
days priced from the real quotes and priced by the model alone, side by side.

    .venv/bin/python bench/real_vs_model.py [--chains FILE] [--data ../shared/data] [--model PATH]

The chain file is imported once into a scratch cache; every row is two replays through the
worker's cycle (`--source chains:CACHE` and `chains:CACHE,pricing=model`: the same days, the same
minutes split from the 5-minute bars, only the option prices differ): the rules baseline, each
credit structure (the `strategy` parameter) and the RL model (models/rppo-shipped.zip, where
present). Printed: trades, total P&L with its 95% bootstrap interval over days (seeded, as
worker/offline/evaluate.py computes intervals, core/rl/report.py), credit received (opening
credits of credit structures) and the gap real - model. In sample: these are the only days of
real chains the project has; nothing here was fitted on them by this script.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from core.options.chain_import import import_chains
from core.options.history import OptionHistory
from core.rl.report import DayResult, bootstrap_report
from db.models import Equity, Trade
from worker.offline.backtest import run_backtest, scratch_database
from worker.runtime import DEFAULT_MODEL, RunOptions

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CHAINS = SHARED / "options" / "SPY_0DTE_chains_5min_2026-07-17_2026-08-07_cboe_delayed.parquet"
CASH = 100_000.0


@dataclass(frozen=True)
class Side:
    """One replay's figures."""

    trades: int
    pnl: float
    pnl_lo: float | None
    pnl_hi: float | None
    credit: float

    def text(self) -> str:
        interval = "" if self.pnl_lo is None else f" [{self.pnl_lo:,.0f}, {self.pnl_hi:,.0f}]"
        return f"{self.trades:>4} trades  P&L {self.pnl:>9,.0f}{interval:<22}  credit {self.credit:>9,.0f}"


def replay(source: str, values: dict[str, Any], model: str | None, folder: Path, tag: str) -> Side:
    url = f"sqlite:///{folder / tag}.db"
    engine = scratch_database(url, values, "bench", tag)
    result = run_backtest(RunOptions(db=url, source=source, seed=7, flush_every=60, model=model))
    with engine.connect() as conn:
        trades = conn.execute(
            select(Trade.entry_time, Trade.realized_pnl, Trade.entry_avg, Trade.entry_qty, Trade.structure).where(
                Trade.run_id == result.run_id, Trade.status == "closed"
            )
        ).all()
        equity = conn.execute(select(Equity.time, Equity.equity).where(Equity.run_id == result.run_id)).all()
    engine.dispose()
    last: dict[str, float] = {}
    for t, e in sorted(equity):
        last[t.date().isoformat()] = e
    closes = [CASH, *last.values()]
    by_day: dict[str, list[float]] = {d: [] for d in last}
    for t, pnl, *_ in trades:
        by_day.setdefault(t.date().isoformat(), []).append(float(pnl))
    days = [DayResult(d, closes[i + 1] - closes[i], tuple(by_day[d])) for i, d in enumerate(last)]
    report = bootstrap_report(days, CASH, seed=0)
    credit = sum(-avg * qty * 100.0 for _, _, avg, qty, kind in trades if kind and avg < 0)
    return Side(len(trades), float(report.get("pnl") or 0.0), report.get("pnl_lo"), report.get("pnl_hi"), credit)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=Path, default=CHAINS)
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args()
    if not args.chains.is_file():
        print(f"(no chain file {args.chains}: nothing to compare)")
        return
    rows: list[tuple[str, dict[str, Any], str | None]] = [("rules", {}, None)]
    rows += [(s, {"strategy": s}, None) for s in ("put_credit_spread", "call_credit_spread", "iron_condor")]
    if Path(args.model).is_file():
        rows.append(("rl model", {}, args.model))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result = import_chains(OptionHistory(folder / "cache"), [args.chains], args.data / "5min")
        source = f"chains:{folder / 'cache'},vix={args.data}"
        print(f"{len(result.days)} chain days, {result.total.kept:,} quotes; P&L intervals: 95% bootstrap over days")
        for i, (name, values, model) in enumerate(rows):
            real = replay(source, values, model, folder, f"real-{i}")
            alone = replay(f"{source},pricing=model", values, model, folder, f"model-{i}")
            print(f"{name:<19} real quotes  {real.text()}")
            print(f"{'':<19} model alone {alone.text()}")
            print(
                f"{'':<19} gap (real - model) P&L {real.pnl - alone.pnl:,.0f}, credit {real.credit - alone.credit:,.0f}"
            )


if __name__ == "__main__":
    main()
