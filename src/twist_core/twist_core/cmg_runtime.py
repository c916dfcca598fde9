"""Running an exported Conditional Motion Generator (CMG) with ONNX Runtime (no torch).

The ONNX contract (written by ``twist_training.cmg.export``, checked here):

- input ``motion``: (batch, 58) float32, the current frame in physical units: 29 joint positions [rad] then 29
  joint velocities [rad/s], joints in the order of the ``joint_names`` metadata (Unitree motor order);
- input ``command``: (batch, 3) float32, (vx [m/s], vy [m/s], yaw_rate [rad/s]) in the root (heading) frame;
- output ``next_motion``: (batch, 58) float32, the next frame at ``fps``, same layout as ``motion``.

Normalization lives inside the graph. Metadata (``metadata_props``, JSON values): ``twist_cmg_version``,
``joint_names``, ``fps``, ``command_names``, ``command_min``, ``command_max`` (the training range; commands outside
it extrapolate, so consumers clamp with :meth:`CmgRuntime.clamp_command`), ``standing_frame`` (58 numbers: where
generation starts), ``training_data`` and ``training_config`` (summaries), ``git_commit``.

:class:`CmgFreeRun` is how every consumer (the ``cmg_reference`` node, ``cmg-eval``, the tracker's CMG reference
clips) free-runs a model: joints clamped to the robot's limits after every step, and the standing hold of
:class:`StandingHold` at zero command.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from twist_core.onnx_session import open_session
from twist_core.robot import RobotSpec

CMG_FORMAT_VERSION = 1
INPUT_MOTION = "motion"
INPUT_COMMAND = "command"
OUTPUT_MOTION = "next_motion"
COMMAND_NAMES = ("vx", "vy", "yaw_rate")
REQUIRED_METADATA = ("twist_cmg_version", "joint_names", "fps", "command_names", "command_min", "command_max",
                     "standing_frame")


def limit_command_change(value: np.ndarray, target: np.ndarray, max_linear_accel: float, max_yaw_accel: float,
                         dt: float) -> np.ndarray:
    """``value`` (vx, vy, yaw_rate) moved toward ``target``, its rate of change limited (a new array).

    At most ``max_linear_accel`` x ``dt`` on the (vx, vy) vector and ``max_yaw_accel`` x ``dt`` on the yaw rate.
    """
    value = np.asarray(value, dtype=np.float64)
    delta = np.asarray(target, dtype=np.float64) - value
    linear, max_linear = float(np.hypot(delta[0], delta[1])), max_linear_accel * dt
    if linear > max_linear:
        delta[:2] *= max_linear / linear
    delta[2] = np.clip(delta[2], -max_yaw_accel * dt, max_yaw_accel * dt)
    return value + delta


class CmgModelError(ValueError):
    """An ONNX file that is not a usable CMG for this robot; the message says why."""


def _metadata_value(metadata: dict[str, str], key: str, path: Path) -> Any:
    try:
        return json.loads(metadata[key])
    except KeyError:
        raise CmgModelError(f"{path}: metadata '{key}' is missing (not a CMG exported by cmg-export?)") from None
    except json.JSONDecodeError as exc:
        raise CmgModelError(f"{path}: metadata '{key}' is not valid JSON: {exc}") from None


def _numbers(values: dict[str, Any], key: str, path: Path) -> np.ndarray:
    try:
        return np.asarray(values[key], dtype=np.float64)
    except (TypeError, ValueError):
        raise CmgModelError(f"{path}: metadata '{key}' must be numbers, got {values[key]!r}") from None


def _maybe_json(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


class CmgRuntime:
    """An exported CMG, checked against the robot spec, stepped with ONNX Runtime on the CPU."""

    def __init__(self, path: str | Path, spec: RobotSpec, threads: int = 1) -> None:
        """Load ``path`` and check its metadata and signature; raises :class:`CmgModelError` on any mismatch."""
        self.path = path = Path(path)
        self._session = open_session(path, threads, CmgModelError)
        metadata = self._session.get_modelmeta().custom_metadata_map
        values = {key: _metadata_value(metadata, key, path) for key in REQUIRED_METADATA}
        self.metadata: dict[str, Any] = {key: _maybe_json(value) for key, value in metadata.items()}
        if values["twist_cmg_version"] != CMG_FORMAT_VERSION:
            raise CmgModelError(f"{path}: CMG format version {values['twist_cmg_version']!r}, "
                                f"this code reads version {CMG_FORMAT_VERSION}")
        for key in ("joint_names", "command_names"):
            if not isinstance(values[key], list) or not all(isinstance(v, str) for v in values[key]):
                raise CmgModelError(f"{path}: metadata '{key}' must be a list of names, got {values[key]!r}")
        names = tuple(values["joint_names"])
        if names != spec.joint_names:
            wrong = [f"{i}: model {m!r} vs robot {r!r}" for i, (m, r) in enumerate(zip(names, spec.joint_names))
                     if m != r]
            raise CmgModelError(f"{path}: joint order differs from config/g1.yaml ({len(names)} vs "
                                f"{spec.num_joints} joints; {', '.join(wrong[:5]) or 'length'})")
        if tuple(values["command_names"]) != COMMAND_NAMES:
            raise CmgModelError(f"{path}: commands {values['command_names']}, expected {list(COMMAND_NAMES)}")
        self.spec = spec
        self.motion_dim = 2 * spec.num_joints
        fps = _numbers(values, "fps", path)
        if fps.shape != () or not np.isfinite(fps) or fps <= 0:
            raise CmgModelError(f"{path}: metadata 'fps' must be a positive number, got {values['fps']!r}")
        self.fps = float(fps)
        self.command_min = _numbers(values, "command_min", path)
        self.command_max = _numbers(values, "command_max", path)
        self.standing_frame = _numbers(values, "standing_frame", path)
        if self.command_min.shape != (3,) or self.command_max.shape != (3,) or not np.all(
                np.isfinite(self.command_min) & np.isfinite(self.command_max) & (self.command_min <= self.command_max)):
            raise CmgModelError(f"{path}: bad command range {values['command_min']} .. {values['command_max']}")
        if self.standing_frame.shape != (self.motion_dim,) or not np.all(np.isfinite(self.standing_frame)):
            raise CmgModelError(f"{path}: standing_frame must be {self.motion_dim} finite numbers")
        self._check_signature()

    def _check_signature(self) -> None:
        inputs = {i.name: i.shape for i in self._session.get_inputs()}
        outputs = {o.name: o.shape for o in self._session.get_outputs()}
        expected_in = {INPUT_MOTION: self.motion_dim, INPUT_COMMAND: 3}
        for name, width in expected_in.items():
            if name not in inputs or len(inputs[name]) != 2 or inputs[name][1] != width:
                raise CmgModelError(f"{self.path}: input '{name}' must be (batch, {width}); model inputs {inputs}")
        types = {i.name: i.type for i in [*self._session.get_inputs(), *self._session.get_outputs()]}
        for name in (INPUT_MOTION, INPUT_COMMAND, OUTPUT_MOTION):
            if name in types and types[name] != "tensor(float)":
                raise CmgModelError(f"{self.path}: '{name}' must be float32, the model has {types[name]}")
        if OUTPUT_MOTION not in outputs or len(outputs[OUTPUT_MOTION]) != 2 or \
                outputs[OUTPUT_MOTION][1] != self.motion_dim:
            raise CmgModelError(f"{self.path}: output '{OUTPUT_MOTION}' must be (batch, {self.motion_dim}); "
                                f"model outputs {outputs}")

    def clamp_command(self, command: np.ndarray) -> np.ndarray:
        """The command clipped to the training range (the model extrapolates outside it)."""
        return np.clip(np.asarray(command, dtype=np.float64), self.command_min, self.command_max)

    def step(self, motion: np.ndarray, command: np.ndarray) -> np.ndarray:
        """The next frame(s): ``motion`` (58,) or (B, 58), ``command`` (3,) or (B, 3) -> same leading shape.

        A (3,) command with a (B, 58) motion applies to every row. Inputs must be finite and of these shapes
        (raises ValueError otherwise); the command is used as given (clamp it first).
        """
        motion = np.asarray(motion, dtype=np.float32)
        command = np.asarray(command, dtype=np.float32)
        single = motion.ndim == 1
        if motion.ndim not in (1, 2) or motion.shape[-1] != self.motion_dim:
            raise ValueError(f"motion must be ({self.motion_dim},) or (B, {self.motion_dim}), got {motion.shape}")
        motion2 = np.ascontiguousarray(motion.reshape(-1, self.motion_dim))
        if command.ndim not in (1, 2) or command.shape[-1] != 3 or (command.ndim == 2 and len(command) != len(motion2)):
            raise ValueError(f"command must be (3,) or ({len(motion2)}, 3), got {command.shape}")
        command2 = np.ascontiguousarray(np.broadcast_to(command.reshape(-1, 3), (len(motion2), 3)))
        if not (np.all(np.isfinite(motion2)) and np.all(np.isfinite(command2))):
            raise ValueError("motion or command contains NaN/Inf")
        (out,) = self._session.run([OUTPUT_MOTION], {INPUT_MOTION: motion2, INPUT_COMMAND: command2})
        out = out.astype(np.float64)
        return out[0] if single else out

    def rollout(self, start: np.ndarray, commands: np.ndarray) -> np.ndarray:
        """Free-run from ``start`` (58,) or (B, 58) under ``commands`` (T, 3) or (T, B, 3): frames (T+1, [B,] 58)."""
        frames = [np.asarray(start, dtype=np.float64)]
        for command in np.asarray(commands, dtype=np.float64):
            frames.append(self.step(frames[-1], command))
        return np.stack(frames)

    def split(self, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Joint positions and velocities of frame(s) ``motion`` (..., 58)."""
        n = self.spec.num_joints
        return motion[..., :n], motion[..., n:]


