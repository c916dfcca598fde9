"""The shared observation/action code: numpy (node) and torch (training) agree; history; targets; the runtime."""

import json

import numpy as np
import pytest

from twist_core import rotations
from twist_core.policy_io import (ACTION_CLIP, ACTION_SCALE, FRAME_SIZE, HISTORY, OBSERVATION_SIZE, History,
                                  PolicyIO, roll_pitch)
from twist_core.policy_runtime import PolicyModelError, PolicyRuntime
from twist_core.toy_models import write_toy_policy

torch = pytest.importorskip("torch", reason="torch comes with the training extras (make setup TRAINING=1)")


def random_inputs(spec, rng, batch):
    """Random frame inputs, motor order."""
    quat = rotations.normalize(rng.standard_normal((batch, 4)))
    imu = rotations.normalize(rng.standard_normal((batch, 4)))
    return dict(ref_root_height=rng.uniform(0.6, 0.8, batch), ref_quat_wxyz=quat,
                ref_lin_vel=rng.standard_normal((batch, 3)), ref_yaw_rate=rng.standard_normal(batch),
                ref_joint_pos=rng.standard_normal((batch, 29)), gyro=rng.standard_normal((batch, 3)),
                imu_quat_wxyz=imu, joint_pos=rng.standard_normal((batch, 29)),
                joint_vel=rng.standard_normal((batch, 29)), last_action=rng.standard_normal((batch, 23)))


def test_numpy_and_torch_frames_are_identical(spec):
    """The node (numpy float64) and training (torch float32) build the same frame."""
    io = PolicyIO(spec)
    inputs = random_inputs(spec, np.random.default_rng(0), 7)
    a = io.frame(**inputs)
    b = io.frame(**{k: torch.as_tensor(v, dtype=torch.float32) for k, v in inputs.items()})
    assert a.shape == (7, FRAME_SIZE) == tuple(b.shape)
    np.testing.assert_allclose(a, b.numpy(), atol=2e-6)


def test_frame_contents(spec):
    """Spot checks of the layout: scales, the ankle velocity mask, roll/pitch, default pose offset."""
    io = PolicyIO(spec)
    inputs = random_inputs(spec, np.random.default_rng(1), 1)
    frame = io.frame(**inputs)[0]
    assert frame[0] == inputs["ref_root_height"][0]
    np.testing.assert_allclose(frame[1:3], rotations.roll_pitch_yaw(inputs["ref_quat_wxyz"][0])[:2], atol=1e-9)
    pol = spec.policy_indices
    np.testing.assert_allclose(frame[7:30], inputs["ref_joint_pos"][0, pol])
    np.testing.assert_allclose(frame[30:33], 0.25 * inputs["gyro"][0])
    np.testing.assert_allclose(frame[35:58], inputs["joint_pos"][0, pol] - spec.default_pose[pol])
    velocities = frame[58:81]
    names = [spec.joint_names[i] for i in pol]
    for i, name in enumerate(names):
        expected = 0.0 if "ankle" in name else 0.05 * inputs["joint_vel"][0, pol[i]]
        assert velocities[i] == pytest.approx(expected)
    np.testing.assert_allclose(frame[81:104], inputs["last_action"][0])


def test_roll_pitch_matches_rotations(spec):
    """roll_pitch equals twist_core.rotations for numpy and torch."""
    q = rotations.normalize(np.random.default_rng(2).standard_normal((50, 4)))
    expected = rotations.roll_pitch_yaw(q)[:, :2]
    np.testing.assert_allclose(roll_pitch(q), expected, atol=1e-9)
    np.testing.assert_allclose(roll_pitch(torch.as_tensor(q)).numpy(), expected, atol=1e-9)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_history_starts_with_copies_and_shifts(backend):
    """First observation: the frame then 10 copies of it; later: previous frames oldest first; reset refills."""
    convert = (lambda x: torch.as_tensor(x)) if backend == "torch" else (lambda x: np.asarray(x))
    frames = [convert(np.full((2, FRAME_SIZE), float(k))) for k in range(13)]
    history = History(frames[0])
    first = history.observation(frames[0])
    assert tuple(first.shape) == (2, OBSERVATION_SIZE)
    assert np.all(np.asarray(first) == 0.0)
    for k in range(1, 12):
        obs = np.asarray(history.observation(frames[k]))
    # at k = 11 the history holds frames 1..10
    blocks = obs.reshape(2, HISTORY + 1, FRAME_SIZE)[:, :, 0]
    np.testing.assert_array_equal(blocks[0], [11] + list(range(1, 11)))
    history.reset([1], convert(np.full((1, FRAME_SIZE), 99.0)))
    obs = np.asarray(history.observation(frames[12])).reshape(2, HISTORY + 1, FRAME_SIZE)[:, :, 0]
    np.testing.assert_array_equal(obs[1], [12] + [99] * 10)
    np.testing.assert_array_equal(obs[0], [12] + list(range(2, 12)))


