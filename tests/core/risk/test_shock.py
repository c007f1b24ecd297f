"""The shock grid against a Black-Scholes repricing done by hand on a small book."""

from __future__ import annotations

import math
from datetime import date

import pytest

from core.options.day_vol import DAY_VOL_MODEL, same_day_vol
from core.options.surface import quote_scalar, surface_for
from core.risk.shock import VIX_ELASTICITY, HeldLeg, shock_grid
from core.types import OptionContract, Right

DAY = date(2026, 2, 11)


def _bs(spot: float, strike: float, minutes: float, iv: float, call: bool) -> float:
    """Black-Scholes with no rates, time in years of trading minutes, written out here."""
    t = minutes / (252 * 390)
    sd = iv * math.sqrt(t)
    d1 = (math.log(spot / strike) + 0.5 * sd * sd) / sd
    n = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    price_call = spot * n(d1) - strike * n(d1 - sd)
    return price_call if call else price_call - spot + strike


def _by_hand(
    book: list[tuple[OptionContract, int]], spot: float, vix: float, left: float, move: float, h: int
) -> float:
    dv = same_day_vol(vix, math.nan)
    vix_after = vix * math.exp(VIX_ELASTICITY * math.log(1 + move / 100))
    dv_after = dv * (vix_after / vix) ** DAY_VOL_MODEL.vix
    total = 0.0
    for contract, qty in book:
        call = contract.right is Right.CALL
        s = surface_for("SPY")
        iv_now = quote_scalar(spot, contract.strike, call, dv, left, s)[2]
        moved = spot * (1 + move / 100)
        iv_then = quote_scalar(moved, contract.strike, call, dv_after, left - h, s)[2]
        total += (
            qty
            * 100
            * (_bs(moved, contract.strike, left - h, iv_then, call) - _bs(spot, contract.strike, left, iv_now, call))
        )
    return total


def test_the_grid_matches_a_hand_repricing_of_a_small_book() -> None:
    call = OptionContract("SPY", DAY, 600.0, Right.CALL)
    short_put = OptionContract("SPY", DAY, 590.0, Right.PUT)
    book = [(call, 3), (short_put, -2)]
    legs = [HeldLeg(c, q) for c, q in book]
    grid = shock_grid(legs, {"SPY": 598.0}, vix=19.0, minutes_left=200.0)
    assert len(grid) == 18
    for shock in grid:
        expected = _by_hand(book, 598.0, 19.0, 200.0, shock.move_pct, shock.horizon_min)
        assert shock.pnl == pytest.approx(expected, rel=1e-6, abs=0.05), (shock.move_pct, shock.horizon_min)
    up = {s.move_pct: s.pnl for s in grid if s.horizon_min == 5}
    assert up[2.0] > up[0.5] > 0 > up[-2.0], "long calls and short puts: a bullish book"
