"""teleop_reference in its own process, fed a stream over DDS by the test process (the operator).

The stream is a known function of its stamps (``wave``), stamped on a clock 1000 s ahead of the wall clock, so
every reference can be checked against the pose the node should be playing: the wave at the reference's stamp
(wall clock) + 1000 s - the playout delay. Cases: a clean stream (and the clock offset in /diagnostics), jitter
with dropouts, a long silence (standing and back), rejected samples (out of order, stale, unknown joint, NaN,
wrong sizes), root alignment to the robot, a tick on each robot_state, and the switch between modes.
"""

import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, Twist, Vector3
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from twist_msgs.msg import MotionReference, RobotState

from twist_core import rotations
from twist_core.toy_models import write_toy_cmg
from twist_reference.node_common import StateTicks

REFERENCE_QOS = QoSProfile(depth=500, reliability=ReliabilityPolicy.RELIABLE)
SOURCE_AHEAD = 1000.0  # the source's clock runs this far ahead of the wall clock
DELAY = 0.05


def wave(spec, t):
    """The streamed pose at source time t: every joint swinging 0.3 rad at 2 rad/s (0.6 rad/s at most)."""
    return np.clip(spec.default_pose + 0.3 * np.sin(2.0 * t + np.arange(spec.num_joints)), spec.lower_limits,
                   spec.upper_limits)


def seconds(stamp) -> float:
    """builtin_interfaces/Time in seconds."""
    return stamp.sec + 1e-9 * stamp.nanosec


def to_time(t: float):
    """builtin_interfaces/Time of t seconds."""
    from builtin_interfaces.msg import Time

    return Time(sec=int(t), nanosec=int(round((t - int(t)) * 1e9)) % 1_000_000_000)


@pytest.fixture(scope="module")
def ros():
    """rclpy in the test process."""
    rclpy.init()
    yield
    rclpy.shutdown()


def run_node(*params):
    """Start the node as a user would, with -p overrides; output on a pipe."""
    args = [sys.executable, "-m", "twist_reference.teleop_reference", "--ros-args"]
    for p in ("align_to_robot:=false", "diagnostics_period:=0.2", f"playout_delay:={DELAY}") + params:
        args += ["-p", p]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(node) -> str:
    """SIGTERM the node; its output."""
    node.terminate()
    try:
        return node.communicate(timeout=10)[0]
    except subprocess.TimeoutExpired:
        node.kill()
        return node.communicate()[0]


