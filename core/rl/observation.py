"""The policy's observation: the last WINDOW feature rows plus the position, scaled to ~[-3, 3].

The same two functions build it for the training environment and for the live RL policy, so the
two cannot drift: `scale_features` (the feature rows) and `with_position` (adds the position).
The scaling is fixed (not fitted to data) and written into the model's metadata; a model
trained with another layout is refused at load (core.rl.metadata).
"""

from __future__ import annotations

import numpy as np

from core.features import FEATURE_NAMES, WINDOW

POSITION_NAMES: tuple[str, ...] = ("position", "unrealized_pct", "minutes_held")
OBS_NAMES: tuple[str, ...] = FEATURE_NAMES + POSITION_NAMES
OBS_SHAPE: tuple[int, int] = (WINDOW, len(OBS_NAMES))
CLIP = 10.0

# (centre, scale) per observation column: value -> (value - centre) / scale
SCALING: dict[str, tuple[float, float]] = {
    "ret_1m": (0.0, 0.1),
    "range_pct": (0.08, 0.08),
    "volume_z": (0.0, 2.0),
    "vwap_dist_pct": (0.0, 0.3),
    "rsi_14": (50.0, 20.0),
    "atr_pct": (0.06, 0.05),
    "vix": (20.0, 10.0),
    "vix_change_pct": (0.0, 5.0),
    "minutes_to_close": (195.0, 195.0),
    "trend_pct": (0.0, 0.1),
    "rv_annual_pct": (15.0, 15.0),
    "position": (0.0, 1.0),
    "unrealized_pct": (0.0, 20.0),
    "minutes_held": (0.0, 60.0),
}
_CENTRE = np.asarray([SCALING[n][0] for n in OBS_NAMES], dtype=np.float32)
_SCALE = np.asarray([SCALING[n][1] for n in OBS_NAMES], dtype=np.float32)
_N_FEATURES = len(FEATURE_NAMES)


def scale_features(windows: np.ndarray) -> np.ndarray:
    """Scale and clip feature rows (any leading shape, last axis FEATURE_NAMES); all-zero rows
    (before the session's first bars) stay zero. The environment does this once per session."""
    out = (np.asarray(windows, dtype=np.float32) - _CENTRE[:_N_FEATURES]) / _SCALE[:_N_FEATURES]
    out[~np.asarray(windows).any(axis=-1)] = 0.0
    np.clip(out, -CLIP, CLIP, out=out)
    return out


def scale_row(row: np.ndarray) -> np.ndarray:
    """One feature row scaled exactly as `scale_features` scales it (the live policy appends these)."""
    out = (np.asarray(row, dtype=np.float32) - _CENTRE[:_N_FEATURES]) / _SCALE[:_N_FEATURES]
    if not np.asarray(row).any():
        out[:] = 0.0
    np.clip(out, -CLIP, CLIP, out=out)
    return out


def with_position(scaled: np.ndarray, direction: int, unrealized_pct: float, minutes_held: float) -> np.ndarray:
    """(WINDOW, len(OBS_NAMES)) float32: scaled feature rows with the position on every row."""
    out = np.empty(OBS_SHAPE, dtype=np.float32)
    out[:, :_N_FEATURES] = scaled
    out[:, _N_FEATURES] = direction
    out[:, _N_FEATURES + 1] = min(max(unrealized_pct / _SCALE[_N_FEATURES + 1], -CLIP), CLIP)
    out[:, _N_FEATURES + 2] = min(minutes_held / _SCALE[_N_FEATURES + 2], CLIP)
    return out


def scaling_table() -> dict[str, list[float]]:
    """The scaling as written into a model's metadata."""
    return {name: [SCALING[name][0], SCALING[name][1]] for name in OBS_NAMES}
