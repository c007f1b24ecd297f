"""The policy the cycle talks to: rules always, the RL model when one is loaded, chosen per cycle.

`policy_mode` is a live parameter (rl, rules or both). The RL policy sees every cycle whatever the mode
(the rules are stateless), so the LSTM's memory is current the moment an operator switches to rl
mid-session.
In `both` mode the two must agree: the probabilities are their average, the action is the one
they both chose (hold when they differ), and the confidence is that action's averaged
probability, so min_confidence applies to the pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from core.policy.base import Observation, Policy, PolicyOutput
from core.policy.rl import LstmMemory, RLPolicy
from core.types import Action, PolicyMode


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
        mode = self.effective_mode
        if mode is PolicyMode.RULES or self.rl is None:
            return self.rules.version
        return self.rl.version if mode is PolicyMode.RL else f"{self.rl.version}+{self.rules.version}"

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
            return self.rules.decide(obs, mask)
        by_rl = self.rl.decide(obs, mask)  # stepped every cycle: its memory must not skip bars
        mode = self.mode
        if mode is PolicyMode.RL:
            return by_rl  # the rule policy is stateless: nothing is lost by not asking it
        by_rules = self.rules.decide(obs, mask)
        return by_rules if mode is PolicyMode.RULES else agreement(by_rl, by_rules)


def agreement(a: PolicyOutput, b: PolicyOutput) -> PolicyOutput:
    """Both must choose the same action; otherwise hold."""
    probs = tuple((x + y) / 2.0 for x, y in zip(a.probabilities, b.probabilities, strict=True))
    raw = tuple((x + y) / 2.0 for x, y in zip(a.raw, b.raw, strict=True)) if a.raw and b.raw else ()
    action = a.action if a.action is b.action else Action.HOLD
    p = (probs[0], probs[1], probs[2], probs[3])
    return PolicyOutput(p, action, p[action], raw)
