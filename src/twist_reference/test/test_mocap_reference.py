"""mocap_reference in its own process, received over DDS: every frame, in order, at 50 Hz, blended in and out."""

import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_srvs.srv import SetBool
from twist_msgs.msg import MotionReference

from twist_core import rotations
from twist_core.motion import build_motion, save_motion

QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)


def write_clip(spec, path, seconds=1.0, fps=30.0):
    """A clip whose joints all sit 0.3 rad from the default pose (easy to tell from it), walking forward."""
    n = int(round(seconds * fps)) + 1
    t = np.arange(n) / fps
    joint_pos = np.clip(spec.default_pose + 0.3 + 0.05 * np.sin(4 * t)[:, None], spec.lower_limits, spec.upper_limits)
    root_pos = np.column_stack([0.4 * t, np.zeros(n), np.full(n, 0.76)])
    root_quat = rotations.from_yaw(np.zeros(n))
    return save_motion(build_motion(spec, fps, root_pos, root_quat, joint_pos), path)


def run_node(*params):
    """Start the node as a user would, with -p overrides."""
    args = [sys.executable, "-m", "twist_reference.mocap_reference", "--ros-args"]
    for p in params:
        args += ["-p", p]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def ros():
    """rclpy in the test process."""
    rclpy.init()
    yield
    rclpy.shutdown()


def collect(until, timeout=60.0, resume_after=None):
    """Spin a subscriber until ``until(messages)`` holds; resume a paused node after ``resume_after`` messages."""
    node = rclpy.create_node("mocap_reference_test")
    received = []
    node.create_subscription(MotionReference, "motion_reference", lambda m: received.append((time.monotonic(), m)),
                             QOS)
    pause = node.create_client(SetBool, "/mocap_reference/pause")
    resumed = None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(received):
            rclpy.spin_once(node, timeout_sec=0.05)
            if resume_after is not None and resumed is None and len(received) >= resume_after:
                resumed = pause.call_async(SetBool.Request(data=False))
        assert resumed is None or resumed.done() and resumed.result().success
    finally:
        node.destroy_node()
    return received


def test_plays_every_frame_in_order_with_blends(ros, spec, tmp_path):
    """Every frame arrives in order at 50 Hz; blend-in starts at the default pose, blend-out returns to it."""
    clip = write_clip(spec, tmp_path / "clip.npz")
    node = run_node(f"motion_file:={clip}", "blend_in:=0.5", "blend_out:=0.5", "align_to_robot:=false",
                    "wait_for_subscribers:=1", "start_paused:=true", "start_on:=start")
    try:  # paused at the start of blend-in until this subscriber has frames, so none of the blend is missed
        received = collect(lambda r: sum(m.source == MotionReference.SOURCE_HOLD for _, m in r) >= 10,
                           resume_after=3)
    finally:
        node.terminate()
        node.wait(timeout=10)
    all_messages = [m for _, m in received]
    assert all_messages, "no MotionReference received"
    sequences = np.array([m.sequence for m in all_messages])
    assert np.all(np.diff(sequences) == 1), "a frame was dropped or reordered"
    stamps = np.array([m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec for m in all_messages])
    assert np.median(np.diff(stamps)) == pytest.approx(0.02, abs=0.002)
    moving = [i for i, m in enumerate(all_messages) if not np.allclose(m.current.joint_positions, spec.default_pose)]
    start = moving[0] - 1  # the last paused frame is tau = 0, the first frame of the blend-in
    assert start >= 2 and all(np.allclose(m.current.joint_positions, spec.default_pose) for m in all_messages[:start])
    messages = all_messages[start:]
    joints = np.array([m.current.joint_positions for m in messages])
    offset = np.mean(joints - spec.default_pose, axis=1)  # 0 at the default pose, ~0.3 in the clip
    assert 0.0 < offset[12] < offset[24] and offset[25] > 0.25  # blending in over 25 frames
    assert messages[60].source == MotionReference.SOURCE_MOCAP
    hold = [i for i, m in enumerate(messages) if m.source == MotionReference.SOURCE_HOLD]
    assert hold[0] == 25 + 50 + 25  # tau = 0.5 s blend-in + 1 s clip + 0.5 s blend-out
    assert offset[hold[0] - 12] < offset[hold[0] - 24] < 0.3  # blending out
    np.testing.assert_allclose(joints[hold[0]], spec.default_pose, atol=1e-9)
    assert all(m.valid and np.all(np.isfinite(m.current.joint_positions)) for m in messages)
    assert len(messages[0].current.key_body_positions) == len(spec.key_bodies)


