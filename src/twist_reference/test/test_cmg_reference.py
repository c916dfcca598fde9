"""cmg_reference in its own process with the toy CMG, driven over DDS: cmd_vel to reference latency, 50 Hz,
stale commands, NaN and out-of-range commands, non-finite model output, bad models, the future window.

Every frame the toy model produces can be predicted (twist_core.toy_models.toy_step), so the tests check
that each published frame is the model applied to the previous one with the published (filtered) command.
"""

import math
import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import Twist
from rclpy.qos import QoSProfile, ReliabilityPolicy
from twist_msgs.msg import BridgeStatus, MotionReference, RobotState

from twist_core import rotations
from twist_core.toy_models import toy_step, write_toy_cmg

REFERENCE_QOS = QoSProfile(depth=500, reliability=ReliabilityPolicy.RELIABLE)
PERIOD = 0.02


@pytest.fixture(scope="module")
def ros():
    """rclpy in the test process."""
    rclpy.init()
    yield
    rclpy.shutdown()


@pytest.fixture(scope="module")
def toy(spec, tmp_path_factory):
    """The toy CMG: vx range [-0.5, 1] m/s, vy [-0.4, 0.4] m/s, yaw rate [-1, 1] rad/s, 50 fps."""
    return write_toy_cmg(tmp_path_factory.mktemp("cmg") / "toy.onnx", spec)


def run_node(model, *params):
    """Start the node as a user would, with -p overrides; output (stdout and stderr) on a pipe."""
    args = [sys.executable, "-m", "twist_reference.cmg_reference", "--ros-args", "-p", f"model_file:={model}"]
    for p in params:
        args += ["-p", p]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(node) -> str:
    """Stop the node (SIGTERM: a clean rclpy shutdown) and return its output."""
    node.terminate()
    try:
        out, _ = node.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        node.kill()
        out, _ = node.communicate()
    return out


def twist(vx=0.0, vy=0.0, yaw_rate=0.0) -> Twist:
    """A cmd_vel message."""
    msg = Twist()
    msg.linear.x, msg.linear.y, msg.angular.z = float(vx), float(vy), float(yaw_rate)
    return msg


def velocity(msg: MotionReference) -> np.ndarray:
    """(vx, vy, yaw_rate) of the current frame's root velocities."""
    f = msg.current
    return np.array([f.root_linear_velocity.x, f.root_linear_velocity.y, f.root_angular_velocity.z])


def motion(msg: MotionReference) -> np.ndarray:
    """The current frame as the model's 58-vector."""
    return np.concatenate([msg.current.joint_positions, msg.current.joint_velocities])


def stamp(msg) -> float:
    """header.stamp in seconds."""
    return msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec


def finite(msg: MotionReference) -> bool:
    """Whether every number of the message's frames is finite."""
    for f in [msg.current, *msg.future]:
        p, q = f.root_pose.position, f.root_pose.orientation
        values = [p.x, p.y, p.z, q.w, q.x, q.y, q.z, *f.joint_positions, *f.joint_velocities,
                  f.root_linear_velocity.x, f.root_linear_velocity.y, f.root_angular_velocity.z,
                  *(c for k in f.key_body_positions for c in (k.x, k.y, k.z))]
        if not np.all(np.isfinite(values)):
            return False
    return True


