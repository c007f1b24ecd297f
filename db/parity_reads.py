"""Reads for the console's Parity page: the stored parity days, worst first, and one day's fills."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, select

from core.parity import badness
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
    """Every stored day, worst first (core.parity.badness, the order the CLI prints)."""
    with engine.connect() as conn:
        rows = conn.execute(select(*(getattr(ParityDay, c) for c in DAY_COLUMNS))).all()
    frame = pd.DataFrame(rows, columns=list(DAY_COLUMNS))
    if frame.empty:
        return frame
    keys = [
        badness(
            float(r.agreement_pct), int(r.live_only + r.sim_only), None if pd.isna(r.cost_median) else r.cost_median
        )
        for r in frame.itertuples()
    ]
    order = sorted(range(len(frame)), key=keys.__getitem__)
    return frame.iloc[order].reset_index(drop=True)


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