class Operator:
    """The test's side: the stream and cmd_vel out, references and diagnostics in, the mode parameter."""

    def __init__(self, spec):
        """Publishers and subscriptions of the test process."""
        self.spec = spec
        self.node = rclpy.create_node("teleop_operator")
        self.joints = self.node.create_publisher(JointState, "teleop/joint_states", 10)
        self.root = self.node.create_publisher(PoseStamped, "teleop/root_pose", 10)
        self.robot = self.node.create_publisher(RobotState, "robot_state", 10)
        self.cmd_vel = self.node.create_publisher(Twist, "cmd_vel", 10)
        self.references: list[MotionReference] = []
        self.diagnostics: list[dict] = []
        self.node.create_subscription(MotionReference, "motion_reference", self.references.append, REFERENCE_QOS)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.parameters = self.node.create_client(SetParameters, "/teleop_reference/set_parameters")

    def _on_diagnostics(self, msg):
        for status in msg.status:
            if status.name.startswith("teleop_reference"):
                self.diagnostics.append({kv.key: kv.value for kv in status.values})

    def spin_until(self, condition, timeout=60.0) -> bool:
        """Spin until ``condition()`` or the timeout."""
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            rclpy.spin_once(self.node, timeout_sec=0.01)
        return condition()

    def wait_for_node(self):
        """Discovery: the node publishes references and listens to the stream."""
        assert self.spin_until(lambda: len(self.references) > 3 and self.joints.get_subscription_count() > 0
                               and self.parameters.service_is_ready()), "teleop_reference did not come up"

    def send(self, stamp, names=None, positions=None):
        """One JointState at source time ``stamp`` (default: every joint, the wave)."""
        msg = JointState(name=list(self.spec.joint_names if names is None else names))
        msg.header.stamp = to_time(stamp)
        msg.position = [float(v) for v in (wave(self.spec, stamp) if positions is None else positions)]
        self.joints.publish(msg)

    def stream(self, duration, rate=50.0, jitter=0.0, drop=0.0, seed=0, extra=None, root=None):
        """Stream the wave for ``duration`` s: each sample sent late by up to ``jitter`` s, ``drop`` of them lost.

        ``extra(k, stamp)`` may send more (bad) samples after sample k; ``root(stamp)`` gives a root pose to send.
        """
        rng = np.random.default_rng(seed)
        start = time.time()
        count = int(duration * rate)
        sends = sorted((start + k / rate + rng.uniform(0.0, jitter), k) for k in range(count))
        lost = rng.random(count) < drop
        for send_at, k in sends:
            while time.time() < send_at:
                rclpy.spin_once(self.node, timeout_sec=max(0.0, min(0.002, send_at - time.time())))
            stamp = start + k / rate + SOURCE_AHEAD
            if not lost[k]:
                self.send(stamp)
                if root is not None:
                    pose = PoseStamped()
                    pose.header.stamp = to_time(stamp)
                    position, quat = root(stamp)
                    pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (float(v) for v in position)
                    q = pose.pose.orientation
                    q.w, q.x, q.y, q.z = (float(v) for v in quat)
                    self.root.publish(pose)
            if extra is not None:
                extra(k, stamp)

    def pause(self, duration):
        """Spin without streaming."""
        end = time.monotonic() + duration
        self.spin_until(lambda: time.monotonic() > end, timeout=duration + 1)

    def set_mode(self, mode: str):
        """Set the node's mode parameter; the SetParametersResult."""
        value = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=mode)
        future = self.parameters.call_async(SetParameters.Request(parameters=[Parameter(name="mode", value=value)]))
        assert self.spin_until(future.done, timeout=10.0)
        return future.result().results[0]

    def close(self):
        """Destroy the node."""
        self.node.destroy_node()


@pytest.fixture()
def operator(ros, spec):
    """An Operator for one test."""
    op = Operator(spec)
    yield op
    op.close()


def consecutive(references):
    """The references in order with no sequence gap (assert none was lost)."""
    sequences = np.array([m.sequence for m in references])
    assert np.all(np.diff(sequences) == 1), "a reference was lost or reordered"
    return references


def assert_bounded(spec, references, scale=0.5):
    """Every number finite; no joint moves more per tick than the speed limit allows."""
    joints = np.array([m.current.joint_positions for m in consecutive(references)])
    assert np.all(np.isfinite(joints))
    assert all(np.all(np.isfinite(m.current.key_body_positions[0].x)) for m in references)
    step = np.abs(np.diff(joints, axis=0))
    assert np.all(step <= scale * spec.velocity_limits * 0.02 + 1e-9), f"largest step {step.max():.4f} rad"


def tracking_error(spec, msg) -> float:
    """Largest joint error of a reference against the wave at its playout time."""
    played = seconds(msg.header.stamp) + SOURCE_AHEAD - DELAY
    return float(np.abs(np.array(msg.current.joint_positions) - wave(spec, played)).max())


