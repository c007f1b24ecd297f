"""The simulator's implied-volatility surface and bid/ask spread model for 0DTE options.

One parameter set per underlying (SPY's and QQQ's implied vols differ: QQQ's runs well above
SPY's at the same VIX), each fitted by bench/calibrate_options.py on real same-day quotes.
`day_vol` is the same-day vol model's level (vol points, SPY's at-the-money vol, `core/options/day_vol.py`):

    atm_iv   = day_vol/100 * level * (1 + close_boost * exp(-minutes_left / close_tau))
                                   * (1 + open_boost * exp(-(390 - minutes_left) / open_tau))
    z        = ln(K/S) / (atm_iv * sqrt(minutes_left / MINUTES_PER_YEAR))   # standardised moneyness
    iv       = atm_iv * (1 + skew * q(min(z, 0)) * 0.01 + smile * q(z) * 0.01 - slope * z * 0.1)
    q(z)     = z**2 up to |z| = knee, then its tangent 2 * knee * |z| - knee**2 (linear wings)
    ticks    = max(1, round(exp(spread_slope * (|delta| - spread_pivot)) * (1 + late * exp(-minutes_left / 30))))
    bid, ask = the mid rounded to the tick, `ticks` cents apart

The two time-of-day factors are the same-day vol's shape through a session (trading-minute clock):
dearer into the close (the last hour's moves weigh on little time left) and dearer in the morning
(on the 15 SPY chain days the at-the-money vol at 09:30-10:30 ran 10-15% above a model without the
open term; fitted: +19% at the open, fading over about 2.5 hours). The open term counts from a
regular session's 390 minutes, so on a half day it is smaller at the open.

Out-of-the-money 0DTE quotes on SPY and QQQ are one cent wide (both are in the penny program at
every price); the spread widens with |delta| into the money and in the last half hour.

The wings are linear past the knee: a quadratic in z grows faster than the moneyness itself, and
beyond |z| = 1/sqrt(0.01 * curvature) an out-of-the-money price would rise with the distance from
the money (a far call dearer than a nearer one). The knee keeps the fitted shape where the quotes
are and prices that fall monotonically into the wings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from core.options.pricing import MINUTES_PER_YEAR, bs_price_delta

TICK = 0.01
SESSION_MINUTES = 390.0  # a regular session: the open term counts from its open


@dataclass(frozen=True)
class SurfaceParams:
    """One underlying's surface (the fitted ones are in SURFACES)."""

    level: float = 0.5  # ATM 0DTE implied vol over day_vol/100
    close_boost: float = 0.36
    close_tau: float = 60.0
    open_boost: float = 0.0  # the first hour's extra vol (0: none)
    open_tau: float = 60.0  # minutes since a regular session's open
    slope: float = 0.9
    skew: float = 1.45
    smile: float = 0.8
    iv_floor: float = 0.04
    iv_cap: float = 3.0
    spread_slope: float = 6.2
    spread_pivot: float = 0.55
    late: float = 0.5  # not calibrated: the snapshots are all 3+ hours before the close
    knee: float = 8.0  # |z| where the quadratic terms turn linear (8: the clip, none)


# Fitted by `make calibrate` (bench/calibrate_day_vol.py) across the 15 SPY chain days of 2026-07/08
# and the SPY and QQQ snapshots of 2026-02-11/12, with the same-day vol model of
# core/options/day_vol.py (SPY's level is 1: the model's day_vol is SPY's at-the-money vol); the
# spread fields are the earlier fit's on the 2026-02 snapshots (bench/calibrate_options.py --fit).
SURFACES: dict[str, SurfaceParams] = {
    "SPY": SurfaceParams(
        level=1.0, close_boost=1.2915, close_tau=44.13, open_boost=0.3363, open_tau=399.99, slope=1.0118, skew=-4.2673,
        smile=7.474, knee=2.5,
        spread_slope=6.2215, spread_pivot=0.5425,
    ),
    "QQQ": SurfaceParams(
        level=1.3341, close_boost=1.2915, close_tau=44.13, open_boost=0.3363, open_tau=399.99, slope=1.1481,
        skew=-4.2126, smile=6.5573, knee=2.5,
        spread_slope=7.1173, spread_pivot=0.4988,
    ),
}  # fmt: skip
DEFAULT_SURFACE = SURFACES["SPY"]


def surface_for(underlying: str, surfaces: Mapping[str, SurfaceParams] = SURFACES) -> SurfaceParams:
    """The underlying's own surface; an underlying never calibrated gets SPY's."""
    return surfaces.get(underlying, DEFAULT_SURFACE)


