"""The RecurrentPPO policy served live: loaded once, checked, LSTM state carried per symbol.

- Load: the metadata beside the zip is checked against the live pipeline (core.rl.metadata)
  and so is the network's own input shape; a mismatch raises `ModelMismatchError` with what
  was expected and what was found, before the first cycle.
- Memory: one LSTM state (h, c) per symbol, advanced exactly once per cycle, zeroed at the
  session open (`reset`), exported for the database after every step and restored after a
  restart (`memory` / `restore`), so a worker restarted mid-session carries on from it.
- Actions: the model's action set from its metadata (long: hold / buy_call / buy_put / close;
  credit: hold / sell_put_spread / sell_call_spread / iron_condor / close).
- Decisions are deterministic: the action distribution's probabilities, masked and renormalised
  (core.policy.base.masked_output), argmax; confidence is the chosen action's probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np

from core.policy.base import Observation, PolicyOutput, masked_output
from core.policy.rl_forward import NumpyActor, UnsupportedNetworkError
from core.rl.calibration import ConfidenceCalibration
from core.rl.metadata import ModelMetadata, ModelMismatchError, action_set_of, check_compatible, metadata_path
from core.rl.observation import OBS_SHAPE, scale_features, scale_row, with_position


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
        self.action_set = action_set_of(self.metadata)
        self.actions = self.action_set.actions
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
        # entry confidence as the win rate it had on held-back training days (None: not calibrated)
        self.calibration = ConfidenceCalibration.from_dict(self.metadata.metrics.get("confidence_calibration"))
        self._memory: dict[str, LstmMemory] = {}
        self._scaled: dict[str, tuple[int, np.ndarray]] = {}  # per symbol: bars behind it, scaled window
        self._continue = torch.zeros(1)
        try:
            self._actor: NumpyActor | None = NumpyActor(self._net)
        except UnsupportedNetworkError:
            self._actor = None  # an unusual network: stay on sb3's own (slower) torch path

    # ---- memory ----------------------------------------------------------------------------
    def _fresh(self, day: date | None) -> LstmMemory:
        zeros = np.zeros(self.state_shape, dtype=np.float32)
        return LstmMemory(day, 0, zeros, zeros.copy())

    def reset(self, symbol: str, day: date | None = None) -> None:
        """Session open: zero the state unless it already belongs to this session (a restart)."""
        held = self._memory.get(symbol)
        self._scaled.pop(symbol, None)
        if held is None or day is None or held.day != day:
            self._memory[symbol] = self._fresh(day)

    def memory(self, symbol: str) -> LstmMemory | None:
        return self._memory.get(symbol)

    def restore(self, symbol: str, memory: LstmMemory) -> None:
        self._memory[symbol] = memory

    def memories(self) -> dict[str, LstmMemory]:
        """Every symbol's LSTM state now (each is immutable: a shallow copy is a snapshot)."""
        return dict(self._memory)

    def restore_memories(self, saved: dict[str, LstmMemory]) -> None:
        """Back to a snapshot: a failed cycle's minute runs again from the same memory."""
        self._memory = dict(saved)

    # ---- decisions -------------------------------------------------------------------------
    def probabilities(self, obs: Observation, use_torch: bool = False) -> np.ndarray:
        """Advance the symbol's LSTM by one step and return the raw action probabilities."""
        held = self._memory.get(obs.symbol) or self._fresh(None)
        x = with_position(self._scaled_window(obs), obs.position_direction, obs.unrealized_pct, obs.minutes_held)
        if self._actor is not None and not use_torch:
            probs, h, c = self._actor.step(x, held.hidden, held.cell)
        else:
            probs, h, c = self._torch_step(x, held)
        self._memory[obs.symbol] = LstmMemory(held.day, held.steps + 1, h, c)
        return probs

    def _scaled_window(self, obs: Observation) -> np.ndarray:
        """The scaled feature window; one new bar since the last cycle only scales that bar's row
        (the common case), anything else (a session's first bars, a restart) rescales it all."""
        cached = self._scaled.get(obs.symbol)
        if obs.bars_seen >= 0 and cached is not None:
            seen, scaled = cached
            if obs.bars_seen == seen:
                return scaled
            if obs.bars_seen == seen + 1 and obs.features:
                rolled = np.empty_like(scaled)
                rolled[:-1] = scaled[1:]
                rolled[-1] = scale_row(np.fromiter(obs.features.values(), dtype=np.float64, count=len(obs.features)))
                self._scaled[obs.symbol] = (obs.bars_seen, rolled)
                return rolled
        scaled = scale_features(obs.window)
        if obs.bars_seen >= 0:
            self._scaled[obs.symbol] = (obs.bars_seen, scaled)
        return scaled

    def _torch_step(self, x: np.ndarray, held: LstmMemory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """sb3-contrib's own forward pass (the reference the numpy path is tested against)."""
        torch = self._torch
        with torch.no_grad():
            state = (torch.from_numpy(held.hidden), torch.from_numpy(held.cell))
            dist, (h, c) = self._net.get_distribution(torch.from_numpy(x).reshape(1, *OBS_SHAPE), state, self._continue)
            return dist.distribution.probs[0].numpy().astype(float), h.numpy(), c.numpy()

    def decide(self, obs: Observation, mask: Sequence[bool]) -> PolicyOutput:
        out = masked_output(self.probabilities(obs), mask, self.actions)
        if self.calibration is not None and out.action.is_entry:
            return replace(out, confidence=self.calibration.apply(out.confidence))  # core/rl/calibration.py
        return out
