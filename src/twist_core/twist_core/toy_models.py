"""Toy models and a synthetic clip, built without torch: ``make demo TOY=1``, the benchmarks and the tests.

* :func:`write_toy_cmg`: a toy Conditional Motion Generator as an ONNX file built with ``onnx.helper``, satisfying
  the contract of :mod:`twist_core.cmg_runtime` exactly: inputs ``motion`` (batch, 58) and ``command`` (batch, 3)
  with a symbolic batch dimension, output ``next_motion`` (batch, 58), every metadata key as a JSON string. Its
  dynamics are a linear map, so it stays bounded and tests can predict every frame (:func:`toy_step`)::

      pos'  = s + decay * (pos - s) + G @ command
      vel'  = fps * (pos' - pos)

  with ``s`` the standing joint positions (the default pose) and ``G`` moving a few joints by a visible amount per
  unit command: vx bends both hips (pitch) and knees, vy rolls both hips, yaw_rate turns both hip yaws. Under a
  constant command the joints settle at ``s + G @ command / (1 - decay)`` with zero velocity; the standing frame
  (zero command) is a fixed point. Options break the model on purpose for error tests (wrong joint order, missing
  metadata, wrong version, wrong input width) or make it emit NaN for large forward commands (the node's
  fallback).
* :func:`write_toy_policy`: a small ONNX policy satisfying the :mod:`twist_core.policy_runtime` contract. Its
  actions are a linear function of the observation: ``(ref_joint_pos - default) / ACTION_SCALE`` plus ``gain``
  times the joint-position error, so its joint targets equal the reference joints (a PD "tracker" without
  learning): enough to drive the closed loop of the nodes.
* :func:`walking_clip`: a synthetic clip, legs swinging under a command label, the root from the command.

ONNX (``onnx``) is imported when a model is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from twist_core.cmg_runtime import CMG_FORMAT_VERSION, COMMAND_NAMES, INPUT_COMMAND, INPUT_MOTION, OUTPUT_MOTION
from twist_core.motion import Motion, build_motion, root_from_command
from twist_core.policy_io import ACTION_SCALE, FRAME_LAYOUT, OBSERVATION_SIZE, PolicyIO
from twist_core.policy_runtime import INPUT_OBS, OUTPUT_ACTIONS, policy_metadata
from twist_core.robot import RobotSpec

#: Gain per unit command [rad per frame per (m/s or rad/s)] of the joints each command moves.
COMMAND_GAINS: dict[str, dict[str, float]] = {
    "vx": {"left_hip_pitch_joint": -0.03, "right_hip_pitch_joint": -0.03,
           "left_knee_joint": 0.03, "right_knee_joint": 0.03},
    "vy": {"left_hip_roll_joint": 0.02, "right_hip_roll_joint": 0.02},
    "yaw_rate": {"left_hip_yaw_joint": 0.02, "right_hip_yaw_joint": 0.02},
}
DEFAULT_COMMAND_MIN = (-0.5, -0.4, -1.0)
DEFAULT_COMMAND_MAX = (1.0, 0.4, 1.0)


def command_gain_matrix(spec: RobotSpec) -> np.ndarray:
    """``G`` (29, 3): joint position change per frame per unit command (vx, vy, yaw_rate)."""
    gains = np.zeros((spec.num_joints, 3))
    for column, name in enumerate(COMMAND_NAMES):
        for joint, gain in COMMAND_GAINS[name].items():
            gains[spec.joint_index(joint), column] = gain
    return gains


def standing_frame(spec: RobotSpec) -> np.ndarray:
    """The toy's standing frame (58,): the default pose at rest."""
    return np.concatenate([spec.default_pose, np.zeros(spec.num_joints)])


