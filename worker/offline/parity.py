"""Parity reports: every recorded paper or live day replayed on its own recordings, compared.

    python -m worker.parity [--db URL] [--start D --end D] [--execution broker|instant] [--model PATH]

For each recorded day in the worker's database the day is replayed through the same cycle
(`--source recorded`, into a throwaway SQLite file) with the parameter version the live day
used and the account's equity at its first cycle; then the live and replayed decisions and
orders are compared (core/parity.py) and the result is stored in the worker's database
(`parityday`, `parityfill`), which the console's Parity page lists, worst day first.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, delete, func, select

from core.calendar import session_for
from core.parity import FillOutcome, ParityDay, compare_decisions, compare_orders, worst_first
from db.control import utcnow
from db.engine import database_url, make_engine, session_scope
from db.migrate import upgrade
from db.models import Decision, Equity, Order, ParamVersion
from db.models import ParityDay as ParityDayRow
from db.models import ParityFill as ParityFillRow
from worker.offline.backtest import run_backtest, scratch_database
from worker.offline.recorded import RecordedWorld
from worker.runtime import RunOptions

DECISION_COLUMNS = ("time", "symbol", "action", "final_action", "blocked_by", "exit_code")
ORDER_COLUMNS = ("created_at", "contract", "side", "opening", "reason_code", "filled_qty", "avg_fill_price")


def rows_between(
    engine: Engine, model: type, columns: tuple[str, ...], time_col: str, lo: datetime, hi: datetime
) -> pd.DataFrame:
    """`columns` of `model`'s rows with `time_col` in [lo, hi], oldest first."""
    col = getattr(model, time_col)
    with engine.connect() as conn:
        rows = conn.execute(
            select(*(getattr(model, c) for c in columns)).where(col >= lo, col <= hi).order_by(col)
        ).all()
    return pd.DataFrame(rows, columns=list(columns))


def _live_window(engine: Engine, day: date) -> tuple[datetime, datetime, int | None, float | None] | None:
    """The first and last live decision of the day, its parameter version and opening equity."""
    session = session_for(day)
    if session is None:
        return None
    with engine.connect() as conn:
        lo, hi = conn.execute(
            select(func.min(Decision.time), func.max(Decision.time)).where(
                Decision.time >= session.open, Decision.time <= session.close
            )
        ).one()
        if lo is None:
            return None
        version = conn.execute(select(Decision.param_version).where(Decision.time == lo).limit(1)).scalar()
        equity = conn.execute(
            select(Equity.equity).where(Equity.time >= session.open, Equity.time <= hi).order_by(Equity.time).limit(1)
        ).scalar()
    return lo, hi, version, equity


def replay_day(live_url: str, day: date, options: RunOptions, workdir: Path) -> ParityDay | None:
    """Replay one recorded day and compare it with what the live worker did; None: nothing recorded."""
    live = make_engine(live_url, role="reader")
    window = _live_window(live, day)
    if window is None:
        return None
    lo, hi, version, equity = window
    replay_url = f"sqlite:///{workdir / f'parity-{day}.db'}"
    values = None
    if version is not None:
        with live.connect() as conn:
            values = conn.execute(select(ParamVersion.values).where(ParamVersion.id == version)).scalar()
    replay_engine = scratch_database(replay_url, dict(values or {}), "parity", f"live version {version}")
    run = replace(options, db=replay_url, source=f"recorded:{live_url}", cash=equity or options.cash, record=False)
    run_backtest(run, start=day, end=day, run_id=f"parity-{day}")
    agreement = compare_decisions(
        rows_between(live, Decision, DECISION_COLUMNS, "time", lo, hi),
        rows_between(replay_engine, Decision, DECISION_COLUMNS, "time", lo, hi),
    )
    fills = compare_orders(
        rows_between(live, Order, ORDER_COLUMNS, "created_at", lo, hi),
        rows_between(replay_engine, Order, ORDER_COLUMNS, "created_at", lo, hi),
    )
    replay_engine.dispose()
    live.dispose()
    return ParityDay(day, agreement, fills)


