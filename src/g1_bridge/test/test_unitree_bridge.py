"""unitree_bridge against the simulated G1 (unitree_sim), each its own process, over loopback DDS.

ROS 2 (Fast DDS, private ROS_DOMAIN_ID, localhost discovery) between this test and the bridge; Cyclone DDS
(unitree_sdk2py, domain UNITREE_TEST_DOMAIN (1), interface lo) between the bridge and the simulated robot. The
test process speaks both: it answers the bridge's RobotState with JointCommands like a policy node, presses the
simulated remote's buttons, and watches every LowCmd on the wire independently of the bridge.
"""

from __future__ import annotations

import re
import signal
import time

import numpy as np
import pytest
import rclpy

pytest.importorskip("unitree_sdk2py", reason="unitree_sdk2py (make setup installs it) is needed")

from bridge_client import BridgeClient  # noqa: E402
from twist_msgs.msg import BridgeStatus  # noqa: E402
from unitree_client import (DOMAIN, MODE_MACHINE, WireMonitor, start_bridge, start_sim, stop,  # noqa: E402
                            wait_for)

from g1_bridge.unitree_sim import SimOperator, close_channels, init_channels  # noqa: E402

STARTUP_S = 40.0
LOWCMD_RATE = 500.0
DEADLINE = 0.1          # command_deadline (the default)
# lowstate_timeout in these tests (default 0.1 s): on the loaded 2-core test machine the Python simulator
# sometimes stalls (seen: gaps of 107 ms here, 262 ms on the CI machine), which the robot's own firmware does
# not. The loss test measures the reaction to whatever timeout is set.
LOWSTATE_TIMEOUT = 0.5
# Two measurements of "damps within the deadline":
# * the bridge's own: the age of the last command (or LowState) when it tripped, from its fault message; the trip
#   and the first damping LowCmd happen in the same LowCmd cycle (every 2 ms), so this is the bridge's reaction.
#   Bound: deadline + INTERNAL_MARGIN (the LowCmd thread may itself be starved on a loaded machine).
# * from outside: this process's clock from the last JointCommand it published (or the last LowState its
#   listener saw) to the first damping LowCmd its listener saw. It includes DDS delivery and the scheduling of
#   three busy Python processes on 2 cores (measured here: 107 ms quiet, 218-311 ms with a training job holding
#   both cores), so it only gets a sanity bound.
INTERNAL_MARGIN = 0.1
OUTSIDE_BOUND = LOWSTATE_TIMEOUT + 1.0
# The simulated G1 reports LowState at 250 Hz here (the robot: 500 Hz): three processes deserializing LowState at
# 500 Hz in Python load the 2-core test machine enough to stall them for 100-150 ms at times.
SIM_ARGS = ("--lowstate-rate", "250")


@pytest.fixture(scope="module")
def dds():
    """rclpy and the Cyclone DDS participant of this test process, and the wire monitor."""
    rclpy.init()
    init_channels(DOMAIN, "lo")
    monitor = WireMonitor()
    operator = SimOperator()
    yield monitor, operator
    operator.close()
    monitor.close()
    rclpy.shutdown()


@pytest.fixture(autouse=True)
def idle_operator(dds):
    """Every test starts with an idle, linked remote and no injected LowState fault."""
    _, operator = dds
    operator.hold(())
    operator.fault("none")


@pytest.fixture()
def robot(dds, spec):
    """A simulated G1 on its gantry, the bridge, and a client answering every RobotState."""
    monitor, operator = dds
    operator.hold(())
    operator.gantry(True)
    sim = start_sim(*SIM_ARGS)
    bridge = start_bridge(ramp_time=1.0, lowstate_timeout=LOWSTATE_TIMEOUT)
    client = BridgeClient(spec, bridge_name="unitree_bridge")
    procs = {"sim": sim, "bridge": bridge}
    try:
        assert client.spin_until(lambda: client.status is not None and len(client.states) > 5, STARTUP_S), \
            "no RobotState from the bridge"
        yield client, monitor, operator, procs
    finally:
        client.destroy_node()
        for proc in (procs["bridge"], procs["sim"]):  # a test may have replaced the bridge
            stop(proc)


