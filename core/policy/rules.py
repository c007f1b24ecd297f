"""The rule-based baseline: trend + VWAP + RSI momentum, expressed as action probabilities.

A score per direction is turned into probabilities with a softmax, so the baseline speaks the
same language as the RL policy and the confidence threshold means the same thing for both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from core.policy.base import Observation, PolicyOutput, masked_output

HOLD_SCORE = 2.8  # the bar a directional score must clear; tuned so entries are the exception


class RulePolicy:
    """Buy calls in a confirmed up-move, puts in a confirmed down-move; close when it fades."""

    name = "rules"
    version = "rules-1"

    def __init__(self, temperature: float = 0.6) -> None:
        self.temperature = temperature

    def reset(self, symbol: str, day: date | None = None) -> None:  # stateless
        return None

    def decide(self, obs: Observation, mask: Sequence[bool]) -> PolicyOutput:
        f = obs.features
        if not f:
            return masked_output((1.0, 0.0, 0.0, 0.0), mask)
        atr = max(f["atr_pct"], 1e-4)
        trend = f["trend_pct"] / atr  # EMA spread in ATRs
        vwap = f["vwap_dist_pct"] / atr  # distance to VWAP in ATRs
        rsi = (f["rsi_14"] - 50.0) / 10.0  # RSI in tens around 50
        up = 0.9 * trend + 0.5 * vwap + 0.5 * rsi
        down = -up
        fade = -5.0
        if obs.position_direction:
            # momentum against the position (calls want up, puts want down) argues for closing
            fade = 0.8 - 1.5 * up * obs.position_direction
        scores = [x / self.temperature for x in (HOLD_SCORE, up - 1.0, down - 1.0, fade)]
        top = max(scores)
        raw = [math.exp(x - top) for x in scores]
        return masked_output(raw, mask)
