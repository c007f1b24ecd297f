"""Display helpers shared by the pages."""

from __future__ import annotations

import pandas as pd

MARKET_TZ = "America/New_York"


def in_new_york(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as the console shows it: every timestamp in market time (America/New_York), to
    the minute, its column labelled "(ET)"; a position's direction as call or put."""
    out = frame.copy()
    renamed = {}
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert(MARKET_TZ).dt.strftime("%Y-%m-%d %H:%M")
            renamed[col] = f"{col} (ET)"
    if "direction" in out.columns:
        out["direction"] = out["direction"].map({1: "call", -1: "put", 0: "flat"}).fillna(out["direction"])
    return out.rename(columns=renamed)
