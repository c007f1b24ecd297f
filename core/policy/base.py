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


@dataclass(slots=True)  # not frozen: built per symbol per bar, and frozen init costs 3x
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
    structure_open: bool = False  # a structure is held (an iron condor has no direction)

    @property
    def window(self) -> np.ndarray:
        return self.window_fn()

    @property
    def in_position(self) -> bool:
        return self.position_direction != 0 or self.structure_open


@dataclass(slots=True)  # not frozen: built per symbol per bar, and frozen init costs 3x
class PolicyOutput:
    probabilities: tuple[float, float, float, float]  # indexed by Action, after masking
    action: Action
    confidence: float
    raw: tuple[float, ...] = ()  # the policy's own probabilities before masking

    def wanted(self, in_position: bool) -> Action:
        """The action the policy preferred when only the position masked it (not the safeguards):
        an entry it wanted but a safeguard masked is recorded with that safeguard's code."""
        raw = self.raw
        if not raw:
            return self.action
        best, best_p = 0, max(raw[0], 0.0)  # masked_output's argmax over the position's actions
        for i in (3,) if in_position else (1, 2):
            if raw[i] > best_p:
                best, best_p = i, raw[i]
        return _ACTIONS[best]


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


_ACTIONS: tuple[Action, ...] = tuple(Action)


def masked_output(raw: Sequence[float], mask: Sequence[bool]) -> PolicyOutput:
    """Zero the masked actions, renormalise, take the argmax (ties go to the lower index: hold first).

    Written out per action: it runs for every symbol on every bar (see bench/backtest_throughput.py)."""
    r0, r1, r2, r3 = float(raw[0]), float(raw[1]), float(raw[2]), float(raw[3])
    m0, m1, m2, m3 = mask
    k0 = r0 if m0 and r0 > 0 else 0.0
    k1 = r1 if m1 and r1 > 0 else 0.0
    k2 = r2 if m2 and r2 > 0 else 0.0
    k3 = r3 if m3 and r3 > 0 else 0.0
    total = k0 + k1 + k2 + k3
    if total > 0:
        probs = (k0 / total, k1 / total, k2 / total, k3 / total)
    else:
        share = 1.0 / (bool(m0) + bool(m1) + bool(m2) + bool(m3))
        probs = (share if m0 else 0.0, share if m1 else 0.0, share if m2 else 0.0, share if m3 else 0.0)
    best = 0
    for i in (1, 2, 3):
        if probs[i] > probs[best]:
            best = i
    return PolicyOutput(probs, _ACTIONS[best], probs[best], (r0, r1, r2, r3))
