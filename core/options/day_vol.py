"""The same-day volatility model that drives the 0DTE surface's at-the-money level.

A same-day option's implied vol is the market's expected move for the rest of the day. The VIX
alone does not carry it (on the 15 SPY chain days of 2026-07/08 the straddle's vol ran 0.44-0.64x
the VIX on calm days, 1.10x on the FOMC day), and VIX1D is missing on most days of the files. The
model takes only what is known at the minute:

    ln(day_vol) = intercept + vix * ln(VIX(t))
                + prior_rv * ln(100 * RV_prior)                            # earlier sessions' moves
                + session_rv * w(n) * ln(RV_session / RV_prior)            # the session's moves so far
                + vix1d * ln(VIX1D_open / (VIX1D_OPEN_PER_VIX * VIX_open))  # where VIX1D opened
                + gap * |ln(open / previous close)| / (RV_prior / sqrt(252))  # the overnight gap, in days' sd
                + fomc + cpi + monthly_expiry                              # the day's scheduled events

`day_vol` is in vol points (10.0 = 10%): the SPY at-the-money same-day vol at midday, on the
pricing's trading-minute clock; each underlying's surface multiplies it by its `level` (SPY's is
1) and the time-of-day terms (core/options/surface.py). VIX(t) is the intraday VIX known at t
(core/market/vol_indexes.py); RV_prior the realized vol of SPY's 5-minute returns over the
previous five sessions and RV_session since the open, from n returns, with w(n) = n/(n + 12)
(core/market/realized.py); the gap is SPY's first open of the session against the previous
session's last close, known from the open on; the events come from core/options/events.py.

The fit (`make calibrate`, bench/calibrate_day_vol.py) ties vix + prior_rv = 1: a blend of the
VIX and the realized vol, so the model scales with both (an unconstrained fit on 15 days put 1.8
on ln VIX and extrapolated). It leaves session_rv and vix1d at 0: held out (leave one day out,
SPY, median absolute mid error at |delta| 0.2-0.5 / 0.5-0.8, signed at 0.2-0.5), the model without
them errs 13.8% / 4.6% / -3.8%, with the session's moves 14.0% / 4.7% / -5.1%, with VIX1D (on 3 SPY
days of the files) 15.8% / 5.3% / -2.9%. The events' terms are not fitted to option quotes (one
FOMC chain day cannot fit a term judged on the days without it): each is half the log of SPY's
mean daily-range variance on the event's days over that on days with none, relative to the five
sessions before, 2024-04..2026-02-10 (bench/_day_vol_fit.event_terms). A missing input takes
its usual value: RV_prior = RV_PER_VIX * VIX_open, no session moves (w = 0), VIX1D at its usual
ratio to the VIX (the term is 0), the gap at its median over the fitted snapshots (gap_z_usual).
An event the fit never saw keeps 0.

One model serves the simulator (SimMarket.day_vol), backtests, training, the console's risk view
(the VIX alone) and the live fallback (worker/adapters/live_day_vol.py, through same_day_vol).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from core.options.events import DayEvents

VIX1D_OPEN_PER_VIX = 0.623  # median VIX1D open / VIX open, 811 sessions of ../shared/data (2023-04..2026-08)
TRADING_DAYS = 252.0  # the gap's scale: RV_prior over a day
SESSION_RETURNS_HALF_WEIGHT = 12.0  # the session's moves weigh half after an hour of 5-minute returns


@dataclass(frozen=True)
class DayVolInputs:
    """What is known at a minute: the VIX then and at the open, VIX1D's open, the moves, the events,
    the overnight gap."""

    vix_now: float
    vix_open: float = math.nan
    vix1d_open: float = math.nan
    prior_rv: float = math.nan  # annualised (0.10 = 10%), SPY's 5-minute returns, previous sessions
    session_rv: float = math.nan  # annualised, since the open
    session_returns: int = 0  # how many 5-minute returns session_rv is from
    events: DayEvents = field(default_factory=DayEvents)
    gap: float = math.nan  # |ln(session's first open / previous session's last close)|


@dataclass(frozen=True)
class DayVolModel:
    """The fitted coefficients (see the module's docstring)."""

    intercept: float
    vix: float
    prior_rv: float
    session_rv: float
    vix1d: float = 0.0
    gap: float = 0.0
    fomc: float = 0.0
    cpi: float = 0.0
    monthly_expiry: float = 0.0
    rv_per_vix: float = 0.5  # RV_prior where unknown: this times VIX_open / 100
    gap_z_usual: float = 0.0  # the gap in days' sd where unknown (the fitted snapshots' median)

    def features(self, x: DayVolInputs) -> dict[str, float]:
        """Each coefficient's regressor for `x` (the intercept's is 1); NaN where VIX is unknown."""
        vix_now = x.vix_now
        vix_open = x.vix_open if _ok(x.vix_open) else vix_now
        prior = x.prior_rv if _ok(x.prior_rv) else self.rv_per_vix * vix_open / 100.0
        n = x.session_returns if _ok(x.session_rv) else 0
        weight = n / (n + SESSION_RETURNS_HALF_WEIGHT)
        session = weight * math.log(x.session_rv / prior) if n > 0 else 0.0
        one_day = math.log(x.vix1d_open / (VIX1D_OPEN_PER_VIX * vix_open)) if _ok(x.vix1d_open) else 0.0
        gap_ok = math.isfinite(x.gap) and x.gap >= 0.0 and _ok(prior)
        gap_z = x.gap / (prior / TRADING_DAYS**0.5) if gap_ok else self.gap_z_usual
        return {
            "intercept": 1.0,
            "vix": math.log(vix_now) if _ok(vix_now) else math.nan,
            "prior_rv": math.log(100.0 * prior) if _ok(prior) else math.nan,
            "session_rv": session,
            "vix1d": one_day,
            "gap": gap_z,
            "fomc": float(x.events.fomc),
            "cpi": float(x.events.cpi),
            "monthly_expiry": float(x.events.monthly_expiry),
        }

    def day_vol(self, x: DayVolInputs) -> float:
        """The same-day vol (vol points) at the minute of `x`; NaN without a VIX (no price for options)."""
        if not _ok(x.vix_now):
            return math.nan
        terms = self.features(x)
        return math.exp(sum(getattr(self, name) * value for name, value in terms.items()))


def _ok(value: float) -> bool:
    return math.isfinite(value) and value > 0.0


# Fitted by `make calibrate` (bench/calibrate_day_vol.py) on the 15 SPY chain days of 2026-07/08
# and the SPY and QQQ snapshots of 2026-02-11/12 (intercept, vix with prior_rv = 1 - vix, gap); the
# events' terms from SPY's daily ranges of 2024-04..2026-02-10 (bench/_day_vol_fit.event_terms),
# never from option quotes; the README shows the per-day and held-out errors.
DAY_VOL_MODEL = DayVolModel(
    intercept=-0.6759, vix=0.4854, prior_rv=0.5146, session_rv=0.0, vix1d=0.0, gap=0.1229, fomc=0.6658, cpi=0.0068,
    monthly_expiry=-0.0682, rv_per_vix=0.5208, gap_z_usual=0.5343,
)  # fmt: skip


def day_vol(x: DayVolInputs, model: DayVolModel = DAY_VOL_MODEL) -> float:
    """The same-day vol (vol points) that the surface's at-the-money level follows."""
    return model.day_vol(x)


def same_day_vol(
    vix_now: float, vix_open: float = math.nan, vix1d_open: float = math.nan, events: DayEvents | None = None
) -> float:
    """The model from the indexes (and the day's events, where given) without the moves: the live
    fallback and the console's risk view, which have no bars of earlier sessions at hand."""
    return day_vol(DayVolInputs(vix_now, vix_open, vix1d_open, events=events or DayEvents()))


def moved_by_vix(day_vol_now: float, vix_before: float, vix_after: float, model: DayVolModel = DAY_VOL_MODEL) -> float:
    """The same-day vol after the VIX moved from `vix_before` to `vix_after`, everything else held."""
    if not (_ok(day_vol_now) and _ok(vix_before) and _ok(vix_after)):
        return math.nan
    return day_vol_now * (vix_after / vix_before) ** model.vix