def _mode(client) -> int | None:
    return client.status.mode if client.status is not None else None


def _press(client, operator, buttons, mode, timeout=10.0) -> None:
    operator.hold(buttons)  # held for 0.2 s while the client keeps answering
    _spin_for(client, 0.2)
    operator.hold(())
    assert client.spin_until(lambda: _mode(client) == mode, timeout), \
        f"{buttons} did not lead to mode {mode} (mode {_mode(client)}, fault {client.status.fault_message!r})"


def _spin_for(client, seconds: float) -> None:
    end = time.monotonic() + seconds
    client.spin_until(lambda: time.monotonic() > end, seconds + 1.0)


def _check_wire(samples, spec) -> None:
    """Every LowCmd: CRC right (ours and the SDK's), finite, mode_pr 0, mode_machine echoed, motors 0-28 on."""
    assert samples
    assert all(s.crc_ok and s.sdk_crc_ok for s in samples), "a LowCmd with a wrong CRC was sent"
    assert all(s.finite for s in samples), "a LowCmd with NaN/Inf was sent"
    records = np.stack([s.record for s in samples])
    assert np.all(records["mode_pr"] == 0) and np.all(records["mode_machine"] == MODE_MACHINE)
    motors = records["motor_cmd"]
    assert np.all(motors["mode"][:, :29] == 1) and np.all(motors["mode"][:, 29:] == 0)
    q = motors["q"][:, :29]
    assert np.all(q >= spec.lower_limits.astype(np.float32) - 1e-6)
    assert np.all(q <= spec.upper_limits.astype(np.float32) + 1e-6)


def _age_at_trip(message: str) -> float:
    """The age in seconds the bridge reported when it tripped ("no ... for 102 ms (...)")."""
    match = re.search(r"for (\d+) ms", message)
    assert match, message
    return int(match.group(1)) / 1000.0


def _wait_mode(client, mode, timeout=10.0) -> None:
    assert client.spin_until(lambda: _mode(client) == mode, timeout), \
        f"mode {_mode(client)} instead of {mode} (fault {client.status.fault_message!r})"


def _trailing_damping(monitor) -> int:
    """After the bridge stopped: how many of the last LowCmds on the wire were damping (0 if the last was not).

    Waits until the monitor has seen no LowCmd for 0.5 s: its listener can lag behind the wire on a loaded machine.
    """
    count = -1
    while count != len(monitor.commands()):
        count = len(monitor.commands())
        time.sleep(0.5)
    trailing = 0
    for sample in reversed(monitor.commands()):
        if not sample.damping:
            break
        trailing += 1
    return trailing


def _first_damping_after(monitor, t0: float):
    """The first damping LowCmd on the wire at or after t0 (waits for the monitor's listener to catch up)."""
    assert wait_for(lambda: any(s.damping for s in monitor.commands(t0)), 2.0), "no damping LowCmd on the wire"
    return next(s for s in monitor.commands(t0) if s.damping)


