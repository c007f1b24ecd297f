"""A structure's greeks summed over its legs, and its value now over a range of the underlying,
from the simulator's surface (the prices the backtest uses), for the console's card.

Each leg is priced by the surface at its own strike (skew and smile included); the sums carry the
legs' signed ratios, so a short leg subtracts. Gamma and vega are finite differences of those
prices (1% of the spot, one vol point), theta the change over the next ten minutes; all in dollars
for the structures held (x100 per contract). The day's vol index is the VIX scaled to VIX1D
points, as the console's single-option greeks use (it has no session open to anchor on).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.options.chain import model_value
from core.options.day_vol import same_day_vol
from core.structures.types import Structure

MULTIPLIER = 100


@dataclass(frozen=True)
class StructureGreeks:
    delta: float  # underlying shares equivalent: dollars per $1 move
    gamma: float  # change of delta per $1 move
    theta_10min: float  # dollars over the next ten minutes, the spot unchanged
    vega: float  # dollars per implied vol point


def _value(structure: Structure, spot: float, day_vol: float, minutes: float, bump: float = 0.0) -> tuple[float, float]:
    """(value per share, delta per share) at `spot`, every leg's IV moved by `bump` (0.01: a point)."""
    value = delta = 0.0
    for leg in structure.legs:
        price, d = model_value(leg.contract, spot, day_vol, minutes, bump)
        value += leg.ratio * price
        delta += leg.ratio * d
    return value, delta


def structure_greeks(structure: Structure, qty: int, spot: float, vix: float, minutes_left: float) -> StructureGreeks:
    day_vol = same_day_vol(vix, float("nan"))
    h = spot * 0.01
    now, delta = _value(structure, spot, day_vol, minutes_left)
    _, up = _value(structure, spot + h, day_vol, minutes_left)
    _, down = _value(structure, spot - h, day_vol, minutes_left)
    later, _ = _value(structure, spot, day_vol, max(minutes_left - 10.0, 0.0))
    bumped, _ = _value(structure, spot, day_vol, minutes_left, bump=0.01)
    scale = MULTIPLIER * qty
    return StructureGreeks(delta * scale, (up - down) / (2 * h) * scale, (later - now) * scale, (bumped - now) * scale)


def value_now(structure: Structure, spots: list[float], vix: float, minutes_left: float) -> list[float]:
    """The structure's model value per share at each underlying price, now (not at expiry)."""
    day_vol = same_day_vol(vix, float("nan"))
    return [_value(structure, s, day_vol, minutes_left)[0] for s in spots]
