"""What-if: an unsaved parameter set (or another model) tried on past sessions beside the active one.

    python -m worker.whatif --params edited.json [--sessions 20] [--db URL] [--source S]
        [--model PATH] [--candidate-model PATH] [--out result.json] [--progress progress.json]

Both runs go through the same backtest cycle on the same sessions, each into its own throwaway
SQLite file, with the same seed: the worker's recorded days where the database has any (the
last N), otherwise the configured world (the source of the newest worker run, or synthetic).
Nothing is stored in the worker's database: the console's "Try on past sessions" starts this
command in a background process, follows `--progress` and shows `--out`; applying is Save.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select

from core.calendar import NY
from core.error_band import BAND_ENDS, Banded
from core.options.history import option_history_folder
from core.params import params_to_json, validate_params
from core.parity import compare_decisions
from db.engine import database_url, make_engine
from db.migrate import upgrade
from db.models import Decision, Run, Trade
from worker.offline.backtest import BacktestResult, active_values, describe_sources, run_backtest, scratch_database
from worker.offline.parity import DECISION_COLUMNS, rows_between
from worker.offline.recorded import RecordedWorld
from worker.runtime import RunOptions

SHOWN_DIFFERENCES = 5


@dataclass
class RunFigures:
    """One side of the comparison."""

    label: str
    trades: int
    total_pnl: float
    win_rate_pct: float
    profit_factor: float | None  # None: no losing trade
    max_drawdown_pct: float
    blocks: dict[str, int]
    pnl_by_day: dict[str, float]


@dataclass
class WhatIfResult:
    source: str
    sessions: list[str]
    active: RunFigures
    edited: RunFigures
    decisions: int
    decisions_changed: int
    first_changes: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    priced: dict[str, str] = field(default_factory=dict)  # side -> how its options were priced
    # side -> total P&L at the calibration error's low and high ends (core/error_band.py);
    # None while those runs are still going (the comparison is written first)
    band: dict[str, dict[str, float]] | None = None


def pick_source(engine: Engine, url: str) -> str:
    """Recorded days where there are any, else the newest worker run's world, else synthetic."""
    if RecordedWorld(engine).sessions():
        return f"recorded:{url}"
    with engine.connect() as conn:
        source = conn.execute(
            select(Run.source).where(Run.kind == "worker", Run.mode == "sim").order_by(Run.started_at.desc()).limit(1)  # type: ignore[attr-defined]
        ).scalar()
    return source or "synthetic"


def _figures(label: str, url: str, run_id: str, summary: Any) -> RunFigures:
    engine = make_engine(url, role="reader")
    with engine.connect() as conn:
        blocks = dict(
            conn.execute(
                select(Decision.blocked_by, func.count())
                .where(Decision.blocked_by.is_not(None))
                .group_by(Decision.blocked_by)  # type: ignore[union-attr]
            ).all()
        )
        closed = conn.execute(
            select(Trade.exit_time, Trade.realized_pnl).where(Trade.run_id == run_id, Trade.status == "closed")
        ).all()
    engine.dispose()
    by_day: dict[str, float] = {}
    for exit_time, pnl in closed:
        key = pd.Timestamp(exit_time).tz_convert(NY).date().isoformat()
        by_day[key] = by_day.get(key, 0.0) + float(pnl)
    pf = summary.profit_factor
    return RunFigures(
        label,
        summary.trades,
        round(summary.total_pnl, 2),
        round(summary.win_rate * 100.0, 2),
        None if pf == float("inf") else round(pf, 3),
        round(summary.max_drawdown_pct, 2),
        {str(k): int(v) for k, v in blocks.items()},
        {day: round(pnl, 2) for day, pnl in sorted(by_day.items())},
    )


def _write_json(path: Path | None, payload: dict[str, Any]) -> None:
    """Whole-file writes (write, then rename), so a reader never sees half a file."""
    if path is None:
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, default=str))
    os.replace(tmp, path)


def run_whatif(
    db_url: str,
    edited: dict[str, Any],
    sessions: int = 20,
    source: str | None = None,
    model: str | None = None,
    candidate_model: str | None = None,
    progress: Path | None = None,
) -> WhatIfResult:
    """The active parameters and `edited` on the same last `sessions` sessions. `edited` is
    validated first: a refused set raises ParamsError and nothing runs."""
    candidate = params_to_json(validate_params(edited, strict=True))
    began = time.perf_counter()
    upgrade(db_url)  # an older or new database: the schema the reads below expect
    engine = make_engine(db_url, role="reader")
    world = source or pick_source(engine, db_url)
    sides = _sides(engine, candidate, model, candidate_model)
    engine.dispose()
    figures: list[RunFigures] = []
    priced: dict[str, str] = {}
    days: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        urls = []
        for step, (label, values, side_model) in enumerate(sides):
            url = f"sqlite:///{Path(tmp) / f'{label}.db'}"

            def tick(done: int, total: int, step: int = step, label: str = label) -> None:
                _write_json(progress, {"done": step * total + done, "total": 2 * total, "phase": label})

            result = _side(url, values, label, world, side_model, sessions, None, tick)
            figures.append(_figures(label, url, label, result.summary))
            priced[label] = describe_sources(result.decision_sources)
            urls.append(url)
        a, b = (make_engine(u, role="reader") for u in urls)
        lo, hi = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
        left = rows_between(a, Decision, DECISION_COLUMNS, "time", lo, hi)
        right = rows_between(b, Decision, DECISION_COLUMNS, "time", lo, hi)
        days = sorted({pd.Timestamp(t).tz_convert(NY).date().isoformat() for t in left["time"]})
        a.dispose()
        b.dispose()
    agreement = compare_decisions(left, right, keep=SHOWN_DIFFERENCES)
    changes = [
        {
            "time": pd.Timestamp(d.time).tz_convert(NY).isoformat(),
            "symbol": d.symbol,
            "active": d.live,
            "edited": d.replayed,
        }
        for d in agreement.differences
    ]
    return WhatIfResult(
        world, days, figures[0], figures[1], agreement.compared, agreement.compared - agreement.agreeing, changes,
        round(time.perf_counter() - began, 2), priced,
    )  # fmt: skip