def test_future_window_and_loop(ros, spec, tmp_path):
    """future_frames adds later frames at future_step spacing; a looping clip never reaches HOLD."""
    clip = write_clip(spec, tmp_path / "clip.npz", seconds=0.5)
    node = run_node(f"motion_file:={clip}", "loop:=true", "blend_in:=0.0", "future_frames:=3",
                    "future_step:=0.1", "align_to_robot:=false", "wait_for_subscribers:=1", "start_on:=start")
    try:
        received = collect(lambda r: len(r) >= 100)
    finally:
        node.terminate()
        node.wait(timeout=10)
    messages = [m for _, m in received]
    assert len(messages) >= 100
    assert all(m.source == MotionReference.SOURCE_MOCAP for m in messages)
    offsets = [f.time_from_stamp.sec + 1e-9 * f.time_from_stamp.nanosec for f in messages[10].future]
    np.testing.assert_allclose(offsets, [0.1, 0.2, 0.3])
    # the first future frame of message k is the current frame of message k + 5
    np.testing.assert_allclose(messages[10].future[0].joint_positions, messages[15].current.joint_positions,
                               atol=1e-9)
    x = np.array([m.current.root_pose.position.x for m in messages])
    assert x[-1] > 0.4 * 1.5  # kept walking forward over laps


def test_invalid_file_fails_at_start_with_the_reason(tmp_path):
    """A corrupt file stops the node at start with a clear message and a non-zero exit code."""
    bad = tmp_path / "bad.npz"
    np.savez(bad, joint_pos=np.zeros((10, 29)))
    node = run_node(f"motion_file:={bad}")
    out, _ = node.communicate(timeout=60)
    assert node.returncode == 2
    assert "cannot play the motion" in out and "unknown motion format" in out


