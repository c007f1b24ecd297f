"""Display helpers shared by the pages."""

from __future__ import annotations

import pandas as pd

MARKET_TZ = "America/New_York"


def in_new_york(frame: pd.DataFrame) -> pd.DataFrame:
    """Show every timestamp column in market time (America/New_York), to the minute."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert(MARKET_TZ).dt.strftime("%Y-%m-%d %H:%M")
    return out