class Client:
    """The test's side: receives motion_reference (with receive times), publishes cmd_vel and robot_state."""

    def __init__(self):
        """Create the node, subscription and publishers."""
        self.node = rclpy.create_node("cmg_reference_test")
        self.messages: list[MotionReference] = []
        self.times: list[float] = []
        self.node.create_subscription(MotionReference, "motion_reference", self._on_reference, REFERENCE_QOS)
        self.cmd = self.node.create_publisher(Twist, "cmd_vel", 10)
        self.state = self.node.create_publisher(RobotState, "robot_state", QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE))

    def _on_reference(self, msg):
        self.times.append(time.monotonic())
        self.messages.append(msg)

    def spin_until(self, done, timeout, what, every=None, action=None, act_now=True):
        """Spin until ``done()``; call ``action`` every ``every`` seconds meanwhile; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        last = -math.inf if act_now else time.monotonic()
        while not done():
            now = time.monotonic()
            assert now < deadline, f"timed out after {timeout} s waiting for {what}"
            if action is not None and now - last >= every:
                action()
                last = now
            rclpy.spin_once(self.node, timeout_sec=0.005)

    def spin_for(self, seconds, every=None, action=None):
        """Spin for ``seconds``, calling ``action`` every ``every`` seconds."""
        end = time.monotonic() + seconds
        self.spin_until(lambda: time.monotonic() >= end, seconds + 1.0, "time", every, action)

    def first(self, predicate, start=0):
        """Index of the first message from ``start`` on that satisfies ``predicate``, or None."""
        return next((i for i in range(start, len(self.messages)) if predicate(self.messages[i])), None)

    def connected(self, count=3):
        """Frames arrive and cmd_vel is matched."""
        self.spin_until(lambda: len(self.messages) >= count and self.cmd.get_subscription_count() >= 1, 30.0,
                        "motion_reference frames and a cmd_vel subscriber")

    def destroy(self):
        """Remove the test node."""
        self.node.destroy_node()


def check_model_chain(spec, messages):
    """Each frame is the toy model applied to the previous (consecutive) frame with this frame's command."""
    for prev, msg in zip(messages, messages[1:]):
        assert msg.sequence == prev.sequence + 1
        np.testing.assert_allclose(motion(msg), toy_step(spec, motion(prev), velocity(msg)), atol=2e-5)


def test_cmd_vel_reaches_the_reference_within_100_ms_at_50_hz_and_decays_when_stale(ros, spec, toy):
    """(a) cmd_vel changes the next frame (< 100 ms after the publish) at a steady 50 Hz; (b) stale -> zero.

    A small sideways command first proves that cmd_vel gets through (the first message after discovery can be
    lost). Then a forward command is published once at a known time: vx can only become non-zero because of it,
    and the first frame with vx > 0 must be its first tick (vx = max_linear_accel * 0.02 s = 0.02 m/s). The
    standing hold is off, so every frame is the model's (its deadband would zero that first 0.02 m/s).
    """
    node = run_node(toy, "align_to_robot:=false", "standing_hold:=false", "cmd_timeout:=0.5")
    client = Client()
    try:
        client.connected(5)
        standing = client.messages[:5]
        for msg in standing:
            assert msg.valid and msg.source == MotionReference.SOURCE_CMG
            assert np.array_equal(velocity(msg), np.zeros(3))
            np.testing.assert_allclose(msg.current.joint_positions, spec.default_pose, atol=1e-5)
        sideways = twist(vy=0.1)
        client.spin_until(lambda: client.first(lambda m: velocity(m)[1] > 0) is not None, 10.0,
                          "the sideways command to show", every=0.05, action=lambda: client.cmd.publish(sideways))
        client.spin_for(0.2, every=0.05, action=lambda: client.cmd.publish(sideways))
        assert all(velocity(m)[0] == 0.0 for m in client.messages)
        mark = len(client.messages)
        forward = twist(vx=0.5, vy=0.1)
        published_wall, published = time.time(), time.monotonic()
        client.cmd.publish(forward)
        last_publish = [published_wall]

        def keep_commanding():
            last_publish[0] = time.time()
            client.cmd.publish(forward)

        client.spin_until(lambda: client.first(lambda m: velocity(m)[0] > 0, mark) is not None, 5.0,
                          "the forward command to show", every=0.1, action=keep_commanding, act_now=False)
        effect = client.first(lambda m: velocity(m)[0] > 0, mark)
        latency = client.times[effect] - published
        node_latency = stamp(client.messages[effect]) - published_wall
        client.spin_for(3.5, every=0.1, action=keep_commanding)
        steady_end = len(client.messages)
        client.spin_until(lambda: np.all(velocity(client.messages[-1]) == 0.0), 5.0, "the command to decay")
        client.spin_for(0.3)
    finally:
        client.destroy()
        out = stop(node)
    messages = client.messages
    print(f"\ncmd_vel -> reference: {1e3 * latency:.1f} ms received, {1e3 * node_latency:.1f} ms to the frame's "
          f"stamp; node output:\n{out}")
    assert latency < 0.1, f"cmd_vel took {latency * 1e3:.0f} ms to change the reference"
    assert velocity(messages[effect])[0] == pytest.approx(0.02)  # the first tick that saw the command
    assert velocity(messages[effect - 1])[0] == 0.0
    # the frame differs from what a zero forward command gives: hips bend by the toy's vx gain
    no_forward = toy_step(spec, motion(messages[effect - 1]), velocity(messages[effect]) * [0, 1, 1])
    hip = spec.joint_index("left_hip_pitch_joint")
    assert messages[effect].current.joint_positions[hip] - no_forward[hip] == pytest.approx(-0.03 * 0.02, abs=2e-5)
    # 50 Hz: every frame, in order; mean period within 2 % over >= 3 s
    steady = messages[effect:steady_end]
    sequences = np.array([m.sequence for m in messages])
    assert np.all(np.diff(sequences) == 1), "a frame was dropped or reordered"
    stamps = np.array([stamp(m) for m in steady])
    assert stamps[-1] - stamps[0] >= 3.0
    mean_period = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
    print(f"mean period {mean_period * 1e3:.3f} ms over {stamps[-1] - stamps[0]:.2f} s "
          f"({1 / mean_period:.2f} Hz), max gap {np.max(np.diff(stamps)) * 1e3:.1f} ms")
    assert mean_period == pytest.approx(PERIOD, rel=0.02)
    # the forward command ramps at 1 m/s^2 to 0.5 m/s and holds
    vx = np.array([velocity(m)[0] for m in steady])
    np.testing.assert_allclose(vx[:25], 0.02 * np.arange(1, 26), atol=1e-9)
    np.testing.assert_allclose(vx[25:], 0.5)
    assert all(m.valid and m.source == MotionReference.SOURCE_CMG and finite(m) for m in messages)
    check_model_chain(spec, messages[1:])
    # (b) stale after cmd_timeout (0.5 s) from the last cmd_vel: decays to zero at the acceleration limit
    decay = [m for m in messages[steady_end:] if velocity(m)[0] < 0.5]
    assert stamp(decay[0]) > last_publish[0] + 0.5 - 0.005  # (clock read just before the publish)
    assert np.all(np.diff([velocity(m)[0] for m in decay]) <= 0)
    stopped = next(m for m in decay if np.all(velocity(m) == 0.0))
    assert stamp(stopped) - stamp(decay[0]) == pytest.approx(np.hypot(0.5, 0.1) / 1.0, abs=0.05)
    x = [m.current.root_pose.position.x for m in messages if stamp(m) >= stamp(stopped)]
    assert x[0] > 1.5 and np.ptp(x) == 0.0  # walked forward, then stands still