def atm_iv(day_vol: float, minutes_left: float, p: SurfaceParams = DEFAULT_SURFACE) -> float:
    """At-the-money implied volatility from the same-day vol index and the time left in the session."""
    left = minutes_left if minutes_left > 0.0 else 0.0
    since_open = SESSION_MINUTES - left if left < SESSION_MINUTES else 0.0
    return (
        day_vol
        / 100.0
        * p.level
        * (1.0 + p.close_boost * math.exp(-left / p.close_tau))
        * (1.0 + p.open_boost * math.exp(-since_open / p.open_tau))
    )


def standardised_moneyness(spot: float, strike: np.ndarray | float, atm: float, minutes_left: float) -> np.ndarray:
    vol_t = max(atm * math.sqrt(max(minutes_left, 1.0) / MINUTES_PER_YEAR), 1e-6)
    return np.log(np.asarray(strike, dtype=float) / spot) / vol_t


def wing_square(z: np.ndarray, knee: float) -> np.ndarray:
    """z**2 up to |z| = knee, its tangent beyond (the surface's quadratic terms, linear wings)."""
    a = np.abs(z)
    return np.where(a <= knee, a * a, 2.0 * knee * a - knee * knee)


def _wing_square(z: float, knee: float) -> float:
    a = abs(z)
    return a * a if a <= knee else 2.0 * knee * a - knee * knee


def smile_iv(
    spot: float, strike: np.ndarray | float, day_vol: float, minutes_left: float, p: SurfaceParams = DEFAULT_SURFACE
) -> np.ndarray:
    """Implied volatility per strike: ATM level, slope, put skew and a smile in standardised moneyness."""
    atm = atm_iv(day_vol, minutes_left, p)
    z = np.clip(standardised_moneyness(spot, strike, atm, minutes_left), -8.0, 8.0)
    sq, sq_put = wing_square(z, p.knee), wing_square(np.minimum(z, 0.0), p.knee)
    factor = 1.0 + p.skew * sq_put * 0.01 + p.smile * sq * 0.01 - p.slope * z * 0.1
    return np.clip(atm * np.maximum(factor, 0.2), p.iv_floor, p.iv_cap)


def spread_ticks(delta: np.ndarray, minutes_left: float, p: SurfaceParams = DEFAULT_SURFACE) -> np.ndarray:
    """The quoted width in cents: one out of the money, widening into the money and late in the day."""
    late_factor = 1.0 + p.late * math.exp(-max(minutes_left, 0.0) / 30.0)
    width = np.exp(p.spread_slope * (np.abs(np.asarray(delta, dtype=float)) - p.spread_pivot)) * late_factor
    return np.maximum(np.round(width), 1.0)


def to_bid_ask(mid: np.ndarray, ticks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A quote `ticks` cents wide around the mid, on the cent grid; the bid is never negative."""
    bid = np.maximum(np.round(np.asarray(mid, dtype=float) / TICK - ticks / 2.0) * TICK, 0.0)
    ask = bid + ticks * TICK
    return np.round(bid, 2), np.round(ask, 2)


def quote_scalar(
    spot: float, strike: float, is_call: bool, day_vol: float, minutes_left: float, p: SurfaceParams = DEFAULT_SURFACE
) -> tuple[float, float, float, float]:
    """bid, ask, iv, delta for one contract: the same formulas as the array path, in plain floats.

    Used every bar for each open position, where numpy's per-call overhead dominates.
    """
    atm = atm_iv(day_vol, minutes_left, p)
    vol_t = max(atm * math.sqrt(max(minutes_left, 1.0) / MINUTES_PER_YEAR), 1e-6)
    z = min(max(math.log(strike / spot) / vol_t, -8.0), 8.0)
    sq, sq_put = _wing_square(z, p.knee), _wing_square(min(z, 0.0), p.knee)
    factor = 1.0 + p.skew * sq_put * 0.01 + p.smile * sq * 0.01 - p.slope * z * 0.1
    iv = min(max(atm * max(factor, 0.2), p.iv_floor), p.iv_cap)
    mid, delta = bs_price_delta(spot, strike, max(minutes_left, 0.0), iv, is_call)
    bid, ask = bid_ask_scalar(mid, delta, minutes_left, p)
    return bid, ask, iv, delta


def bid_ask_scalar(
    mid: float, delta: float, minutes_left: float, p: SurfaceParams = DEFAULT_SURFACE
) -> tuple[float, float]:
    """A quote of the calibrated width (spread_ticks, in plain floats) around `mid`, on the cent grid."""
    late_factor = 1.0 + p.late * math.exp(-max(minutes_left, 0.0) / 30.0)
    ticks = max(float(round(math.exp(p.spread_slope * (abs(delta) - p.spread_pivot)) * late_factor)), 1.0)
    bid = max(round(mid / TICK - ticks / 2.0) * TICK, 0.0)
    return round(bid, 2), round(bid + ticks * TICK, 2)
