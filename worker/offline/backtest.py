"""Backtest and replay through the very cycle the worker runs, with a simulated clock.

python -m worker.backtest --source synthetic --days 60 --seed 7 --db sqlite:///backtest.db
python -m worker.backtest --source csv:../shared/data --start 2026-01-05 --end 2026-02-27
python -m worker.backtest --source chains:../shared/data/options/SPY_0DTE_chains_5min_<days>.parquet
python -m worker.backtest --source chains:data/option_history,vix=../shared/data,pricing=model
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select

from core.calendar import Session, cycle_times
from core.error_band import BAND_ENDS, Banded
from core.market.chain_world import ChainWorld
from core.market.sim_market import World
from core.market.worlds import pick_sessions
from core.metrics import Summary, summarize
from core.params import params_to_json, validate_params
from core.policy.ensemble import PolicySet
from db.control import bootstrap, save_param_version
from db.engine import database_url, make_engine
from db.migrate import upgrade
from db.models import ControlState, Decision, Equity, Fill, Order, ParamVersion, Trade
from worker.runtime import RunOptions, Runtime, add_run_arguments, build_runtime, options_from_args


@dataclass
class BacktestResult:
    run_id: str
    sessions: int
    bars: int
    seconds: float
    summary: Summary
    hold_return_pct: float
    final_equity: float
    # how the options were priced: PriceSource -> count, over decisions that priced one and over fills
    decision_sources: dict[str, int] = field(default_factory=dict)
    fill_sources: dict[str, int] = field(default_factory=dict)
    underlying_note: str = ""  # how the underlying's minutes were made, where not real 1-minute bars

    @property
    def bars_per_second(self) -> float:
        return self.bars / self.seconds if self.seconds > 0 else float("inf")


def run_backtest(
    options: RunOptions,
    start: date | None = None,
    end: date | None = None,
    days: int | None = None,
    run_id: str | None = None,
    policy: PolicySet | None = None,
    on_session: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Every cycle of the chosen sessions; `policy` replaces the configured one (evaluations);
    `on_session(done, total)` is called after each session (progress bars)."""
    if options.mode != "sim":
        raise ValueError("backtests run on the simulator only (--mode sim)")
    rt = build_runtime(options, "backtest", run_id, policy)
    assert rt.world is not None
    sessions = pick_sessions(rt.world, start, end, days)
    if not sessions:
        raise SystemExit("no sessions in the requested range")
    bars, seconds = 0, 0.0
    for done, session in enumerate(sessions, start=1):
        load_session(rt.world, session, rt.market)  # as backtrader's clock starts on loaded frames
        began = time.perf_counter()
        for now in cycle_times(session):
            rt.cycle.run(now)
            rt.control.tick(now, reuse_cycle_read=True)  # no operator writes during a backtest
        bars += session.minutes * len(rt.market.symbols)
        seconds += time.perf_counter() - began
        if on_session is not None:
            on_session(done, len(sessions))
    began = time.perf_counter()
    rt.journal.flush()
    seconds += time.perf_counter() - began
    return _result(rt, sessions, bars, seconds)


def scratch_database(url: str, values: dict[str, Any] | None, author: str, note: str) -> Engine:
    """A migrated, bootstrapped database for one offline run (a replay, one side of a what-if),
    with `values` as its active parameter version (None: the defaults)."""
    upgrade(url)
    engine = make_engine(url)
    bootstrap(engine)
    if values:
        save_param_version(engine, values, author=author, note=note)
    return engine


def load_session(world: World, session: Session, market: object = None) -> None:
    """Build or read one session's bars (the synthetic world builds its VIX path with them) and
    its option bars where the market prices from a cache, so `seconds` counts the cycle alone."""
    history = getattr(market, "option_history", None)
    for symbol in world.symbols:
        world.session_bars(session, symbol)
        if history is not None:
            history.day(symbol, session.day)


def _result(rt: Runtime, sessions: list[Session], bars: int, seconds: float) -> BacktestResult:
    run_id = rt.journal.run_id
    with rt.engine.connect() as conn:
        pnls = [
            p
            for (p,) in conn.execute(select(Trade.realized_pnl).where(Trade.run_id == run_id, Trade.status == "closed"))
        ]
        eq = conn.execute(select(Equity.time, Equity.equity).where(Equity.run_id == run_id).order_by(Equity.id)).all()
        decided = conn.execute(
            select(Decision.price_source, func.count())
            .where(Decision.run_id == run_id, Decision.price_source.is_not(None))
            .group_by(Decision.price_source)
        ).all()
        filled = conn.execute(
            select(Fill.price_source, func.count())
            .join(Order, Order.id == Fill.order_id)
            .where(Order.run_id == run_id)
            .group_by(Fill.price_source)
        ).all()
    equity = [e for _, e in eq]
    last_by_day: dict[date, float] = {}
    for t, e in eq:
        last_by_day[t.date()] = e
    closes = [rt.options.cash, *last_by_day.values()]
    daily = list(np.diff(closes))
    summary = summarize(pnls, daily, [rt.options.cash, *equity], rt.options.cash)
    hold = []
    for symbol in rt.market.symbols:
        first = rt.world.session_bars(sessions[0], symbol)
        last = rt.world.session_bars(sessions[-1], symbol)
        hold.append(float(last.close[-1]) / float(first.open[0]) - 1.0)
    return BacktestResult(
        run_id,
        len(sessions),
        bars,
        seconds,
        summary,
        float(np.mean(hold)) * 100.0,
        equity[-1] if equity else rt.options.cash,
        {str(k): int(n) for k, n in decided},
        {str(k or "broker"): int(n) for k, n in filled},
        _underlying_note(rt.world),
    )


