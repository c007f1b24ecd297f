"""The fit of the same-day vol model and the surfaces' shape across chain days, and its errors.

Two steps, both fast enough to repeat for every held-out day (and every pair, for the band's own
held-out coverage):
1. the at-the-money level: per snapshot, the market's ATM vol (the mean implied vol of the call
   and put at the strike nearest the spot) against the model's
   ln(day_vol/100) + ln(level[underlying]) + ln(1 + close_boost * exp(-minutes_left / close_tau))
   + ln(1 + open_boost * exp(-minutes_since_open / open_tau)), robust least squares (soft L1 at
   0.1 in ln units) with every snapshot weighing the same (a day of one snapshot at 09:35 weighed
   as much as a day of 76 and set the morning's shape); SPY's level is 1 (the intercept carries
   it). The model's free terms here are the intercept, vix (prior_rv = 1 - vix) and gap; the
   events' terms are not fitted to quotes but taken from SPY's realized daily ranges before the
   first chain day (event_terms); session_rv and vix1d stay 0 (held out, each made the error
   worse: core/options/day_vol.py gives the figures);
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
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from core.options.chain import price_arrays
from core.options.day_vol import DayVolModel
from core.options.events import events_on
from core.options.pricing import MINUTES_PER_YEAR
from core.options.surface import SESSION_MINUTES, SURFACES, SurfaceParams, surface_for, wing_square

TERMS = ["intercept", "vix", "gap"]  # prior_rv = 1 - vix; session_rv and vix1d 0; events from realized days
EVENTS = ("fomc", "cpi", "monthly_expiry")
ALWAYS = {"intercept", "vix", "gap"}
LOSS, LOSS_SCALE = "soft_l1", 0.1  # robust to a snapshot whose at-the-money quote is off (ln units)
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


def gap_z_usual(snaps: pd.DataFrame, rv_ratio: float) -> float:
    """Median overnight gap in days' sd over the snapshots that know it: what an unknown gap is taken as."""
    probe = DayVolModel(0.0, 0.0, 0.0, 0.0, rv_per_vix=rv_ratio, gap_z_usual=math.nan)
    found = [probe.features(x)["gap"] for x in snaps["inputs"]]
    found = [z for z in found if math.isfinite(z)]
    return float(np.median(found)) if found else 0.0


def event_terms(daily: pd.DataFrame, before: date) -> dict[str, float]:
    """Each event's term from SPY's realized moves on the days before `before`, never from option
    quotes (one FOMC chain day cannot fit a term judged on days without it): half the log of the
    mean ratio of the day's Parkinson variance ((ln high/low)^2 / 4 ln 2) to its five previous
    sessions' mean, on the event's days over on days with no event. The mean, not the median: an
    option prices the expected variance, and an FOMC day's is carried by its few large moves."""
    d = daily.assign(day=pd.to_datetime(daily["date"]).dt.date).sort_values("day")
    var = np.log(d["high"] / d["low"]) ** 2 / (4.0 * math.log(2.0))
    d = d.assign(ratio=var / var.shift(1).rolling(5).mean())
    d = d[(d["day"] < before) & np.isfinite(d["ratio"])]
    flags = pd.DataFrame([events_on(day) for day in d["day"]], index=d.index)
    on = {name: flags[name].to_numpy(bool) for name in EVENTS}
    calm = ~np.logical_or.reduce(list(on.values()))
    if not calm.any():
        return dict.fromkeys(EVENTS, 0.0)
    base = float(d["ratio"][calm].mean())
    return {n: round(0.5 * math.log(float(d["ratio"][m].mean()) / base), 4) if m.any() else 0.0 for n, m in on.items()}


