"""A small ONNX policy satisfying the ``twist_core.policy_runtime`` contract, for tests (no torch).

Its actions are a linear function of the observation: ``(ref_joint_pos - default) / ACTION_SCALE`` plus ``gain``
times the joint-position error, so its joint targets equal the reference joints (a PD "tracker" without
learning): enough to drive the closed loop of the nodes in tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from twist_core.policy_io import ACTION_SCALE, FRAME_LAYOUT, OBSERVATION_SIZE, PolicyIO
from twist_core.policy_runtime import INPUT_OBS, OUTPUT_ACTIONS, policy_metadata
from twist_core.robot import RobotSpec


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
