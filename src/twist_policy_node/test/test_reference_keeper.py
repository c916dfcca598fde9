"""The stale-reference logic without ROS: fresh, held, ramping to standing, standing, blending back."""

import numpy as np
import pytest

from twist_core import rotations
from twist_policy_node.reference_keeper import Reference, ReferenceKeeper

HEIGHT = 0.75


def _walking(spec, yaw=0.7):
    q = np.array(spec.default_pose) + 0.3
    tilt = rotations.multiply(rotations.from_yaw(yaw), [np.cos(0.05), np.sin(0.05), 0.0, 0.0])
    return Reference(root_height=0.7, root_quat_wxyz=tilt, root_lin_vel=np.array([0.5, 0.1, 0.0]), yaw_rate=0.4,
                     joint_pos=q)


def _feed(keeper, reference, start, stop, period=0.02):
    """Receive ``reference`` every ``period`` from ``start`` to ``stop`` (inclusive)."""
    for t in np.arange(start, stop + 1e-9, period):
        keeper.receive(reference, float(t))


@pytest.fixture()
def keeper(spec):
    """Timeout 0.1 s, hold 0.5 s, ramp 1.0 s (the node's defaults)."""
    return ReferenceKeeper(spec.default_pose, HEIGHT, timeout=0.1, hold_time=0.5, ramp_time=1.0)


def test_none_then_fresh_blends_in_from_standing(keeper, spec):
    """Before any reference: standing at heading 0; the first reference is blended in over ramp_time."""
    ref, state = keeper.current(3.0)
    assert state == "none" and ref.root_height == HEIGHT
    np.testing.assert_array_equal(ref.joint_pos, spec.default_pose)
    walking = _walking(spec)
    _feed(keeper, walking, 10.0, 10.5)
    ref, state = keeper.current(10.5)
    assert state == "blending"
    np.testing.assert_allclose(ref.joint_pos, spec.default_pose + 0.15)
    _feed(keeper, walking, 10.52, 11.0)
    ref, state = keeper.current(11.05)
    assert state == "fresh" and ref is walking


def test_hold_then_ramp_then_standing(keeper, spec):
    """Stale: held unchanged for hold_time after the timeout, then a linear ramp to standing (heading kept)."""
    walking = _walking(spec)
    _feed(keeper, walking, 0.0, 2.0)  # fresh, after the blend-in
    assert keeper.current(2.09) == (walking, "fresh")
    for t in (2.11, 2.3, 2.59):
        ref, state = keeper.current(t)
        assert state == "held" and ref is walking
    ref, state = keeper.current(2.6 + 0.25)
    assert state == "ramping"
    np.testing.assert_allclose(ref.joint_pos, walking.joint_pos * 0.75 + spec.default_pose * 0.25)
    np.testing.assert_allclose(ref.root_lin_vel, walking.root_lin_vel * 0.75)
    assert ref.yaw_rate == pytest.approx(0.3) and ref.root_height == pytest.approx(0.7 * 0.75 + HEIGHT * 0.25)
    ref, state = keeper.current(3.7)
    assert state == "default"
    np.testing.assert_array_equal(ref.joint_pos, spec.default_pose)
    assert ref.root_height == HEIGHT and ref.yaw_rate == 0.0 and not np.any(ref.root_lin_vel)
    roll, pitch, yaw = rotations.roll_pitch_yaw(ref.root_quat_wxyz)
    assert abs(roll) < 1e-9 and abs(pitch) < 1e-9 and yaw == pytest.approx(0.7)


def test_return_after_the_ramp_blends_back(keeper, spec):
    """A reference that returns mid-ramp is blended in from the ramped pose, not jumped to."""
    walking = _walking(spec)
    _feed(keeper, walking, 0.0, 2.0)
    ramped, state = keeper.current(3.1)  # half way down the ramp
    assert state == "ramping"
    keeper.receive(walking, 3.1)
    ref, state = keeper.current(3.1)
    assert state == "blending"
    np.testing.assert_allclose(ref.joint_pos, ramped.joint_pos)
    _feed(keeper, walking, 3.12, 3.6)
    ref, state = keeper.current(3.6)
    np.testing.assert_allclose(ref.joint_pos, 0.5 * ramped.joint_pos + 0.5 * walking.joint_pos)
    _feed(keeper, walking, 3.62, 4.2)
    assert keeper.current(4.2) == (walking, "fresh")


def test_return_while_held_is_immediate(keeper, spec):
    """Back within hold_time: the new reference is tracked at once (the held one was the last real frame)."""
    walking = _walking(spec)
    _feed(keeper, walking, 0.0, 2.0)
    assert keeper.current(2.4)[1] == "held"
    other = _walking(spec, yaw=0.8)
    keeper.receive(other, 2.4)
    assert keeper.current(2.41) == (other, "fresh")


def test_bad_timings_are_refused(spec):
    """A zero timeout or negative times are refused."""
    with pytest.raises(ValueError, match="reference_timeout"):
        ReferenceKeeper(spec.default_pose, HEIGHT, timeout=0.0, hold_time=0.5, ramp_time=1.0)
    with pytest.raises(ValueError):
        ReferenceKeeper(spec.default_pose, HEIGHT, timeout=0.1, hold_time=-1.0, ramp_time=1.0)