def _underlying_note(world: object) -> str:
    """A chain replay's minutes are not real 1-minute bars: the result says how they were made."""
    if not isinstance(world, ChainWorld):
        return ""
    return (
        f"{', '.join(world.symbols)} minutes split from coarser bars and anchored to the chain's spot "
        f"(data source {world.bar_source}, core/market/chain_world.py)"
    )


def describe_sources(counts: dict[str, int]) -> str:
    """'real_bar 62%, anchored 30%, model 8% (of 1,204)'; 'none' when nothing was priced."""
    total = sum(counts.values())
    if not total:
        return "none"
    parts = [f"{k} {n / total * 100:.0f}%" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return f"{', '.join(parts)} (of {total:,})"


def format_result(r: BacktestResult, capital: float) -> str:
    s = r.summary
    pf = "inf" if s.profit_factor == float("inf") else f"{s.profit_factor:.2f}"
    return "\n".join(
        [
            f"run {r.run_id}: {r.sessions} sessions, {r.bars} bars in {r.seconds:.1f} s "
            f"({r.bars_per_second:,.0f} bars/s)",
            f"trades            {s.trades}",
            f"win rate          {s.win_rate * 100:.1f}%",
            f"profit factor     {pf}",
            f"expectancy        {s.expectancy:,.2f} per trade",
            f"total P&L         {s.total_pnl:,.2f} ({s.total_pnl / capital * 100:+.2f}%)",
            f"Sharpe (daily)    {s.sharpe_daily:.2f}",
            f"max drawdown      {s.max_drawdown_pct:.2f}%",
            f"final equity      {r.final_equity:,.2f}",
            f"hold underlying   {r.hold_return_pct:+.2f}% (equal weight, first open to last close)",
            f"option prices     decisions: {describe_sources(r.decision_sources)}; "
            f"fills: {describe_sources(r.fill_sources)}",
            *([f"underlying        {r.underlying_note}"] if r.underlying_note else []),
        ]
    )


def band_runs(options: RunOptions, start: date | None, end: date | None, days: int | None) -> list[BacktestResult]:
    """The same backtest at the calibration error's low and high ends, each in a scratch database."""
    results = []
    engine = make_engine(options.db or database_url(None))
    try:
        values = active_values(engine)  # the parameters the main run used
    finally:
        engine.dispose()
    with tempfile.TemporaryDirectory() as tmp:
        for end_name in BAND_ENDS:
            url = f"sqlite:///{Path(tmp) / f'{end_name}.db'}"
            scratch_database(url, values, "backtest", f"error band {end_name}").dispose()
            banded = replace(options, db=url, error_band_end=end_name)
            results.append(run_backtest(banded, start, end, days, run_id=f"band-{end_name}"))
    return results


def active_values(engine: Engine) -> dict[str, Any]:
    """The active parameter version's values, validated and complete (the defaults where unset)."""
    with engine.connect() as conn:
        version = conn.execute(select(ControlState.active_param_version)).scalar()
        values = (
            conn.execute(select(ParamVersion.values).where(ParamVersion.id == version)).scalar() if version else None
        )
    return params_to_json(validate_params(dict(values or {}), strict=False))


def format_band(result: BacktestResult, low: BacktestResult, high: BacktestResult) -> str:
    """The headline figures with their values at the band's ends."""
    s, lo, hi = result.summary, low.summary, high.summary
    return "\n".join(
        [
            "at the calibration's error bounds (implied vol scaled by core/error_band.py IV_ERROR_BAND):",
            f"  total P&L       {Banded(s.total_pnl, lo.total_pnl, hi.total_pnl).text()}",
            f"  expectancy      {Banded(s.expectancy, lo.expectancy, hi.expectancy).text(',.2f')}",
            f"  trades          {s.trades} (low {lo.trades}, high {hi.trades})",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Backtest through the worker's trading cycle.")
    parser.add_argument("--start", type=date.fromisoformat)
    parser.add_argument("--end", type=date.fromisoformat)
    parser.add_argument("--days", type=int, help="number of sessions (ending at --end or the last available)")
    parser.add_argument("--flush-every", type=int, default=60, help="cycles per database commit of decisions")
    parser.add_argument(
        "--no-error-band", action="store_true", help="skip the two runs at the calibration error's bounds"
    )
    add_run_arguments(parser, default_db="sqlite:///data/backtest.db")
    args = parser.parse_args()
    options = options_from_args(args, flush_every=args.flush_every)
    days = args.days if args.days or args.start else 60
    result = run_backtest(options, args.start, args.end, days)
    print(format_result(result, args.cash))
    if not args.no_error_band:
        low, high = band_runs(options, args.start, args.end, days)
        print(format_band(result, low, high))


if __name__ == "__main__":
    main()
