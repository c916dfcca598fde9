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
                     joint_pos=q, joint_vel=np.full(len(q), 0.5))


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


@pytest.fixture()
def stopping_keeper(spec, tmp_path):
    """The node's defaults with a controlled stop by the toy CMG (1 m/s^2, 2 rad/s^2)."""
    from twist_core.cmg_runtime import CmgRuntime
    from twist_core.toy_models import write_toy_cmg
    from twist_policy_node.controlled_stop import ControlledStop

    stop = ControlledStop(CmgRuntime(write_toy_cmg(tmp_path / "cmg.onnx", spec), spec), 1.0, 2.0)
    return ReferenceKeeper(spec.default_pose, HEIGHT, timeout=0.1, hold_time=0.5, ramp_time=1.0, stop=stop)


def test_controlled_stop_walks_on_decelerates_and_stands(stopping_keeper, spec):
    """Stale with a CMG: no hold; the CMG continues from the last reference, the command decelerating to zero, then
    the standing frame is held; the heading turns on with the decaying yaw rate; a returning reference blends in."""
    keeper = stopping_keeper
    walking = _walking(spec)
    _feed(keeper, walking, 0.0, 2.0)
    assert keeper.current(2.09)[1] == "fresh"
    ref, state = keeper.current(2.12)
    assert state == "stopping"
    # six model steps since the last reference (2.0): the command decelerated by 1 m/s^2 for 0.12 s
    np.testing.assert_allclose(np.hypot(*ref.root_lin_vel[:2]), np.hypot(0.5, 0.1) - 0.12, atol=1e-9)
    assert ref.yaw_rate == pytest.approx(0.4 - 2.0 * 0.12)
    assert not np.allclose(ref.joint_pos, walking.joint_pos)  # the model moved the joints on
    assert ref.root_quat_wxyz[1] == ref.root_quat_wxyz[2] == 0.0  # level
    speeds = [np.hypot(*keeper.current(t)[0].root_lin_vel[:2]) for t in np.arange(2.14, 2.6, 0.02)]
    assert np.all(np.diff(speeds) <= 1e-12) and speeds[-1] == 0.0  # stopped within 0.51 s of the last reference
    assert keeper.current(2.6)[1] == "stopping"  # zero command: the standing hold settles (0.2 s + 0.6 s)
    ref, state = keeper.current(3.6)
    assert state == "stopped" and ref.yaw_rate == 0.0 and not ref.root_lin_vel.any()
    np.testing.assert_allclose(ref.joint_pos, spec.default_pose, atol=1e-9)  # the toy's standing frame
    heading = rotations.yaw(ref.root_quat_wxyz)
    assert heading == pytest.approx(0.7 + 0.4 * 0.2 / 2, abs=0.01)  # the yaw rate integrated while it decayed
    assert keeper.current(10.0)[1] == "stopped"
    _feed(keeper, walking, 10.0, 10.5)
    ref, state = keeper.current(10.5)
    assert state == "blending"
    np.testing.assert_allclose(ref.joint_pos, 0.5 * spec.default_pose + 0.5 * walking.joint_pos, atol=1e-9)
    _feed(keeper, walking, 10.52, 11.2)
    assert keeper.current(11.2) == (walking, "fresh")
    assert keeper.current(11.35)[1] == "stopping"  # a second loss stops again


def test_controlled_stop_falls_back_to_standing_when_the_cmg_fails(spec, tmp_path):
    """A CMG that returns NaN during the stop: standing (the default pose), the reason kept for the diagnostics."""
    from twist_core.cmg_runtime import CmgRuntime
    from twist_core.toy_models import write_toy_cmg
    from twist_policy_node.controlled_stop import ControlledStop

    runtime = CmgRuntime(write_toy_cmg(tmp_path / "nan.onnx", spec, nan_above_vx=0.2), spec)
    keeper = ReferenceKeeper(spec.default_pose, HEIGHT, 0.1, 0.5, 1.0, ControlledStop(runtime))
    walking = _walking(spec)
    _feed(keeper, walking, 0.0, 2.0)
    for t in (2.12, 2.5, 4.0):
        ref, state = keeper.current(t)
        assert state == "default" and "non-finite" in keeper.stop_error
        np.testing.assert_array_equal(ref.joint_pos, spec.default_pose)
    with pytest.raises(ValueError, match="decelerations must be > 0"):
        ControlledStop(runtime, 0.0)
