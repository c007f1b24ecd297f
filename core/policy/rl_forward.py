"""The RecurrentPPO actor's forward pass in numpy, for serving one observation at a time.

Through torch, one LSTM step of this small network costs about 0.4 ms, nearly all of it
per-operation overhead; the same arithmetic on numpy arrays costs a few tens of microseconds.
The weights are read from the loaded sb3-contrib policy and the layers are walked exactly as
`RecurrentActorCriticPolicy.get_distribution` runs them (flatten -> LSTM -> policy MLP ->
action logits -> softmax). Anything this module does not know (another extractor, another
activation) raises `UnsupportedNetworkError`, and the policy then stays on the torch path. A test
holds the two paths equal over carried-state sequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


class UnsupportedNetworkError(ValueError):
    """The network has a layer this numpy forward pass does not implement."""


@dataclass(frozen=True)
class _Lstm:
    w_ih: np.ndarray  # (4H, in)
    w_hh: np.ndarray  # (4H, H)
    bias: np.ndarray  # (4H,) b_ih + b_hh


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32, copy=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # exact identity, no overflow


class NumpyActor:
    """Deterministic action probabilities and the next LSTM state from numpy copies of the weights."""

    def __init__(self, policy: Any) -> None:
        import torch.nn as nn
        from stable_baselines3.common.torch_layers import FlattenExtractor

        if not isinstance(policy.pi_features_extractor, FlattenExtractor):
            raise UnsupportedNetworkError(f"features extractor {type(policy.pi_features_extractor).__name__}")
        lstm = policy.lstm_actor
        if lstm.bidirectional or getattr(lstm, "proj_size", 0) or not lstm.bias:
            raise UnsupportedNetworkError("only a plain uni-directional LSTM with biases is supported")
        self.layers = [
            _Lstm(
                _np(getattr(lstm, f"weight_ih_l{k}")),
                _np(getattr(lstm, f"weight_hh_l{k}")),
                _np(getattr(lstm, f"bias_ih_l{k}")) + _np(getattr(lstm, f"bias_hh_l{k}")),
            )
            for k in range(lstm.num_layers)
        ]
        self.hidden = lstm.hidden_size
        self.mlp: list[tuple[str, np.ndarray | None, np.ndarray | None]] = []
        for module in policy.mlp_extractor.policy_net:
            if isinstance(module, nn.Linear):
                self.mlp.append(("linear", _np(module.weight), _np(module.bias)))
            elif isinstance(module, nn.Tanh):
                self.mlp.append(("tanh", None, None))
            elif isinstance(module, nn.ReLU):
                self.mlp.append(("relu", None, None))
            else:
                raise UnsupportedNetworkError(f"policy layer {type(module).__name__}")
        self.action_w = _np(policy.action_net.weight)
        self.action_b = _np(policy.action_net.bias)

    def step(self, x: np.ndarray, hidden: np.ndarray, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One observation (any shape, flattened) and the (layers, 1, H) state -> probs, h', c'."""
        h_size = self.hidden
        out = x.reshape(-1).astype(np.float32, copy=False)
        new_h = np.empty_like(hidden)
        new_c = np.empty_like(cell)
        for k, layer in enumerate(self.layers):
            gates = layer.w_ih @ out + layer.w_hh @ hidden[k, 0] + layer.bias
            sig = _sigmoid(gates)  # input, forget, (cell), output: PyTorch's gate order
            g = np.tanh(gates[2 * h_size : 3 * h_size])
            i, f, o = sig[:h_size], sig[h_size : 2 * h_size], sig[3 * h_size :]
            c = f * cell[k, 0] + i * g
            out = o * np.tanh(c)
            new_h[k, 0], new_c[k, 0] = out, c
        for kind, w, b in self.mlp:
            if kind == "linear":
                out = w @ out + b  # type: ignore[operator]
            elif kind == "tanh":
                out = np.tanh(out)
            else:
                out = np.maximum(out, 0.0)
        logits = self.action_w @ out + self.action_b
        logits = logits - logits.max()
        e = np.exp(logits.astype(np.float64))
        return e / e.sum(), new_h, new_c
