"""The simulator's implied-volatility surface and bid/ask spread model for 0DTE options.

The shape is deliberately small so it can be fitted to the real quotes in
`../shared/data/options` (see bench/calibrate_options.py and the README's calibration table):

    atm_iv   = VIX/100 * level * (1 + close_boost * exp(-minutes_left / close_tau))
    z        = ln(K/S) / (atm_iv * sqrt(minutes_left / MINUTES_PER_YEAR))   # standardised moneyness
    iv       = atm_iv * (1 + skew * min(z, 0)**2 * 0.01 + smile * z**2 * 0.01 - slope * z * 0.1)
    half_spr = max(min_half, base_half + rel_half * mid) * (1 + wing * |z|) * (1 + late * late_factor)

and bid/ask are rounded outward to the 0.01 tick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.options.pricing import MINUTES_PER_YEAR

TICK = 0.01


@dataclass(frozen=True)
class SurfaceParams:
    """Fitted by bench/calibrate_options.py on the real 0DTE snapshots (2026-02-11/12)."""

    level: float = 0.7432
    close_boost: float = 0.3563
    close_tau: float = 60.0
    slope: float = 0.8972
    skew: float = 1.4568
    smile: float = 0.804
    iv_floor: float = 0.04
    iv_cap: float = 3.0
    min_half: float = 0.005
    base_half: float = 0.0042
    rel_half: float = 0.0122
    wing: float = 0.0305
    late: float = 0.5


DEFAULT_SURFACE = SurfaceParams()


def atm_iv(vix: float, minutes_left: float, p: SurfaceParams = DEFAULT_SURFACE) -> float:
    """At-the-money implied volatility from VIX and the time left in the session."""
    return vix / 100.0 * p.level * (1.0 + p.close_boost * math.exp(-max(minutes_left, 0.0) / p.close_tau))


def standardised_moneyness(spot: float, strike: np.ndarray | float, atm: float, minutes_left: float) -> np.ndarray:
    vol_t = max(atm * math.sqrt(max(minutes_left, 1.0) / MINUTES_PER_YEAR), 1e-6)
    return np.log(np.asarray(strike, dtype=float) / spot) / vol_t


def smile_iv(
    spot: float, strike: np.ndarray | float, vix: float, minutes_left: float, p: SurfaceParams = DEFAULT_SURFACE
) -> np.ndarray:
    """Implied volatility per strike: ATM level, slope, put skew and a smile in standardised moneyness."""
    atm = atm_iv(vix, minutes_left, p)
    z = np.clip(standardised_moneyness(spot, strike, atm, minutes_left), -8.0, 8.0)
    factor = 1.0 + p.skew * np.minimum(z, 0.0) ** 2 * 0.01 + p.smile * z**2 * 0.01 - p.slope * z * 0.1
    return np.clip(atm * np.maximum(factor, 0.2), p.iv_floor, p.iv_cap)


def half_spread(mid: np.ndarray, z: np.ndarray, minutes_left: float, p: SurfaceParams = DEFAULT_SURFACE) -> np.ndarray:
    """Half the bid/ask spread: a floor, a part proportional to the premium, wider in the wings and late."""
    late_factor = math.exp(-max(minutes_left, 0.0) / 30.0)
    base = np.maximum(p.min_half, p.base_half + p.rel_half * np.asarray(mid, dtype=float))
    return base * (1.0 + p.wing * np.abs(z)) * (1.0 + p.late * late_factor)


def to_bid_ask(mid: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Round outward to the tick: bid down, ask up, bid never negative, ask at least one tick."""
    bid = np.maximum(np.floor((mid - half) / TICK + 1e-9) * TICK, 0.0)
    ask = np.maximum(np.ceil((mid + half) / TICK - 1e-9) * TICK, bid + TICK)
    return np.round(bid, 2), np.round(ask, 2)


def quote_scalar(
    spot: float, strike: float, is_call: bool, vix: float, minutes_left: float, p: SurfaceParams = DEFAULT_SURFACE
) -> tuple[float, float, float, float]:
    """bid, ask, iv, delta for one contract: the same formulas as the array path, in plain floats.

    Used every bar for each open position, where numpy's per-call overhead dominates.
    """
    from core.options.pricing import bs_price_delta

    atm = atm_iv(vix, minutes_left, p)
    vol_t = max(atm * math.sqrt(max(minutes_left, 1.0) / MINUTES_PER_YEAR), 1e-6)
    z = min(max(math.log(strike / spot) / vol_t, -8.0), 8.0)
    factor = 1.0 + p.skew * min(z, 0.0) ** 2 * 0.01 + p.smile * z * z * 0.01 - p.slope * z * 0.1
    iv = min(max(atm * max(factor, 0.2), p.iv_floor), p.iv_cap)
    mid, delta = bs_price_delta(spot, strike, max(minutes_left, 0.0), iv, is_call)
    z_raw = math.log(strike / spot) / vol_t
    late_factor = math.exp(-max(minutes_left, 0.0) / 30.0)
    half = max(p.min_half, p.base_half + p.rel_half * mid) * (1.0 + p.wing * abs(z_raw)) * (1.0 + p.late * late_factor)
    bid = max(math.floor((mid - half) / TICK + 1e-9) * TICK, 0.0)
    ask = max(math.ceil((mid + half) / TICK - 1e-9) * TICK, bid + TICK)
    return round(bid, 2), round(ask, 2), iv, delta
