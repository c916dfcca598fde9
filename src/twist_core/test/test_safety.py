"""The bridge safety state machine: transitions, faults and the targets of each mode."""

import numpy as np
import pytest

from twist_core.safety import (CommandError, Fault, Mode, SafetyConfig, SafetyStateMachine, limit_torque,
                               validate_command)

TICK = 0.02


@pytest.fixture()
def machine(spec):
    """A state machine with a short ramp."""
    return SafetyStateMachine(spec, SafetyConfig(ramp_time=0.1))


def _command(spec, **changes):
    values = dict(names=list(spec.policy_joint_names), position=spec.to_policy(spec.default_pose),
                  velocity=np.zeros(23), kp=spec.to_policy(spec.kp), kd=spec.to_policy(spec.kd), effort=np.zeros(23))
    values.update(changes)
    return validate_command(spec, *values.values())


def _to_policy(machine, spec, now=0.0):
    """Drive the machine ZERO_TORQUE -> RAMP -> HOLD -> POLICY; return the time reached."""
    q = spec.default_pose
    assert machine.start(now, q)[0]
    while machine.mode != Mode.HOLD:
        now += TICK
        machine.update(now, q, np.zeros(29), 0.0, 0.0, 0.78)
    machine.on_command(now, _command(spec))
    assert machine.go(now) == (True, "policy control")
    return now


def test_starts_in_zero_torque_with_zero_targets(machine):
    """Before start nothing is commanded: kp = kd = tau = 0."""
    targets = machine.targets(0.0)
    assert machine.mode == Mode.ZERO_TORQUE
    assert not any(np.any(getattr(targets, f)) for f in ("kp", "kd", "effort"))


def test_ramp_interpolates_to_the_default_pose_then_holds(machine, spec):
    """RAMP blends from the measured pose to the default pose, then HOLD keeps it with hold gains."""
    start = np.zeros(29)
    machine.start(0.0, start)
    np.testing.assert_allclose(machine.targets(0.05).position, 0.5 * spec.default_pose)
    machine.update(0.1, start, np.zeros(29), 0.0, 0.0, 0.78)
    assert machine.mode == Mode.HOLD
    targets = machine.targets(0.1)
    np.testing.assert_allclose(targets.position, spec.default_pose)
    np.testing.assert_allclose(targets.kp, 4.0 * spec.kp)


def test_go_needs_hold_and_a_fresh_command(machine, spec):
    """go is refused outside HOLD and without a command younger than the deadline."""
    assert machine.go(0.0)[0] is False
    machine.start(0.0, spec.default_pose)
    machine.update(0.2, spec.default_pose, np.zeros(29), 0.0, 0.0, 0.78)
    ok, message = machine.go(0.2)
    assert not ok and "no valid JointCommand" in message
    machine.on_command(0.2, _command(spec))
    assert machine.go(0.5)[0] is False  # the command is now 300 ms old
    assert machine.go(0.25)[0] is True


def test_watchdog_damps_within_deadline_plus_one_tick(machine, spec):
    """With commands stopped in POLICY, DAMPING comes after the deadline and no later than one tick after."""
    last = _to_policy(machine, spec)
    now = last
    while machine.mode == Mode.POLICY:
        now += TICK
        machine.update(now, spec.default_pose, np.zeros(29), 0.0, 0.0, 0.78)
    assert machine.fault == Fault.COMMAND_STALE
    assert 0.1 < now - last <= 0.1 + TICK + 1e-9
    targets = machine.targets(now)
    assert np.all(targets.kp == 0) and np.all(targets.kd == 8.0)


@pytest.mark.parametrize("change,fault", [
    (dict(position=np.full(23, np.nan)), Fault.NON_FINITE),
    (dict(effort=np.r_[np.zeros(22), np.inf]), Fault.NON_FINITE),
    (dict(kp=np.zeros(22)), Fault.JOINT_MISMATCH),
    (dict(names=["left_toe_joint"] + [f"x{i}" for i in range(22)]), Fault.JOINT_MISMATCH),
])
def test_bad_command_in_policy_damps(machine, spec, change, fault):
    """NaN/Inf, wrong sizes and unknown names are refused; in POLICY they force DAMPING."""
    now = _to_policy(machine, spec)
    with pytest.raises(CommandError) as info:
        _command(spec, **change)
    assert info.value.fault == fault
    machine.on_command(now, None, info.value)
    assert machine.mode == Mode.DAMPING and machine.fault == fault


