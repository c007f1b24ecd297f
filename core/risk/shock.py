"""The shock grid: what the positions held now make or lose if the underlying moves by a few
percent over the next minutes, priced by the simulator's own surface.

For each move m and horizon h: the underlying at S x (1 + m); the VIX moved with it by the
calibrated elasticity (ln VIX changes by VIX_ELASTICITY x ln(1 + m), core/market/vol_indexes.py);
the same-day vol moved from the VIX by its own exponent (core/options/day_vol.py); and h fewer
minutes to expiry (the decay of those minutes). Each leg is repriced at its strike on the surface
(skew and smile included) and the grid holds the change in the book's mid value, in dollars.
Positions are legs with signed quantities, so single options and structures are one case.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from core.market.vol_indexes import VIX_ELASTICITY
from core.options.chain import model_value
from core.options.day_vol import moved_by_vix, same_day_vol
from core.types import OptionContract

MULTIPLIER = 100
MOVES_PCT: tuple[float, ...] = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)
HORIZONS_MIN: tuple[int, ...] = (5, 15, 30)


@dataclass(frozen=True)
class HeldLeg:
    """A contract held now: + long, - short (contracts)."""

    contract: OptionContract
    qty: int


@dataclass(frozen=True)
class Shock:
    move_pct: float
    horizon_min: int
    pnl: float  # dollars, the book's change in mid value


def book_value(legs: Iterable[HeldLeg], spots: dict[str, float], day_vol: float, minutes_left: float) -> float:
    """The legs' model mid value in dollars (core.options.chain.model_value per contract)."""
    return sum(
        leg.qty * MULTIPLIER * model_value(leg.contract, spots[leg.contract.underlying], day_vol, minutes_left)[0]
        for leg in legs
    )


def shocked_day_vol(day_vol: float, vix: float, move_pct: float) -> float:
    """The same-day vol after the underlying moved `move_pct`: the VIX by its elasticity, then the
    day's vol by its exponent on the VIX (core/options/day_vol.py)."""
    vix_after = vix * math.exp(VIX_ELASTICITY * math.log1p(move_pct / 100.0))
    return moved_by_vix(day_vol, vix, vix_after)


def shock_grid(
    legs: list[HeldLeg],
    spots: dict[str, float],
    vix: float,
    minutes_left: float,
    moves_pct: tuple[float, ...] = MOVES_PCT,
    horizons_min: tuple[int, ...] = HORIZONS_MIN,
) -> list[Shock]:
    """The grid for the legs held (see the module's docstring); every underlying moves by the
    same percentage (SPY and QQQ move together far more often than not)."""
    day_vol = same_day_vol(vix, math.nan)
    now = book_value(legs, spots, day_vol, minutes_left)
    grid = []
    for horizon in horizons_min:
        for move in moves_pct:
            moved = {u: s * (1.0 + move / 100.0) for u, s in spots.items()}
            later = book_value(legs, moved, shocked_day_vol(day_vol, vix, move), minutes_left - horizon)
            grid.append(Shock(move, horizon, later - now))
    return grid