def test_full_sequence_with_the_remote_and_the_robot_stands(robot, spec):
    """ZERO_TORQUE -START-> RAMP -> HOLD (gantry lowered: it stands) -A-> POLICY -B-> DAMPING -START-> HOLD -SELECT->.

    Every LowCmd on the wire is well formed, at about 500 Hz; the simulated robot accepted all of them. Ctrl-C
    ends the bridge with damping LowCmds.
    """
    client, monitor, operator, procs = robot
    t_start = time.monotonic()
    assert _mode(client) == BridgeStatus.MODE_ZERO_TORQUE
    _press(client, operator, ["start"], BridgeStatus.MODE_RAMP)
    _wait_mode(client, BridgeStatus.MODE_HOLD)

    operator.gantry(False)  # lower the robot to the floor, as the rack is lowered
    assert wait_for(lambda: not monitor.latest_truth().gantry_engaged, 5.0)
    t_floor = monitor.latest_truth().time
    assert client.spin_until(lambda: monitor.latest_truth().time > t_floor + 3.0, 15.0)  # 3 s of simulated time
    standing = [t for t in monitor.truth if t.time > t_floor + 0.5]
    heights = np.array([t.base_pos[2] for t in standing])
    assert len(standing) > 100 and heights.min() > 0.65, f"the robot does not stand in HOLD: min z {heights.min()}"
    print(f"\nstanding in HOLD on the floor: pelvis z {heights.min():.3f}-{heights.max():.3f} m over "
          f"{standing[-1].time - standing[0].time:.1f} s")
    assert _mode(client) == BridgeStatus.MODE_HOLD

    _press(client, operator, ["A"], BridgeStatus.MODE_POLICY)
    t_policy = monitor.latest_truth().time
    assert client.spin_until(lambda: monitor.latest_truth().time > t_policy + 2.0, 10.0)
    assert _mode(client) == BridgeStatus.MODE_POLICY and monitor.latest_truth().base_pos[2] > 0.65

    _press(client, operator, ["B"], BridgeStatus.MODE_DAMPING)
    assert client.status.fault == BridgeStatus.FAULT_OPERATOR and "remote" in client.status.fault_message
    _press(client, operator, ["start"], BridgeStatus.MODE_RAMP)
    _press(client, operator, ["select"], BridgeStatus.MODE_DAMPING)

    samples = monitor.commands(t_start)
    _check_wire(samples, spec)
    times = np.array([s.time for s in samples])
    rate = (len(times) - 1) / (times[-1] - times[0])
    gaps = np.diff(times)
    print(f"\nLowCmd on the wire: {rate:.1f} Hz over {times[-1] - times[0]:.1f} s, gap p50 "
          f"{np.median(gaps) * 1e3:.2f} ms, p99 {np.percentile(gaps, 99) * 1e3:.2f} ms, max {gaps.max() * 1e3:.1f} ms")
    # 499 Hz measured on a quiet machine; 395 Hz while a training job held both cores: the thread paces itself
    # to 500 Hz and never bursts to catch up, so a starved process sends fewer, never older, commands.
    assert rate > 0.6 * LOWCMD_RATE
    states = np.array([t for t in monitor.lowstate_times if t >= t_start])
    print(f"LowState from the simulated G1: {(len(states) - 1) / (states[-1] - states[0]):.1f} Hz, "
          f"max gap {np.diff(states).max() * 1e3:.1f} ms")
    truth = monitor.latest_truth()
    assert truth.lowcmd_crc_errors == 0 and truth.lowcmd_wrong_mode_machine == 0 and truth.lowcmd_non_finite == 0
    assert truth.lowcmd_applied > 0.8 * len(samples)

    assert stop(procs["bridge"], signal.SIGINT) == 0
    assert _trailing_damping(monitor) > 100, "the bridge did not end with damping"
    output = procs["bridge"].stdout.read()
    assert "start-up checklist" in output and "mode_machine 5" in output and "damping sent" in output


