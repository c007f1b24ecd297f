"""The shipped model's out-of-sample record, read from the metadata beside its zip
(models/rppo-shipped.json, or MODEL_PATH's): what `make model`'s selection found on days the model
never trained on. Shown on the Models page of any database, a fresh one included, where no
evaluation has been stored yet (pandas and the file only, no Streamlit)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = "models/rppo-shipped.zip"  # the worker's default too (worker/runtime.py)


@dataclass(frozen=True)
class ShippedRecord:
    """What the metadata says about the shipped model and its selection."""

    path: Path
    model_version: str
    train_range: str
    sessions: int | None
    source: str
    evaluation_id: str
    shipped_fold: int | None
    verdict: str
    criterion: str
    fold: pd.DataFrame  # the shipped fold's test range, one row per policy
    pooled: pd.DataFrame  # every fold of the evaluation pooled


def metadata_path() -> Path:
    """The JSON beside the model the worker loads (MODEL_PATH, else the shipped one)."""
    model = Path(os.environ.get("MODEL_PATH") or DEFAULT_MODEL)
    path = model.with_suffix(".json")
    return path if path.is_absolute() or path.exists() else ROOT / path


def _span(lo: Any, hi: Any) -> str:
    return "" if lo is None or hi is None else f"{lo:,.0f} .. {hi:,.0f}"


def out_of_sample(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per policy: days, trades, P&L with its 95% bootstrap interval, win rate, profit
    factor, Sharpe and drawdown, as the selection stored them."""
    out = [
        {
            "policy": r.get("policy"),
            "days": r.get("days"),
            "trades": r.get("trades"),
            "P&L": r.get("pnl"),
            "P&L 95% interval": _span(r.get("pnl_lo"), r.get("pnl_hi")),
            "win rate %": None if r.get("win_rate") is None else round(100.0 * r["win_rate"], 1),
            "profit factor": r.get("profit_factor"),
            "Sharpe": r.get("sharpe"),
            "max drawdown %": r.get("max_drawdown_pct"),
        }
        for r in rows
    ]
    return pd.DataFrame(out)


def shipped_record(path: Path | None = None) -> ShippedRecord | None:
    """The record in the model's metadata; None where the file or its selection is missing."""
    path = path or metadata_path()
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    selection = (meta.get("metrics") or {}).get("selection") or {}
    if not selection.get("out_of_sample"):
        return None
    return ShippedRecord(
        path=path,
        model_version=str(meta.get("model_version", "")),
        train_range=f"{meta.get('train_start', '')} .. {meta.get('train_end', '')}",
        sessions=meta.get("sessions"),
        source=str(meta.get("source", "")),
        evaluation_id=str(selection.get("evaluation_id", "")),
        shipped_fold=selection.get("shipped_fold"),
        verdict=str(selection.get("verdict", "")),
        criterion=str(selection.get("criterion", "")),
        fold=out_of_sample(selection["out_of_sample"]),
        pooled=out_of_sample(selection.get("out_of_sample_pooled") or []),
    )