def test_stands_still_after_the_command_stops(ros, spec, tmp_path):
    """With the standing hold (default), a model that never stands by itself settles into the standing frame once
    the command has decayed (small commands within the deadband count as zero, for the root too) and holds it."""
    sticky = write_toy_cmg(tmp_path / "sticky.onnx", spec, decay=1.0)
    node = run_node(sticky, "align_to_robot:=false", "max_linear_accel:=5.0", "cmd_timeout:=0.2")
    client = Client()
    try:
        client.connected()
        forward = twist(vx=0.5, yaw_rate=0.3)
        client.spin_until(lambda: velocity(client.messages[-1])[0] == pytest.approx(0.5), 10.0,
                          "the forward command to show", every=0.05, action=lambda: client.cmd.publish(forward))
        client.spin_for(0.3, every=0.05, action=lambda: client.cmd.publish(forward))
        walked = len(client.messages)
        client.spin_for(1.8)  # stale after 0.2 s, decayed within 0.2 s more, settled 0.8 s later
    finally:
        client.destroy()
        out = stop(node)
    messages = client.messages[walked:]
    away = np.abs(np.asarray(client.messages[walked - 1].current.joint_positions) - spec.default_pose).max()
    assert away > 0.05, out
    stopped = next(i for i, m in enumerate(messages) if np.all(velocity(m) == 0.0))
    assert all(np.all(velocity(m) == 0.0) for m in messages[stopped:])
    deadband = np.array([0.03, 0.03, 0.05])  # a moving frame has a component outside it
    assert all(np.any(np.abs(velocity(m)) > deadband) for m in messages[:stopped])
    held = messages[stopped + 41:]  # 0.2 s delay + 0.6 s blend = 40 frames, then held
    assert len(held) > 10
    for m in held:
        np.testing.assert_array_equal(m.current.joint_positions, spec.default_pose)
        assert not np.any(m.current.joint_velocities)
    assert np.ptp([m.current.root_pose.position.x for m in messages[stopped:]]) == 0.0
    distance = [np.abs(np.asarray(m.current.joint_positions) - spec.default_pose).max()
                for m in messages[stopped:stopped + 41]]
    assert distance[0] > 0.05 and np.all(np.diff(distance) <= 1e-9)  # still away when it stopped, then settles


