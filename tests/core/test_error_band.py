"""The calibration's error band: surfaces scaled to its ends, and figures whose sign it flips."""

from __future__ import annotations

import pytest

from core.error_band import IV_ERROR_BAND, Banded, scaled_surfaces
from core.options.surface import SURFACES


def test_the_surfaces_scale_by_each_underlyings_measured_band() -> None:
    low, high = scaled_surfaces("low"), scaled_surfaces("high")
    for underlying, (lo, hi) in IV_ERROR_BAND.items():
        assert low[underlying].level == pytest.approx(SURFACES[underlying].level * lo)
        assert high[underlying].level == pytest.approx(SURFACES[underlying].level * hi)
        assert lo < 1.0 < hi, "a band on one side of the model would mean the model is biased: refit it"
    assert scaled_surfaces(None) == SURFACES
    with pytest.raises(ValueError, match="error band end"):
        scaled_surfaces("middle")


def test_a_figure_whose_sign_flips_inside_the_band_says_it_is_not_decided() -> None:
    decided = Banded(-26_165.0, -31_000.0, -19_000.0)
    assert decided.decided and decided.text() == ("-26,165 (at the calibration's error bounds: -31,000 to -19,000)")
    undecided = Banded(1_200.0, -800.0, 2_500.0)
    assert not undecided.decided and undecided.text().endswith(
        "not decided by the data (the sign flips inside the band)"
    )
    assert (undecided.low, undecided.high) == (-800.0, 2_500.0)
