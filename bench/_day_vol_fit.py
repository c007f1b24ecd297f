"""The fit of the same-day vol model and the surfaces' shape across chain days, and its errors.

Two steps, both fast enough to repeat for every held-out day (and every pair, for the band's own
held-out coverage):
1. the at-the-money level: per snapshot, the market's ATM vol (the mean implied vol of the call
   and put at the strike nearest the spot) against the model's
   ln(day_vol/100) + ln(level[underlying]) + ln(1 + close_boost * exp(-minutes_left / close_tau)),
   least squares with every (underlying, day) weighing the same; SPY's level is 1 (the intercept
   carries it); a term no training day has (an event, VIX1D) keeps 0;
2. each underlying's skew, smile and slope: real IV over the snapshot's market ATM vol against the
   surface's factor in standardised moneyness, which is linear in the three (ordinary least squares),
   on quotes of |delta| 0.01-0.8 (the wings a condor buys included) with the quadratic terms linear
   past WING_KNEE. Fitted on |delta| 0.05-0.8 with a pure quadratic, the call wing's curvature
   carried on past the quotes: a 610 call dearer than a 605 call at 595 (prices rising with the
   strike), and the call wing richer than the put wing beyond |z| 3.2, which no chain day shows.
The spread model is not refitted here (core/options/surface.py keeps its fitted spread fields).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from core.options.chain import price_arrays
from core.options.day_vol import DayVolModel
from core.options.pricing import MINUTES_PER_YEAR
from core.options.surface import SURFACES, SurfaceParams, surface_for, wing_square

TERMS = ["intercept", "vix", "prior_rv", "session_rv", "vix1d", "fomc", "cpi", "monthly_expiry"]
ALWAYS = {"intercept", "vix", "prior_rv", "session_rv"}
WING_KNEE = 2.5  # |z| where the shape turns linear: about where the quotes of |delta| 0.05 are
SHAPE_DELTAS = (0.01, 0.8)  # |delta| of the quotes the shape is fitted to


@dataclass(frozen=True)
class Fitted:
    """A fitted day-vol model and the surfaces that go with it."""

    model: DayVolModel
    surfaces: dict[str, SurfaceParams]


def atm_observations(quotes: pd.DataFrame, snaps: pd.DataFrame) -> pd.DataFrame:
    """Per snapshot: the market's at-the-money vol (see the module's docstring)."""
    q = quotes[np.isfinite(quotes["real_iv"])]
    q = q.assign(dist=(q["strike"] - q["spot"]).abs())
    nearest = q.loc[q.groupby("snap")["dist"].transform("min") == q["dist"]]
    atm = nearest.groupby("snap")["real_iv"].mean().rename("atm_obs")
    return snaps.merge(atm, left_on="snap", right_index=True)


def rv_per_vix(snaps: pd.DataFrame) -> float:
    """Median earlier-sessions realized vol over the VIX open: what an unknown RV_prior is taken as."""
    ratios = [x.prior_rv / (x.vix_open / 100.0) for x in snaps["inputs"] if x.prior_rv > 0 and x.vix_open > 0]
    return float(np.median(ratios)) if ratios else 0.5


def fit(quotes: pd.DataFrame, snaps: pd.DataFrame) -> Fitted:
    """The model and surfaces from these days' quotes only."""
    obs = atm_observations(quotes, snaps)
    base = DayVolModel(0.0, 0.0, 0.0, 0.0, rv_per_vix=round(rv_per_vix(snaps), 4))
    x = pd.DataFrame([base.features(i) for i in obs["inputs"]])[TERMS].to_numpy(float)
    active = [t for j, t in enumerate(TERMS) if t in ALWAYS or np.any(x[:, j] != 0.0)]
    cols = [TERMS.index(t) for t in active]
    x = x[:, cols]
    qqq = (obs["underlying"] == "QQQ").to_numpy(float)
    has_qqq = bool(qqq.any())
    left = obs["minutes_left"].to_numpy(float)
    y = np.log(obs["atm_obs"].to_numpy(float))
    weight = np.sqrt(1.0 / obs.groupby(["underlying", "day"])["snap"].transform("size").to_numpy(float))

    def residual(theta: np.ndarray) -> np.ndarray:
        beta, lq, boost, log_tau = theta[: len(cols)], theta[-3], theta[-2], theta[-1]
        pred = x @ beta - math.log(100.0) + lq * qqq + np.log1p(boost * np.exp(-left / math.exp(log_tau)))
        return weight * (y - pred)

    start = np.zeros(len(cols) + 3)
    start[active.index("vix")] = 1.0
    start[active.index("intercept")] = math.log(0.5)
    start[-3:] = [math.log(1.3), 0.35, math.log(60.0)]
    res = least_squares(residual, start, bounds=_bounds(len(cols)))
    coef = dict(zip(active, (round(float(v), 4) for v in res.x[: len(cols)]), strict=True))
    model = replace(base, **coef)
    surfaces = {}
    for u in sorted(set(obs["underlying"])):
        level = math.exp(res.x[-3]) if u == "QQQ" and has_qqq else 1.0
        p = replace(
            surface_for(u),
            level=round(level, 4),
            close_boost=round(float(res.x[-2]), 4),
            close_tau=round(math.exp(float(res.x[-1])), 2),
        )
        surfaces[u] = _fit_shape(quotes[quotes["underlying"] == u], obs, p)
    for u, p in SURFACES.items():
        surfaces.setdefault(u, replace(p, level=surfaces["SPY"].level))
    return Fitted(model, surfaces)