def test_a_1_hz_publisher_is_held_between_messages(ros, spec, toy):
    """cmd_vel at 1 Hz (the rate of `ros2 topic pub`): with the default cmd_timeout (1.5 s) the command holds
    between messages, no frame of the walk slows down; when the messages stop it holds for cmd_timeout, then
    decays to zero."""
    node = run_node(toy, "align_to_robot:=false", "standing_hold:=false")
    client = Client()
    forward, published = twist(vx=0.4), []

    def publish():
        client.cmd.publish(forward)
        published.append(time.time())  # the node stamps frames with its system clock

    try:
        client.connected()
        client.spin_until(lambda: client.first(lambda m: velocity(m)[0] > 0) is not None, 10.0,
                          "the forward command to show", every=1.0, action=publish)
        client.spin_for(4.2, every=1.0, action=publish)
        mark = len(client.messages)
        client.spin_for(3.0)  # no more messages
    finally:
        client.destroy()
        stop(node)
    walking = client.first(lambda m: velocity(m)[0] == pytest.approx(0.4))  # ramped up at 1 m/s^2 in 0.4 s
    steady = client.messages[walking:mark]
    assert len(steady) > 150 and all(velocity(m)[0] == pytest.approx(0.4) for m in steady)
    decay = client.messages[client.first(lambda m: velocity(m)[0] < 0.4 - 1e-9, mark)]
    held = stamp(decay) - published[-1]
    print(f"\n1 Hz cmd_vel: {len(published)} messages, {len(steady)} frames at 0.4 m/s; held {held:.2f} s after "
          "the last one")
    assert 1.5 - 0.005 < held < 1.5 + 0.3
    assert velocity(client.messages[-1])[0] == 0.0


def test_nan_is_rejected_and_out_of_range_is_clamped(ros, spec, toy):
    """(c) NaN cmd_vel keeps the previous command, frames stay finite; (d) beyond the range -> the range's edge."""
    node = run_node(toy, "align_to_robot:=false", "max_linear_accel:=100.0", "max_yaw_accel:=100.0")
    client = Client()
    try:
        client.connected()
        too_fast = twist(vx=5.0, yaw_rate=-3.0)
        client.spin_until(lambda: client.first(lambda m: velocity(m)[0] > 0) is not None, 10.0,
                          "the clamped command to show", every=0.05, action=lambda: client.cmd.publish(too_fast))
        client.spin_for(0.2, every=0.05, action=lambda: client.cmd.publish(too_fast))
        clamped = velocity(client.messages[-1])
        mark = len(client.messages)
        client.spin_for(0.2, every=0.05, action=lambda: client.cmd.publish(twist(vx=math.nan, yaw_rate=math.inf)))
        during_nan = client.messages[mark:]
        slow = twist(vx=0.2)
        client.spin_until(lambda: velocity(client.messages[-1])[0] == pytest.approx(0.2), 10.0,
                          "the node to follow a good command again", every=0.05,
                          action=lambda: client.cmd.publish(slow))
    finally:
        client.destroy()
        out = stop(node)
    np.testing.assert_allclose(clamped, [1.0, 0.0, -1.0])  # the toy's range: vx <= 1, yaw rate >= -1
    assert during_nan and all(np.allclose(velocity(m), [1.0, 0.0, -1.0]) for m in during_nan)
    assert all(m.valid and m.source == MotionReference.SOURCE_CMG and finite(m) for m in client.messages)
    check_model_chain(spec, client.messages[1:])
    assert out.count("outside the model's range") == 1, out  # one warning for the whole excursion
    assert "vx [-0.5, 1] m/s, vy [-0.4, 0.4] m/s, yaw_rate [-1, 1] rad/s" in out
    assert 1 <= out.count("cmd_vel rejected (not finite") <= 2, out  # throttled to one per second


