"""`make figures`: the shipped model's record as `make model` stored it beside the zip
(models/rppo-shipped.json), read, not rerun: the verdict and its own test range's table."""

from __future__ import annotations

from pathlib import Path

from core.figures import Section
from core.metrics import interval_cell
from core.rl.metadata import ModelMetadata, metadata_path


def _calibration(meta: ModelMetadata) -> str:
    """Its confidence map in one sentence: why it does or does not trade at 0.75."""
    cal = meta.metrics.get("confidence_calibration") or {}
    x, y = cal.get("x") or [], cal.get("y") or []
    if not x or not y:
        return "It has no confidence calibration."
    return (
        f"Its confidence map ({cal.get('trades')} held-back trades on {cal.get('days')} sessions) takes raw entry "
        f"confidence {min(x):.2f} to {max(x):.2f} onto win rates {min(y):.2f} to {max(y):.2f}, so at the default "
        "min_confidence 0.75 it " + ("does not trade." if max(y) < 0.75 else "can trade.")
    )


def shipped_record_section(model: Path) -> Section:
    meta = ModelMetadata.read(metadata_path(model))
    selection = meta.metrics.get("selection") or {}
    rows = [
        [
            str(r["policy"]), str(r.get("days")), str(r.get("trades")), interval_cell(r, "pnl", ",.0f"),
            interval_cell(r, "win_rate", ".0f", 100.0), interval_cell(r, "profit_factor", ".2f"),
            interval_cell(r, "max_drawdown_pct", ".1f"),
        ]
        for r in selection.get("out_of_sample", [])
    ]  # fmt: skip
    return Section(
        key="shipped_record",
        title=f"The shipped model's record from `make model` ({meta.model_version})",
        command="python -m worker.ship_model",
        sample=(
            f"out of sample for its training ({meta.train_start}..{meta.train_end}, {meta.sessions} sessions): fold "
            f"{selection.get('shipped_fold')}'s test range of evaluation {selection.get('evaluation_id')}, made "
            f"{meta.trained_at[:10]} at commit {meta.code_version}, before the held-out tail existed: those days are "
            "the tail's, and the seed was picked on them"
        ),
        priced="by the model on real 1-minute bars, as the model's code of that commit priced them",
        columns=["policy", "days", "trades", "P&L on 100,000 [95% interval]", "win %", "profit factor", "max DD %"],
        rows=rows,
        note=(
            f"Read from {metadata_path(model).name}, not rerun (that would train a model). Verdict stored with the "
            f"model: {selection.get('verdict', 'none stored')} {_calibration(meta)}"
        ),
        values={"verdict": selection.get("verdict"), "evaluation_id": selection.get("evaluation_id")},
    )
