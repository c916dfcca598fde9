"""One control tick without ROS: input checks, activation, history restart, targets, hold and damp decisions."""

import numpy as np
import pytest
from twist_msgs.msg import MotionReference, RobotState

from twist_core.policy_io import FRAME_SIZE, HISTORY, PolicyIO
from twist_core.policy_runtime import PolicyRuntime
from twist_core.safety import Mode
from twist_policy_node.controller import PolicyController
from twist_policy_node.inputs import InputError, reference_input, robot_input
from twist_policy_node.reference_keeper import ReferenceKeeper

LAST_ACTION = slice(FRAME_SIZE - 23, FRAME_SIZE)


def state_msg(spec, sequence=0, mode=Mode.POLICY, q=None):
    """A RobotState at the default pose (or ``q``), level, at rest."""
    msg = RobotState(sequence=sequence, mode=int(mode), joint_names=list(spec.joint_names))
    msg.position = list(spec.default_pose if q is None else q)
    msg.velocity = [0.0] * 29
    msg.effort = [0.0] * 29
    msg.imu_orientation.w = 1.0
    return msg


def reference_msg(spec, offset=0.2):
    """A MotionReference with the joints ``offset`` away from the default pose."""
    msg = MotionReference(sequence=3, valid=True, joint_names=list(spec.joint_names))
    msg.current.joint_positions = list(np.array(spec.default_pose) + offset)
    msg.current.joint_velocities = [0.0] * 29
    msg.current.root_pose.position.z = 0.75
    msg.current.root_pose.orientation.w = 1.0
    msg.current.root_linear_velocity.x = 0.5
    return msg


def _feed(keeper, reference, until):
    """Receive ``reference`` at 50 Hz from 0 to ``until`` (past the blend-in from standing)."""
    for t in np.arange(0.0, until + 1e-9, 0.02):
        keeper.receive(reference, float(t))


@pytest.fixture()
def controller(spec, toy_policy):
    """The toy policy with the node's default timings."""
    keeper = ReferenceKeeper(spec.default_pose, 0.75, 0.1, 0.5, 1.0)
    return PolicyController(PolicyRuntime(toy_policy, spec), keeper)


def test_robot_state_checks(spec):
    """Wrong joint order, wrong sizes, NaN, a zero quaternion and an unknown mode are refused with the reason."""
    assert robot_input(spec, state_msg(spec)).q.shape == (29,)
    bad = state_msg(spec)
    bad.joint_names = list(reversed(spec.joint_names))
    with pytest.raises(InputError, match="joint names differ"):
        robot_input(spec, bad)
    bad = state_msg(spec)
    bad.joint_names = bad.joint_names[:23]
    with pytest.raises(InputError, match="23 joint names"):
        robot_input(spec, bad)
    bad = state_msg(spec)
    bad.velocity = [0.0] * 28
    with pytest.raises(InputError, match="velocity: 28 values"):
        robot_input(spec, bad)
    bad = state_msg(spec)
    bad.position[4] = float("nan")
    with pytest.raises(InputError, match="non-finite"):
        robot_input(spec, bad)
    bad = state_msg(spec)
    bad.imu_orientation.w = 0.0
    with pytest.raises(InputError, match="quaternion norm"):
        robot_input(spec, bad)
    bad = state_msg(spec)
    bad.imu_angular_velocity.z = float("inf")
    with pytest.raises(InputError, match="imu_angular_velocity"):
        robot_input(spec, bad)
    bad = state_msg(spec)
    bad.mode = 9
    with pytest.raises(InputError, match="unknown bridge mode"):
        robot_input(spec, bad)