def test_non_finite_model_output_gives_an_invalid_hold_frame(ros, spec, tmp_path):
    """A model that returns NaN is never published: an invalid SOURCE_HOLD standing frame, then standing again."""
    model = write_toy_cmg(tmp_path / "nan.onnx", spec, nan_above_vx=0.3)
    node = run_node(model, "align_to_robot:=false", "future_frames:=2", "standing_hold:=false")
    client = Client()
    try:
        client.connected()
        forward = twist(vx=0.8)
        client.spin_until(lambda: client.first(lambda m: not m.valid) is not None, 10.0, "an invalid frame",
                          every=0.05, action=lambda: client.cmd.publish(forward))
        client.spin_for(0.5, every=0.05, action=lambda: client.cmd.publish(forward))
    finally:
        client.destroy()
        out = stop(node)
    messages = client.messages
    assert all(finite(m) for m in messages)
    invalid = [i for i, m in enumerate(messages) if not m.valid]
    for i in invalid:
        msg = messages[i]
        assert msg.source == MotionReference.SOURCE_HOLD
        np.testing.assert_allclose(msg.current.joint_positions, spec.default_pose, atol=1e-9)
        assert np.array_equal(velocity(msg), np.zeros(3)) and not np.any(msg.current.joint_velocities)
        assert len(msg.future) == 2
    # the first command above 0.3 m/s fails (the ramp's 0.32 m/s; the future window holds the same command)
    assert velocity(messages[invalid[0] - 1])[0] == pytest.approx(0.3)
    after = messages[invalid[0] + 1]  # generation starts again from standing and a zero command
    assert after.valid and velocity(after)[0] == pytest.approx(0.02)
    assert len(invalid) >= 2  # and fails again as the command ramps up
    assert "non-finite" in out and "invalid hold frame" in out


def test_bad_model_or_parameters_exit_with_code_2(spec, toy, tmp_path):
    """(e) A missing, corrupt or mismatched model, or a rate/future_step that does not fit it, stops the node."""
    swapped = list(spec.joint_names)
    swapped[0], swapped[6] = swapped[6], swapped[0]
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07not an onnx model" * 100)
    cases = {
        "missing": (run_node(tmp_path / "none.onnx"), "no such file"),
        "corrupt": (run_node(garbage), "not a loadable ONNX model"),
        "joints": (run_node(write_toy_cmg(tmp_path / "swapped.onnx", spec, joint_names=swapped)),
                   "0: model 'right_hip_pitch_joint' vs robot 'left_hip_pitch_joint'"),
        "rate": (run_node(toy, "rate:=30.0"), "rate 30 Hz differs from the model's fps 50"),
        "future_step": (run_node(toy, "future_frames:=2", "future_step:=0.03"),
                        "future_step 0.03 s is not a multiple of 1/rate = 0.02 s"),
    }
    for name, (node, expected) in cases.items():
        out, _ = node.communicate(timeout=60)
        assert node.returncode == 2, f"{name}: exit code {node.returncode}\n{out}"
        lines = [line for line in out.splitlines() if line.startswith("cmg_reference: cannot run the model: ")]
        assert len(lines) == 1 and expected in lines[0], f"{name}:\n{out}"


