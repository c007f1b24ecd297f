"""`make figures`: the evaluation on the held-out tail (the rules, each structure, the shipped model
and the baselines, one fold with nothing trained) and the demo preset's own P&L on the same days."""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from core.figures import Section
from core.market.holdout import HELD_OUT_SESSIONS
from core.rl.metadata import ModelMetadata, metadata_path
from db.presets import DEMO_TRADES_PER_DAY, demo_values
from worker.offline.evaluate import Evaluation
from worker.offline.evaluate import parse_args as evaluation_args

STRATEGIES = ("put_credit_spread", "call_credit_spread", "iron_condor", "iron_butterfly", "auto")
MODEL_PRICED = (
    "by the model (the same-day vol surface, core/options/day_vol.py) on the real 1-minute bars of SPY and QQQ: "
    "the shared data has no option quotes for these sessions; costs (spread, $0.65 a contract) included"
)
COLUMNS = [
    "policy", "trades", "P&L [95% interval]", "at the price model's error bounds", "win %", "profit factor",
    "max DD %", "trades/day", "hold min p10/50/90",
]  # fmt: skip


def money(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def interval(m: dict[str, Any], key: str = "pnl") -> str:
    lo, hi = m.get(f"{key}_lo"), m.get(f"{key}_hi")
    return money(m.get(key)) + ("" if lo is None or hi is None else f" [{money(lo)}, {money(hi)}]")


def band(m: dict[str, Any]) -> str:
    if m.get("pnl_band_lo") is None:
        return "-"
    text = f"{money(m['pnl_band_lo'])} to {money(m['pnl_band_hi'])}"
    return text if m.get("pnl_decided", True) else text + " (not decided)"


def _num(m: dict[str, Any], key: str, fmt: str, scale: float = 1.0) -> str:
    v = m.get(key)
    return "-" if v is None else format(v * scale, fmt)


def row(label: str, m: dict[str, Any]) -> list[str]:
    holds = "/".join(_num(m, k, ".0f") for k in ("hold_p10_min", "hold_median_min", "hold_p90_min"))
    return [
        label, str(m.get("trades") or 0), interval(m), band(m), _num(m, "win_rate", ".0f", 100.0),
        _num(m, "profit_factor", ".2f"), _num(m, "max_drawdown_pct", ".1f"), _num(m, "trades_per_day", ".2f"),
        "-" if holds == "-/-/-" else holds,
    ]  # fmt: skip


def _days(rows: list[dict[str, Any]]) -> tuple[str, str, int]:
    r = rows[0]
    return r["test_start"], r["test_end"], int(r["sessions"])


def _shipped_sample(meta: ModelMetadata, start: str, end: str) -> str:
    """In or out of sample for the shipped model, from its own record (never assumed)."""
    trained = f"trained on {meta.train_start}..{meta.train_end}"
    calibrated = meta.metrics.get("confidence_calibration", {}).get("days")
    overlaps = bool(meta.train_end and meta.train_end >= start)
    words = "in sample: its training range reaches into these days" if overlaps else "out of sample for its training"
    selection = meta.metrics.get("selection") or {}
    chosen = ""
    if selection:
        chosen = (
            f"; its seed was picked among {selection.get('seeds_compared')} by evaluation "
            f"{selection.get('evaluation_id')}, whose newest fold tested on these days (every seed made 0 trades "
            "there at 0.75, so the pick was not made on a result)"
            if all(not c.get("trades") for c in selection.get("candidates", []))
            else f"; its seed was picked among {selection.get('seeds_compared')} on results that include these days"
        )
    held = f", its confidence map on the {calibrated} sessions after that" if calibrated else ""
    return f"{words} ({trained}{held}){chosen}"


def evaluation_sections(source: str, model: Path, workers: int) -> list[Section]:
    """Three sections from one held-out evaluation: every policy, the shipped model, and its band."""
    started = time.monotonic()
    argv = [
        "--source", source, "--held-out", "--model", str(model), "--strategies", *STRATEGIES,
        "--workers", str(workers), "--seeds", "1",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        evaluation = Evaluation(evaluation_args([*argv, "--db", f"sqlite:///{tmp}/figures-eval.db"]))
        evaluation.run()
    seconds = time.monotonic() - started
    rows = [r for r in evaluation.rows if r["fold"] == 0]
    by = {(r["policy"], r["seed"]): r["metrics"] for r in rows}
    start, end, sessions = _days(rows)
    command = (
        f"python -m worker.evaluate --source {source} --held-out --model {model} --seeds 1 --strategies "
        + " ".join(STRATEGIES)
    )
    sample = (
        f"out of sample: the held-out tail, {start}..{end} ({sessions} sessions of SPY and QQQ, the last "
        f"{HELD_OUT_SESSIONS} of the shared data, core/market/holdout.py), which no fit or training saw; the rules "
        "and structures run on default parameters (100,000 capital), nothing was tuned on these days"
    )
    labels = [("rules", "rules (long options)")] + [(f"rules:{s}", f"rules: {s.replace('_', ' ')}") for s in STRATEGIES]
    labels += [("rl@0.50", "shipped model at min_confidence 0.50"), ("underlying", "underlying (open to close)")]
    table = [row(label, by[(p, None)] if (p, None) in by else by[(p, 1)]) for p, label in labels if _has(by, p)]
    policies = Section(
        key="evaluation",
        title="Every policy on the held-out tail",
        command=command,
        sample=sample,
        priced=MODEL_PRICED,
        columns=COLUMNS,
        rows=table,
        note=(
            "An interval is a 95% bootstrap over days (trades for the win rate). 'at the price model's error "
            "bounds': the same backtest with every implied vol at the ends of the calibration's held-out error band "
            "(core/error_band.py); 'not decided' where the sign flips inside it. Read a credit structure's row with "
            "the calibration below: its short strikes sit where the model's prices err most."
        ),
        seconds=seconds,
        values={"evaluation_id": evaluation.id, "start": start, "end": end, "sessions": sessions, "rows": rows},
    )
    meta = ModelMetadata.read(metadata_path(model))
    shipped_rows = [
        row(f"{p} ({'the default' if p == 'rl' else 'same model'})" if p.startswith("rl") else p, by[(p, 1)])
        for p in ("rl", "rl@0.50", "rl@0.60", "rl@0.70", "random")
        if (p, 1) in by
    ] + [row(p, by[(p, None)]) for p in ("rules", "hold", "underlying") if (p, None) in by]
    shipped = Section(
        key="shipped_model",
        title=f"The shipped model ({meta.model_version}) on the held-out tail",
        command=command,
        sample=f"{start}..{end}, {sessions} sessions: {_shipped_sample(meta, start, end)}",
        priced=MODEL_PRICED,
        columns=COLUMNS,
        rows=shipped_rows,
        note=(
            "`rl` runs at the default min_confidence 0.75; `rl@0.50` ... are the same model at lower thresholds, on "
            "the calibrated win-rate scale. `random` copies `rl`'s trade count. The model's own record from "
            "`make model` (models/rppo-shipped.json) is on the Models page."
        ),
        seconds=0.0,
        values={
            "model_version": meta.model_version,
            "train_start": meta.train_start,
            "train_end": meta.train_end,
            "trades_at_default": (by.get(("rl", 1)) or {}).get("trades"),
            "sessions": sessions,
            "start": start,
            "end": end,
        },
    )
    return [policies, shipped]


def _has(by: dict[tuple[str, int | None], dict[str, Any]], policy: str) -> bool:
    return (policy, None) in by or (policy, 1) in by


def demo_section(source: str, start: str, end: str) -> Section:
    """The demo preset (the rule baseline with its raised entry cap) on the held-out tail."""
    from bench._figures_runs import backtest_side

    started = time.monotonic()
    values = demo_values()
    side = backtest_side(source, values, None, date.fromisoformat(start), date.fromisoformat(end), band=True)
    return Section(
        key="demo",
        title="The demo preset (what `make run` trades) on the held-out tail",
        command="python bench/figures.py --only demo",
        sample=f"out of sample: the held-out tail, {start}..{end} ({side.days} sessions), which nothing was fitted on",
        priced=MODEL_PRICED,
        columns=["policy", "trades", "P&L after costs [95% interval]", "at the price model's error bounds", "win %"],
        rows=[
            [
                f"rules, max_trades_per_symbol_day {DEMO_TRADES_PER_DAY}",
                str(side.trades),
                side.interval_text(),
                side.band_text(),
                "-" if side.win_rate is None else f"{side.win_rate * 100:.0f}",
            ]
        ],
        note="The demo's parameters are the defaults but for the two the preset changes (db/presets.py).",
        seconds=time.monotonic() - started,
        values={
            "pnl": side.pnl,
            "pnl_lo": side.pnl_lo,
            "pnl_hi": side.pnl_hi,
            "band_lo": side.band_lo,
            "band_hi": side.band_hi,
            "trades": side.trades,
            "win_rate": side.win_rate,
            "sessions": side.days,
            "start": start,
            "end": end,
            "policy_mode": values["policy_mode"],
            "max_trades_per_symbol_day": values["max_trades_per_symbol_day"],
        },
    )
