"""The price model's error band from held-out days, and whether the market falls inside it.

What the band must cover is the error on a day the model has never seen, and that error moves by
day (the same-day vol level) far more than by quote. So the band is built from the
leave-one-day-out errors, never the fit's own residuals: each quote's error is ln(real IV / model
IV) with the model fitted on the other days; each day's error is the median of its quotes' at
|delta| 0.2-0.8; the band is a prediction interval for the next day's error plus the spread of
quotes around their day's:

    half = sqrt((t * sd_days * sqrt(1 + 1/n))**2 + (z * sd_within)**2)
    band = exp(mean_days - half), exp(mean_days + half)       # factors on the model's implied vol

with n the underlying's days, t Student's t quantile with n - 1 degrees of freedom (at least 1)
and z the normal one, both at COVERAGE. The spread between days is pooled over the underlyings
(each around its own mean: QQQ's two days cannot measure it alone) while its t and 1/n are the
underlying's own, so an underlying with few days gets a wider band. bench/calibrate_day_vol.py
measures the band's coverage held out: every day's band is built without that day.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from core.options.chain import ChainSnapshot
from core.structures.legs import LegChoice, build
from core.structures.types import StructureKind
from core.types import Quote

COVERAGE = 0.90  # the nominal central coverage of the interval (the target held out: 80%)
CREDIT_KINDS = (StructureKind.PUT_CREDIT_SPREAD, StructureKind.CALL_CREDIT_SPREAD, StructureKind.IRON_CONDOR)


@dataclass(frozen=True)
class DayError:
    """One held-out day's error on one underlying: its quotes' ln(real IV / model IV)."""

    underlying: str
    day: object  # a date (any hashable label in tests)
    errors: tuple[float, ...]

    @property
    def median(self) -> float:
        return float(np.median(self.errors))


@dataclass(frozen=True)
class Band:
    """Factors on the model's implied vol at the band's low and high ends, and how they were made."""

    low: float
    high: float
    days: int
    center: float  # mean of the days' log errors (the model's bias held out)
    sd_days: float
    sd_within: float
    t: float


def build_bands(day_errors: Iterable[DayError], coverage: float = COVERAGE) -> dict[str, Band]:
    """Each underlying's band from its held-out days (see the module's docstring)."""
    by_u: dict[str, list[DayError]] = {}
    for d in day_errors:
        if d.errors:
            by_u.setdefault(d.underlying, []).append(d)
    if not by_u:
        return {}
    centred = [d.median - float(np.mean([e.median for e in days])) for days in by_u.values() for d in days]
    dof = len(centred) - len(by_u)
    sd_days = math.sqrt(sum(c * c for c in centred) / dof) if dof > 0 else 0.0
    within = np.concatenate([np.asarray(d.errors) - d.median for days in by_u.values() for d in days])
    sd_within = float(np.std(within)) if within.size else 0.0
    z = float(norm.ppf(0.5 + coverage / 2.0))
    bands = {}
    for u, days in sorted(by_u.items()):
        n = len(days)
        t = float(student_t.ppf(0.5 + coverage / 2.0, df=max(n - 1, 1)))
        center = float(np.mean([d.median for d in days]))
        half = math.hypot(t * sd_days * math.sqrt(1.0 + 1.0 / n), z * sd_within)
        bands[u] = Band(math.exp(center - half), math.exp(center + half), n, center, sd_days, sd_within, t)
    return bands


def inside(real: np.ndarray, at_low: np.ndarray, at_high: np.ndarray) -> np.ndarray:
    """Whether each real value lies between the model's values at the band's two ends."""
    lo, hi = np.minimum(at_low, at_high), np.maximum(at_low, at_high)
    return (real >= lo) & (real <= hi)


@dataclass(frozen=True)
class CreditCheck:
    """One structure the worker would open from the real chain: its real mid credit and the model's
    credit for the same legs at the band's ends (per share, positive: credit received)."""

    kind: StructureKind
    real: float
    at_low: float
    at_high: float

    @property
    def covered(self) -> bool:
        return min(self.at_low, self.at_high) <= self.real <= max(self.at_low, self.at_high)


def credit_checks(
    real: ChainSnapshot,
    at_low: Mapping[str, Quote],
    at_high: Mapping[str, Quote],
    choice: LegChoice,
    kinds: tuple[StructureKind, ...] = CREDIT_KINDS,
) -> list[CreditCheck]:
    """The structures `build` chooses from the real chain (its legs by the real deltas), each with
    the model's credit for the same contracts at the band's ends (quotes by contract symbol); a
    structure the chain cannot build, or whose legs the model did not price, is left out."""
    checks = []
    for kind in kinds:
        built = build(kind, real, choice)
        if built.structure is None:
            continue
        symbols = [leg.contract.symbol for leg in built.structure.legs]
        if not all(s in at_low and s in at_high for s in symbols):
            continue
        checks.append(
            CreditCheck(
                kind,
                -built.structure.open_price(built.quotes, "mid"),
                -built.structure.open_price(dict(at_low), "mid"),
                -built.structure.open_price(dict(at_high), "mid"),
            )
        )
    return checks
