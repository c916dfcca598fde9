"""The canonical motion: building, validation, velocities, FK key bodies, resampling, files."""

import mujoco
import numpy as np
import pytest

from motion_fixtures import sine_motion
from twist_core import rotations
from twist_core.model import joint_qpos_addresses, load_model, standing_height
from twist_core.motion import (MotionError, build_motion, fps_consistency_warning, joint_limit_report,
                               load_motion, motion_from_generated_joints, resample, root_from_command, save_motion)


def test_key_bodies_equal_mujoco_body_positions(spec):
    """FK key bodies are MuJoCo's body positions (plus the configured offsets) for the same qpos (to rounding)."""
    motion = sine_motion(spec, seconds=0.4)
    model = load_model(spec, spec.model.robot_entry)
    data = mujoco.MjData(model)
    for t in range(motion.num_frames):
        data.qpos[:3], data.qpos[3:7] = motion.root_pos[t], motion.root_quat[t]
        data.qpos[joint_qpos_addresses(spec, model)] = motion.joint_pos[t]
        mujoco.mj_forward(model, data)
        for k, key in enumerate(spec.key_bodies):
            body = model.body(key.body).id
            expected = data.xpos[body] + data.xmat[body].reshape(3, 3) @ np.array(key.offset)
            np.testing.assert_allclose(motion.key_body_pos[t, k], expected, rtol=0, atol=1e-12)


def test_velocities_are_derived_consistently(spec):
    """Joint and root velocities match the analytic derivatives of the sine motion."""
    motion = sine_motion(spec, fps=50.0, seconds=3.0)
    t = np.arange(motion.num_frames) / 50.0
    analytic = 0.2 * 2 * np.pi * 0.7 * np.cos(2 * np.pi * 0.7 * t[:, None] + np.arange(29) * 0.3)
    np.testing.assert_allclose(motion.joint_vel[1:-1], analytic[1:-1], atol=0.01)
    np.testing.assert_allclose(motion.root_lin_vel_local()[5:-5, 0], 0.5, atol=0.01)
    np.testing.assert_allclose(motion.root_ang_vel[1:-1, 2], 0.3, atol=0.01)


def test_resampling_30hz_sine_to_50hz_matches_the_analytic_curve(spec):
    """A 30 Hz sine motion resampled to 50 Hz reproduces the analytic joint curve within 1e-3 rad."""
    slow = sine_motion(spec, fps=30.0, seconds=3.0, amplitude=0.2, frequency=0.5)
    fast = resample(slow, spec, 50.0)
    assert fast.fps == 50.0 and fast.num_frames == 151
    t = np.arange(fast.num_frames) / 50.0
    analytic = spec.default_pose + 0.2 * np.sin(2 * np.pi * 0.5 * t[:, None] + np.arange(29) * 0.3)
    assert np.max(np.abs(fast.joint_pos - analytic)) < 1e-3
    yaw = rotations.yaw(fast.root_quat)
    np.testing.assert_allclose(np.unwrap(yaw), 0.3 * t, atol=1e-3)
    assert fast.metadata["resampled_from_fps"] == 30.0


def test_save_and_load_round_trip(spec, tmp_path):
    """The canonical .npz keeps every array and the metadata."""
    motion = sine_motion(spec)
    loaded = load_motion(save_motion(motion, tmp_path / "m.npz"), spec)
    for field in ("root_pos", "root_quat", "joint_pos", "joint_vel", "root_lin_vel", "root_ang_vel",
                  "key_body_pos", "command"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(motion, field))
    assert loaded.fps == 50.0 and loaded.metadata == {"source": "sine"}


def test_from_frame_keeps_the_rest_as_measured(spec):
    """A motion from a later frame: every per-frame array sliced (velocities as in the whole clip), where it starts
    in the metadata, and a start that leaves fewer than two frames refused."""
    motion = sine_motion(spec)
    later = motion.from_frame(20)
    assert later.num_frames == motion.num_frames - 20 and later.fps == motion.fps
    for field in ("root_pos", "root_quat", "joint_pos", "joint_vel", "root_lin_vel", "root_ang_vel",
                  "key_body_pos", "command"):
        np.testing.assert_array_equal(getattr(later, field), getattr(motion, field)[20:])
    assert later.metadata == {"source": "sine", "starts_at_s": 0.4}
    with pytest.raises(MotionError, match="cannot start at frame 100 of a 101-frame motion"):
        motion.from_frame(100)