@dataclasses.dataclass(frozen=True)
class StandingHold:
    """Standing still at zero command, whatever the model does there.

    A generator trained on walking data may step in place under a zero command (the shipped model does, with a
    1.1 s period). With the hold, once the command has been zero for ``delay`` seconds the free run blends from
    the model's own frames (the model keeps running on its own output meanwhile) into the model's standing frame
    over ``blend`` seconds (smoothstep weights; velocities include the blend's own rate) and then holds that
    frame exactly without running the model. Any non-zero command hands back to the model, which continues from
    the frame last published (the standing frame, once settled: where it starts in training). A command whose every
    component is within ``deadband`` (vx, vy [m/s], yaw rate [rad/s]) counts as zero and is used as zero.
    """

    enabled: bool = True
    delay: float = 0.2
    blend: float = 0.6
    deadband: tuple[float, float, float] = (0.03, 0.03, 0.05)

    def __post_init__(self) -> None:
        """Check the numbers (raises ValueError)."""
        if not (self.delay >= 0 and self.blend > 0 and len(self.deadband) == 3 and min(self.deadband) >= 0):
            raise ValueError(f"StandingHold needs delay >= 0, blend > 0 and 3 deadbands >= 0, got {self}")

    def weight(self, still: np.ndarray) -> np.ndarray:
        """Weight of the standing frame after ``still`` seconds of zero command: 0 until ``delay``, then 0 -> 1."""
        x = np.clip((np.asarray(still, dtype=np.float64) - self.delay) / self.blend, 0.0, 1.0)
        weight = x * x * (3.0 - 2.0 * x)
        return weight if self.enabled else np.zeros_like(weight)


