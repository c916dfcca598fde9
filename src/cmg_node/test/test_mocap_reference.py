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
    args = [sys.executable, "-m", "cmg_node.mocap_reference", "--ros-args"]
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
                    "wait_for_subscribers:=1", "start_paused:=true")
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
                    "future_step:=0.1", "align_to_robot:=false", "wait_for_subscribers:=1")
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
    out = subprocess.run([sys.executable, "-m", "cmg_node.mocap_reference", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "motion_file" in out and "blend_out" in out


def test_starts_aligned_to_the_robot(ros, spec, tmp_path):
    """The reference starts where robot_state says the robot stands, facing where it faces."""
    from twist_msgs.msg import RobotState

    clip = write_clip(spec, tmp_path / "clip.npz", seconds=0.5)
    node = run_node(f"motion_file:={clip}", "blend_in:=0.2", "align_timeout:=30.0")
    client = rclpy.create_node("fake_bridge")
    state_pub = client.create_publisher(RobotState, "robot_state", QOS)
    state = RobotState(privileged_valid=True)
    state.base_pose.position.x, state.base_pose.position.y = 1.0, 2.0
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
