"""End to end: the MuJoCo bridge (lockstep), cmg_reference (toy CMG) and twist_policy (toy policy), each its
own process over DDS, started from the launch graph by twist_bringup.graph_runner as `make demo` does.

What holds the robot: in RAMP/HOLD the bridge's hold gains (4x config) stand the G1 on its own; in POLICY the
virtual gantry stays engaged (``release_gantry_on_go: false``), because the toy policy only copies the
reference joints into PD targets with the config gains, which do not balance the G1 (a bridge test pins that).

Bad JointCommands: NaN in POLICY -> DAMPING (FAULT_NON_FINITE) is g1_bridge's test_bridge_node.py::
test_nan_command_damps, and the state machine's checks of sizes/names/gains are twist_core's test_safety.py::
test_bad_command_in_policy_damps; here a wrong-size command is sent into the running closed loop.
"""

import numpy as np
import pytest
import rclpy
from twist_msgs.msg import BridgeStatus, JointCommand

from twist_bringup.closed_loop import LoopMonitor
from twist_bringup.graph_runner import GraphRunner
from twist_bringup.launch_graph import config_dir, sim_graph
from twist_bringup.sim_session import write_toy_models
from twist_core.safety import Mode

CONFIG = config_dir()  # the installed configuration (twist_bringup)
STARTUP_S = 60.0


@pytest.fixture(scope="module")
def loop(spec, tmp_path_factory):
    """The closed-loop graph running (the toy policy and toy CMG), and a monitor in this process."""
    toy_policy, cmg = write_toy_models(tmp_path_factory.mktemp("models"), spec)
    graph = sim_graph("", CONFIG, clock_mode="lockstep", rviz=False, reference="cmg", cmg_model=str(cmg),
                      policy_file=str(toy_policy),
                      bridge_parameters={"release_gantry_on_go": False, "ramp_time": 0.5})
    runner = GraphRunner([n for n in graph if n.package != "robot_state_publisher"],
                         log_dir=tmp_path_factory.mktemp("logs"), required=("g1_bridge", "twist_reference",
                                                                            "twist_policy_node"))
    rclpy.init()
    monitor = LoopMonitor(spec, name="closed_loop_test")
    runner.start()
    try:
        yield runner, monitor
    finally:
        monitor.destroy_node()
        rclpy.shutdown()
        runner.stop()


def _run_for(monitor, runner, seconds):
    """Spin until ``seconds`` of simulated time passed; every process must stay alive."""
    end = monitor.sim_time() + seconds
    assert monitor.spin_until(lambda: monitor.sim_time() >= end or runner.exited(), 60.0)
    assert not runner.exited(), f"a node died: {runner.exited()} (logs: {runner.logs})"


def _answers(monitor, states, timeout=5.0):
    """The policy's commands answering ``states``, once all have reached this process (all but the newest state:
    the bridge sent state k+1 after command k reached it, but here the two may arrive in either order)."""
    wanted = {s.sequence for s in states[:-1]}
    missing = lambda: wanted - {c.state_sequence for _, c in monitor.commands}  # noqa
    assert monitor.spin_until(lambda: not missing(), timeout), f"states not answered (lockstep timeout): {missing()}"
    return [c for _, c in monitor.commands if c.state_sequence in wanted]


def test_stands_in_hold(loop):
    """start: RAMP then HOLD; in HOLD the robot stands and the policy answers every state with a hold command."""
    runner, monitor = loop
    assert monitor.spin_until(lambda: monitor.states or runner.exited(), STARTUP_S), "no robot_state"
    # the policy answers every state (hold commands outside POLICY): wait until its commands reach us too
    assert monitor.spin_until(lambda: monitor.commands or runner.exited(), STARTUP_S), "no joint_command"
    assert not runner.exited(), runner.exited()
    assert monitor.call("start").success
    assert monitor.spin_until(lambda: monitor.mode() == Mode.HOLD, 30.0)
    since = monitor.sim_time()
    _run_for(monitor, runner, 1.0)
    hold = [s for s in monitor.states if s.stamp > since]
    assert all(s.mode == Mode.HOLD for s in hold) and min(s.height for s in hold) > 0.7
    commands = _answers(monitor, hold)
    assert commands and all(c.mode == JointCommand.MODE_HOLD for c in commands)