def test_command_stream_loss_damps_within_the_deadline_and_nan_is_never_sent(robot, spec):
    """In POLICY the test stops answering: damping LowCmds follow the last JointCommand within the deadline.

    Then back to POLICY and a NaN in a command: DAMPING (NON_FINITE), and no NaN reaches the wire.
    """
    client, monitor, operator, _ = robot
    _press(client, operator, ["start"], BridgeStatus.MODE_RAMP)
    _wait_mode(client, BridgeStatus.MODE_HOLD)
    _press(client, operator, ["A"], BridgeStatus.MODE_POLICY)
    _spin_for(client, 0.5)
    client.answering = False
    last_command = client.last_command_time
    _wait_mode(client, BridgeStatus.MODE_DAMPING, 5.0)
    assert client.status.fault == BridgeStatus.FAULT_COMMAND_STALE
    internal = _age_at_trip(client.status.fault_message)
    first = _first_damping_after(monitor, last_command)
    latency = first.time - last_command
    print(f"\ncommand stream lost: the bridge damped at command age {internal * 1e3:.0f} ms (deadline "
          f"{DEADLINE * 1e3:.0f} ms); on the wire {latency * 1e3:.1f} ms after the last JointCommand was published")
    assert DEADLINE <= internal <= DEADLINE + INTERNAL_MARGIN
    assert DEADLINE * 0.5 < latency < OUTSIDE_BOUND

    client.answering = True
    _press(client, operator, ["start"], BridgeStatus.MODE_RAMP)
    _wait_mode(client, BridgeStatus.MODE_HOLD)
    _press(client, operator, ["A"], BridgeStatus.MODE_POLICY)
    t_nan = time.monotonic()
    client.poison = float("nan")
    _wait_mode(client, BridgeStatus.MODE_DAMPING, 5.0)
    assert client.status.fault == BridgeStatus.FAULT_NON_FINITE
    _spin_for(client, 0.2)
    after = monitor.commands(t_nan)
    assert after and all(s.finite for s in after)
    _check_wire(monitor.commands(t_nan - 5.0), spec)


def test_lowstate_loss_damps_within_the_deadline_and_sigterm_ends_in_damping(robot, spec):
    """The simulated robot is killed (LowState stops): damping within lowstate_timeout; SIGTERM ends damping."""
    client, monitor, operator, procs = robot
    _press(client, operator, ["start"], BridgeStatus.MODE_RAMP)
    _wait_mode(client, BridgeStatus.MODE_HOLD)
    assert stop(procs["sim"], signal.SIGKILL) != 0
    t_kill = time.monotonic()
    last_state = max(t for t in monitor.lowstate_times if t <= t_kill)
    _wait_mode(client, BridgeStatus.MODE_DAMPING, 5.0)
    assert client.status.fault == BridgeStatus.FAULT_STATE_STALE and "LowState" in client.status.fault_message
    internal = _age_at_trip(client.status.fault_message)
    first = _first_damping_after(monitor, last_state)
    latency = first.time - last_state
    print(f"\nLowState lost: the bridge damped at LowState age {internal * 1e3:.0f} ms (timeout "
          f"{LOWSTATE_TIMEOUT * 1e3:.0f} ms); on the wire {latency * 1e3:.1f} ms after the last LowState seen here")
    assert LOWSTATE_TIMEOUT <= internal <= LOWSTATE_TIMEOUT + INTERNAL_MARGIN
    assert LOWSTATE_TIMEOUT * 0.5 < latency < OUTSIDE_BOUND
    assert all(s.damping for s in monitor.commands(first.time))

    assert stop(procs["bridge"], signal.SIGTERM) == 0, procs["bridge"].stdout.read()
    assert _trailing_damping(monitor) > 100, "the bridge did not end with damping"
    _check_wire(monitor.commands(t_kill - 2.0), spec)


def test_start_up_refuses_without_the_robot(dds):
    """No interface, or no LowState: the bridge says why, exits 2 and never sends a LowCmd."""
    monitor, _ = dds
    t0 = time.monotonic()
    bad_interface = start_bridge(network_interface="no_such_if0")
    no_robot = start_bridge(lowstate_wait=1.0)
    assert bad_interface.wait(STARTUP_S) == 2 and no_robot.wait(STARTUP_S) == 2
    assert "does not exist" in bad_interface.stdout.read()
    assert "no LowState on rt/lowstate within 1.0 s" in no_robot.stdout.read()
    assert monitor.commands(t0) == []