def test_clean_stream_is_played_behind_a_clock_offset(operator, spec):
    """A clean 60 Hz stream on a clock 1000 s ahead: played playout_delay behind, the offset measured."""
    node = run_node("engage_blend:=0.3")
    try:
        operator.wait_for_node()
        operator.references.clear()
        operator.stream(3.0, rate=60.0)
        operator.pause(0.5)
    finally:
        out = stop(node)
    refs = operator.references
    live = [m for m in refs if m.source == MotionReference.SOURCE_TELEOP]
    assert len(live) > 120, out
    errors = [tracking_error(spec, m) for m in live[30:140]]  # engaged (after the 0.3 s blend), stream on
    assert np.median(errors) < 0.01 and max(errors) < 0.05
    assert_bounded(spec, refs)
    assert all(m.valid for m in refs)
    assert refs[-1].source == MotionReference.SOURCE_TELEOP  # 0.5 s later: held, not yet standing
    diagnostics = operator.diagnostics[-1]
    expected_offset = time.monotonic() - time.time() - SOURCE_AHEAD  # the node's steady clock - the source's
    assert float(diagnostics["clock_offset_s"]) == pytest.approx(expected_offset, abs=0.05)
    assert diagnostics["rejected_total"] == "0" and int(diagnostics["accepted_joint_samples"]) == 180


def test_jitter_and_dropouts(operator, spec):
    """30 ms of jitter and 20 % of the samples lost: the reference follows, finite and within the speed limit."""
    node = run_node("engage_blend:=0.3")
    try:
        operator.wait_for_node()
        operator.references.clear()
        operator.stream(4.0, rate=50.0, jitter=0.03, drop=0.2, seed=3)
    finally:
        out = stop(node)
    refs = operator.references
    live = [m for m in refs if m.source == MotionReference.SOURCE_TELEOP]
    assert len(live) > 150, out
    assert_bounded(spec, refs)
    errors = [tracking_error(spec, m) for m in live[30:-10]]
    assert np.median(errors) < 0.03 and max(errors) < 0.1


def test_long_silence_blends_to_standing_and_back(operator, spec):
    """After hold_timeout of silence the reference stands (SOURCE_HOLD); it blends back in when the stream returns."""
    node = run_node("engage_blend:=0.5", "silence_blend:=0.5", "hold_timeout:=0.3")
    try:
        operator.wait_for_node()
        operator.references.clear()
        operator.stream(1.5)
        during = len(operator.references)
        operator.pause(1.8)
        silent = operator.references[during:]
        operator.stream(2.0)
    finally:
        out = stop(node)
    refs = operator.references
    assert silent[-1].source == MotionReference.SOURCE_HOLD, out
    np.testing.assert_allclose(silent[-1].current.joint_positions, spec.default_pose, atol=1e-9)
    assert refs[-1].source == MotionReference.SOURCE_TELEOP and tracking_error(spec, refs[-1]) < 0.05
    assert_bounded(spec, refs)


def test_bad_samples_are_rejected_counted_and_never_played(operator, spec):
    """Out of order, stale, unknown joint, NaN, wrong sizes: counted in /diagnostics, none reaches the reference."""
    node = run_node("engage_blend:=0.3")
    names = list(spec.joint_names)
    sent = {"out_of_order": 0, "stale": 0, "unknown_joint": 0, "non_finite": 0, "size_mismatch": 0}

    def bad(k, stamp):
        kind = list(sent)[k % 5]
        far = wave(spec, stamp) + 1.0
        if k % 3:
            return
        sent[kind] += 1
        if kind == "out_of_order":
            operator.send(stamp - 0.05, positions=far)
        elif kind == "stale":
            operator.send(time.time() + SOURCE_AHEAD - 0.8, positions=far)
        elif kind == "unknown_joint":
            operator.send(stamp + 0.001, names[:-1] + ["tail_joint"], far)
        elif kind == "non_finite":
            operator.send(stamp + 0.001, positions=np.r_[far[:-1], np.nan])
        else:
            operator.send(stamp + 0.001, positions=far[:-1])

    try:
        operator.wait_for_node()
        operator.references.clear()
        operator.stream(3.0, extra=bad)
        streamed = len(operator.references)
        count = len(operator.diagnostics)
        operator.spin_until(lambda: len(operator.diagnostics) > count + 1)
    finally:
        out = stop(node)
    diagnostics = operator.diagnostics[-1]
    for reason, number in sent.items():
        assert number > 0 and int(diagnostics[f"rejected_{reason}"]) == number, (reason, diagnostics, out)
    live = [m for m in operator.references[:streamed] if m.source == MotionReference.SOURCE_TELEOP]
    assert max(tracking_error(spec, m) for m in live[20:]) < 0.05
    assert_bounded(spec, operator.references)
    assert "sample rejected" in out