def test_duplicated_joint_in_command(spec):
    """A joint named twice is a mismatch."""
    names = list(spec.policy_joint_names)
    names[1] = names[0]
    with pytest.raises(CommandError, match="duplicated"):
        _command(spec, names=names)


def test_partial_command_holds_other_joints_at_default(spec):
    """Joints a command does not name keep the default pose with config gains."""
    targets = _command(spec, names=["waist_yaw_joint"], position=[0.3], velocity=[0.0], kp=[10.0], kd=[1.0],
                       effort=[0.0])
    assert targets.position[12] == 0.3 and targets.kp[12] == 10.0
    np.testing.assert_allclose(np.delete(targets.position, 12), np.delete(spec.default_pose, 12))


def test_out_of_bounds_commands_are_clamped_and_said(spec):
    """kp 1e6, kd 1e4, dq* 1e3 and a feed-forward beyond the effort limit are clamped to config/g1.yaml's bounds
    and listed; within the bounds nothing is clamped; the PD torque then stays within the effort limit."""
    knee = spec.policy_joint_names.index("left_knee_joint")
    kp, kd = spec.to_policy(spec.kp).copy(), spec.to_policy(spec.kd).copy()
    velocity, effort = np.zeros(23), np.zeros(23)
    assert _command(spec).clamped == ()
    kp[knee], kd[knee], velocity[knee], effort[knee] = 1e6, 1e4, -1e3, 500.0
    targets = _command(spec, kp=kp, kd=kd, velocity=velocity, effort=effort)
    assert targets.clamped == ("kp of ['left_knee_joint']", "kd of ['left_knee_joint']",
                               "velocity of ['left_knee_joint']", "effort of ['left_knee_joint']")
    i = spec.joint_index("left_knee_joint")
    assert (targets.kp[i], targets.kd[i], targets.velocity[i], targets.effort[i]) == (600.0, 16.0, -20.0, 139.0)
    q, dq = spec.default_pose.copy(), np.zeros(29)
    sent, saturated = limit_torque(spec, targets, q, dq)
    torque = sent.effort + sent.kp * (sent.position - q) + sent.kd * (sent.velocity - dq)
    assert saturated and np.all(np.abs(torque) <= spec.effort_limits + 1e-9) and sent.clamped == targets.clamped
    assert abs(torque[i]) == pytest.approx(139.0)


@pytest.mark.parametrize("roll,pitch,height,fault", [
    (1.2, 0.0, 0.78, Fault.TILT), (0.0, -1.1, 0.78, Fault.TILT), (0.0, 0.0, 0.2, Fault.HEIGHT),
    (np.nan, 0.0, 0.78, Fault.NON_FINITE),
])
def test_fall_detection_in_every_active_mode(spec, roll, pitch, height, fault):
    """Tilt, height and non-finite state trip DAMPING even in ZERO_TORQUE."""
    machine = SafetyStateMachine(spec)
    machine.update(0.0, spec.default_pose, np.zeros(29), roll, pitch, height)
    assert machine.mode == Mode.DAMPING and machine.fault == fault


def test_joint_limit_and_saturation_in_policy(machine, spec):
    """A joint far outside its range, or torque saturated for too long, damps in POLICY."""
    now = _to_policy(machine, spec)
    q = spec.default_pose.copy()
    q[3] = spec.upper_limits[3] + 0.2
    machine.on_command(now, _command(spec))
    machine.update(now, q, np.zeros(29), 0.0, 0.0, 0.78)
    assert machine.fault == Fault.JOINT_LIMIT
    other = SafetyStateMachine(spec, SafetyConfig(ramp_time=0.1))
    now = _to_policy(other, spec)
    for k in range(30):
        other.on_command(now + k * TICK, _command(spec))
        other.update(now + k * TICK, spec.default_pose, np.zeros(29), 0.0, 0.0, 0.78, saturated=True)
    assert other.fault == Fault.TORQUE_SATURATION


def test_first_fault_is_kept_and_start_clears_it(machine, spec):
    """A second fault does not overwrite the first; start from DAMPING clears it."""
    machine.update(0.0, spec.default_pose, np.zeros(29), 1.5, 0.0, 0.2)
    machine.trip(Fault.STATE_STALE, "later")
    assert machine.fault == Fault.TILT
    assert machine.start(0.1, spec.default_pose)[0]
    assert machine.mode == Mode.RAMP and machine.fault == Fault.NONE


def test_damp_request_from_policy_node(machine, spec):
    """A JointCommand in MODE_DAMP is an operator fault."""
    machine.on_command(0.0, None, damp_requested=True)
    assert machine.mode == Mode.DAMPING and machine.fault == Fault.OPERATOR
