"""Baseline policies for the walk-forward evaluation, behind the same Policy interface."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import numpy as np

from core.policy.base import Observation, PolicyOutput, masked_output


class HoldPolicy:
    """Never trades: the zero line every other policy must beat after costs."""

    name = "hold"
    version = "hold"

    def reset(self, symbol: str, day: date | None = None) -> None:
        return None

    def decide(self, obs: Observation, mask: Sequence[bool]) -> PolicyOutput:
        return masked_output((1.0, 0.0, 0.0, 0.0), mask)


class RandomEntryPolicy:
    """Buys a random call or put at preset random moments and leaves the exits to the exit rules.

    `entries` is a set of (symbol, cycle time) picked by the evaluation, as many as the policy
    under test traded, so the two differ only in when they enter.
    """

    name = "random"
    version = "random-entries"

    def __init__(self, entries: set[tuple[str, datetime]], seed: int) -> None:
        self.entries = entries
        self.rng = np.random.default_rng(seed)

    def reset(self, symbol: str, day: date | None = None) -> None:
        return None

    def decide(self, obs: Observation, mask: Sequence[bool]) -> PolicyOutput:
        if obs.now is not None and (obs.symbol, obs.now) in self.entries:
            side = 1 if self.rng.random() < 0.5 else 2
            raw = [0.0, 0.0, 0.0, 0.0]
            raw[side] = 1.0
            return masked_output(raw, mask)
        return masked_output((1.0, 0.0, 0.0, 0.0), mask)
