"""The RecurrentPPO policy served live: loaded once, checked, LSTM state carried per symbol.

- Load: the metadata beside the zip is checked against the live pipeline (core.rl.metadata)
  and so is the network's own input shape; a mismatch raises `ModelMismatchError` with what
  was expected and what was found, before the first cycle.
- Memory: one LSTM state (h, c) per symbol, advanced exactly once per cycle, zeroed at the
  session open (`reset`), exported for the database after every step and restored after a
  restart (`memory` / `restore`), so a worker restarted mid-session carries on from it.
- Decisions are deterministic: the action distribution's probabilities, masked and renormalised
  (core.policy.base.masked_output), argmax; confidence is the chosen action's probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from core.policy.base import Observation, PolicyOutput, masked_output
from core.rl.metadata import ModelMetadata, ModelMismatchError, check_compatible, metadata_path
from core.rl.observation import OBS_SHAPE, encode


@dataclass
class LstmMemory:
    """One symbol's LSTM state after `steps` cycles of session `day`."""

    day: date | None
    steps: int
    hidden: np.ndarray  # (layers, 1, hidden_size) float32
    cell: np.ndarray

    def to_bytes(self) -> bytes:
        return np.concatenate([self.hidden.ravel(), self.cell.ravel()]).astype("<f4").tobytes()

    @staticmethod
    def from_bytes(blob: bytes, shape: tuple[int, ...], day: date | None, steps: int) -> LstmMemory:
        flat = np.frombuffer(blob, dtype="<f4")
        half = flat.size // 2
        if half != int(np.prod(shape)):
            raise ValueError(f"stored LSTM state has {flat.size} values, the model needs {2 * int(np.prod(shape))}")
        return LstmMemory(day, steps, flat[:half].reshape(shape).copy(), flat[half:].reshape(shape).copy())


class RLPolicy:
    """A RecurrentPPO model behind the Policy interface."""

    name = "rl"

    def __init__(self, model_path: str | Path) -> None:
        import torch
        from sb3_contrib import RecurrentPPO

        path = Path(model_path)
        self.metadata = ModelMetadata.read(metadata_path(path))
        check_compatible(self.metadata)
        if not path.exists():
            raise ModelMismatchError(f"model file {path} is missing")
        try:
            model = RecurrentPPO.load(path, device="cpu")
        except Exception as exc:  # a corrupt or foreign zip: refuse at load, never mid-session
            raise ModelMismatchError(f"model file {path} could not be loaded: {exc}") from None
        check_compatible(self.metadata, tuple(model.observation_space.shape or ()))
        n_actions = int(getattr(model.action_space, "n", 0))
        if n_actions != len(self.metadata.action_names):
            raise ModelMismatchError(
                f"model {self.metadata.model_version}: expected {len(self.metadata.action_names)} actions, "
                f"found {n_actions} in the model zip"
            )
        self._torch = torch
        self._net = model.policy
        self._net.set_training_mode(False)
        lstm = self._net.lstm_actor
        self.state_shape = (lstm.num_layers, 1, lstm.hidden_size)
        self.version = self.metadata.model_version
        self._memory: dict[str, LstmMemory] = {}
        self._start = torch.zeros(1)
        self._continue = torch.zeros(1)

    # ---- memory ----------------------------------------------------------------------------
    def _fresh(self, day: date | None) -> LstmMemory:
        zeros = np.zeros(self.state_shape, dtype=np.float32)
        return LstmMemory(day, 0, zeros, zeros.copy())

    def reset(self, symbol: str, day: date | None = None) -> None:
        """Session open: zero the state unless it already belongs to this session (a restart)."""
        held = self._memory.get(symbol)
        if held is None or day is None or held.day != day:
            self._memory[symbol] = self._fresh(day)

    def memory(self, symbol: str) -> LstmMemory | None:
        return self._memory.get(symbol)

    def restore(self, symbol: str, memory: LstmMemory) -> None:
        self._memory[symbol] = memory

    # ---- decisions -------------------------------------------------------------------------
    def probabilities(self, obs: Observation) -> np.ndarray:
        """Advance the symbol's LSTM by one step and return the raw action probabilities."""
        torch = self._torch
        held = self._memory.get(obs.symbol) or self._fresh(None)
        x = encode(obs.window, obs.position_direction, obs.unrealized_pct, obs.minutes_held)
        with torch.no_grad():
            state = (torch.from_numpy(held.hidden), torch.from_numpy(held.cell))
            dist, (h, c) = self._net.get_distribution(torch.from_numpy(x).reshape(1, *OBS_SHAPE), state, self._continue)
            probs = dist.distribution.probs[0].numpy().astype(float)
        self._memory[obs.symbol] = LstmMemory(held.day, held.steps + 1, h.numpy(), c.numpy())
        return probs

    def decide(self, obs: Observation, mask: Sequence[bool]) -> PolicyOutput:
        return masked_output(self.probabilities(obs), mask)