def test_reference_checks(spec):
    """The reference's names, sizes and numbers are checked like the state's."""
    ref = reference_input(spec, reference_msg(spec))
    assert ref.root_lin_vel[0] == 0.5 and ref.root_height == 0.75
    bad = reference_msg(spec)
    bad.current.joint_positions = bad.current.joint_positions[:23]
    with pytest.raises(InputError, match="joint_positions: 23 values"):
        reference_input(spec, bad)
    bad = reference_msg(spec)
    bad.current.root_pose.position.z = float("nan")
    with pytest.raises(InputError, match="root height"):
        reference_input(spec, bad)
    bad = reference_msg(spec)
    bad.joint_names[0], bad.joint_names[1] = bad.joint_names[1], bad.joint_names[0]
    with pytest.raises(InputError, match="joint names differ"):
        reference_input(spec, bad)


def test_hold_outside_policy_mode(controller, spec):
    """In HOLD (and every mode but POLICY) the answer holds the default pose and the policy stays inactive."""
    for mode in (Mode.ZERO_TORQUE, Mode.RAMP, Mode.HOLD, Mode.DAMPING):
        decision = controller.step(robot_input(spec, state_msg(spec, mode=mode)), 1.0)
        assert decision.kind == "hold" and decision.inference_s is None
        np.testing.assert_array_equal(decision.targets, spec.default_pose)
    assert not controller.active and controller.activations == 0


def test_activation_restarts_history_and_tracks_the_reference(controller, spec):
    """On each entry into POLICY: last action zero, history = copies of the first frame; toy targets = reference."""
    _feed(controller.keeper, reference_input(spec, reference_msg(spec)), 2.0)
    decision = controller.step(robot_input(spec, state_msg(spec, 0)), 2.0)
    assert decision.kind == "policy" and decision.reference_state == "fresh" and controller.activations == 1
    io = PolicyIO(spec)
    expected = np.array(spec.default_pose)
    expected[io.policy_indices] += 0.2  # the toy policy's targets are the reference joints (wrists at default)
    np.testing.assert_allclose(decision.targets, expected, atol=1e-5)
    frames = controller.history.frames[0]
    assert frames.shape == (HISTORY, FRAME_SIZE)
    first = frames[-1].copy()
    assert np.all(frames[:-1] == first)  # copies of the first frame, then the first frame itself
    assert not np.any(first[LAST_ACTION])  # the last action starts at zero
    controller.step(robot_input(spec, state_msg(spec, 1)), 2.02)
    second = controller.history.frames[0][-1]
    np.testing.assert_allclose(second[LAST_ACTION], controller.runtime.act(
        np.concatenate([first, np.repeat(first[None], HISTORY, 0).ravel()])), atol=1e-5)

    controller.step(robot_input(spec, state_msg(spec, 2, mode=Mode.HOLD)), 2.04)
    q = np.array(spec.default_pose) + 0.05
    controller.step(robot_input(spec, state_msg(spec, 3, q=q)), 2.06)
    assert controller.activations == 2
    frames = controller.history.frames[0]
    assert np.all(frames == frames[-1]) and not np.any(frames[-1][LAST_ACTION])  # restarted from the new state


def test_stale_reference_is_tracked_as_held_then_standing(controller, spec):
    """The controller tracks what the keeper says: held reference joints, then the default pose."""
    _feed(controller.keeper, reference_input(spec, reference_msg(spec)), 2.0)
    held = controller.step(robot_input(spec, state_msg(spec, 0)), 2.3)
    assert held.reference_state == "held"
    standing = controller.step(robot_input(spec, state_msg(spec, 1)), 4.0)
    assert standing.reference_state == "default"
    np.testing.assert_allclose(standing.targets, spec.default_pose, atol=1e-5)
    assert np.max(np.abs(held.targets - spec.default_pose)) == pytest.approx(0.2, abs=1e-5)


def test_non_finite_action_requests_damping(controller, spec, monkeypatch):
    """A policy that returns NaN gets a damp decision (and is deactivated)."""
    monkeypatch.setattr(controller.runtime, "act", lambda obs: np.full(23, np.nan))
    decision = controller.step(robot_input(spec, state_msg(spec)), 1.0)
    assert decision.kind == "damp" and "non-finite" in decision.reason and not controller.active
