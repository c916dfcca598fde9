"""cmg_reference when the system clock steps back 60 s (its process only, LD_PRELOAD): a stale cmd_vel still
decays within cmd_timeout, and the node keeps publishing at its rate."""

import os
import subprocess
import sys
import time

import numpy as np
import rclpy
from geometry_msgs.msg import Twist
from rclpy.qos import QoSProfile, ReliabilityPolicy
from twist_msgs.msg import MotionReference

from twist_core.testing.clock_step import ClockStep
from twist_core.toy_models import write_toy_cmg

STARTUP_S = 40.0
NAMESPACE = f"clock_step_{os.getpid()}"  # no other node in the domain shares these topics


def test_a_clock_step_back_does_not_keep_a_stale_command_alive(spec, tmp_path):
    """0.8 m/s on cmd_vel, then the publisher stops as the node's system clock steps back 60 s: the reference
    decelerates from cmd_timeout (0.5 s) at 1 m/s^2 and is at rest 1.3 s later, references flowing all along (a
    system-clock timer would stall for 60 s, a system-clock age would keep 0.8 m/s for 59 s)."""
    clock = ClockStep(tmp_path / "clock")
    model = write_toy_cmg(tmp_path / "toy.onnx", spec)
    node = subprocess.Popen([sys.executable, "-m", "twist_reference.cmg_reference", "--ros-args", "-p",
                             f"model_file:={model}", "-p", "align_to_robot:=false", "-p", "cmd_timeout:=0.5",
                             "-r", f"__ns:=/{NAMESPACE}"],
                            env=clock.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    rclpy.init()
    client = rclpy.create_node("clock_step_test", namespace=f"/{NAMESPACE}")
    received: list[tuple[float, float]] = []  # (monotonic receive time, reference vx)
    client.create_subscription(MotionReference, "motion_reference",
                               lambda m: received.append((time.monotonic(), m.current.root_linear_velocity.x)),
                               QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    cmd = client.create_publisher(Twist, "cmd_vel", 10)
    command = Twist()
    command.linear.x = 0.8

    def spin_until(done, timeout, publish):
        deadline, last = time.monotonic() + timeout, 0.0
        while not done() and time.monotonic() < deadline:
            if publish and time.monotonic() - last > 0.1:
                cmd.publish(command)
                last = time.monotonic()
            rclpy.spin_once(client, timeout_sec=0.01)
        return done()

    try:
        assert spin_until(lambda: received and received[-1][1] >= 0.8 - 1e-9, STARTUP_S, publish=True), \
            (node.poll(), received[-3:])
        clock.set(-60.0)
        stepped = time.monotonic()
        assert spin_until(lambda: received[-1][1] == 0.0 and received[-1][0] > stepped + 1.3, 10.0, publish=False), \
            f"reference still at {received[-1][1]} m/s {time.monotonic() - stepped:.1f} s after the step"
        after = np.array([t for t, _ in received if t > stepped])
        stopped = next(t for t, v in received if t > stepped and v == 0.0) - stepped
        print(f"\nclock stepped back 60 s: reference at rest {stopped:.2f} s later; {len(after)} references, "
              f"largest gap {np.diff(after).max() * 1e3:.0f} ms")
        # at rest cmd_timeout + 0.8 s after the last cmd_vel, which came up to 0.1 s (one publish period) and a
        # tick (0.02 s) before the step: 1.18 s at the earliest
        assert 1.15 < stopped < 3.0 and np.diff(after).max() < 0.5
    finally:
        client.destroy_node()
        rclpy.shutdown()
        node.terminate()
        node.communicate(timeout=10)