def test_root_aligned_to_the_robot(operator, spec):
    """The stream's root, elsewhere and facing +y, starts where robot_state puts the robot, facing its way."""
    node = run_node("align_to_robot:=true", "align_timeout:=30.0", "engage_blend:=0.0")
    state = RobotState(privileged_valid=True)
    state.base_pose.position.x, state.base_pose.position.y, state.base_pose.position.z = 1.0, 2.0, 0.76
    state.base_pose.orientation.w = 1.0
    state.imu_orientation.w = 1.0

    def root(stamp):
        t = stamp - SOURCE_AHEAD - start
        return [5.0, -3.0 + 0.5 * t, 0.8], rotations.from_yaw(np.pi / 2)

    def publish_state(k, stamp):
        operator.robot.publish(state)

    try:
        operator.spin_until(lambda: operator.robot.get_subscription_count() > 0)
        operator.robot.publish(state)
        operator.wait_for_node()
        operator.references.clear()
        start = time.time()
        operator.stream(2.0, extra=publish_state, root=root)
    finally:
        out = stop(node)
    live = [m for m in operator.references if m.source == MotionReference.SOURCE_TELEOP]
    assert len(live) > 60, out
    first, last = live[0].current.root_pose, live[-1].current.root_pose
    assert (first.position.x, first.position.y) == pytest.approx((1.0, 2.0), abs=0.03)
    elapsed = seconds(live[-1].header.stamp) - seconds(live[0].header.stamp)
    assert last.position.x - first.position.x == pytest.approx(0.5 * elapsed, abs=0.05)  # forward, at 0.5 m/s
    assert last.position.y == pytest.approx(2.0, abs=1e-6) and last.position.z == pytest.approx(0.8)
    q = last.orientation
    assert rotations.yaw([q.w, q.x, q.y, q.z]) == pytest.approx(0.0, abs=1e-6)


def test_a_tick_on_every_robot_state(operator):
    """In real time each robot_state makes a reference at once, also after the states' phase moves by half a period;
    without states the node ticks at 50 Hz on its own."""
    node = run_node("tick_on_state:=true")
    arrivals: list[float] = []
    operator.node.create_subscription(MotionReference, "motion_reference",
                                      lambda _msg: arrivals.append(time.monotonic()), REFERENCE_QOS)
    state = RobotState()
    state.imu_orientation.w = 1.0
    sent: list[float] = []
    try:
        operator.wait_for_node()
        start = time.monotonic()
        for k in range(200):  # 4 s of states at 50 Hz, half a period later from the 100th on
            due = start + 0.02 * k + (0.01 if k >= 100 else 0.0)
            while time.monotonic() < due:
                rclpy.spin_once(operator.node, timeout_sec=max(0.0, min(0.002, due - time.monotonic())))
            operator.robot.publish(state)
            sent.append(time.monotonic())
        quiet = time.monotonic()
        operator.pause(1.0)
    finally:
        out = stop(node)
    arrivals = np.array(arrivals)

    def median_delay(states):  # from each state to the first reference after it
        return float(np.median([arrivals[arrivals > t][0] - t for t in states]))

    first, second = median_delay(sent[50:99]), median_delay(sent[150:199])  # each after a second to settle
    assert first < 0.010 and second < 0.010 and abs(first - second) < 0.004, \
        f"references {first * 1e3:.1f} ms, then {second * 1e3:.1f} ms after the states"
    assert np.sum((arrivals > sent[150]) & (arrivals < sent[-1])) == pytest.approx(49, abs=3), out  # one a state
    alone = np.sum((arrivals > quiet + 0.2) & (arrivals < quiet + 0.8))
    assert alone == pytest.approx(30, abs=4), f"{alone} references in 0.6 s without states"


