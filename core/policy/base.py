"""The policy interface: probabilities over the policy's action set, masked.

An action set (core.types.ActionSet) lists hold first, then the entries, then close: `long` is
hold / buy_call / buy_put / close, `credit` is hold / sell_put_spread / sell_call_spread /
iron_condor / close. Confidence is the probability of the chosen action after invalid actions
are masked and the rest renormalised, so a policy can never be 'confident' about something it
may not do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

import numpy as np

from core.types import Action, ActionSet

LONG_ACTIONS: tuple[Action, ...] = ActionSet.LONG.actions


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
    probabilities: tuple[float, ...]  # indexed like `actions`, after masking
    action: Action
    confidence: float
    raw: tuple[float, ...] = ()  # the policy's own probabilities before masking
    actions: tuple[Action, ...] = LONG_ACTIONS  # the action set both vectors are indexed by

    def wanted(self, in_position: bool) -> Action:
        """The action the policy preferred when only the position masked it (not the safeguards):
        an entry it wanted but a safeguard masked is recorded with that safeguard's code."""
        raw = self.raw
        if not raw:
            return self.action
        best, best_p = 0, max(raw[0], 0.0)  # masked_output's argmax over the position's actions
        last = len(self.actions) - 1
        for i in (last,) if in_position else range(1, last):
            if raw[i] > best_p:
                best, best_p = i, raw[i]
        return self.actions[best]

    def by_view(self) -> tuple[float, float, float, float, float | None]:
        """Hold, the bullish entry, the bearish entry, close, and the neutral entry (None when the
        set has none): how a decision row stores the probabilities of any action set."""
        views: dict[int, float] = {}
        for action, p in zip(self.actions, self.probabilities, strict=True):
            if action.is_entry:
                views[action.direction] = p
        return self.probabilities[0], views.get(1, 0.0), views.get(-1, 0.0), self.probabilities[-1], views.get(0)


class Policy(Protocol):
    name: str
    version: str

    def decide(self, obs: Observation, mask: Sequence[bool]) -> PolicyOutput:
        """Choose an action among those `mask` allows (a bool per action of its set, in order)."""

    def reset(self, symbol: str, day: date | None = None) -> None:
        """Forget per-symbol memory at the open of session `day` (kept if it already belongs to it)."""


def action_mask(
    in_position: bool, may_enter: bool = True, actions: tuple[Action, ...] = LONG_ACTIONS
) -> tuple[bool, ...]:
    """Valid actions, indexed like `actions`: hold always; entries only when flat and entries are
    possible; close only in a position."""
    entry = (not in_position) and may_enter
    return (True, *([entry] * (len(actions) - 2)), in_position)


def remask(mask: Sequence[bool], actions: tuple[Action, ...]) -> tuple[bool, ...]:
    """The same mask for another action set (every set is hold, its entries, close)."""
    if len(mask) == len(actions):
        return tuple(mask)
    return action_mask(bool(mask[-1]), any(mask[1:-1]), actions)


def masked_output(
    raw: Sequence[float], mask: Sequence[bool], actions: tuple[Action, ...] = LONG_ACTIONS
) -> PolicyOutput:
    """Zero the masked actions, renormalise, take the argmax (ties go to the lower index: hold first).

    The long set is written out per action: it runs for every symbol on every bar (see
    bench/backtest_throughput.py)."""
    if actions is not LONG_ACTIONS:
        return _masked_any(raw, mask, actions)
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
    return PolicyOutput(probs, LONG_ACTIONS[best], probs[best], (r0, r1, r2, r3))


def _masked_any(raw: Sequence[float], mask: Sequence[bool], actions: tuple[Action, ...]) -> PolicyOutput:
    """masked_output for any action set."""
    if not len(raw) == len(mask) == len(actions):
        raise ValueError(f"{len(actions)} actions, {len(raw)} probabilities and {len(mask)} mask entries")
    values = tuple(float(r) for r in raw)
    kept = [r if m and r > 0 else 0.0 for r, m in zip(values, mask, strict=True)]
    total = sum(kept)
    if total > 0:
        probs = tuple(k / total for k in kept)
    else:
        share = 1.0 / sum(bool(m) for m in mask)
        probs = tuple(share if m else 0.0 for m in mask)
    best = 0
    for i in range(1, len(probs)):
        if probs[i] > probs[best]:
            best = i
    return PolicyOutput(probs, actions[best], probs[best], values, actions)