def test_rclpy_and_cyclone_in_one_process(dds):
    """rclpy (Fast DDS) and unitree_sdk2py (Cyclone DDS) in this process at once: each delivers everything."""
    from std_msgs.msg import UInt64
    from unitree_sdk2py.core.channel import ChannelPublisher, ChannelSubscriber
    from unitree_sdk2py.idl.default import unitree_hg_msg_dds__LowState_
    from unitree_sdk2py.idl.unitree_hg.msg.dds_ import LowState_

    node = rclpy.create_node("coexistence_test")
    got_ros, got_dds = [], []
    pub = node.create_publisher(UInt64, "coexistence", 1000)
    node.create_subscription(UInt64, "coexistence", lambda m: got_ros.append(m.data), 1000)
    writer = ChannelPublisher("rt/coexistence", LowState_)
    writer.Init()
    reader = ChannelSubscriber("rt/coexistence", LowState_)
    reader.Init(lambda m: got_dds.append(m.tick), 0)
    try:
        msg = unitree_hg_msg_dds__LowState_()
        assert wait_for(lambda: pub.get_subscription_count() > 0, 10.0)
        msg.tick = 10 ** 9  # a probe until both sides are matched
        while not got_dds:
            writer.Write(msg)
            rclpy.spin_once(node, timeout_sec=0.01)
        got_dds.clear()
        n = 400
        for i in range(n):  # 400 of each, interleaved, at about 500 Hz
            pub.publish(UInt64(data=i))
            msg.tick = i
            writer.Write(msg)
            rclpy.spin_once(node, timeout_sec=0.0)
            time.sleep(0.002)
        assert wait_for(lambda: (rclpy.spin_once(node, timeout_sec=0.01), len(got_ros) >= n)[1], 10.0)
        assert wait_for(lambda: len(got_dds) >= n, 10.0)
        assert got_ros == list(range(n)) and got_dds == list(range(n)), (len(got_ros), len(got_dds))
    finally:
        close_channels([reader, writer])
        node.destroy_node()


def test_motion_switcher_is_asked_when_not_skipped(dds):
    """release_motion_service true: with no motion service (the simulator has none) the bridge refuses to start."""
    monitor, _ = dds
    sim = start_sim(*SIM_ARGS)
    try:
        t0 = time.monotonic()
        bridge = start_bridge(release_motion_service=True, motion_service_timeout=1.0)
        assert bridge.wait(STARTUP_S) == 2
        output = bridge.stdout.read()
        assert "motion service did not answer" in output and "release_motion_service:=false" in output
        assert monitor.commands(t0) == []
    finally:
        stop(sim)


def test_lowstate_faults_crc_imu_and_the_remote_link(robot, spec):
    """In HOLD: every 10th LowState with a wrong CRC is dropped and counted, the robot holds; the remote's link lost
    is in the status until it is back; an all-zero IMU quaternion damps (SENSOR); every LowState corrupt damps
    (STATE_STALE, naming the CRC drops) within lowstate_timeout."""
    client, monitor, operator, _ = robot
    _press(client, operator, ["start"], BridgeStatus.MODE_RAMP)
    _wait_mode(client, BridgeStatus.MODE_HOLD)
    operator.fault("crc_some")
    dropped = client.status.states_dropped
    _spin_for(client, 1.5)
    assert _mode(client) == BridgeStatus.MODE_HOLD and client.status.states_dropped > dropped + 10
    operator.fault("none")
    operator.link(False)
    assert client.spin_until(lambda: "remote's link is lost" in client.status.warning, 10.0), client.status.warning
    operator.link(True)
    assert client.spin_until(lambda: client.status.warning == "", 10.0)
    assert _mode(client) == BridgeStatus.MODE_HOLD
    operator.fault("imu_zero")
    _wait_mode(client, BridgeStatus.MODE_DAMPING, 5.0)
    assert client.status.fault == BridgeStatus.FAULT_SENSOR and "IMU quaternion of norm 0.000" in \
        client.status.fault_message
    operator.fault("none")
    _press(client, operator, ["start"], BridgeStatus.MODE_RAMP)
    _wait_mode(client, BridgeStatus.MODE_HOLD)
    operator.fault("crc")
    t_fault = time.monotonic()
    _wait_mode(client, BridgeStatus.MODE_DAMPING, 5.0)
    message = client.status.fault_message
    assert client.status.fault == BridgeStatus.FAULT_STATE_STALE and "dropped for a wrong CRC" in message, message
    assert LOWSTATE_TIMEOUT <= _age_at_trip(message) <= LOWSTATE_TIMEOUT + INTERNAL_MARGIN
    print(f"\nall LowState corrupt: damped {(time.monotonic() - t_fault) * 1e3:.0f} ms after the fault ({message})")
    _check_wire(monitor.commands(t_fault - 5.0), spec)


