"""Market-data checks: bad or stale data blocks entries with a recorded reason."""

from __future__ import annotations

import math
from datetime import datetime

from core.calendar import NY
from core.params import TradingParams
from core.protocols import BarView
from core.types import Reason


def check_bars(view: BarView, now: datetime, params: TradingParams) -> Reason | None:
    """The first problem with the newest bars, or None when they are usable."""
    bars = view.bars
    if bars.rejected:  # a bad bar in the last few minutes: it was refused, entries wait
        recent = bars.rejected_since(now.timestamp() - 60.0 - params.max_bar_age_s)
        if recent is not None and recent[0] + 60.0 <= now.timestamp():
            at = datetime.fromtimestamp(recent[0], NY)
            return Reason("data_invalid", f"{bars.symbol} bar of {at:%H:%M} ET was refused: {recent[1]}.")
    if view.count == 0:
        return Reason("data_missing", "No completed bar yet this session.")
    i = view.count - 1
    age_s = now.timestamp() - (float(bars.start[i]) + 60.0)
    if age_s > params.max_bar_age_s:
        return Reason(
            "data_stale", f"Newest {bars.symbol} bar closed {age_s:.0f} s ago (limit {params.max_bar_age_s} s)."
        )
    o, h, lo, c = (float(bars.open[i]), float(bars.high[i]), float(bars.low[i]), float(bars.close[i]))
    if not (0 < o < math.inf and 0 < h < math.inf and 0 < lo < math.inf and 0 < c < math.inf):  # NaN fails too
        return Reason("data_invalid", f"{bars.symbol} bar has a missing or non-positive price.")
    if h < lo or not (lo - 1e-9 <= c <= h + 1e-9) or not (lo - 1e-9 <= o <= h + 1e-9):
        return Reason("data_invalid", f"{bars.symbol} bar is inconsistent (high {h}, low {lo}, open {o}, close {c}).")
    if i > 0:
        prev = float(bars.close[i - 1])
        jump = abs(c / prev - 1.0) * 100.0 if prev > 0 else float("inf")
        if jump > params.max_bar_jump_pct:
            return Reason(
                "data_jump", f"{bars.symbol} moved {jump:.1f}% in one minute (limit {params.max_bar_jump_pct}%)."
            )
    return None
