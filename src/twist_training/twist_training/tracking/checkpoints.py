"""Tracker checkpoints: finding a run's, reading them, their configuration and actor, a weights-only copy.

A run directory holds ``model_<iteration>.pt`` files (the newest ``runner.keep`` are kept). Each is rsl-rl's
state (actor, critic, optimizer, iteration) plus ``infos``: the role, the complete run configuration
(:meth:`~twist_training.tracking.config.RunConfig.to_dict`), the gantry's level and, for a student, its teacher's
actor, so export, evaluation and resuming need nothing else. Checkpoints are written atomically and read with
``weights_only=True`` (``twist_training.checkpoint_io``). :func:`weights_only` drops the optimizer state (the copy
``scripts/slim_checkpoint.py`` writes is a third of the size, for committing); resuming from it restarts Adam at the
saved learning rate.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rsl_rl.models import MLPModel

from twist_training import checkpoint_io
from twist_training.tracking.config import ConfigError, RunConfig, model_config

CHECKPOINT = re.compile(r"model_(\d+)\.pt$")
OPTIMIZER_STATE = "optimizer_state_dict"


def checkpoints(out: Path) -> list[Path]:
    """``model_<iteration>.pt`` files of a run, oldest first."""
    found = [(int(m.group(1)), p) for p in Path(out).glob("model_*.pt") if (m := CHECKPOINT.search(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run: Path) -> Path:
    """A run's newest checkpoint (``run`` may also be the checkpoint file itself)."""
    run = Path(run)
    if run.is_file():
        return run
    found = checkpoints(run)
    if not found:
        raise ConfigError(f"no model_*.pt in {run}")
    return found[-1]


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint with its run configuration (``infos``: role, config)."""
    try:
        state = checkpoint_io.load(path)
    except checkpoint_io.CheckpointError as exc:
        raise ConfigError(str(exc)) from exc
    return tracker_state(state, path)


def tracker_state(state: Any, path: Path) -> dict[str, Any]:
    """``state`` (read from ``path``) if it is a tracker checkpoint, else a ConfigError."""
    if not isinstance(state, dict) or not isinstance(state.get("infos"), dict) or "config" not in state["infos"]:
        raise ConfigError(f"{path} is not a tracker checkpoint of train-teacher/train-student")
    return state


def checkpoint_config(state: dict[str, Any]) -> RunConfig:
    """A checkpoint's run configuration, completed with today's defaults (keys added since it was written)."""
    return RunConfig.from_dict(state["infos"]["config"])


def weights_only(state: dict[str, Any]) -> dict[str, Any]:
    """A tracker checkpoint's ``state`` without the optimizer state, its learning rate kept in ``infos``."""
    optimizer = state.pop(OPTIMIZER_STATE, None)
    if optimizer is not None:
        state["infos"]["learning_rate"] = float(optimizer["param_groups"][0]["lr"])
    return state


def actor_from_checkpoint(state: dict[str, Any], obs: Any, num_actions: int, group: str) -> MLPModel:
    """The checkpoint's actor as an MLPModel reading observation group ``group``."""
    kwargs = model_config(checkpoint_config(state).network, "actor")
    del kwargs["class_name"]
    actor = MLPModel(obs, {"actor": [group]}, "actor", num_actions, **kwargs)
    actor.load_state_dict(state["actor_state_dict"])
    return actor.eval()