class FreeRunState(NamedTuple):
    """Where a free run is.

    ``motion``: the current frame(s) (..., 58), joints within limits (what consumers use); ``still``: seconds of
    zero command so far (...); ``model``: the model's own frame(s), which differ from ``motion`` while settling.
    """

    motion: np.ndarray
    still: np.ndarray
    model: np.ndarray


class CmgFreeRun:
    """A CMG free run as the node runs it: clamp joints to limits after each step, stand still at zero command."""

    def __init__(self, runtime: CmgRuntime, hold: StandingHold | None = None) -> None:
        """Free-run ``runtime``'s model with ``hold`` (default: :class:`StandingHold`'s defaults)."""
        self.runtime, self.spec = runtime, runtime.spec
        self.hold = hold if hold is not None else StandingHold()
        self.dt = 1.0 / runtime.fps
        self.standing = self.clamp(runtime.standing_frame)

    def clamp(self, motion: np.ndarray) -> np.ndarray:
        """A copy of ``motion`` (..., 58) with the joint positions clipped to the robot's limits."""
        motion = np.array(motion, dtype=np.float64)
        n = self.spec.num_joints
        motion[..., :n] = np.clip(motion[..., :n], self.spec.lower_limits, self.spec.upper_limits)
        return motion

    def start(self, batch: int | None = None) -> FreeRunState:
        """The standing frame, one (``batch`` None) or ``batch`` rows, with no time at zero command."""
        motion = self.standing.copy() if batch is None else np.repeat(self.standing[None], batch, axis=0)
        return FreeRunState(motion, np.zeros(motion.shape[:-1]), motion.copy())

    def command(self, command: np.ndarray) -> np.ndarray:
        """``command`` (..., 3) clamped to the model's range, exactly zero where it is within the deadband."""
        command = self.runtime.clamp_command(command)
        if self.hold.enabled:
            zero = np.all(np.abs(command) <= np.asarray(self.hold.deadband), axis=-1, keepdims=True)
            command = np.where(zero, 0.0, command)
        return command

    def step(self, state: FreeRunState, command: np.ndarray) -> tuple[FreeRunState, np.ndarray]:
        """One frame ahead under ``command`` (3,) or like ``state``'s rows (..., 3), given through :meth:`command`.

        Returns the new state and the model's raw output before clamping (the standing frame where the hold
        holds; may contain NaN/Inf if the model produced them: the state then does too).
        """
        n, dt = self.spec.num_joints, self.dt
        motion = np.asarray(state.motion, dtype=np.float64)
        command = np.broadcast_to(self.command(command), motion.shape[:-1] + (3,))
        zero = np.all(command == 0.0, axis=-1)
        still = np.where(zero, state.still + dt, 0.0)
        before, after = self.hold.weight(np.where(zero, state.still, 0.0)), self.hold.weight(still)
        held = before >= 1.0  # settled before this step (the last settling step lands exactly on standing)
        if np.all(held):  # holding everywhere: the model is not consulted
            standing = np.broadcast_to(self.standing, motion.shape)
            return FreeRunState(standing.copy(), still, standing.copy()), standing.copy()
        settling = (before > 0.0)[..., None]
        raw = self.runtime.step(np.where(settling, state.model, motion), command)
        model = self.clamp(raw)
        w, rate = after[..., None], ((after - before) / dt)[..., None]
        stand = self.standing[:n]
        out = np.concatenate([(1.0 - w) * model[..., :n] + w * stand,
                              (1.0 - w) * model[..., n:] + rate * (stand - model[..., :n])], axis=-1)
        held = held[..., None]
        return (FreeRunState(np.where(held, self.standing, out), still, np.where(held, self.standing, model)),
                np.where(held, self.standing, raw))
