"""teleop-replay: its schedule (jitter, drops, bursts, latency) and a replayed clip driving teleop_reference."""

import subprocess
import sys
import time

import numpy as np
import pytest
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from twist_msgs.msg import MotionReference

from twist_reference.teleop_replay import sampler, schedule
from twist_core import rotations
from twist_core.motion import build_motion, save_motion

QOS = QoSProfile(depth=500, reliability=ReliabilityPolicy.RELIABLE)


def test_schedule_degrades_as_asked():
    """Latency and jitter delay, drop loses a fraction, bursts are silent, the order is the sending order."""
    times = np.arange(3000) / 100.0
    plan = schedule(times, np.random.default_rng(1), latency=0.1, jitter=0.03, drop=0.2, burst=0.3, burst_every=3)
    send = np.array([s for s, _ in plan])
    index = np.array([k for _, k in plan])
    assert np.all(np.diff(send) >= 0)
    delay = send - times[index]
    assert delay.min() >= 0.1 and delay.max() <= 0.13
    captured = times[index]
    in_burst = (captured >= 3) & (np.mod(captured, 3) < 0.3)
    assert not in_burst.any()
    expected = 0.8 * (3000 - 9 * 30)  # 9 bursts of 30 samples
    assert len(plan) == pytest.approx(expected, rel=0.05)
    assert np.any(np.diff(index) < 0)  # 30 ms of jitter at 100 Hz reorders samples
    assert schedule(times, np.random.default_rng(1)) == [(t, k) for k, t in enumerate(times)]
    with pytest.raises(ValueError):
        schedule(times, np.random.default_rng(1), drop=1.0)


def write_clip(spec, path, seconds=3.0, fps=30.0):
    """Joints 0.3 rad from the default pose and swinging, walking forward at 0.3 m/s."""
    n = int(round(seconds * fps)) + 1
    t = np.arange(n) / fps
    joint_pos = np.clip(spec.default_pose + 0.3 + 0.2 * np.sin(2 * t)[:, None], spec.lower_limits,
                        spec.upper_limits)
    root_pos = np.column_stack([0.3 * t, np.zeros(n), np.full(n, 0.76)])
    return save_motion(build_motion(spec, fps, root_pos, rotations.from_yaw(np.zeros(n)), joint_pos), path)


def test_looping_laps_continue_where_the_last_ended(spec, tmp_path):
    """--loop: the second lap walks on from where the first ended (no jump back), where the file put it."""
    from twist_core.motion import load_motion

    motion = load_motion(write_clip(spec, tmp_path / "clip.npz", seconds=1.0), spec)
    player = sampler(motion, spec, loop=True)
    np.testing.assert_allclose(player.frame(0.0).root_pos, motion.root_pos[0], atol=1e-9)
    x = [player.frame(t).root_pos[0] for t in np.arange(0.0, 2.5, 1.0 / 30)]
    assert np.all(np.diff(x) > 0) and x[-1] == pytest.approx(0.3 * 2.5 - 0.3 / 30, abs=0.02)


@pytest.fixture(scope="module")
def ros():
    """rclpy in the test process."""
    rclpy.init()
    yield
    rclpy.shutdown()


def test_a_degraded_replay_drives_the_reference(ros, spec, tmp_path):
    """The clip, jittered, thinned, with a silence and a clock offset, reaches the reference finite and bounded."""
    clip = write_clip(spec, tmp_path / "clip.npz")
    node = subprocess.Popen([sys.executable, "-m", "twist_reference.teleop_reference", "--ros-args", "-p",
                             "align_to_robot:=false", "-p", "engage_blend:=0.3"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    listener = rclpy.create_node("replay_listener")
    received = []
    listener.create_subscription(MotionReference, "motion_reference", received.append, QOS)
    replay = None
    try:
        deadline = time.monotonic() + 60
        while len(received) < 3 and time.monotonic() < deadline:
            rclpy.spin_once(listener, timeout_sec=0.05)
        replay = subprocess.Popen([sys.executable, "-m", "twist_reference.teleop_replay", str(clip), "--jitter", "0.03",
                                   "--drop", "0.2", "--burst", "0.3", "--burst-every", "1.0", "--clock-offset",
                                   "-250", "--latency", "0.02", "--seed", "4"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        while replay.poll() is None and time.monotonic() < deadline:
            rclpy.spin_once(listener, timeout_sec=0.05)
        replay_out = replay.communicate(timeout=10)[0]
    finally:
        listener.destroy_node()
        node.terminate()
        out = node.communicate(timeout=10)[0]
    assert replay.returncode == 0, replay_out
    assert "sent" in replay_out and "of 91 samples" in replay_out
    live = [m for m in received if m.source == MotionReference.SOURCE_TELEOP]
    assert len(live) > 100, out
    joints = np.array([m.current.joint_positions for m in received])
    assert np.all(np.isfinite(joints))
    assert np.all(np.abs(np.diff(joints, axis=0)) <= 0.5 * spec.velocity_limits * 0.02 + 1e-9)
    offsets = np.array([m.current.joint_positions for m in live[20:]]) - spec.default_pose
    assert np.median(offsets[:, [0, 3, 15]]) > 0.2  # the clip's pose (0.3 +- 0.2 rad from the default)
    x = [m.current.root_pose.position.x for m in live]
    assert x[-1] - x[0] > 0.5  # walking with the clip's root


def test_bad_file_and_help(tmp_path):
    """A missing file exits 2 with the reason; --help describes the options."""
    bad = subprocess.run([sys.executable, "-m", "twist_reference.teleop_replay", str(tmp_path / "none.csv"),
                          "--fps", "30"], capture_output=True, text=True)
    assert bad.returncode == 2 and "no such file" in bad.stderr
    out = subprocess.run([sys.executable, "-m", "twist_reference.teleop_replay", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "--jitter" in out and "--clock-offset" in out
