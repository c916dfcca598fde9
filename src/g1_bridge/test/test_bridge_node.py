"""The mujoco_bridge node in its own process, driven over real DDS (loopback) like a policy node would."""

import subprocess
import sys

import numpy as np
import pytest
import rclpy

from bridge_client import BridgeClient, sequences, stamp_seconds, start_bridge, stop_bridge
from geometry_msgs.msg import Vector3
from twist_msgs.msg import BridgeStatus
from twist_msgs.srv import Reset

DISCOVERY_S = 30.0


@pytest.fixture(scope="module")
def ros():
    """rclpy for this test process."""
    rclpy.init()
    yield
    rclpy.shutdown()


@pytest.fixture()
def lockstep(ros, spec):
    """A lockstep bridge that starts ramping at launch, and a client answering every state."""
    client = BridgeClient(spec)
    process = start_bridge(clock_mode="lockstep", auto_start=True, ramp_time=0.5, lockstep_timeout=0.2)
    try:
        yield client
    finally:
        client.destroy_node()
        stop_bridge(process)


def _reach_policy(client):
    assert client.spin_until(lambda: client.mode() == BridgeStatus.MODE_HOLD, DISCOVERY_S), "bridge never in HOLD"
    response = client.call("go")
    assert response.success, response.message
    assert client.spin_until(lambda: client.mode() == BridgeStatus.MODE_POLICY, 10.0)


def test_lockstep_20_seconds_without_a_missed_tick_then_watchdog(lockstep, spec):
    """1000 ticks (20 s of sim time) in POLICY: every state arrives, in order, 20 ms apart, each answered.

    Then the command stream stops: DAMPING (COMMAND_STALE) follows within deadline + one tick of sim time.
    """
    client = lockstep
    _reach_policy(client)
    first = len(client.states)
    assert client.spin_until(lambda: len(client.states) >= first + 1000, 120.0)
    window = client.states[first:first + 1000]
    assert np.all(np.diff(sequences(window)) == 1), "missed or repeated RobotState"
    np.testing.assert_allclose(np.diff([stamp_seconds(s) for s in window]), 0.02, atol=1e-6)
    assert all(s.mode == BridgeStatus.MODE_POLICY for s in window)
    assert window[-1].base_pose.position.z > 0.6, "the robot fell while tracking the hold command"
    assert client.status is not None and client.status.commands_rejected == 0

    client.answering = False
    last_answered = client.states[-1]
    assert client.spin_until(lambda: client.mode() == BridgeStatus.MODE_DAMPING, 20.0)
    damping = client.states[-1]
    elapsed = stamp_seconds(damping) - stamp_seconds(last_answered)
    assert 0.1 < elapsed <= 0.1 + 0.02 + 1e-6
    assert client.spin_until(lambda: client.status.fault == BridgeStatus.FAULT_COMMAND_STALE, 5.0)
    assert "deadline" in client.status.fault_message


def _deterministic_run(spec, go_at: int, ticks: int) -> dict[int, np.ndarray]:
    """A lockstep run whose every input depends only on the tick: go is called while tick go_at waits."""
    client = BridgeClient(spec)
    client.wiggle = True
    client.hold_back = go_at
    process = start_bridge(clock_mode="lockstep", auto_start=True, ramp_time=0.5, lockstep_timeout=5.0)
    try:
        assert client.spin_until(lambda: any(s.sequence == go_at for s in client.states), DISCOVERY_S)
        held = next(s for s in client.states if s.sequence == go_at)
        assert held.mode == BridgeStatus.MODE_HOLD
        assert client.call("go").success  # processed while the bridge waits for the command of tick go_at
        client.answer(held)
        assert client.spin_until(lambda: client.states[-1].sequence >= go_at + ticks, 60.0)
    finally:
        client.destroy_node()
        stop_bridge(process)
    states = [s for s in client.states if s.sequence <= go_at + ticks]
    assert states[-1].mode == BridgeStatus.MODE_POLICY
    return {s.sequence: np.concatenate([s.position, s.velocity, s.effort,
                                        [s.imu_angular_velocity.x, s.imu_linear_acceleration.z,
                                         s.base_pose.position.x, s.base_pose.position.z]]) for s in states}


def test_two_lockstep_runs_are_bit_identical(ros, spec):
    """Two bridge processes fed the same command sequence publish bit-identical states.

    Every state from go on must be there; before it the bridge ramps on its own and may publish a state or two
    before this process has discovered it (seen on a loaded machine), so those are compared where both runs got
    them.
    """
    first = _deterministic_run(spec, go_at=30, ticks=100)
    second = _deterministic_run(spec, go_at=30, ticks=100)
    assert set(range(30, 131)) <= first.keys() & second.keys()
    common = sorted(first.keys() & second.keys())
    assert len(common) >= 120
    for sequence in common:
        assert first[sequence].shape == (29 * 3 + 4,)
        assert first[sequence].tobytes() == second[sequence].tobytes(), f"state {sequence} differs"


