"""What a structure can make and lose at expiry, and the buying power a broker holds for it.

The payoff at expiry is piecewise linear in the underlying with kinks at the strikes, so its
extremes and zero crossings are found exactly from the strikes and the slope beyond the last
one; no price grid is sampled. Figures are in dollars for `qty` structures (x100 per contract).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from core.structures.types import Leg, Structure
from core.types import Right

MULTIPLIER = 100


@dataclass(frozen=True)
class Payoff:
    """At expiry, for `qty` structures opened at `open_price` per share (debit +, credit -)."""

    max_loss: float  # dollars, >= 0; inf for an uncovered short (never built here)
    max_gain: float  # dollars; inf for a long call
    breakevens: tuple[float, ...]  # underlying prices where the P&L at expiry is zero


def expiry_value(structure: Structure, spot: float) -> float:
    """The structure's value per share at expiry at `spot` (long legs +, short legs -)."""
    return sum(leg.ratio * leg.intrinsic(spot) for leg in structure.legs)


def pnl_at_expiry(structure: Structure, open_price: float, spot: float, qty: int = 1) -> float:
    """Dollars made at expiry at `spot` by `qty` structures opened at `open_price`, fees aside."""
    return (expiry_value(structure, spot) - open_price) * MULTIPLIER * qty


def _slope_above(structure: Structure) -> int:
    """dValue/dSpot beyond the highest strike: the calls' ratios."""
    return sum(leg.ratio for leg in structure.legs if leg.contract.right is Right.CALL)


def payoff(structure: Structure, open_price: float, qty: int = 1) -> Payoff:
    """Max loss, max gain and breakevens at expiry (see the module's docstring)."""
    kinks = sorted({0.0, *(leg.contract.strike for leg in structure.legs)})
    values = [pnl_at_expiry(structure, open_price, s, qty) for s in kinks]
    slope = _slope_above(structure)
    high_side = math.inf if slope > 0 else (-math.inf if slope < 0 else values[-1])
    max_gain = max(*values, high_side)
    max_loss = max(0.0, -min(*values, high_side))
    far = 2.0 * kinks[-1] + 10.0  # past every kink: the segment beyond the last strike, exactly
    points = [*zip(kinks, values, strict=True), (far, pnl_at_expiry(structure, open_price, far, qty))]
    breakevens = []
    for (s0, v0), (s1, v1) in itertools.pairwise(points):
        if v0 == 0.0:
            breakevens.append(s0)
        elif v0 * v1 < 0.0:
            breakevens.append(s0 + (s1 - s0) * v0 / (v0 - v1))
    return Payoff(max_loss, max_gain, tuple(sorted({round(b, 4) for b in breakevens})))


def buying_power(structure: Structure, open_price: float, qty: int = 1) -> float:
    """What the broker holds to open `qty` structures: `legs_buying_power` of its legs."""
    return legs_buying_power(structure.legs, open_price, qty)


def legs_buying_power(legs: Iterable[Leg], open_price: float, qty: int = 1) -> float:
    """Alpaca's universal spread rule: the worst value of the legs at expiry over every price,
    premiums ignored, plus a net debit paid (long legs only: just the debit). Inf for a short call
    no long call covers (Alpaca refuses it)."""
    legs = tuple(legs)
    if sum(leg.ratio for leg in legs if leg.contract.right is Right.CALL) < 0:
        return math.inf
    kinks = sorted({0.0, *(leg.contract.strike for leg in legs)})
    worst = min(sum(leg.ratio * leg.intrinsic(s) for leg in legs) for s in kinks)
    return (max(-worst, 0.0) + max(open_price, 0.0)) * MULTIPLIER * qty
