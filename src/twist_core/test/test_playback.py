"""Motion playback: alignment, blend-in/out, speed, looping, continuity."""

import numpy as np
import pytest

from motion_fixtures import sine_motion
from twist_core import rotations
from twist_core.playback import MotionPlayer, Phase

DT = 0.02


@pytest.fixture(scope="module")
def motion(spec):
    """2 s of walking while turning, at 50 Hz."""
    return sine_motion(spec, fps=50.0, seconds=2.0)


def frames(player, seconds):
    """Frames every 20 ms from tau = 0."""
    return [player.frame(k * DT) for k in range(int(round(seconds / DT)) + 1)]


def test_blend_in_starts_at_default_pose_where_the_robot_stands(spec, motion):
    """tau=0 is the default pose at the robot's x, y and heading; the end of blend-in is the motion's start."""
    player = MotionPlayer(motion, spec, blend_in=0.5, blend_out=0.5)
    player.align(np.array([1.0, 2.0]), np.pi / 2)
    first = player.frame(0.0)
    assert first.phase == Phase.BLEND_IN
    np.testing.assert_allclose(first.joint_pos, spec.default_pose)
    np.testing.assert_allclose(first.root_pos[:2], [1.0, 2.0])
    assert rotations.yaw(first.root_quat) == pytest.approx(np.pi / 2)
    start = player.frame(0.5)
    assert start.phase == Phase.PLAY
    np.testing.assert_allclose(start.joint_pos, motion.joint_pos[0])
    np.testing.assert_allclose(start.root_pos, [1.0, 2.0, motion.root_pos[0, 2]], atol=1e-12)
    assert rotations.yaw(start.root_quat) == pytest.approx(np.pi / 2)


def test_play_reproduces_the_motion_in_the_aligned_frame(spec, motion):
    """At speed 1 the played frames are the motion's frames rotated/translated to the start pose."""
    player = MotionPlayer(motion, spec, blend_in=0.0, blend_out=0.0)
    player.align(np.array([0.0, 0.0]), 0.0)
    for k in (0, 10, 57, 100):
        frame = player.frame(k * DT)
        np.testing.assert_allclose(frame.joint_pos, motion.joint_pos[k], atol=1e-12)
        np.testing.assert_allclose(frame.joint_vel, motion.joint_vel[k], atol=1e-12)
        np.testing.assert_allclose(frame.root_pos, motion.root_pos[k], atol=1e-12)  # the motion starts at 0, yaw 0
        np.testing.assert_allclose(frame.key_body_pos_local, motion.key_body_pos_local()[k], atol=1e-12)


def test_blend_out_returns_to_default_and_holds(spec, motion):
    """After the motion the reference blends back to the default pose, then holds it."""
    player = MotionPlayer(motion, spec, blend_in=0.2, blend_out=0.4)
    assert player.end_time == pytest.approx(2.6)
    assert player.frame(2.3).phase == Phase.BLEND_OUT
    end = player.frame(2.6)
    assert end.phase == Phase.HOLD
    np.testing.assert_allclose(end.joint_pos, spec.default_pose)
    np.testing.assert_allclose(end.joint_vel, 0.0)
    np.testing.assert_allclose(player.frame(30.0).joint_pos, spec.default_pose)


def test_speed_scales_time_and_velocities(spec, motion):
    """speed 2 plays the clip in half the time with doubled velocities."""
    player = MotionPlayer(motion, spec, speed=2.0, blend_in=0.0, blend_out=0.0)
    assert player.play_duration == pytest.approx(1.0)
    frame = player.frame(0.2)
    np.testing.assert_allclose(frame.joint_pos, motion.joint_pos[20], atol=1e-12)
    np.testing.assert_allclose(frame.joint_vel, 2 * motion.joint_vel[20], atol=1e-12)
    np.testing.assert_allclose(frame.root_lin_vel_local, 2 * motion.root_lin_vel_local()[20], atol=1e-12)


def test_loop_continues_from_where_the_lap_ended(spec, motion):
    """Looping a walk keeps walking: lap 2 starts at lap 1's end position and heading."""
    player = MotionPlayer(motion, spec, loop=True, blend_in=0.0)
    end_of_lap = player.frame(2.0 - 1e-9)
    start_of_next = player.frame(2.0 + 1e-9)
    np.testing.assert_allclose(start_of_next.root_pos[:2], end_of_lap.root_pos[:2], atol=1e-6)
    assert rotations.yaw(start_of_next.root_quat) == pytest.approx(rotations.yaw(end_of_lap.root_quat), abs=1e-6)
    assert player.phase(1e6) == Phase.PLAY
    distance = np.linalg.norm(player.frame(6.0).root_pos[:2])
    assert distance > np.linalg.norm(player.frame(2.0).root_pos[:2])


def test_reference_is_continuous_across_phases(spec, motion):
    """No jump between consecutive 20 ms frames anywhere on the timeline (joints, root, key bodies)."""
    player = MotionPlayer(motion, spec, blend_in=0.5, blend_out=0.5)
    seq = frames(player, player.end_time + 0.2)
    joints = np.array([f.joint_pos for f in seq])
    roots = np.array([f.root_pos for f in seq])
    keys = np.array([f.key_body_pos_local for f in seq])
    assert np.max(np.abs(np.diff(joints, axis=0))) < 0.05
    assert np.max(np.linalg.norm(np.diff(roots, axis=0), axis=1)) < 0.02
    assert np.max(np.abs(np.diff(keys, axis=0))) < 0.03
    assert [f.phase for f in seq].count(Phase.BLEND_IN) == 25


def test_bad_parameters(spec, motion):
    """Non-positive speed or negative blend times are refused."""
    with pytest.raises(ValueError, match="speed"):
        MotionPlayer(motion, spec, speed=0.0)
    with pytest.raises(ValueError, match="blend"):
        MotionPlayer(motion, spec, blend_in=-1.0)