def test_nan_command_damps(lockstep):
    """A JointCommand with NaN in POLICY forces DAMPING with FAULT_NON_FINITE, and the status says why."""
    client = lockstep
    _reach_policy(client)
    client.poison = float("nan")
    assert client.spin_until(lambda: client.mode() == BridgeStatus.MODE_DAMPING, 10.0)
    assert client.spin_until(lambda: client.status.fault == BridgeStatus.FAULT_NON_FINITE, 5.0)
    assert "non-finite position" in client.status.fault_message
    assert client.status.commands_rejected >= 1


def test_out_of_bounds_gains_and_velocity_targets_are_clamped_and_counted(lockstep, spec):
    """kp = 1e6, kd = 1e4 and a 1e3 rad/s velocity target on the left elbow (1e7 N*m predicted against 25 N*m): the
    bridge clamps them to config/g1.yaml's kp_max, kd_max and velocity limit and the PD torque to the effort limit,
    and counts both in its status. Driven at full torque the elbow reaches its limit and the bridge damps
    (JOINT_LIMIT): a known state, every state finite, the elbow never faster than its velocity limit."""
    client = lockstep
    _reach_policy(client)
    client.extreme = ("left_elbow_joint", 1e6, 1e4, 1e3)
    start = client.states[-1].sequence
    assert client.spin_until(lambda: client.status.commands_clamped > 10 and client.status.torque_clamps > 0, 30.0), \
        (client.status.commands_clamped, client.status.torque_clamps)
    status = client.status
    assert status.clamp_message.endswith(
        "clamped kp of ['left_elbow_joint']; kd of ['left_elbow_joint']; velocity of ['left_elbow_joint']")
    assert status.commands_rejected == 0
    assert client.spin_until(lambda: client.states[-1].sequence > start + 50, 30.0)
    elbow = spec.joint_index("left_elbow_joint")
    after = [s for s in client.states if s.sequence > start]
    assert all(np.all(np.isfinite(s.position)) and np.all(np.isfinite(s.velocity)) for s in after)
    assert max(abs(s.velocity[elbow]) for s in after) <= spec.velocity_limits[elbow]
    assert client.status.mode == BridgeStatus.MODE_POLICY or client.status.fault == BridgeStatus.FAULT_JOINT_LIMIT


def test_go_refused_before_hold_and_damp_service(lockstep):
    """go is refused while ramping; damp works from any mode and start recovers from it."""
    client = lockstep
    assert client.spin_until(lambda: client.mode() == BridgeStatus.MODE_RAMP, DISCOVERY_S)
    response = client.call("go")
    assert not response.success and "only possible from HOLD" in response.message
    assert client.call("damp").success
    assert client.spin_until(lambda: client.mode() == BridgeStatus.MODE_DAMPING, 5.0)
    assert client.call("start").success
    assert client.spin_until(lambda: client.mode() == BridgeStatus.MODE_HOLD, 10.0)


def test_reset_to_a_given_frame(lockstep, spec):
    """~/reset with a frame puts the robot in that pose, in ZERO_TORQUE with the gantry, at sequence 0."""
    client = lockstep
    _reach_policy(client)
    request = Reset.Request(use_frame=True, joint_names=["left_elbow_joint", "waist_yaw_joint"])
    request.frame.joint_positions = [0.5, 0.3]
    request.frame.root_pose.position.z = 0.9
    request.frame.root_pose.orientation.w = 1.0
    client.answering = False
    response = client.call("reset", request=request)
    assert response.success, response.message
    client.states.clear()
    client.answering = True
    assert client.spin_until(lambda: len(client.states) > 0, 10.0)
    first = client.states[0]
    assert first.sequence == 0 and first.mode == BridgeStatus.MODE_ZERO_TORQUE
    position = dict(zip(first.joint_names, first.position))
    assert position["left_elbow_joint"] == pytest.approx(0.5, abs=0.05)
    assert position["waist_yaw_joint"] == pytest.approx(0.3, abs=0.05)
    assert position["right_knee_joint"] == pytest.approx(spec.default_pose[9], abs=0.05)
    bad = Reset.Request(use_frame=True, joint_names=["no_such_joint"])
    bad.frame.joint_positions = [0.0]
    response = client.call("reset", request=bad)
    assert not response.success and "unknown joint" in response.message


def test_realtime_mode_publishes_at_50_hz(ros, spec):
    """In real time the states come at 50 Hz of wall clock with no gap, and the status reports RTF ~1."""
    client = BridgeClient(spec, state_depth=100)
    client.answering = False
    process = start_bridge(clock_mode="realtime", auto_start=True)
    try:
        assert client.spin_until(lambda: len(client.states) > 0, DISCOVERY_S)
        first = len(client.states)
        assert client.spin_until(lambda: len(client.states) >= first + 150, 10.0)
        window = client.states[first:first + 150]
        assert np.all(np.diff(sequences(window)) == 1)
        rate = 149 / (stamp_seconds(window[-1]) - stamp_seconds(window[0]))
        assert rate == pytest.approx(50.0, rel=0.05)
        assert client.status.clock_mode == BridgeStatus.CLOCK_MODE_REALTIME
        assert client.status.real_time_factor == pytest.approx(1.0, abs=0.1)
    finally:
        client.destroy_node()
        stop_bridge(process)


