"""Black-Scholes prices and deltas, scalar (hot path) and vectorised (chains, calibration).

Time is measured in trading minutes: a year is 252 sessions of 390 minutes, so a 0DTE option's
whole remaining variance sits in the minutes left to the close.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

MINUTES_PER_YEAR = 252 * 390
_SQRT2 = math.sqrt(2.0)


def _ncdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / _SQRT2))


def bs_price_delta(spot: float, strike: float, minutes_left: float, iv: float, is_call: bool) -> tuple[float, float]:
    """Price and delta of one European option (no rates or dividends intraday)."""
    if minutes_left <= 0.0 or iv <= 0.0:
        intrinsic = max(spot - strike, 0.0) if is_call else max(strike - spot, 0.0)
        itm = (spot > strike) if is_call else (spot < strike)
        return intrinsic, (1.0 if itm else 0.0) * (1.0 if is_call else -1.0)
    vol_t = iv * math.sqrt(minutes_left / MINUTES_PER_YEAR)
    d1 = (math.log(spot / strike) + 0.5 * vol_t * vol_t) / vol_t
    d2 = d1 - vol_t
    if is_call:
        nd1 = _ncdf(d1)
        return spot * nd1 - strike * _ncdf(d2), nd1
    nmd1 = _ncdf(-d1)
    return strike * _ncdf(-d2) - spot * nmd1, -nmd1


def bs_price_delta_vec(
    spot: float | np.ndarray, strikes: np.ndarray, minutes_left: float | np.ndarray, iv: np.ndarray, is_call: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised prices and deltas; `is_call` is a boolean array aligned with `strikes`."""
    strikes = np.asarray(strikes, dtype=float)
    spot_a = np.broadcast_to(np.asarray(spot, dtype=float), strikes.shape)
    tau = np.maximum(np.broadcast_to(np.asarray(minutes_left, dtype=float), strikes.shape), 1e-6) / MINUTES_PER_YEAR
    vol_t = np.maximum(np.asarray(iv, dtype=float), 1e-6) * np.sqrt(tau)
    d1 = (np.log(spot_a / strikes) + 0.5 * vol_t**2) / vol_t
    d2 = d1 - vol_t
    call = spot_a * ndtr(d1) - strikes * ndtr(d2)
    put = strikes * ndtr(-d2) - spot_a * ndtr(-d1)
    price = np.where(is_call, call, put)
    delta = np.where(is_call, ndtr(d1), ndtr(d1) - 1.0)
    return price, delta


def bisect_vols(
    price: np.ndarray, spot: np.ndarray, strike: np.ndarray, left: np.ndarray, is_call: np.ndarray, steps: int = 50
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised bisection for the vols (0.5% to 500%) at which Black-Scholes gives `price`:
    (vol, the price at it, the delta at it) after `steps` halvings. The caller judges which fit
    (compare the price at the vol with its own tolerance): a price no vol reaches ends at a bound."""
    lo, hi = np.full(np.shape(price), 0.005), np.full(np.shape(price), 5.0)
    for _ in range(steps):
        sigma = (lo + hi) / 2.0
        value, _ = bs_price_delta_vec(spot, strike, left, sigma, is_call)
        high = value > price
        hi, lo = np.where(high, sigma, hi), np.where(high, lo, sigma)
    sigma = (lo + hi) / 2.0
    value, delta = bs_price_delta_vec(spot, strike, left, sigma, is_call)
    return sigma, value, delta


def implied_vol(price: float, spot: float, strike: float, minutes_left: float, is_call: bool) -> float:
    """The volatility at which Black-Scholes gives `price` (Newton's method on vega, kept inside a
    shrinking bracket of 0.5% to 500%: a bisection step wherever Newton would leave it); NaN where
    no volatility does (a price at or under intrinsic value, above the underlying, or no time left)."""
    intrinsic = max(spot - strike, 0.0) if is_call else max(strike - spot, 0.0)
    if minutes_left <= 0.0 or not price > intrinsic or price >= (spot if is_call else strike):
        return math.nan
    lo, hi = 0.005, 5.0
    if bs_price_delta(spot, strike, minutes_left, hi, is_call)[0] < price:
        return math.nan
    root_t = math.sqrt(minutes_left / MINUTES_PER_YEAR)
    sigma = max(math.sqrt(2.0 * math.pi) / root_t * price / spot, 0.05)  # Brenner-Subrahmanyam
    for _ in range(60):
        value = bs_price_delta(spot, strike, minutes_left, sigma, is_call)[0]
        diff = value - price
        if abs(diff) < 1e-7:
            return sigma
        if diff > 0:
            hi = sigma
        else:
            lo = sigma
        d1 = (math.log(spot / strike) + 0.5 * sigma * sigma * root_t * root_t) / (sigma * root_t)
        vega = spot * math.exp(-0.5 * d1 * d1) / math.sqrt(2.0 * math.pi) * root_t
        step = sigma - diff / vega if vega > 1e-12 else -1.0
        sigma = step if lo < step < hi else 0.5 * (lo + hi)
    return sigma
