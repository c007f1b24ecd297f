"""Confidence on a scale that means something: the RL policy's entry probability mapped to the win
rate its entries had on held-back training days.

The policy's probability of buying is not a probability of winning: out of sample, entries it
made at 0.6 won about as often as those it made at 0.9. The evaluation therefore keeps the last
training days back, trains on the rest, backtests the model on the held-back days with the
entry threshold at its floor, and fits an isotonic regression (pool-adjacent-violators: the
best non-decreasing step function, in least squares) of "the trade won" on the entry's raw
confidence, each step shrunk toward the held-back base rate (PRIOR_TRADES) so that a handful of
trades cannot claim certainty. `RLPolicy` then reports an entry's confidence as that win rate, so
`min_confidence` 0.75 admits an entry only where such entries won three times in four on days the
model did not train on. Too few held-back trades (MIN_TRADES) leave the model uncalibrated, and
its metadata says so. Closing and holding keep the policy's own probability.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from core.rl.confidence import Taken

MIN_TRADES = 20
# Each fitted block is shrunk toward the held-back base rate as if it held this many more trades at
# that rate: a block of one winning trade must not claim a win rate of 1 (the shipped model's first
# calibration did exactly that at its highest raw confidence).
PRIOR_TRADES = 10
METHOD = (
    "isotonic regression (pool-adjacent-violators) of win on raw entry confidence, each step shrunk toward "
    "the base rate by 10 trades, on held-back training days"
)


@dataclass(frozen=True)
class ConfidenceCalibration:
    """A non-decreasing map from raw entry confidence to win rate (linear between the points)."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    trades: int
    days: int
    method: str = METHOD

    def apply(self, raw: float) -> float:
        return float(np.interp(raw, self.x, self.y))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "x": list(self.x), "y": list(self.y)}

    @staticmethod
    def from_dict(raw: Mapping[str, Any] | None) -> ConfidenceCalibration | None:
        if not raw or not raw.get("x"):
            return None
        return ConfidenceCalibration(
            tuple(float(v) for v in raw["x"]),
            tuple(float(v) for v in raw["y"]),
            int(raw.get("trades", 0)),
            int(raw.get("days", 0)),
            str(raw.get("method", METHOD)),
        )


def fit_isotonic(taken: Sequence[Taken], days: int, min_trades: int = MIN_TRADES) -> ConfidenceCalibration | None:
    """The calibration from the held-back trades; None with fewer than `min_trades` of them."""
    if len(taken) < min_trades:
        return None
    order = sorted(taken, key=lambda t: t.confidence)
    # blocks of [sum of confidence, sum of wins, count], merged while the win rate does not rise
    blocks: list[list[float]] = []
    for t in order:
        blocks.append([t.confidence, 1.0 if t.pnl > 0 else 0.0, 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            last = blocks.pop()
            blocks[-1] = [a + b for a, b in zip(blocks[-1], last, strict=True)]
    base = sum(b[1] for b in blocks) / len(taken)
    shrunk = np.maximum.accumulate([(b[1] + PRIOR_TRADES * base) / (b[2] + PRIOR_TRADES) for b in blocks])
    x = tuple(round(b[0] / b[2], 6) for b in blocks)
    return ConfidenceCalibration(x, tuple(round(float(v), 6) for v in shrunk), len(taken), days)


def calibration_note(calibration: ConfidenceCalibration | None, trades: int, days: int) -> dict[str, Any]:
    """What the model's metadata records: the map, or why there is none."""
    if calibration is not None:
        return calibration.to_dict()
    return {"x": [], "y": [], "trades": trades, "days": days, "method": f"none: fewer than {MIN_TRADES} trades"}