def test_realtime_catch_up_still_takes_commands(monkeypatch):
    """Behind the wall clock after a stall, the real-time loop still takes arrived messages (commands) once per tick
    while it catches up; without that the command deadline, kept in simulated time, tripped with commands queued."""
    from g1_bridge import mujoco_bridge

    bridge = mujoco_bridge.MujocoBridge.__new__(mujoco_bridge.MujocoBridge)
    bridge.params, bridge.lockstep, bridge._reset_pending = {"control_rate": 50.0}, False, False
    events = []
    bridge.tick = lambda: events.append("tick")
    bridge.advance = lambda: None
    wall = iter([0.0] + [0.09 + 1e-4 * i for i in range(1000)])  # 90 ms stall after the first tick: 4 ticks behind
    monkeypatch.setattr(mujoco_bridge.time, "monotonic", lambda: next(wall))
    monkeypatch.setattr(mujoco_bridge.rclpy, "ok", lambda: events.count("tick") < 5)
    monkeypatch.setattr(mujoco_bridge.rclpy, "spin_once", lambda node, timeout_sec: events.append("spin"))
    bridge.run()
    assert events[:8] == ["tick", "spin"] * 4, events


def test_record_video_from_the_node(ros, spec, tmp_path):
    """record_video writes an mp4 that holds the frames of the simulated time, finished on Ctrl-C."""
    import imageio

    client = BridgeClient(spec)
    video = tmp_path / "bridge.mp4"
    process = start_bridge(clock_mode="lockstep", auto_start=True, record_video=str(video))
    try:
        assert client.spin_until(lambda: len(client.states) >= 16, DISCOVERY_S + 30.0)
    finally:
        client.destroy_node()
        stop_bridge(process)
    frames = imageio.mimread(str(video))
    ticks = client.states[-1].sequence
    assert abs(len(frames) - ticks * 0.02 * 30) <= 2  # 30 fps of sim time


def test_push_moves_the_pelvis_and_bad_pushes_are_refused(lockstep):
    """~/push adds its velocity to the pelvis (the robot, stiff on the client's PD, rocks that way and stays up: a
    small push, it does not balance); a push beyond max_push or with NaN is refused and changes nothing."""
    client = lockstep
    _reach_policy(client)
    push = client.create_publisher(Vector3, "/mujoco_bridge/push", 10)
    assert client.spin_until(lambda: push.get_subscription_count() >= 1, DISCOVERY_S)
    client.spin_until(lambda: False, 0.5)

    def forward_speeds(seconds: float) -> np.ndarray:
        start = len(client.states)
        client.spin_until(lambda: len(client.states) >= start + int(seconds / 0.02), 30.0)
        return np.array([s.base_twist.linear.x for s in client.states[start:]])

    quiet = forward_speeds(0.5)
    for bad in (Vector3(x=10.0), Vector3(x=float("nan"))):
        push.publish(bad)
    refused = forward_speeds(0.5)
    push.publish(Vector3(x=0.2))
    pushed = forward_speeds(1.0)
    assert np.abs(quiet).max() < 0.02 and np.abs(refused).max() < 0.02
    assert pushed.max() > 0.1, pushed.round(3)
    assert client.states[-1].base_pose.position.z > 0.6 and client.mode() == BridgeStatus.MODE_POLICY


RUN_BRIDGE_SCRIPT = """
import sys
import rclpy
from g1_bridge.bridge_node import run_bridge

class Node:
    def run(self):
        if sys.argv[1] == "signal":
            rclpy.shutdown()  # what rclpy's SIGINT/SIGTERM handler does while a callback runs
        raise RuntimeError("publish failed")

    def close(self, reason):
        print("closed:", reason, flush=True)

    def destroy_node(self):
        pass

run_bridge("fake_bridge", lambda: "usage", Node, [])
"""


@pytest.mark.parametrize("case, code, reason", [("signal", 0, "closed: signal"),
                                                ("error", 1, "closed: error: publish failed")])
def test_run_bridge_tells_a_signal_from_an_error(case, code, reason):
    """A callback failing because a signal shut the context down ends like the signal (exit 0, no 'failed');
    the same failure with the context alive is an error (exit 1, 'failed' and the traceback); both close."""
    out = subprocess.run([sys.executable, "-c", RUN_BRIDGE_SCRIPT, case], capture_output=True, text=True, timeout=60)
    assert out.returncode == code, out.stderr
    assert reason in out.stdout
    assert ("fake_bridge: failed: publish failed" in out.stderr) == (case == "error")