def test_state_ticks_only_for_states_at_the_node_rate():
    """StateTicks: the first state ticks, then states at least 0.75 period apart; never when disabled."""
    ticks = StateTicks(0.02)
    assert [ticks.on_state(t) for t in (1.0, 1.02, 1.022, 1.024, 1.1, 1.116, 1.131)] == \
        [True, True, False, False, True, True, False]  # a burst (a bridge at 500 Hz) ticks once
    assert ticks.timer_delay == pytest.approx(0.03)
    off = StateTicks(0.02, enabled=False)
    assert not off.on_state(1.0) and not off.on_state(1.02)


def test_switching_modes_blends(operator, spec, tmp_path):
    """whole_body -> upper_body (the CMG walks, the arms follow the stream) -> cmg_only; refusals with reasons."""
    toy = write_toy_cmg(tmp_path / "toy.onnx", spec)
    node = run_node(f"model_file:={toy}", "engage_blend:=0.3", "mode_blend:=0.5")
    upper = spec.group_indices("upper_body")
    try:
        operator.wait_for_node()
        assert "flying" in operator.set_mode("flying").reason
        operator.references.clear()
        operator.stream(1.0)
        assert operator.set_mode("upper_body").successful
        switched = len(operator.references)

        def walk(k, stamp):
            operator.cmd_vel.publish(Twist(linear=Vector3(x=0.5)))

        operator.stream(2.0, extra=walk)
        upper_refs = operator.references[switched:]
        assert operator.set_mode("cmg_only").successful
        switched = len(operator.references)
        operator.stream(1.0)
        cmg_refs = operator.references[switched:]
    finally:
        out = stop(node)
    assert_bounded(spec, operator.references)
    late = upper_refs[-20:]
    assert all(m.source == MotionReference.SOURCE_TELEOP for m in late), out
    for m in late:  # the arms from the stream, the root walking with the CMG
        played = seconds(m.header.stamp) + SOURCE_AHEAD - DELAY
        error = np.abs(np.array(m.current.joint_positions)[upper] - wave(spec, played)[upper]).max()
        assert error < 0.05
    assert late[-1].current.root_pose.position.x > upper_refs[0].current.root_pose.position.x + 0.3
    assert cmg_refs[-1].source == MotionReference.SOURCE_CMG
    arms = np.array(cmg_refs[-1].current.joint_positions)[upper]
    played = seconds(cmg_refs[-1].header.stamp) + SOURCE_AHEAD - DELAY
    assert np.abs(arms - wave(spec, played)[upper]).max() > 0.05  # no longer the stream's


def test_cmg_modes_need_a_model_and_bad_parameters_stop_the_node(operator):
    """Without model_file, upper_body is refused at runtime and at start (exit code 2 with the reason)."""
    node = run_node()
    try:
        operator.wait_for_node()
        result = operator.set_mode("upper_body")
        assert not result.successful and "model_file" in result.reason
    finally:
        stop(node)
    bad = run_node("mode:=upper_body")
    out, _ = bad.communicate(timeout=60)
    assert bad.returncode == 2 and "needs the CMG" in out
    bad = run_node("max_extrapolation:=2.0")
    out, _ = bad.communicate(timeout=60)
    assert bad.returncode == 2 and "max_extrapolation" in out


def test_help():
    """--help lists the parameters."""
    out = subprocess.run([sys.executable, "-m", "twist_reference.teleop_reference", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "playout_delay" in out and "teleop/joint_states" in out