def test_future_window_and_alignment_to_the_robot(ros, spec, toy):
    """(f) future_frames frames at future_step offsets, each equal to the frame published that much later;
    the reference starts at the robot's position and heading from robot_state."""
    node = run_node(toy, "future_frames:=3", "future_step:=0.1", "align_timeout:=30.0", "max_linear_accel:=100.0",
                    "max_yaw_accel:=100.0", "heading_hold_gain:=0.0")
    client = Client()
    state = RobotState(privileged_valid=True)
    state.base_pose.position.x, state.base_pose.position.y = 1.0, 2.0
    w, _, _, z = rotations.from_yaw(np.pi / 2)
    state.base_pose.orientation.w, state.base_pose.orientation.z = float(w), float(z)
    try:
        client.spin_until(lambda: len(client.messages) >= 3, 30.0, "aligned frames", every=0.02,
                          action=lambda: client.state.publish(state))
        client.connected()
        command = twist(vx=0.6, vy=-0.1, yaw_rate=0.5)
        client.spin_until(lambda: client.first(lambda m: velocity(m)[0] > 0) is not None, 10.0,
                          "the command to show", every=0.05, action=lambda: client.cmd.publish(command))
        client.spin_for(0.8, every=0.05, action=lambda: client.cmd.publish(command))
    finally:
        client.destroy()
        stop(node)
    messages = client.messages
    first = messages[0].current.root_pose
    assert (first.position.x, first.position.y) == pytest.approx((1.0, 2.0), abs=1e-9)
    q = first.orientation
    assert rotations.yaw([q.w, q.x, q.y, q.z]) == pytest.approx(np.pi / 2, abs=1e-9)
    for msg in messages:
        offsets = [f.time_from_stamp.sec + 1e-9 * f.time_from_stamp.nanosec for f in msg.future]
        np.testing.assert_allclose(offsets, [0.1, 0.2, 0.3], atol=1e-9)
    moving = [m for m in messages if np.allclose(velocity(m), [0.6, -0.1, 0.5])]
    assert len(moving) >= 30
    start = messages.index(moving[0])
    assert messages[start + 1].current.root_pose.position.y > 2.0  # walking along the robot's heading (+y)
    for k in range(start, len(messages) - 15):
        for j, ahead in enumerate((5, 10, 15)):
            predicted, actual = messages[k].future[j], messages[k + ahead].current
            np.testing.assert_allclose(predicted.joint_positions, actual.joint_positions, atol=1e-9)
            np.testing.assert_allclose(predicted.joint_velocities, actual.joint_velocities, atol=1e-9)
            for a, b in ((predicted.root_pose.position, actual.root_pose.position),
                         (predicted.root_pose.orientation, actual.root_pose.orientation)):
                assert [getattr(a, c) for c in "xyz"] == pytest.approx([getattr(b, c) for c in "xyz"], abs=1e-9)
            assert predicted.root_linear_velocity.x == actual.root_linear_velocity.x
            pk = [(p.x, p.y, p.z) for p in predicted.key_body_positions]
            ak = [(p.x, p.y, p.z) for p in actual.key_body_positions]
            np.testing.assert_allclose(pk, ak, atol=1e-9)


def call(client, service_type, name, request):
    """Call a service of the node and return its response."""
    service = client.node.create_client(service_type, name)
    client.spin_until(lambda: service.service_is_ready(), 30.0, f"service {name}")
    future = service.call_async(request)
    client.spin_until(future.done, 10.0, f"the response of {name}")
    return future.result()


def test_heading_hold_steers_against_a_robot_that_turns_away(ros, spec, toy):
    """Walking straight while robot_state reports a robot turning right, the reference's yaw rate turns left,
    up to heading_hold_max_correction; without robot_state the command passes unchanged."""
    node = run_node(toy, "align_timeout:=30.0", "max_linear_accel:=100.0", "heading_hold_max_correction:=0.4")
    client = Client()
    state = RobotState(privileged_valid=True)
    state.base_pose.orientation.w = 1.0
    command = twist(vx=0.5)

    def robot_turns_right():
        heading = rotations.yaw([state.base_pose.orientation.w, 0.0, 0.0, state.base_pose.orientation.z]) - 0.01
        w, _, _, z = rotations.from_yaw(heading)
        state.base_pose.orientation.w, state.base_pose.orientation.z = float(w), float(z)
        client.state.publish(state)
        client.cmd.publish(command)

    try:
        client.spin_until(lambda: len(client.messages) >= 3, 30.0, "aligned frames", every=0.02,
                          action=lambda: client.state.publish(state))
        client.connected()
        client.spin_until(lambda: client.first(lambda m: velocity(m)[0] > 0) is not None, 10.0,
                          "the command to show", every=0.02, action=robot_turns_right)
        client.spin_for(3.0, every=0.02, action=robot_turns_right)  # 0.5 rad/s to the right
        steered = velocity(client.messages[-1])
        client.spin_for(1.0, every=0.02, action=lambda: client.cmd.publish(command))  # robot_state stops
        unsteered = velocity(client.messages[-1])
    finally:
        client.destroy()
        stop(node)
    walking = [velocity(m) for m in client.messages if velocity(m)[0] > 0]
    assert walking[0][2] < 0.1, "the target starts at the robot's heading"
    np.testing.assert_allclose(steered, [0.5, 0.0, 0.4], atol=1e-6)
    np.testing.assert_allclose(unsteered, [0.5, 0.0, 0.0], atol=1e-6)


