"""Regime engine: calm / normal / storm / crash from VIX and realized volatility; IV rank."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.params import TradingParams
from core.types import Regime


def classify_regime(vix: float, realized_vol_pct: float, params: TradingParams) -> Regime:
    """Crash on either extreme VIX or extreme realized volatility; calm needs both quiet."""
    if vix >= params.regime_crash_vix or realized_vol_pct >= params.regime_crash_rv:
        return Regime.CRASH
    if vix >= params.regime_storm_vix or realized_vol_pct >= 0.75 * params.regime_crash_rv:
        return Regime.STORM
    if vix < params.regime_calm_vix and realized_vol_pct < vix:
        return Regime.CALM
    return Regime.NORMAL


@dataclass(frozen=True)
class VixRange:
    """The trailing one-year VIX range, computed once a day."""

    low: float
    high: float
    samples: int

    @staticmethod
    def of(history: np.ndarray) -> VixRange:
        if len(history) == 0:
            return VixRange(float("nan"), float("nan"), 0)
        return VixRange(float(np.min(history)), float(np.max(history)), len(history))

    def rank(self, vix: float) -> float:
        """Where `vix` sits in the range, 0..100 (50 with under 20 days of history)."""
        if self.samples < 20 or self.high <= self.low:
            return 50.0
        return float(min(max((vix - self.low) / (self.high - self.low) * 100.0, 0.0), 100.0))