def _bounds(n: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.full(n + 3, -np.inf), np.full(n + 3, np.inf)
    lo[-2], hi[-2] = 0.0, 3.0  # close_boost
    lo[-1], hi[-1] = math.log(5.0), math.log(400.0)  # close_tau
    return lo, hi


def _fit_shape(quotes: pd.DataFrame, obs: pd.DataFrame, p: SurfaceParams) -> SurfaceParams:
    q = quotes.merge(obs[["snap", "atm_obs", "day"]], on="snap")
    lo, hi = SHAPE_DELTAS
    q = q[np.isfinite(q["real_iv"]) & (q["real_delta"].abs() >= lo) & (q["real_delta"].abs() < hi)]
    z = np.log(q["strike"] / q["spot"]) / (
        q["atm_obs"] * np.sqrt(np.maximum(q["minutes_left"], 1.0) / MINUTES_PER_YEAR)
    )
    keep = (z.abs() < 8.0).to_numpy()
    z = z.to_numpy(float)[keep]
    q = q[keep]
    a = np.column_stack([0.01 * wing_square(np.minimum(z, 0.0), WING_KNEE), 0.01 * wing_square(z, WING_KNEE), -0.1 * z])
    b = (q["real_iv"] / q["atm_obs"] - 1.0).to_numpy(float)
    w = np.sqrt(1.0 / q.groupby("day")["snap"].transform("size").to_numpy(float))
    coef, *_ = np.linalg.lstsq(a * w[:, None], b * w, rcond=None)
    skew, smile, slope = (round(float(c), 4) for c in coef)
    return replace(p, knee=WING_KNEE, skew=skew, smile=smile, slope=slope)


def model_prices(
    quotes: pd.DataFrame, snaps: pd.DataFrame, fitted: Fitted, scale: float | dict[str, float] = 1.0
) -> pd.DataFrame:
    """The simulator's quote for every real quote, with the errors (model minus real)."""
    dv = {s: fitted.model.day_vol(x) for s, x in zip(snaps["snap"], snaps["inputs"], strict=True)}
    mid, iv = np.full(len(quotes), np.nan), np.full(len(quotes), np.nan)
    for (snap, u), rows in quotes.groupby(["snap", "underlying"]).indices.items():
        part = quotes.iloc[rows]
        factor = scale[u] if isinstance(scale, dict) else scale
        p = fitted.surfaces[u]
        p = replace(p, level=p.level * factor)
        b, a, v, _ = price_arrays(
            float(part["spot"].iloc[0]),
            part["strike"].to_numpy(float),
            part["is_call"].to_numpy(bool),
            dv[snap],
            float(part["minutes_left"].iloc[0]),
            p,
        )
        mid[rows], iv[rows] = (b + a) / 2.0, v
    out = quotes.copy()
    out["model_mid"], out["model_iv"] = mid, iv
    signed = mid - quotes["real_mid"].to_numpy()
    out["mid_err_pct"] = np.abs(signed) / quotes["real_mid"] * 100.0
    out["mid_signed_pct"] = signed / quotes["real_mid"] * 100.0
    out["log_iv_ratio"] = np.log(quotes["real_iv"] / iv)  # real over model: the band's unit
    return out


def day_of_quotes(quotes: pd.DataFrame, snaps: pd.DataFrame) -> np.ndarray:
    """Each quote's trading day."""
    days = dict(zip(snaps["snap"], snaps["day"], strict=True))
    return quotes["snap"].map(days).to_numpy()


def surface_lines(fitted: Fitted) -> list[str]:
    """The fitted values, as they are pasted into core/options (day_vol.py and surface.py)."""
    m = fitted.model
    out = ["    DAY_VOL_MODEL = DayVolModel(" + ", ".join(f"{f.name}={getattr(m, f.name)}" for f in fields(m)) + ")"]
    names = ["level", "close_boost", "close_tau", "slope", "skew", "smile", "knee"]
    for u, p in sorted(fitted.surfaces.items()):
        out.append(f'    "{u}": SurfaceParams(' + ", ".join(f"{n}={getattr(p, n)}" for n in names) + ", ...)")
    return out
