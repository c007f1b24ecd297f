"""Reads for the console's Parity page: the stored parity days, worst first, and one day's fills."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from db.models import ParityDay, ParityFill

DAY_COLUMNS = (
    "day",
    "agreement_pct",
    "decisions",
    "agreeing",
    "fills_both",
    "live_only",
    "sim_only",
    "cost_median",
    "cost_p10",
    "cost_p90",
    "slippage_pct_median",
    "execution",
    "model_version",
    "computed_at",
)
FILL_COLUMNS = (
    "time",
    "contract",
    "side",
    "opening",
    "reason_code",
    "outcome",
    "live_qty",
    "live_price",
    "sim_qty",
    "sim_price",
    "slippage",
    "slippage_pct",
    "cost_per_contract",
)


def parity_days(engine: Engine) -> pd.DataFrame:
    """Every stored day, worst first: lowest decision agreement, then most one-sided fills, then
    the dearest median slippage (the order core.parity.worst_first uses)."""
    with engine.connect() as conn:
        rows = conn.execute(select(*(getattr(ParityDay, c) for c in DAY_COLUMNS))).all()
    frame = pd.DataFrame(rows, columns=list(DAY_COLUMNS))
    if frame.empty:
        return frame
    frame["one_sided"] = frame["live_only"] + frame["sim_only"]
    frame["abs_cost"] = frame["cost_median"].abs().fillna(0.0)
    frame = frame.sort_values(["agreement_pct", "one_sided", "abs_cost"], ascending=[True, False, False])
    return frame.drop(columns=["one_sided", "abs_cost"]).reset_index(drop=True)


def parity_day(engine: Engine, day: str) -> dict[str, object] | None:
    with engine.connect() as conn:
        row = conn.execute(select(ParityDay).where(ParityDay.day == day)).mappings().first()
    return None if row is None else dict(row)


def parity_fills(engine: Engine, day: str) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(
            select(*(getattr(ParityFill, c) for c in FILL_COLUMNS))
            .where(ParityFill.day == day)
            .order_by(ParityFill.time)
        ).all()
    return pd.DataFrame(rows, columns=list(FILL_COLUMNS))
