"""The price model's measured error, carried beside every figure about a past day.

Where a past day's options are priced by the model (and partly where anchored prices move with
it), a result is only as certain as the model. Each backtest, what-if and evaluation figure is
therefore also computed with every surface's implied vol scaled to the low and to the high end of
the calibration's held-out error (IV_ERROR_BAND: a 90% prediction interval for a new day's real IV
over model IV at |delta| 0.2-0.8, built from the leave-one-day-out errors of each day, per
underlying, with Student's t on the underlying's own number of days: wider where the days are
few; core/options/band_fit.py, printed by `make calibrate`),
and shown as "P&L -26,165 (at the calibration's error bounds: -31,000 to -19,000)". A figure
whose sign differs between the bounds is not decided by the data, and says so. Prices from real
option bars do not move with the scale: a day priced from real bars has a narrow band.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from core.options.surface import SURFACES, SurfaceParams

# `make calibrate` (bench/calibrate_day_vol.py) on ../shared/data, 2026-12-07: SPY 14 days left out
# one at a time (12 chain days, 2 snapshot days; the 3-day held-out tail never fitted), QQQ 2. Held
# out, it covers 90.9% of the quotes at |delta| 0.05-0.8 and 94.4% of the real credits of 216
# (structure, moment) pairs the worker would have opened; `make figures` reruns those coverages.
IV_ERROR_BAND: dict[str, tuple[float, float]] = {"QQQ": (0.385, 2.48), "SPY": (0.715, 1.311)}
BAND_ENDS = ("low", "high")


def scaled_surfaces(end: str | None, surfaces: Mapping[str, SurfaceParams] = SURFACES) -> dict[str, SurfaceParams]:
    """The surfaces with each underlying's implied vol at the band's `end` ('low' or 'high');
    None: as calibrated. An underlying without a measured band keeps its level."""
    if end is None:
        return dict(surfaces)
    if end not in BAND_ENDS:
        raise ValueError(f"error band end must be one of {BAND_ENDS}, got {end!r}")
    index = BAND_ENDS.index(end)
    return {
        u: replace(p, level=p.level * IV_ERROR_BAND[u][index]) if u in IV_ERROR_BAND else p for u, p in surfaces.items()
    }


@dataclass(frozen=True)
class Banded:
    """A figure with its values at the band's two ends (low IV, high IV)."""

    value: float
    at_low: float
    at_high: float

    @property
    def low(self) -> float:
        return min(self.value, self.at_low, self.at_high)

    @property
    def high(self) -> float:
        return max(self.value, self.at_low, self.at_high)

    @property
    def decided(self) -> bool:
        """The sign is the same at the figure and at both ends (zero counts as a sign of its own)."""
        signs = {(v > 0) - (v < 0) for v in (self.value, self.at_low, self.at_high)}
        return len(signs) == 1

    def text(self, fmt: str = ",.0f") -> str:
        """'-26,165 (at the calibration's error bounds: -31,000 to -19,000)', flagged when undecided."""
        shown = f"{self.value:{fmt}} (at the calibration's error bounds: {self.low:{fmt}} to {self.high:{fmt}})"
        return shown if self.decided else f"{shown}: not decided by the data (the sign flips inside the band)"