def test_policy_with_a_standing_reference_in_lockstep(loop, spec):
    """go: POLICY with the toy CMG at zero command (standing); 3 s tracked, every state answered in lockstep."""
    runner, monitor = loop
    monitor.start_and_go(timeout=30.0, log=lambda _: None)
    since = monitor.sim_time()
    _run_for(monitor, runner, 3.0)
    states = [s for s in monitor.states if s.stamp > since + 0.1]
    assert all(s.mode == Mode.POLICY for s in states)
    assert min(s.height for s in states) > 0.7, "the robot sank"
    sequences = np.array([s.sequence for s in states])
    assert np.all(np.diff(sequences) == 1)
    np.testing.assert_allclose(np.diff([s.stamp for s in states]), 0.02, atol=1e-6)
    commands = _answers(monitor, states)
    # The policy waits up to reference_wait (LOCKSTEP_REFERENCE_WAIT wall) for each tick's reference; a reference
    # publisher starved of CPU for longer leaves the policy tracking the held reference (MODE_HOLD), as designed.
    modes = np.array([c.mode for c in commands])
    assert np.mean(modes == JointCommand.MODE_POLICY) > 0.9 and set(modes) <= {0, 1}, [
        (c.state_sequence, c.mode) for c in commands if c.mode != 0][:10]
    assert np.max(monitor.tracking_error(states)) < 0.05  # PD on the standing pose
    keys = monitor.keybody_error(states)
    assert len(keys) >= 0.9 * len(states) and np.max(keys) < 0.05, keys.round(3)
    latency = monitor.latency_ms(since)
    assert np.percentile(latency, 50) < 20.0
    assert monitor.status.commands_rejected == 0


def test_walking_reference_then_wrong_size_command_damps(loop, spec):
    """cmd_vel 0.5 m/s: the toy CMG bends hips and knees, the commands follow; a wrong-size JointCommand sent
    into the running loop makes the bridge damp (JOINT_MISMATCH) and the physics never gets it.
    """
    runner, monitor = loop
    knee = spec.joint_index("left_knee_joint")
    start_knee = monitor.states[-1].q[knee]
    end = monitor.sim_time() + 1.5
    while monitor.sim_time() < end and not runner.exited():
        monitor.send_velocity(0.5, 0.0, 0.0)
        monitor.spin_for(0.05)
    assert monitor.states[-1].q[knee] - start_knee > 0.05, "the walking reference did not reach the joints"
    bad = JointCommand(sequence=10**6, state_sequence=monitor.states[-1].sequence, mode=JointCommand.MODE_POLICY,
                       joint_names=list(spec.joint_names), position=list(spec.default_pose)[:20],
                       velocity=[0.0] * 29, kp=spec.kp.tolist(), kd=spec.kd.tolist(), effort=[0.0] * 29)
    publisher = monitor.create_publisher(JointCommand, "joint_command", 1)

    def send_until_damping():  # resend: the bridge's reader may match the new writer after its first sample
        publisher.publish(bad)
        monitor.spin_for(0.05)
        return monitor.mode() == Mode.DAMPING

    assert monitor.spin_until(send_until_damping, 10.0)
    assert monitor.spin_until(lambda: monitor.status.fault == BridgeStatus.FAULT_JOINT_MISMATCH, 5.0)
    assert monitor.status.commands_rejected >= 1
    assert all(np.all(np.isfinite(s.q)) for s in monitor.states)


def test_restart_then_killing_the_policy_damps(loop):
    """start and go again (the policy reactivates), then SIGKILL the policy process: the bridge's watchdog damps
    (COMMAND_STALE) within the command deadline plus one tick of simulated time.
    """
    runner, monitor = loop
    monitor.send_velocity(0.0, 0.0, 0.0)
    monitor.start_and_go(timeout=30.0, log=lambda _: None)
    _run_for(monitor, runner, 0.5)
    runner.kill("/twist_policy")
    assert monitor.spin_until(lambda: monitor.mode() == Mode.DAMPING, 20.0)
    assert monitor.spin_until(lambda: monitor.status.fault == BridgeStatus.FAULT_COMMAND_STALE, 5.0)
    last_answered = max(c.state_sequence for _, c in monitor.commands if c.sequence < 10**6)
    stamp = {s.sequence: s.stamp for s in monitor.states}
    damped = next(s for s in monitor.states if s.mode == Mode.DAMPING and s.sequence > last_answered)
    # deadline 0.1 s (+ one tick); the last command this process saw may not have reached the bridge (killed
    # while publishing), hence one tick of slack below
    assert 0.1 - 0.02 - 1e-6 < damped.stamp - stamp[last_answered] <= 0.1 + 0.02 + 1e-6