def test_pelvis_height_is_estimated_from_the_legs(robot):
    """Standing in HOLD on the floor: the bridge's estimate (legs and IMU) is the simulated pelvis height within
    2 cm. A bridge started with min_height above it damps at once (HEIGHT)."""
    client, monitor, operator, procs = robot
    _press(client, operator, ["start"], BridgeStatus.MODE_RAMP)
    _wait_mode(client, BridgeStatus.MODE_HOLD)
    operator.gantry(False)
    assert wait_for(lambda: not monitor.latest_truth().gantry_engaged, 5.0)
    t_floor = monitor.latest_truth().time
    assert client.spin_until(lambda: monitor.latest_truth().time > t_floor + 2.0, 15.0)
    estimate, truth = client.status.pelvis_height, monitor.latest_truth().base_pos[2]
    print(f"\nstanding: pelvis height estimated from the legs {estimate:.3f} m, simulated {truth:.3f} m")
    assert abs(estimate - truth) < 0.02
    operator.gantry(True)  # upright on the rack again (a robot lying down would be a TILT fault first)
    assert wait_for(lambda: monitor.latest_truth().gantry_engaged, 5.0)
    assert stop(procs["bridge"]) == 0
    procs["bridge"] = start_bridge(min_height=0.9)  # the fixture stops it
    assert client.spin_until(lambda: client.status.fault == BridgeStatus.FAULT_HEIGHT, 2 * STARTUP_S), \
        client.status.fault_message
    below = float(re.search(r"pelvis height ([0-9.]+) m below 0.9 m", client.status.fault_message).group(1))
    assert below < 0.9 and client.status.mode == BridgeStatus.MODE_DAMPING


INJECT_THREAD_DEATH = """
import time
import g1_bridge.unitree_bridge as bridge
send, dies_at = bridge.UnitreeBridge._send_lowcmd, []
def dying(self):
    dies_at.append(dies_at[0] if dies_at else time.monotonic() + 3.0)
    if time.monotonic() > dies_at[0]:
        raise SystemExit("the LowCmd thread dies (injected)")
    send(self)
bridge.UnitreeBridge._send_lowcmd = dying
bridge.main()
"""


def test_lowcmd_thread_death_damps_from_elsewhere_and_exits_non_zero(dds):
    """The LowCmd thread dies (a BaseException injected 3 s in): the ROS thread sends damping for
    shutdown_damping_time and the bridge exits with code 1, saying why."""
    monitor, operator = dds
    operator.hold(())
    sim = start_sim(*SIM_ARGS)
    t0 = time.monotonic()
    bridge = start_bridge(code=INJECT_THREAD_DEATH, lowcmd_watchdog=2.0)  # a starved thread is not a dead one
    try:
        code = bridge.wait(STARTUP_S + 20.0)
        output = bridge.stdout.read()
        assert code == 1 and "the LowCmd thread died" in output, output
        samples = monitor.commands(t0)
        first_damping = next(i for i, s in enumerate(samples) if s.damping)
        assert all(not s.damping for s in samples[:first_damping])  # ZERO_TORQUE until the thread died
        assert sum(s.damping for s in samples[first_damping:]) > 50 and all(s.finite for s in samples)
    finally:
        stop(bridge)
        stop(sim)


