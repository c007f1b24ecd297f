"""A trained model's metadata file, and the check that it fits the live feature pipeline.

The metadata sits beside the model zip (`name.zip` + `name.json`). It records what the model was
trained to look at (feature names and order, window, scaling, its action set and action names)
and how it was
trained (data range, seed, code version, metrics). `check_compatible` compares the layout with
this code's pipeline and raises `ModelMismatchError` saying what was expected and what was
found, so a model never silently reads a shifted observation.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.features import WINDOW
from core.rl.observation import OBS_NAMES, OBS_SHAPE, scaling_table
from core.types import ActionSet

FORMAT = 1
_PIPELINE_FILES = ("core/features.py", "core/rl/observation.py", "core/rl/env.py", "core/exits.py")


class ModelMismatchError(ValueError):
    """The model does not fit this feature pipeline (or its files are missing or unreadable)."""


@dataclass
class ModelMetadata:
    model_version: str
    obs_names: list[str]
    window: int
    obs_shape: list[int]
    scaling: dict[str, list[float]]
    action_names: list[str]
    action_set: str = ActionSet.LONG.value  # core.types.ActionSet: what the action names mean
    algorithm: str = "RecurrentPPO"
    policy_class: str = "MlpLstmPolicy"
    lstm_hidden_size: int = 32
    source: str = ""
    train_start: str = ""
    train_end: str = ""
    sessions: int = 0
    symbols: list[str] = field(default_factory=list)
    seed: int = 0
    timesteps: int = 0
    code_version: str = ""
    pipeline_hash: str = ""
    trained_at: str = ""
    command: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @staticmethod
    def read(path: Path) -> ModelMetadata:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelMismatchError(f"model metadata {path} is missing (expected beside the model zip)") from None
        except json.JSONDecodeError as exc:
            raise ModelMismatchError(f"model metadata {path} is not valid JSON: {exc}") from None
        missing = {"model_version", "obs_names", "window", "obs_shape", "scaling", "action_names"} - set(raw)
        if missing:
            raise ModelMismatchError(f"model metadata {path} lacks {sorted(missing)}")
        return ModelMetadata.from_dict(raw)

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> ModelMetadata:
        """The known fields of a metadata mapping (keys a newer version added are ignored)."""
        return ModelMetadata(**{k: v for k, v in raw.items() if k in ModelMetadata.__dataclass_fields__})


def pipeline_layout(action_set: ActionSet = ActionSet.LONG) -> dict[str, Any]:
    """What this code feeds a model and reads from it: the fields `check_compatible` compares."""
    return {
        "obs_names": list(OBS_NAMES),
        "window": WINDOW,
        "obs_shape": list(OBS_SHAPE),
        "scaling": scaling_table(),
        "action_set": action_set.value,
        "action_names": action_set.names,
    }


def action_set_of(meta: ModelMetadata) -> ActionSet:
    """The model's action set (ModelMismatchError when this code has no such set)."""
    try:
        return ActionSet(meta.action_set)
    except ValueError:
        known = ", ".join(s.value for s in ActionSet)
        raise ModelMismatchError(
            f"model {meta.model_version}: action_set: expected one of {known}, found {meta.action_set}"
        ) from None


def check_compatible(meta: ModelMetadata, model_obs_shape: tuple[int, ...] | None = None) -> None:
    """Raise ModelMismatchError listing every field where the model differs from the pipeline."""
    expected = pipeline_layout(action_set_of(meta))
    found = {k: getattr(meta, k) for k in expected}
    problems = [f"{k}: expected {expected[k]}, found {found[k]}" for k in expected if expected[k] != found[k]]
    if model_obs_shape is not None and list(model_obs_shape) != expected["obs_shape"]:
        problems.append(
            f"network input shape: expected {expected['obs_shape']}, found {list(model_obs_shape)} in the model zip"
        )
    if problems:
        raise ModelMismatchError(
            f"model {meta.model_version} does not fit the live feature pipeline: " + "; ".join(problems)
        )


def pipeline_hash(root: Path | None = None) -> str:
    """A digest of the source files that define what the model sees and how it trades."""
    base = root or Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for name in _PIPELINE_FILES:
        path = base / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:12]


def code_version(root: Path | None = None) -> str:
    """The git commit of the working tree (with '+dirty' when it has changes), else 'unknown'."""
    base = root or Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=base, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=base,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def metadata_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")