def test_targets_clip_scale_and_hold_other_joints(spec):
    """Targets = default + 0.5 * clip(action, +-10) on policy joints; wrists hold the default pose; actions() is
    the inverse on the policy joints, clipped to the action range."""
    io = PolicyIO(spec)
    action = np.linspace(-20, 20, 23)
    targets = io.targets(action)
    pol = spec.policy_indices
    np.testing.assert_allclose(targets[pol], spec.default_pose[pol] + ACTION_SCALE * np.clip(action, -ACTION_CLIP,
                                                                                             ACTION_CLIP))
    np.testing.assert_allclose(targets[spec.excluded_indices], spec.default_pose[spec.excluded_indices])
    np.testing.assert_allclose(io.targets(torch.as_tensor(action[None])).numpy()[0], targets, atol=1e-12)
    inside = targets[pol]
    np.testing.assert_allclose(io.actions(inside), np.clip(action, -ACTION_CLIP, ACTION_CLIP), atol=1e-12)
    np.testing.assert_allclose(io.actions(torch.as_tensor(inside[None])).numpy()[0], io.actions(inside), atol=1e-12)
    beyond = spec.default_pose[pol] + 2 * ACTION_SCALE * ACTION_CLIP  # unreachable: the action range's end
    np.testing.assert_allclose(io.actions(beyond), np.full(23, ACTION_CLIP))


def test_layout_hash_changes_with_the_layout(spec):
    """The hash covers the layout (a changed scale changes it)."""
    io = PolicyIO(spec)
    h = io.layout_hash()
    assert len(h) == 64 and h == PolicyIO(spec).layout_hash()
    layout = io.layout()
    layout["gyro_scale"] = 1.0
    assert json.dumps(layout, sort_keys=True) != json.dumps(io.layout(), sort_keys=True)


def test_runtime_runs_the_toy_policy(spec, tmp_path):
    """The toy policy's targets equal the reference joints; single and batched calls agree."""
    runtime = PolicyRuntime(write_toy_policy(tmp_path / "p.onnx", spec), spec)
    io = PolicyIO(spec)
    inputs = random_inputs(spec, np.random.default_rng(3), 4)
    inputs["ref_joint_pos"] = np.clip(inputs["ref_joint_pos"], -1, 1)
    obs = History(io.frame(**inputs)).observation(io.frame(**inputs))
    actions = runtime.act(obs)
    np.testing.assert_allclose(runtime.act(obs[0]), actions[0], atol=1e-6)
    targets = io.targets(actions)
    pol = spec.policy_indices
    np.testing.assert_allclose(targets[:, pol], inputs["ref_joint_pos"][:, pol], atol=1e-4)
    with pytest.raises(ValueError, match="NaN"):
        runtime.act(np.full(OBSERVATION_SIZE, np.nan))
    with pytest.raises(ValueError, match="observation must be"):
        runtime.act(np.zeros(100))


@pytest.mark.parametrize("kwargs, message", [
    (dict(metadata_overrides={"kp": [1.0] * 29}), "kp differs"),
    (dict(metadata_overrides={"joint_names": ["j%d" % i for i in range(29)]}), "joint order differs"),
    (dict(metadata_overrides={"layout_hash": "0" * 64}), "observation layout differs"),
    (dict(drop_metadata=("default_pose",)), "metadata missing: default_pose"),
    (dict(observation_size=1000), "input 'obs' must be"),
])
def test_runtime_refuses_a_mismatched_policy(spec, tmp_path, kwargs, message):
    """Every mismatch is named in the error."""
    with pytest.raises(PolicyModelError, match=message):
        PolicyRuntime(write_toy_policy(tmp_path / "bad.onnx", spec, **kwargs), spec)


def test_runtime_refuses_missing_and_corrupt_files(spec, tmp_path):
    """Missing and corrupt files give a clear error."""
    with pytest.raises(PolicyModelError, match="no such file"):
        PolicyRuntime(tmp_path / "missing.onnx", spec)
    (tmp_path / "junk.onnx").write_bytes(b"\x00junk" * 100)
    with pytest.raises(PolicyModelError, match="not a loadable ONNX"):
        PolicyRuntime(tmp_path / "junk.onnx", spec)