def _sides(
    engine: Engine, candidate: dict[str, Any], model: str | None, candidate_model: str | None
) -> tuple[tuple[str, dict[str, Any], str | None], ...]:
    """(label, parameter values, model) of the active side, read from the database, and of the
    edited one (`candidate`, already validated)."""
    return ("active", active_values(engine), model), ("edited", candidate, candidate_model or model)


def _side(
    url: str,
    values: dict[str, Any],
    label: str,
    world: str,
    model: str | None,
    sessions: int,
    band_end: str | None,
    tick: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """One side's backtest in its own scratch database (at an end of the error band, or not)."""
    scratch_database(url, values, "whatif", label).dispose()
    options = RunOptions(
        db=url,
        source=world,
        model=model,
        flush_every=390,
        seed=7,
        error_band_end=band_end,
        option_history=option_history_folder("auto"),  # real option bars wherever the cache has the day
    )
    return run_backtest(options, days=sessions, run_id=label, on_session=tick)


def add_error_band(
    result: WhatIfResult, db_url: str, edited: dict[str, Any], model: str | None, candidate_model: str | None
) -> WhatIfResult:
    """Both sides again at the calibration error's low and high ends: their total P&L there."""
    candidate = params_to_json(validate_params(edited, strict=True))
    engine = make_engine(db_url, role="reader")
    sides = _sides(engine, candidate, model, candidate_model)
    engine.dispose()
    band: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, values, side_model in sides:
            for end in BAND_ENDS:
                url = f"sqlite:///{Path(tmp) / f'{label}-{end}.db'}"
                run = _side(url, values, label, result.source, side_model, len(result.sessions), end)
                band.setdefault(label, {})[end] = round(run.summary.total_pnl, 2)
    return replace(result, band=band)


def band_text(result: WhatIfResult, side: str) -> str:
    """'-1,234 (at the calibration's error bounds: -2,000 to -900)', or why it is not there yet."""
    figures = result.active if side == "active" else result.edited
    if result.band is None:
        return f"{figures.total_pnl:,.0f} (the error band is being computed)"
    ends = result.band[side]
    return Banded(figures.total_pnl, ends["low"], ends["high"]).text()


def main() -> None:
    parser = argparse.ArgumentParser(description="Try a parameter set on past sessions beside the active one.")
    parser.add_argument("--params", required=True, help="a JSON file of parameter values (unset ones: defaults)")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--db", help="the worker's database (default: DATABASE_URL or sqlite:///data/worker.db)")
    parser.add_argument(
        "--source", help="synthetic | csv:DIR | recorded[:URL] (default: recorded days, else the worker's)"
    )
    parser.add_argument("--model", help="the model both sides run (default: rules)")
    parser.add_argument("--candidate-model", help="another model for the edited side")
    parser.add_argument("--out", type=Path, help="write the result here as JSON")
    parser.add_argument("--progress", type=Path, help="keep {done, total, phase} here as JSON")
    parser.add_argument("--no-error-band", action="store_true", help="skip the runs at the calibration's error bounds")
    args = parser.parse_args()
    edited = json.loads(Path(args.params).read_text())
    try:
        result = run_whatif(
            database_url(args.db), edited, args.sessions, args.source, args.model, args.candidate_model, args.progress
        )
    except Exception as failed:  # the console shows why; the exit code says it failed
        _write_json(args.out, {"error": f"{type(failed).__name__}: {failed}"})
        raise
    _write_json(args.out, asdict(result))  # the comparison first: the console shows it at once
    if not args.no_error_band:
        _write_json(args.progress, {"done": 0, "total": 1, "phase": "error band"})
        result = add_error_band(result, database_url(args.db), edited, args.model, args.candidate_model)
        _write_json(args.out, asdict(result))
    print(format_result(result))


def format_result(r: WhatIfResult) -> str:
    rows = [("trades", "trades"), ("P&L", "total_pnl"), ("win rate %", "win_rate_pct"),
            ("profit factor", "profit_factor"), ("max drawdown %", "max_drawdown_pct")]  # fmt: skip
    lines = [f"{len(r.sessions)} sessions from {r.source} in {r.seconds:.1f} s", f"{'':18}{'active':>12}{'edited':>12}"]
    lines += [f"{name:18}{getattr(r.active, key)!s:>12}{getattr(r.edited, key)!s:>12}" for name, key in rows]
    lines.append(f"decisions changed {r.decisions_changed} of {r.decisions}")
    for side in ("active", "edited"):
        lines.append(f"{side} P&L {band_text(r, side)}; options priced: {r.priced.get(side, 'n/a')}")
    lines += [f"  {c['time']} {c['symbol']}: {c['active']} -> {c['edited']}" for c in r.first_changes]
    return "\n".join(lines)