def test_start_refuses_another_robot_and_a_motion_service_that_stays(dds):
    """A robot reporting another mode_machine, or a motion service still active after motion_service_timeout of
    ReleaseMode: exit 2 with the reason, no LowCmd sent. A service that releases: the bridge starts."""
    monitor, _ = dds
    for sim_args, params, reason in (
            (("--mode-machine", "4"), {}, "LowState reports mode_machine 4, the configured robot 5"),
            (("--motion-service", "ai_sport", "--motion-service-stays"),
             {"release_motion_service": True, "motion_service_timeout": 2.0},
             "the motion service still runs 'ai_sport' after 2.0 s of ReleaseMode")):
        sim = start_sim(*SIM_ARGS, *sim_args)
        try:
            t0 = time.monotonic()
            bridge = start_bridge(**params)
            assert bridge.wait(STARTUP_S) == 2
            output = bridge.stdout.read()
            assert reason in output, output
            assert monitor.commands(t0) == []
        finally:
            stop(sim)
    sim = start_sim(*SIM_ARGS, "--motion-service", "ai_sport")
    bridge = start_bridge(release_motion_service=True, motion_service_timeout=5.0)
    try:
        t0 = time.monotonic()
        assert wait_for(lambda: monitor.commands(t0) or bridge.poll() is not None, STARTUP_S)
        assert bridge.poll() is None
        assert stop(bridge) == 0
        output = bridge.stdout.read()
        assert "releasing the motion service ('ai_sport')" in output and "motion service released" in output
    finally:
        stop(bridge)
        stop(sim)


def test_default_lowstate_timeout_end_to_end(dds, spec):
    """With config/unitree_bridge.yaml's lowstate_timeout (0.1 s): the simulated robot killed, the bridge damps
    (STATE_STALE) at a LowState age within the timeout plus one LowCmd thread's lateness."""
    monitor, operator = dds
    operator.hold(())
    operator.gantry(True)
    sim = start_sim(*SIM_ARGS)
    bridge = start_bridge()
    client = BridgeClient(spec, bridge_name="unitree_bridge")
    try:
        assert client.spin_until(lambda: client.status is not None and len(client.states) > 5, STARTUP_S)
        _spin_for(client, 1.0)
        assert client.status.fault == BridgeStatus.FAULT_NONE, client.status.fault_message
        assert stop(sim, signal.SIGKILL) != 0
        _wait_mode(client, BridgeStatus.MODE_DAMPING, 5.0)
        assert client.status.fault == BridgeStatus.FAULT_STATE_STALE
        age = _age_at_trip(client.status.fault_message)
        print(f"\ndefault timeout: damped at LowState age {age * 1e3:.0f} ms (timeout 100 ms)")
        assert 0.1 <= age <= 0.1 + INTERNAL_MARGIN
    finally:
        client.destroy_node()
        for proc in (bridge, sim):
            stop(proc)


def test_robot_state_is_stamped_when_its_lowstate_arrived(dds, spec):
    """LowState at 20 Hz, RobotState at the control rate (50 Hz): a LowState published again carries its own
    stamp again (the sampling instant, not the publication's), so no consumer reads timer jitter as motion;
    stamps never go back and are never newer than their arrival."""
    monitor, operator = dds
    operator.hold(())
    operator.gantry(True)
    sim = start_sim("--lowstate-rate", "20")
    bridge = start_bridge()
    client = BridgeClient(spec, bridge_name="unitree_bridge")
    try:
        assert client.spin_until(lambda: client.status is not None and len(client.states) > 5, STARTUP_S)
        start = len(client.states)
        _spin_for(client, 2.0)
        states = client.states[start:]
        now = client.get_clock().now().nanoseconds * 1e-9
    finally:
        client.destroy_node()
        for proc in (bridge, sim):
            stop(proc)
    stamps = np.array([m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec for m in states])
    sequences = [m.sequence for m in states]
    assert len(states) > 40 and sequences == sorted(sequences)
    assert np.all(np.diff(stamps) >= 0.0)
    distinct = len(np.unique(stamps))
    print(f"\n{len(states)} RobotStates in 2 s, {distinct} distinct stamps (LowState at 20 Hz)")
    assert distinct < 0.6 * len(states), "stamps of the publication, not of the LowState"
    assert stamps[-1] <= now