def fit(quotes: pd.DataFrame, snaps: pd.DataFrame, events: Mapping[str, float] | None = None) -> Fitted:
    """The model and surfaces from these days' quotes only, with the events' terms as given
    (event_terms: from realized days; None: no event terms)."""
    events = dict(events or dict.fromkeys(EVENTS, 0.0))
    obs = atm_observations(quotes, snaps)
    ratio = round(rv_per_vix(snaps), 4)
    base = DayVolModel(0.0, 0.0, 0.0, 0.0, rv_per_vix=ratio, gap_z_usual=round(gap_z_usual(snaps, ratio), 4))
    feats = pd.DataFrame([base.features(i) for i in obs["inputs"]])
    # vix + prior_rv = 1: ln(100 RV_prior) + vix * (ln VIX - ln(100 RV_prior))
    offset = feats["prior_rv"].to_numpy(float)
    offset = offset + sum(events[n] * feats[n].to_numpy(float) for n in EVENTS)
    feats["vix"] = feats["vix"] - feats["prior_rv"]
    x = feats[TERMS].to_numpy(float)
    active = [t for j, t in enumerate(TERMS) if t in ALWAYS or np.any(x[:, j] != 0.0)]
    cols = [TERMS.index(t) for t in active]
    x = x[:, cols]
    qqq = (obs["underlying"] == "QQQ").to_numpy(float)
    has_qqq = bool(qqq.any())
    left = obs["minutes_left"].to_numpy(float)
    since_open = np.maximum(SESSION_MINUTES - left, 0.0)
    y = np.log(obs["atm_obs"].to_numpy(float))
    k = len(cols)

    def residual(theta: np.ndarray) -> np.ndarray:
        beta, lq, boost, log_tau, early, log_early = theta[:k], *theta[k:]
        late = np.log1p(boost * np.exp(-left / math.exp(log_tau)))
        opening = np.log1p(early * np.exp(-since_open / math.exp(log_early)))
        return offset + x @ beta - math.log(100.0) + lq * qqq + late + opening - y

    start = np.zeros(k + 5)
    start[active.index("vix")] = 0.5
    start[active.index("intercept")] = math.log(0.9)
    start[k:] = [math.log(1.3), 0.35, math.log(60.0), 0.1, math.log(60.0)]
    res = least_squares(residual, start, bounds=_bounds(k), loss=LOSS, f_scale=LOSS_SCALE)
    coef = dict(zip(active, (round(float(v), 4) for v in res.x[:k]), strict=True))
    coef["prior_rv"] = round(1.0 - coef["vix"], 4)
    model = replace(base, **coef, **events)
    lq, boost, log_tau, early, log_early = (float(v) for v in res.x[k:])
    surfaces = {}
    for u in sorted(set(obs["underlying"])):
        level = math.exp(lq) if u == "QQQ" and has_qqq else 1.0
        p = replace(
            surface_for(u),
            level=round(level, 4),
            close_boost=round(boost, 4),
            close_tau=round(math.exp(log_tau), 2),
            open_boost=round(early, 4),
            open_tau=round(math.exp(log_early), 2),
        )
        surfaces[u] = _fit_shape(quotes[quotes["underlying"] == u], obs, p)
    for u, p in SURFACES.items():
        surfaces.setdefault(u, replace(p, level=surfaces["SPY"].level))
    return Fitted(model, surfaces)


def _bounds(n: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.full(n + 5, -np.inf), np.full(n + 5, np.inf)
    lo[n + 1], hi[n + 1] = 0.0, 3.0  # close_boost
    lo[n + 2], hi[n + 2] = math.log(5.0), math.log(400.0)  # close_tau
    lo[n + 3], hi[n + 3] = 0.0, 3.0  # open_boost
    lo[n + 4], hi[n + 4] = math.log(5.0), math.log(400.0)  # open_tau
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
    names = ["level", "close_boost", "close_tau", "open_boost", "open_tau", "slope", "skew", "smile", "knee"]
    for u, p in sorted(fitted.surfaces.items()):
        out.append(f'    "{u}": SurfaceParams(' + ", ".join(f"{n}={getattr(p, n)}" for n in names) + ", ...)")
    return out