@pytest.mark.parametrize("corrupt,message", [
    (lambda a: a.update(joint_pos=a["joint_pos"][:, :23]), r"joint_pos: expected shape \(26, 29\), got \(26, 23\)"),
    (lambda a: a["joint_pos"].__setitem__((5, 3), np.nan), "NaN/Inf in 1 frame.*first at frame 5"),
    (lambda a: a.update(root_quat=a["root_quat"] * 2), "not of unit norm.*wxyz"),
    (lambda a: a.update(fps=0.0), "fps 0 is outside"),
    (lambda a: a.update(joint_pos=a["joint_pos"][:1], root_pos=a["root_pos"][:1], root_quat=a["root_quat"][:1]),
     "at least 2 frames"),
])
def test_build_rejects_bad_arrays(spec, corrupt, message):
    """Bad shapes, NaN, non-unit quaternions, bad fps and too-short motions fail with a clear message."""
    good = sine_motion(spec, seconds=0.5)
    arrays = dict(fps=50.0, root_pos=good.root_pos.copy(), root_quat=good.root_quat.copy(),
                  joint_pos=good.joint_pos.copy())
    corrupt(arrays)
    with pytest.raises(MotionError, match=message):
        build_motion(spec, **arrays)


def test_corrupt_and_foreign_files(spec, tmp_path):
    """A truncated file, a file of another kind and a wrong joint order are refused at load."""
    path = save_motion(sine_motion(spec), tmp_path / "m.npz")
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:200])
    with pytest.raises(MotionError, match="cannot read"):
        load_motion(tmp_path / "cut.npz", spec)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(MotionError, match="not a canonical motion file"):
        load_motion(tmp_path / "other.npz", spec)
    data = dict(np.load(path))
    data["joint_names"] = data["joint_names"][::-1]
    np.savez(tmp_path / "reordered.npz", **data)
    with pytest.raises(MotionError, match="joint order differs"):
        load_motion(tmp_path / "reordered.npz", spec)


def test_joint_limit_report(spec):
    """Joints outside their range are reported with frame counts and the worst excess."""
    motion = sine_motion(spec, seconds=0.5)
    assert joint_limit_report(motion, spec) == []
    motion.joint_pos[3:6, 3] = spec.upper_limits[3] + 0.2
    (line,) = joint_limit_report(motion, spec)
    assert line.startswith("left_knee_joint: 3 frame(s)") and "worst by 0.199" in line


def test_fps_consistency_warning(spec):
    """Velocities that belong to another frame rate are noticed (the CMG data problem: 30 Hz labelled 60)."""
    motion = sine_motion(spec, fps=30.0, seconds=3.0)
    assert fps_consistency_warning(30.0, motion.joint_pos, motion.joint_vel) is None
    message = fps_consistency_warning(60.0, motion.joint_pos, motion.joint_vel)
    assert "suggest about 30 fps" in message


def test_root_from_command_integrates_heading(spec):
    """Walking forward at 1 m/s while turning at pi/2 rad/s for 1 s: a quarter circle of radius 2/pi."""
    fps = 1000.0
    command = np.tile([1.0, 0.0, np.pi / 2], (1001, 1))
    pos, quat = root_from_command(command, fps, 0.75)
    np.testing.assert_allclose(pos[-1, :2], [2 / np.pi, 2 / np.pi], atol=2e-3)
    assert rotations.yaw(quat[-1]) == pytest.approx(np.pi / 2, abs=2e-3)
    assert np.all(pos[:, 2] == 0.75)


def test_generated_joints_get_a_synthesized_root(spec):
    """CMG-style output (joints only) becomes a full motion with root, key bodies and the command; the pelvis
    height puts the lower foot on the floor in every frame."""
    n = 100
    joint_pos = np.tile(spec.default_pose, (n, 1))
    crouch = spec.default_pose.copy()
    for side in ("left", "right"):
        for joint, delta in (("hip_pitch", -0.3), ("knee", 0.6), ("ankle_pitch", -0.3)):
            crouch[spec.joint_names.index(f"{side}_{joint}_joint")] += delta
    joint_pos[50:] = crouch
    command = np.tile([0.5, 0.0, 0.0], (n, 1))
    motion = motion_from_generated_joints(spec, 50.0, joint_pos, np.zeros((n, 29)), command)
    np.testing.assert_allclose(motion.root_pos[-1, 0], 0.5 * (n - 1) / 50.0)
    assert motion.root_pos[0, 2] == pytest.approx(0.7792, abs=1e-3)  # default pose standing on the floor
    assert motion.root_pos[-1, 2] == pytest.approx(standing_height(spec, crouch)) and \
        motion.root_pos[-1, 2] < motion.root_pos[0, 2] - 0.03  # crouching lowers the pelvis, feet stay down
    assert motion.metadata["root"] == "synthesized from command"
    assert np.min(motion.key_body_pos[:, spec.key_body_names.index("left_ankle"), 2]) > 0.0