def test_help():
    """--help lists the parameters."""
    out = subprocess.run([sys.executable, "-m", "twist_reference.mocap_reference", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "motion_file" in out and "blend_out" in out


def test_starts_aligned_to_the_robot(ros, spec, tmp_path):
    """The reference starts where robot_state says the robot stands, facing where it faces."""
    from twist_msgs.msg import RobotState

    clip = write_clip(spec, tmp_path / "clip.npz", seconds=0.5)
    node = run_node(f"motion_file:={clip}", "blend_in:=0.2", "align_timeout:=30.0", "start_on:=start")
    client = rclpy.create_node("fake_bridge")
    state_pub = client.create_publisher(RobotState, "robot_state", QOS)
    state = RobotState(privileged_valid=True)
    state.base_pose.position.x, state.base_pose.position.y, state.base_pose.position.z = 1.0, 2.0, 0.76
    w, x, y, z = rotations.from_yaw(np.pi / 2)
    state.base_pose.orientation.w, state.base_pose.orientation.z = float(w), float(z)
    received = []
    client.create_subscription(MotionReference, "motion_reference", received.append, QOS)
    try:
        deadline = time.monotonic() + 60.0
        while len(received) < 30 and time.monotonic() < deadline:
            state_pub.publish(state)
            rclpy.spin_once(client, timeout_sec=0.02)
    finally:
        client.destroy_node()
        node.terminate()
        node.wait(timeout=10)
    assert len(received) >= 30
    for msg in received[:5]:
        pose = msg.current.root_pose
        assert (pose.position.x, pose.position.y) == pytest.approx((1.0, 2.0), abs=1e-6)
        q = pose.orientation
        assert rotations.yaw([q.w, q.x, q.y, q.z]) == pytest.approx(np.pi / 2, abs=1e-6)
    later = received[25].current.root_pose.position  # walking along the robot's heading (+y in the world)
    assert later.y > 2.0 and later.x == pytest.approx(1.0, abs=1e-6)


class FakeBridge:
    """The bridge's side of the contract, in the test process: robot_state with a pose, joints and a mode."""

    def __init__(self, spec, xy=(0.0, 0.0), yaw=0.0):
        from twist_msgs.msg import BridgeStatus, RobotState
        from twist_msgs.srv import PlayMotion

        self.node = rclpy.create_node("fake_bridge")
        self.pub = self.node.create_publisher(RobotState, "robot_state", QOS)
        self.play = self.node.create_client(PlayMotion, "/mocap_reference/play")
        self.received = []
        self.node.create_subscription(MotionReference, "motion_reference", self.received.append, QOS)
        self.state = RobotState(privileged_valid=True, joint_names=list(spec.joint_names),
                                position=list(spec.default_pose), mode=BridgeStatus.MODE_HOLD)
        self.state.base_pose.position.x, self.state.base_pose.position.y, self.state.base_pose.position.z = \
            xy[0], xy[1], 0.76
        w, _, _, z = rotations.from_yaw(yaw)
        self.state.base_pose.orientation.w = self.state.base_pose.orientation.z = 0.0
        self.state.base_pose.orientation.w, self.state.base_pose.orientation.z = float(w), float(z)
        self.state.imu_orientation.w, self.state.imu_orientation.z = float(w), float(z)

    def spin_until(self, condition, timeout=60.0):
        """Publish robot_state and spin until ``condition()``."""
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            self.pub.publish(self.state)
            rclpy.spin_once(self.node, timeout_sec=0.02)
        return condition()

    def call_play(self, motion_file, fps=0.0):
        """~/play; the response."""
        from twist_msgs.srv import PlayMotion

        assert self.play.wait_for_service(timeout_sec=30.0)
        future = self.play.call_async(PlayMotion.Request(motion_file=str(motion_file), fps=fps))
        assert self.spin_until(future.done)
        return future.result()


def test_stands_until_go_then_plays_from_the_robots_pose_and_stands_again(ros, spec, tmp_path):
    """start_on policy: standing where the robot is until the bridge's mode becomes POLICY; then the clip blends
    in from the robot's measured joints (not the default pose), aligned to its position and heading, blends out,
    and the node stands where the clip ended."""
    from twist_msgs.msg import BridgeStatus

    clip = write_clip(spec, tmp_path / "clip.npz", seconds=0.5)
    node = run_node(f"motion_file:={clip}", "blend_in:=0.2", "blend_out:=0.2")
    bridge = FakeBridge(spec, xy=(1.0, -1.0), yaw=np.pi / 2)
    crouch = spec.default_pose.copy()
    crouch[spec.joint_index("left_elbow_joint")] = 0.3  # the robot's arm is not where the default pose has it
    bridge.state.position = list(crouch)
    try:
        assert bridge.spin_until(lambda: len(bridge.received) >= 20)
        standing = list(bridge.received)
        bridge.state.mode = BridgeStatus.MODE_POLICY
        count = len(bridge.received)
        assert bridge.spin_until(lambda: sum(m.source == MotionReference.SOURCE_MOCAP for m in bridge.received[count:])
                                 and bridge.received[-1].source == MotionReference.SOURCE_HOLD
                                 and len(bridge.received) > count + 60)
    finally:
        bridge.node.destroy_node()
        node.terminate()
        node.wait(timeout=10)
    for msg in standing:
        assert msg.source == MotionReference.SOURCE_HOLD and msg.valid
        np.testing.assert_allclose(msg.current.joint_positions, spec.default_pose, atol=1e-9)
        assert (msg.current.root_pose.position.x, msg.current.root_pose.position.y) == pytest.approx((1.0, -1.0))
    after = bridge.received[count:]
    first = next(i for i, m in enumerate(after) if not np.allclose(m.current.joint_positions, spec.default_pose))
    elbow = spec.joint_index("left_elbow_joint")
    assert after[first].current.joint_positions[elbow] == pytest.approx(0.3, abs=0.05)  # from the robot's arm
    playing = [m for m in after if m.source == MotionReference.SOURCE_MOCAP]
    assert 25 <= len(playing) <= 50 + 2  # 0.2 + 0.5 + 0.2 s, the boundaries on either side
    y = [m.current.root_pose.position.y for m in playing]
    assert y[-1] > -1.0 + 0.1 and playing[-1].current.root_pose.position.x == pytest.approx(1.0, abs=1e-6)
    end = bridge.received[-1]
    np.testing.assert_allclose(end.current.joint_positions, spec.default_pose, atol=1e-9)
    assert end.current.root_pose.position.y == pytest.approx(y[-1], abs=0.05)


def test_play_service_refuses_what_cannot_start_and_keeps_standing(ros, spec, tmp_path):
    """~/play: an unreadable file and a clip starting far from the robot's pose are refused with the reason (the
    reference stays a standing one); a good CSV clip with its fps plays."""
    from twist_core.motion_formats import write_motion

    good = tmp_path / "good.csv"
    write_motion(build_motion(spec, 60.0, np.column_stack([np.zeros(61), np.zeros(61), np.full(61, 0.76)]),
                              rotations.from_yaw(np.zeros(61)), np.tile(spec.default_pose, (61, 1)) + 0.1),
                 good, spec, "csv")
    far = write_clip(spec, tmp_path / "far.npz", seconds=0.5)
    motion = np.load(far)
    data = {k: motion[k] for k in motion.files}
    data["root_pos"][:, 2] = 0.4  # crouching: 0.36 m below the standing robot
    np.savez(tmp_path / "low.npz", **data)
    (tmp_path / "junk.npz").write_bytes(b"not a motion")
    node = run_node("start_on:=service")
    bridge = FakeBridge(spec)
    try:
        assert bridge.spin_until(lambda: len(bridge.received) >= 5)
        junk = bridge.call_play(tmp_path / "junk.npz")
        low = bridge.call_play(tmp_path / "low.npz")
        no_fps = bridge.call_play(good)
        count = len(bridge.received)
        bridge.spin_until(lambda: len(bridge.received) > count + 10)
        refused_frames = bridge.received[count:]
        played = bridge.call_play(good, fps=60.0)
        count = len(bridge.received)
        assert bridge.spin_until(lambda: any(m.source == MotionReference.SOURCE_MOCAP for m in bridge.received[count:]))
    finally:
        bridge.node.destroy_node()
        node.terminate()
        node.wait(timeout=10)
    assert not junk.success and "cannot read as .npz" in junk.message
    assert not low.success and "pelvis height" in low.message
    assert not no_fps.success and "no frame rate" in no_fps.message
    assert all(m.source == MotionReference.SOURCE_HOLD and m.valid for m in refused_frames)
    assert played.success, played.message