def test_velocity_hold_asks_more_of_a_robot_that_does_not_move(ros, spec, toy):
    """Walking while robot_state reports a robot in MODE_POLICY standing still (default pose, level IMU: leg
    odometry reads zero velocity), the reference's vx rises above the command once it has held for
    velocity_hold_settle, up to velocity_hold_max_correction; once the bridge holds the robot (MODE_HOLD) the
    correction fades and the command passes unchanged again."""
    node = run_node(toy, "align_timeout:=30.0", "max_linear_accel:=100.0", "velocity_hold_max_correction:=0.2",
                    "velocity_hold_gain:=1.0", "velocity_hold_settle:=0.5")
    client = Client()
    state = RobotState(privileged_valid=False, joint_names=list(spec.joint_names), mode=BridgeStatus.MODE_POLICY,
                       position=[float(v) for v in spec.default_pose])
    state.imu_orientation.w = 1.0
    command = twist(vx=0.5)

    def robot_stands():
        stamp_now = time.monotonic()
        state.header.stamp.sec, state.header.stamp.nanosec = int(stamp_now), int((stamp_now % 1.0) * 1e9)
        client.state.publish(state)
        client.cmd.publish(command)

    try:
        client.spin_until(lambda: len(client.messages) >= 3, 30.0, "aligned frames", every=0.02,
                          action=robot_stands)
        client.connected()
        client.spin_until(lambda: client.first(lambda m: velocity(m)[0] > 0) is not None, 10.0,
                          "the command to show", every=0.02, action=robot_stands)
        started = client.first(lambda m: velocity(m)[0] > 0)
        client.spin_for(2.5, every=0.02, action=robot_stands)
        held = velocity(client.messages[-1])
        state.mode = BridgeStatus.MODE_HOLD
        client.spin_for(1.0, every=0.02, action=robot_stands)
        unheld = velocity(client.messages[-1])
    finally:
        client.destroy()
        stop(node)
    early = [velocity(m)[0] for m in client.messages[started:started + 20]]  # the first 0.4 s: not yet settled
    np.testing.assert_allclose(early, 0.5, atol=1e-6)
    np.testing.assert_allclose(held, [0.7, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(unheld, [0.5, 0.0, 0.0], atol=1e-6)


def test_pause_and_restart(ros, spec, toy):
    """start_paused holds the standing frame at rest despite cmd_vel; resume moves; restart stands again."""
    from std_srvs.srv import SetBool, Trigger

    node = run_node(toy, "align_to_robot:=false", "start_paused:=true")
    client = Client()
    forward = twist(vx=0.5)
    try:
        client.connected()
        client.spin_for(0.3, every=0.05, action=lambda: client.cmd.publish(forward))
        paused = list(client.messages)
        assert call(client, SetBool, "/cmg_reference/pause", SetBool.Request(data=False)).message == "resumed"
        client.spin_until(lambda: velocity(client.messages[-1])[0] >= 0.1, 10.0, "walking", every=0.05,
                          action=lambda: client.cmd.publish(forward))
        walked = client.messages[-1].current.root_pose.position.x
        mark = len(client.messages)
        assert call(client, Trigger, "/cmg_reference/restart", Trigger.Request()).success
        client.spin_for(0.2)  # no cmd_vel: restart forgot the command
    finally:
        client.destroy()
        stop(node)
    for msg in paused:
        assert np.array_equal(velocity(msg), np.zeros(3)) and msg.current.root_pose.position.x == 0.0
        np.testing.assert_allclose(msg.current.joint_positions, spec.default_pose, atol=1e-9)
    assert walked > 0.0
    restarted = [m for m in client.messages[mark:]
                 if np.allclose(m.current.joint_positions, spec.default_pose, atol=1e-9)]
    assert restarted, "no standing frame after the restart"
    assert np.array_equal(velocity(restarted[-1]), np.zeros(3))
    assert restarted[-1].current.root_pose.position.x == 0.0  # aligned again: the origin (align_to_robot false)


def test_help():
    """--help lists the parameters."""
    out = subprocess.run([sys.executable, "-m", "twist_reference.cmg_reference", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for name in ("model_file", "cmd_timeout", "max_linear_accel", "max_yaw_accel", "future_step", "threads"):
        assert name in out