def toy_step(spec: RobotSpec, motion: np.ndarray, command: np.ndarray, decay: float = 0.9,
             fps: float = 50.0) -> np.ndarray:
    """What the toy model computes (float64 reference for tests): the next frame(s) of ``motion`` (..., 58)."""
    n = spec.num_joints
    motion, command = np.asarray(motion, dtype=np.float64), np.asarray(command, dtype=np.float64)
    pos, s = motion[..., :n], spec.default_pose
    new_pos = s + decay * (pos - s) + command @ command_gain_matrix(spec).T
    return np.concatenate([new_pos, fps * (new_pos - pos)], axis=-1)


def write_toy_cmg(path: str | Path, spec: RobotSpec, *, decay: float = 0.9, fps: float = 50.0,
                  command_min: Sequence[float] = DEFAULT_COMMAND_MIN,
                  command_max: Sequence[float] = DEFAULT_COMMAND_MAX,
                  joint_names: Sequence[str] | None = None, omit_metadata: Sequence[str] = (),
                  metadata: dict[str, Any] | None = None, version: int = CMG_FORMAT_VERSION,
                  motion_width: int | None = None, nan_above_vx: float | None = None) -> Path:
    """Write the toy CMG (see the module docstring) to ``path`` and return the path.

    ``joint_names`` replaces the joint list in the metadata (e.g. a wrong order), ``omit_metadata`` drops keys,
    ``metadata`` adds or overrides keys (values are JSON-encoded), ``version`` sets ``twist_cmg_version``,
    ``motion_width`` changes the width of the ``motion`` input (a wrong width; the output keeps 58), and
    ``nan_above_vx`` makes every output NaN while the command's vx exceeds that value.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    n = spec.num_joints
    width = 2 * n if motion_width is None else int(motion_width)
    s = spec.default_pose.astype(np.float64)
    gains = command_gain_matrix(spec)
    # next = motion @ A + command @ B + c, with A (width, 58), B (3, 58), c (58,)
    a = np.zeros((width, 2 * n))
    m = min(width, n)
    a[np.arange(m), np.arange(m)] = decay                 # pos' = decay * pos ...
    a[np.arange(m), n + np.arange(m)] = fps * (decay - 1.0)  # vel' = fps * (decay - 1) * pos ...
    b = np.concatenate([gains.T, fps * gains.T], axis=1)
    c = np.concatenate([(1.0 - decay) * s, fps * (1.0 - decay) * s])
    # ... vel' = fps * (pos' - pos) = fps * ((decay - 1) * (pos - s) + G @ command)
    initializers = [numpy_helper.from_array(x.astype(np.float32), name)
                    for name, x in (("A", a), ("B", b), ("c", c))]
    nodes = [
        helper.make_node("MatMul", [INPUT_MOTION, "A"], ["motion_part"]),
        helper.make_node("MatMul", [INPUT_COMMAND, "B"], ["command_part"]),
        helper.make_node("Add", ["motion_part", "command_part"], ["linear"]),
    ]
    if nan_above_vx is None:
        nodes.append(helper.make_node("Add", ["linear", "c"], [OUTPUT_MOTION]))
    else:  # + 0 * sqrt(threshold - vx): 0 while vx <= threshold, NaN above it
        initializers += [numpy_helper.from_array(np.array([[1.0], [0.0], [0.0]], np.float32), "pick_vx"),
                         numpy_helper.from_array(np.array([nan_above_vx], np.float32), "threshold"),
                         numpy_helper.from_array(np.array([0.0], np.float32), "zero")]
        nodes += [
            helper.make_node("Add", ["linear", "c"], ["clean"]),
            helper.make_node("MatMul", [INPUT_COMMAND, "pick_vx"], ["vx"]),
            helper.make_node("Sub", ["threshold", "vx"], ["margin"]),
            helper.make_node("Sqrt", ["margin"], ["root"]),
            helper.make_node("Mul", ["root", "zero"], ["poison"]),
            helper.make_node("Add", ["clean", "poison"], [OUTPUT_MOTION]),
        ]
    graph = helper.make_graph(
        nodes, "toy_cmg",
        inputs=[helper.make_tensor_value_info(INPUT_MOTION, TensorProto.FLOAT, ["batch", width]),
                helper.make_tensor_value_info(INPUT_COMMAND, TensorProto.FLOAT, ["batch", 3])],
        outputs=[helper.make_tensor_value_info(OUTPUT_MOTION, TensorProto.FLOAT, ["batch", 2 * n])],
        initializer=initializers)
    model = helper.make_model(graph, producer_name="twist_core.toy_models",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    values: dict[str, Any] = {
        "twist_cmg_version": version,
        "joint_names": list(spec.joint_names if joint_names is None else joint_names),
        "fps": fps,
        "command_names": list(COMMAND_NAMES),
        "command_min": [float(v) for v in command_min],
        "command_max": [float(v) for v in command_max],
        "standing_frame": standing_frame(spec).tolist(),
        "training_data": {"clips": 0, "frames": 0, "hours": 0.0, "source": "toy model (tests)"},
        "training_config": {"model": "linear toy", "decay": decay},
        "git_commit": "toy",
    }
    values.update(metadata or {})
    for key in omit_metadata:
        values.pop(key, None)
    helper.set_model_props(model, {key: json.dumps(value) for key, value in values.items()})
    onnx.checker.check_model(model, full_check=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _slice(name: str) -> slice:
    start = 0
    for key, size in FRAME_LAYOUT:
        if key == name:
            return slice(start, start + size)
        start += size
    raise KeyError(name)


def write_toy_policy(path: str | Path, spec: RobotSpec, gain: float = 0.0, metadata_overrides: dict[str, Any] | None
                     = None, drop_metadata: tuple[str, ...] = (), observation_size: int = OBSERVATION_SIZE) -> Path:
    """Write the toy policy; ``metadata_overrides``/``drop_metadata``/``observation_size`` break it for tests."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    io = PolicyIO(spec)
    n = io.num_actions
    weight = np.zeros((observation_size, n), dtype=np.float32)
    bias = (-io.default_policy / ACTION_SCALE).astype(np.float32)
    ref = _slice("ref_joint_pos")
    err = _slice("joint_pos")
    if observation_size >= ref.stop:
        weight[ref, :] = np.eye(n) / ACTION_SCALE
    if observation_size >= err.stop:
        weight[err, :] -= gain * np.eye(n) / ACTION_SCALE
    graph = helper.make_graph(
        [helper.make_node("MatMul", [INPUT_OBS, "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], [OUTPUT_ACTIONS])],
        "toy_policy",
        [helper.make_tensor_value_info(INPUT_OBS, TensorProto.FLOAT, ["batch", observation_size])],
        [helper.make_tensor_value_info(OUTPUT_ACTIONS, TensorProto.FLOAT, ["batch", n])],
        [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    metadata = policy_metadata(spec, 50.0, role="toy", training={"note": "test fixture, not trained"},
                               git_commit="none")
    metadata.update({k: json.dumps(v) for k, v in (metadata_overrides or {}).items()})
    for key in drop_metadata:
        metadata.pop(key, None)
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def walking_clip(spec: RobotSpec, seconds: float, vx: float, yaw_rate: float = 0.0, fps: float = 50.0,
                 frequency: float = 1.0) -> Motion:
    """A synthetic clip: standing 1 s, then legs swinging at ``frequency`` Hz with the command label (vx, 0, yaw)."""
    n = int(round(seconds * fps)) + 1
    t = np.arange(n) / fps
    moving = t >= 1.0
    phase = np.where(moving, np.sin(2 * np.pi * frequency * (t - 1.0)), 0.0)
    joint_pos = np.tile(spec.default_pose, (n, 1))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        joint_pos[:, spec.joint_index(f"{side}_hip_pitch_joint")] += 0.3 * vx * sign * phase
        joint_pos[:, spec.joint_index(f"{side}_hip_roll_joint")] += 0.05 * sign * phase
    command = np.where(moving[:, None], [vx, 0.0, yaw_rate], 0.0)
    root_pos, root_quat = root_from_command(command, fps, 0.75)
    return build_motion(spec, fps, root_pos, root_quat, joint_pos, command=command)
