"""The same-day volatility index that drives the 0DTE surface's at-the-money level.

A same-day option's implied vol is the market's expected move for the rest of the day, which is
what CBOE's one-day index VIX1D measures; the 30-day VIX is a poor stand-in on its own (VIX1D/VIX
moves from about 0.5 to above 1 from day to day: event days, calm days). The simulator prices from

    day_vol(t) = VIX1D_open * (VIX(t) / VIX_open) ** VIX1D_BETA

with VIX1D_open the index's first print of the session and VIX_open the VIX known at the open
(both known at 09:30: no look-ahead), and VIX(t) the intraday VIX the world serves at t (the
hourly VIX moved by the underlying inside the hour, or the daily open moved by SPY). A same-day
index moves more than VIX: VIX1D_BETA is the slope of VIX1D's daily log change on VIX's,
measured on the index files alone (`bench/calibrate_options.py --elasticity`), never on the
option quotes the surface is fitted on.

Why the open and not the previous close: VIX1D's close covers the night and the next session,
and held out on the shared same-day chains it priced worse than the open (README, calibration).
The open print runs below the session's level (median 0.62 of the VIX open against 0.80 at the
close); the surface's fitted `level` absorbs that. Where no VIX1D open is known (synthetic
worlds, recordings, days before VIX1D existed) VIX1D_open is VIX_open times VIX1D_OPEN_PER_VIX.
"""

from __future__ import annotations

import math

# ../shared/data VIX1D_daily (2023-04..2026-08) against VIX_daily, 811 common sessions:
# OLS slope of dln(VIX1D close) on dln(VIX close) 2.01 (correlation 0.62); median VIX1D open /
# VIX open 0.623 (IQR 0.54-0.71).
VIX1D_BETA = 2.01
VIX1D_OPEN_PER_VIX = 0.623


def same_day_vol(vix_now: float, vix_open: float, vix1d_open: float = math.nan) -> float:
    """The day-vol index (VIX1D points) at a moment, from the VIX then and the session's opens.

    No VIX1D open: VIX_open * VIX1D_OPEN_PER_VIX. No VIX open either: the VIX now, scaled the same
    way (no move to apply). No VIX now: NaN (the market has no price for options)."""
    if not math.isfinite(vix_now) or vix_now <= 0.0:
        return math.nan
    if not math.isfinite(vix_open) or vix_open <= 0.0:
        return vix_now * VIX1D_OPEN_PER_VIX
    anchor = vix1d_open if math.isfinite(vix1d_open) and vix1d_open > 0.0 else vix_open * VIX1D_OPEN_PER_VIX
    return anchor * (vix_now / vix_open) ** VIX1D_BETA
