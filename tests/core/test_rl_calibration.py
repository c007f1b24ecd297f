"""The RL policy's entry confidence on the scale of the win rate such entries had on held-back days."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.policy.base import Action, action_mask
from core.policy.rl import RLPolicy
from core.rl.calibration import PRIOR_TRADES, ConfidenceCalibration, calibration_note, fit_isotonic
from core.rl.confidence import Taken
from core.rl.metadata import metadata_path
from tests.rl_helpers import random_observation


def test_the_isotonic_fit_is_non_decreasing_and_pools_what_disagrees() -> None:
    # raw confidence says nothing: 0.9 won less often than 0.6
    taken = [Taken(0.55, 1.0)] * 6 + [Taken(0.6, -1.0)] * 4 + [Taken(0.9, 1.0)] * 3 + [Taken(0.9, -1.0)] * 7
    fitted = fit_isotonic(taken, days=12)
    assert fitted is not None and fitted.trades == 20 and fitted.days == 12
    assert list(fitted.y) == sorted(fitted.y), "a higher raw confidence never means a lower win rate"
    assert fitted.apply(0.9) == fitted.apply(0.55) == pytest.approx(0.45), "it says nothing: the base rate for all"
    telling = [Taken(0.55, 1.0)] * 3 + [Taken(0.55, -1.0)] * 7 + [Taken(0.9, 1.0)] * 8 + [Taken(0.9, -1.0)] * 2
    fitted_telling = fit_isotonic(telling, days=12)
    assert fitted_telling is not None
    base, k = 11 / 20, PRIOR_TRADES  # each step shrunk toward the base rate by k trades
    low, high = (3 + k * base) / (10 + k), (8 + k * base) / (10 + k)
    assert fitted_telling.apply(0.55) == pytest.approx(low) and fitted_telling.apply(0.9) == pytest.approx(high)
    assert fitted_telling.apply(0.99) == pytest.approx(high) and fitted_telling.apply(0.1) == pytest.approx(low)
    lucky = [Taken(0.4, -1.0)] * 12 + [Taken(0.5, 1.0)] * 8 + [Taken(0.6, 1.0)]  # one win at the top
    top = fit_isotonic(lucky, days=12)
    assert top is not None and top.apply(0.6) < 0.75, "one winning trade does not make the model that sure"
    assert fit_isotonic(taken[:19], days=12) is None, "fewer than 20 held-back trades: no calibration"
    note = calibration_note(None, 19, 12)
    assert note["x"] == [] and note["method"].startswith("none") and ConfidenceCalibration.from_dict(note) is None
    again = ConfidenceCalibration.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert again == fitted


def test_a_calibrated_model_reports_entry_confidence_as_the_fitted_win_rate(tiny_model: Path, tmp_path: Path) -> None:
    model = tiny_model  # the raw model: read, never changed
    calibrated = tmp_path / "cal" / model.name
    calibrated.parent.mkdir()
    shutil.copy(model, calibrated)
    meta = json.loads(metadata_path(model).read_text())
    meta["metrics"]["confidence_calibration"] = {"x": [0.0, 1.0], "y": [0.2, 0.4], "trades": 30, "days": 10}
    metadata_path(calibrated).write_text(json.dumps(meta))
    raw, cal = RLPolicy(model), RLPolicy(calibrated)
    rng = np.random.default_rng(5)
    entries = 0
    for _ in range(300):
        obs = random_observation(rng, direction=0)
        mask = action_mask(False, True)
        a, b = raw.decide(obs, mask), cal.decide(obs, mask)
        assert a.action is b.action and a.probabilities == b.probabilities
        if a.action in (Action.BUY_CALL, Action.BUY_PUT):
            entries += 1
            assert b.confidence == pytest.approx(0.2 + 0.2 * a.confidence)
        else:
            assert b.confidence == a.confidence, "holding and closing keep the policy's own probability"
    assert entries > 0, "the sample must hold entries for the test to mean anything"
