"""The policy interface: probabilities over hold / buy_call / buy_put / close, masked.

Confidence is the probability of the chosen action after invalid actions are masked and the
rest renormalised, so a policy can never be 'confident' about something it may not do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

import numpy as np

from core.types import Action


@dataclass(frozen=True, slots=True)
class Observation:
    """What a policy may look at for one symbol at one cycle."""

    symbol: str
    window_fn: Callable[[], np.ndarray]  # (WINDOW, len(FEATURE_NAMES)), oldest row first; built on demand
    features: dict[str, float]  # the newest row by name
    position_direction: int  # +1 long calls, -1 long puts, 0 flat
    unrealized_pct: float
    minutes_held: float
    now: datetime | None = None  # the cycle time
    bars_seen: int = -1  # completed bars behind `features` this session (-1: unknown)

    @property
    def window(self) -> np.ndarray:
        return self.window_fn()

    @property
    def in_position(self) -> bool:
        return self.position_direction != 0


@dataclass(frozen=True, slots=True)
class PolicyOutput:
    probabilities: tuple[float, float, float, float]  # indexed by Action, after masking
    action: Action
    confidence: float
    raw: tuple[float, ...] = ()  # the policy's own probabilities before masking

    def wanted(self, in_position: bool) -> Action:
        """The action the policy preferred when only the position masked it (not the safeguards):
        an entry it wanted but a safeguard masked is recorded with that safeguard's code."""
        if not self.raw:
            return self.action
        return masked_output(self.raw, action_mask(in_position)).action


class Policy(Protocol):
    name: str
    version: str

    def decide(self, obs: Observation, mask: Sequence[bool]) -> PolicyOutput:
        """Choose an action among those `mask` allows (bool per Action)."""

    def reset(self, symbol: str, day: date | None = None) -> None:
        """Forget per-symbol memory at the open of session `day` (kept if it already belongs to it)."""


def action_mask(in_position: bool, may_enter: bool = True) -> tuple[bool, bool, bool, bool]:
    """Valid actions, indexed by Action: hold always; buys only when flat and entries are possible;
    close only in a position."""
    buy = (not in_position) and may_enter
    return (True, buy, buy, in_position)


def masked_output(raw: Sequence[float], mask: Sequence[bool]) -> PolicyOutput:
    """Zero the masked actions, renormalise, take the argmax (ties go to the lower index: hold first)."""
    raw_t = (float(raw[0]), float(raw[1]), float(raw[2]), float(raw[3]))
    kept = [p if m and p > 0 else 0.0 for p, m in zip(raw_t, mask, strict=True)]
    total = kept[0] + kept[1] + kept[2] + kept[3]
    if total > 0:
        probs = [p / total for p in kept]
    else:
        allowed = sum(1 for m in mask if m)
        probs = [1.0 / allowed if m else 0.0 for m in mask]
    best = 0
    for i in (1, 2, 3):
        if probs[i] > probs[best]:
            best = i
    return PolicyOutput((probs[0], probs[1], probs[2], probs[3]), Action(best), probs[best], raw_t)