def store(engine: Engine, result: ParityDay, execution: str, model_version: str) -> None:
    """Replace the stored report of that day (a rerun supersedes it)."""
    p10, median, p90 = result.cost_quantiles()
    key = result.day.isoformat()
    a = result.agreement
    with session_scope(engine) as s:
        s.execute(delete(ParityFillRow).where(ParityFillRow.day == key))  # type: ignore[arg-type]
        s.execute(delete(ParityDayRow).where(ParityDayRow.day == key))  # type: ignore[arg-type]
        s.add(
            ParityDayRow(
                day=key,
                computed_at=utcnow(),
                execution=execution,
                model_version=model_version,
                decisions=a.compared,
                agreeing=a.agreeing,
                agreement_pct=a.agreement_pct,
                fills_both=result.count(FillOutcome.BOTH),
                live_only=result.count(FillOutcome.LIVE_ONLY),
                sim_only=result.count(FillOutcome.SIM_ONLY),
                cost_p10=p10,
                cost_median=median,
                cost_p90=p90,
                slippage_pct_median=result.median_slippage_pct(),
                differences=[
                    {"time": d.time.isoformat(), "symbol": d.symbol, "live": d.live, "replayed": d.replayed}
                    for d in a.differences
                ],
            )
        )
        for f in result.fills:
            s.add(
                ParityFillRow(
                    day=key,
                    time=f.time,
                    contract=f.contract,
                    side=f.side,
                    opening=f.opening,
                    reason_code=f.reason_code,
                    live_qty=f.live_qty,
                    live_price=f.live_price,
                    sim_qty=f.sim_qty,
                    sim_price=f.sim_price,
                    outcome=f.outcome.value,
                    slippage=f.slippage,
                    slippage_pct=f.slippage_pct,
                    cost_per_contract=f.cost_per_contract,
                )
            )


def run_parity(
    live_url: str, options: RunOptions, start: date | None = None, end: date | None = None
) -> list[ParityDay]:
    """Replay and store every recorded day in [start, end]; returns them worst first."""
    upgrade(live_url)
    engine = make_engine(live_url)
    days = [s.day for s in RecordedWorld(engine).sessions(start, end)]
    results = []
    model_version = Path(options.model).stem if options.model else "rules"
    with tempfile.TemporaryDirectory() as tmp:
        for day in days:
            result = replay_day(live_url, day, options, Path(tmp))
            if result is not None:
                store(engine, result, options.execution, model_version)
                results.append(result)
    engine.dispose()
    return worst_first(results)


def format_day(d: ParityDay) -> str:
    p10, median, p90 = d.cost_quantiles()
    cost = (
        "no fills on both sides"
        if median is None
        else f"live minus sim ${median:+.2f}/contract (p10 {p10:+.2f}, p90 {p90:+.2f})"
    )
    return (
        f"{d.day}: decisions agree {d.agreement.agreeing}/{d.agreement.compared} ({d.agreement.agreement_pct:.1f}%); "
        f"fills both {d.count(FillOutcome.BOTH)}, live only {d.count(FillOutcome.LIVE_ONLY)}, "
        f"sim only {d.count(FillOutcome.SIM_ONLY)}; {cost}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Replay recorded days and compare them with what the worker did.")
    parser.add_argument("--db", help="the worker's database (default: DATABASE_URL or sqlite:///data/worker.db)")
    parser.add_argument("--start", type=date.fromisoformat)
    parser.add_argument("--end", type=date.fromisoformat)
    parser.add_argument("--execution", choices=("broker", "instant"), default="broker")
    parser.add_argument("--model", help="the RecurrentPPO zip the live days ran (default: rules)")
    args = parser.parse_args()
    url = database_url(args.db)
    results = run_parity(url, RunOptions(execution=args.execution, model=args.model), args.start, args.end)
    if not results:
        raise SystemExit(f"{url}: no recorded days (paper and live workers record; see python -m db.recordings)")
    print(f"{len(results)} recorded days, worst first:")
    for d in results:
        print(format_day(d))
