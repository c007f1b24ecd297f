"""The policy the cycle talks to: rules always, the RL model when one is loaded, chosen per cycle.

`policy_mode` is a live parameter (rl, rules or both). The RL policy sees every cycle whatever the mode
(the rules are stateless), so the LSTM's memory is current the moment an operator switches to rl
mid-session.
In `both` mode the two must agree: the probabilities are their average, the action is the one
they both chose (hold when they differ), and the confidence is that action's averaged
probability, so min_confidence applies to the pair. A model on the `credit` action set agrees
with the rules by view: its put credit spread with their call (both bullish), its call credit
spread with their put, its iron condor (no direction) with their hold; the pair then speaks the
model's action set.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from core.policy.base import LONG_ACTIONS, Observation, Policy, PolicyOutput, remask
from core.policy.rl import LstmMemory, RLPolicy
from core.types import Action, PolicyMode


def policy_version(mode: PolicyMode, model_version: str | None, rules_version: str) -> str:
    """The version decisions and trades carry: the model's, the rules', or both joined in `both` mode."""
    if mode is PolicyMode.RULES or model_version is None:
        return rules_version
    return model_version if mode is PolicyMode.RL else f"{model_version}+{rules_version}"


class PolicySet:
    """Rules (or a baseline in its place) plus an optional RL policy behind the Policy interface."""

    def __init__(self, rules: Policy, rl: RLPolicy | None = None, mode: PolicyMode = PolicyMode.RL) -> None:
        self.rules = rules
        self.rl = rl
        self.mode = mode

    @property
    def effective_mode(self) -> PolicyMode:
        return self.mode if self.rl is not None else PolicyMode.RULES

    @property
    def name(self) -> str:
        return self.effective_mode.value

    @property
    def version(self) -> str:
        return policy_version(self.effective_mode, None if self.rl is None else self.rl.version, self.rules.version)

    @property
    def actions(self) -> tuple[Action, ...]:
        """The action set the cycle masks and reads: the model's unless the rules alone decide."""
        if self.rl is None or self.effective_mode is PolicyMode.RULES:
            return LONG_ACTIONS
        return self.rl.actions

    def set_mode(self, mode: PolicyMode) -> None:
        self.mode = mode

    def reset(self, symbol: str, day: date | None = None) -> None:
        self.rules.reset(symbol, day)
        if self.rl is not None:
            self.rl.reset(symbol, day)

    def memory(self, symbol: str) -> LstmMemory | None:
        return None if self.rl is None else self.rl.memory(symbol)

    def decide(self, obs: Observation, mask: Sequence[bool]) -> PolicyOutput:
        if self.rl is None:
            return self.rules.decide(obs, remask(mask, LONG_ACTIONS))
        by_rl = self.rl.decide(obs, remask(mask, self.rl.actions))  # stepped every cycle: no skipped bars
        mode = self.mode
        if mode is PolicyMode.RL:
            return by_rl  # the rule policy is stateless: nothing is lost by not asking it
        by_rules = self.rules.decide(obs, remask(mask, LONG_ACTIONS))
        return by_rules if mode is PolicyMode.RULES else agreement(by_rl, by_rules)


def agreement(a: PolicyOutput, b: PolicyOutput) -> PolicyOutput:
    """Both must choose the same action (or, across action sets, the same view); otherwise hold.
    `a` is the model's answer, `b` the rules'; the result speaks `a`'s action set."""
    if a.actions != b.actions:
        return _agreement_by_view(a, b)
    probs = tuple((x + y) / 2.0 for x, y in zip(a.probabilities, b.probabilities, strict=True))
    raw = tuple((x + y) / 2.0 for x, y in zip(a.raw, b.raw, strict=True)) if a.raw and b.raw else ()
    action = a.action if a.action is b.action else Action.HOLD
    i = a.actions.index(action)
    return PolicyOutput(probs, action, probs[i], raw, a.actions)


def _view(action: Action) -> int:
    """0 hold or a neutral entry, 1 a bullish entry, 2 a bearish entry, 3 close."""
    if action is Action.CLOSE:
        return 3
    if action.is_entry and action.direction:
        return 1 if action.direction > 0 else 2
    return 0


def _agreement_by_view(a: PolicyOutput, b: PolicyOutput) -> PolicyOutput:
    """The model's action when the rules take the same view: an entry in the same direction, a
    close with a close, a neutral entry (or a hold) with the rules' hold."""
    action = a.action if _view(a.action) == _view(b.action) else Action.HOLD
    hold, up, down, close, neutral = b.by_view()
    theirs = (hold + (neutral or 0.0), up, down, close)[_view(action)]
    confidence = (a.probabilities[a.actions.index(action)] + theirs) / 2.0
    return PolicyOutput(a.probabilities, action, confidence, a.raw, a.actions)
