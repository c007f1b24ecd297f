"""The fitted surfaces' wings: out-of-the-money prices fall with the distance from the money on
both sides, and the put wing is never cheaper than the call wing as far from the money (as on
every real chain day), for every surface at any vol level and time left."""

from __future__ import annotations

import numpy as np
import pytest

from core.options.pricing import MINUTES_PER_YEAR, bs_price_delta
from core.options.surface import SURFACES, atm_iv, smile_iv

SPOT = 600.0
STRIKES = np.arange(560.0, 640.5, 0.5)  # within the 3% the product trades in, and beyond
CASES = [(dv, left) for dv in (8.0, 12.0, 20.0, 30.0) for left in (5.0, 30.0, 120.0, 390.0)]


@pytest.mark.parametrize("underlying", sorted(SURFACES))
@pytest.mark.parametrize(("day_vol", "minutes_left"), CASES)
def test_out_of_the_money_prices_fall_into_both_wings(underlying: str, day_vol: float, minutes_left: float) -> None:
    p = SURFACES[underlying]
    iv = smile_iv(SPOT, STRIKES, day_vol, minutes_left, p)
    calls = np.array([bs_price_delta(SPOT, k, minutes_left, v, True)[0] for k, v in zip(STRIKES, iv, strict=True)])
    puts = np.array([bs_price_delta(SPOT, k, minutes_left, v, False)[0] for k, v in zip(STRIKES, iv, strict=True)])
    assert np.all(np.diff(calls) <= 1e-12), "a call dearer than a nearer one"
    assert np.all(np.diff(puts) >= -1e-12), "a put dearer than a nearer one"


@pytest.mark.parametrize("underlying", sorted(SURFACES))
@pytest.mark.parametrize(("day_vol", "minutes_left"), CASES)
def test_the_put_wing_is_not_cheaper_than_the_call_wing(underlying: str, day_vol: float, minutes_left: float) -> None:
    p = SURFACES[underlying]
    vol_t = atm_iv(day_vol, minutes_left, p) * np.sqrt(minutes_left / MINUTES_PER_YEAR)
    z = np.linspace(0.25, 5.0, 20)  # standardised distance from the money, as far as the quotes go
    up, down = SPOT * np.exp(z * vol_t), SPOT * np.exp(-z * vol_t)
    call_iv, put_iv = smile_iv(SPOT, up, day_vol, minutes_left, p), smile_iv(SPOT, down, day_vol, minutes_left, p)
    assert np.all(put_iv >= call_iv), "the call wing richer than the put wing as far out"
