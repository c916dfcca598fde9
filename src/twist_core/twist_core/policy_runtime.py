"""Running an exported tracking policy with ONNX Runtime (no torch), refusing one that does not fit the robot.

The ONNX contract (written by ``twist_training``'s ``export-policy``, checked here):

- input ``obs``: (batch, ``policy_io.OBSERVATION_SIZE``) float32, built by :class:`twist_core.policy_io.PolicyIO`
  and :class:`~twist_core.policy_io.History`; the observation normalizer is inside the graph;
- output ``actions``: (batch, 23) float32 raw actions (``PolicyIO.targets`` turns them into joint targets).

Metadata (``metadata_props``, JSON values): ``twist_policy_version``, ``joint_names`` (29, motor order),
``default_pose``, ``kp``, ``kd`` (what the policy was trained with), ``observation_layout`` (``PolicyIO.layout()``)
and ``layout_hash``, ``control_rate``, ``role`` (student/teacher), ``training`` (summary), ``git_commit``.
Every one is compared with ``config/g1.yaml`` and the code's layout at load: a policy trained for another joint
order, pose, gains or observation is refused with the list of differences.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from twist_core.onnx_session import open_session
from twist_core.policy_io import OBSERVATION_SIZE, PolicyIO
from twist_core.robot import RobotSpec

POLICY_FORMAT_VERSION = 1
INPUT_OBS = "obs"
OUTPUT_ACTIONS = "actions"
REQUIRED_METADATA = ("twist_policy_version", "joint_names", "default_pose", "kp", "kd", "observation_layout",
                     "layout_hash", "control_rate")
GAIN_TOLERANCE = 1e-6


class PolicyModelError(ValueError):
    """An ONNX file that is not a usable policy for this robot; the message says why."""


def policy_metadata(spec: RobotSpec, control_rate: float, **extra: Any) -> dict[str, str]:
    """The metadata an exported policy must carry for ``spec`` (JSON strings), plus ``extra`` entries."""
    io = PolicyIO(spec)
    values = {"twist_policy_version": POLICY_FORMAT_VERSION, "joint_names": list(spec.joint_names),
              "default_pose": spec.default_pose.tolist(), "kp": spec.kp.tolist(), "kd": spec.kd.tolist(),
              "observation_layout": io.layout(), "layout_hash": io.layout_hash(), "control_rate": control_rate,
              **extra}
    return {key: json.dumps(value) for key, value in values.items()}


def metadata_mismatches(metadata: dict[str, Any], spec: RobotSpec) -> list[str]:
    """Differences between a policy's metadata and the robot spec / observation code (empty: compatible)."""
    problems = []
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        return [f"metadata missing: {', '.join(missing)}"]
    if int(metadata["twist_policy_version"]) != POLICY_FORMAT_VERSION:
        problems.append(f"format version {metadata['twist_policy_version']} (this code reads "
                        f"{POLICY_FORMAT_VERSION})")
    names = tuple(metadata["joint_names"])
    if names != spec.joint_names:
        wrong = [f"{i}: {m!r} vs {r!r}" for i, (m, r) in enumerate(zip(names, spec.joint_names)) if m != r]
        problems.append(f"joint order differs ({len(names)} vs {spec.num_joints} joints; {', '.join(wrong[:4])})")
    else:
        for key, expected in (("default_pose", spec.default_pose), ("kp", spec.kp), ("kd", spec.kd)):
            value = np.asarray(metadata[key], dtype=np.float64)
            if value.shape != expected.shape or np.any(np.abs(value - expected) > GAIN_TOLERANCE):
                bad = [spec.joint_names[i] for i in np.flatnonzero(np.abs(value - expected) > GAIN_TOLERANCE)] \
                    if value.shape == expected.shape else ["shape"]
                problems.append(f"{key} differs from config/g1.yaml at {', '.join(bad[:4])}")
    io = PolicyIO(spec)
    if metadata["layout_hash"] != io.layout_hash():
        theirs, ours = metadata["observation_layout"], io.layout()
        keys = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        problems.append(f"observation layout differs from twist_core.policy_io ({', '.join(keys) or 'hash'})")
    return problems


class PolicyRuntime:
    """An exported policy, checked against the robot spec, evaluated with ONNX Runtime on the CPU."""

    def __init__(self, path: str | Path, spec: RobotSpec, threads: int = 1) -> None:
        """Load ``path`` and check it; raises :class:`PolicyModelError` with every mismatch."""
        self.path = path = Path(path)
        self._session = open_session(path, threads, PolicyModelError)
        raw = self._session.get_modelmeta().custom_metadata_map
        try:
            self.metadata: dict[str, Any] = {key: json.loads(value) for key, value in raw.items()}
        except json.JSONDecodeError as exc:
            raise PolicyModelError(f"{path}: metadata is not JSON: {exc}") from None
        problems = metadata_mismatches(self.metadata, spec)
        inputs = {i.name: i.shape for i in self._session.get_inputs()}
        outputs = {o.name: o.shape for o in self._session.get_outputs()}
        self.io = PolicyIO(spec)
        if inputs.get(INPUT_OBS, [None, None])[-1] != OBSERVATION_SIZE:
            problems.append(f"input '{INPUT_OBS}' must be (batch, {OBSERVATION_SIZE}); model inputs {inputs}")
        if outputs.get(OUTPUT_ACTIONS, [None, None])[-1] != self.io.num_actions:
            problems.append(f"output '{OUTPUT_ACTIONS}' must be (batch, {self.io.num_actions}); outputs {outputs}")
        if problems:
            raise PolicyModelError(f"{path}: refused: " + "; ".join(problems))
        self.spec = spec
        self.control_rate = float(self.metadata["control_rate"])

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Raw actions (23,) or (B, 23) for observations (1144,) or (B, 1144); raises ValueError on bad input."""
        obs = np.asarray(obs, dtype=np.float32)
        single = obs.ndim == 1
        if obs.shape[-1] != OBSERVATION_SIZE or obs.ndim > 2:
            raise ValueError(f"observation must be ({OBSERVATION_SIZE},) or (B, {OBSERVATION_SIZE}), got {obs.shape}")
        if not np.all(np.isfinite(obs)):
            raise ValueError("observation contains NaN/Inf")
        (actions,) = self._session.run([OUTPUT_ACTIONS], {INPUT_OBS: obs.reshape(-1, OBSERVATION_SIZE)})
        actions = actions.astype(np.float64)
        return actions[0] if single else actions
