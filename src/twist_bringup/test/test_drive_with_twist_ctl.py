"""Driving the simulated G1 with twist-ctl and the keyboard teleop (twist_teleop), as a user does.

The closed loop of `make sim` (mujoco_bridge, cmg_reference with the shipped CMG, twist_policy with the shipped
student), each node its own process started by twist_bringup.graph_runner, in lockstep (a loaded test machine
slows the simulation instead of changing it); twist-ctl and teleop-keyboard run as processes over DDS. What the
robot did is read from the bridge's /odom. twist-ctl's helpers and errors are twist_teleop's test_ctl.py.
"""

import math
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from nav_msgs.msg import Odometry
from rclpy.qos import QoSProfile, ReliabilityPolicy
from twist_msgs.msg import RobotState

from twist_bringup.graph_runner import GraphRunner
from twist_bringup.launch_graph import config_dir, sim_graph
from twist_core import rotations
from twist_core.odometry import LegOdometry
from twist_core.testing.terminal import Terminal
from twist_node_common.workspace import executable_path

CTL = executable_path("twist_teleop", "twist-ctl")
KEYBOARD = executable_path("twist_teleop", "teleop-keyboard")
ROOT = Path(__file__).resolve().parents[3]
MODELS = ROOT / "models"
STARTUP_S = 90.0


def ctl(*args, timeout=60.0):
    """Run twist-ctl as a user would; its completed process (text output)."""
    return subprocess.run([str(CTL), *args], capture_output=True, text=True, timeout=timeout)


class Odom:
    """Records the bridge's /odom (the simulation's truth): (sim time, x, y, yaw), and its robot_state."""

    def __init__(self) -> None:
        """Subscribe."""
        self.node = rclpy.create_node("twist_ctl_test")
        self.samples: list[tuple[float, float, float, float]] = []
        self.states: list[RobotState] = []
        self.node.create_subscription(Odometry, "/odom", self._on_odom, 50)
        self.node.create_subscription(RobotState, "/robot_state", self.states.append,
                                      QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE))

    def _on_odom(self, msg: Odometry) -> None:
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        yaw = rotations.roll_pitch_yaw([q.w, q.x, q.y, q.z])[2]
        self.samples.append((msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec, p.x, p.y, float(yaw)))

    def spin_while(self, process: subprocess.Popen | None = None, seconds: float = 0.0, terminal=None) -> None:
        """Spin until ``process`` ends (or for ``seconds``), draining ``terminal`` meanwhile."""
        end = time.monotonic() + seconds
        while (process is not None and process.poll() is None) or time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.05)
            if terminal is not None:
                terminal.drain()


def _wait_status(mode: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline:
        out = ctl("status")
        line = out.stdout.strip()
        if out.returncode == 0 and f"mode {mode}" in line:
            return line
    raise AssertionError(f"the bridge did not reach {mode}: {line!r}")


@pytest.fixture()
def graph(tmp_path):
    """The closed loop of make sim, in lockstep, with the shipped models; the odometry recorder."""
    nodes = sim_graph("", config_dir(), clock_mode="lockstep", rviz=False, reference="cmg",
                      cmg_model=str(MODELS / "cmg" / "cmg.onnx"), policy_file=str(MODELS / "student" / "policy.onnx"),
                      bridge_parameters={"ramp_time": 0.5})
    runner = GraphRunner([n for n in nodes if n.package != "robot_state_publisher"], log_dir=tmp_path / "logs",
                         required=("g1_bridge", "twist_reference", "twist_policy_node"))
    rclpy.init()
    odom = Odom()
    runner.start()
    try:
        yield runner, odom
    finally:
        odom.node.destroy_node()
        rclpy.shutdown()
        runner.stop()


def _check_leg_odometry(spec, states, t0, t1, truth):
    """Leg odometry (what the real bridge publishes) from the robot_state of the walk [t0, t1] (joints and IMU, as
    the robot measures them) moves as the simulation's pelvis did (``truth``: x, y), within 15 %."""
    odometry = LegOdometry(spec)
    track = {}
    for msg in sorted(states, key=lambda m: m.sequence):
        stamp = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
        q = msg.imu_orientation
        track[stamp] = odometry.update(stamp, np.array(msg.position), [q.w, q.x, q.y, q.z]).position[:2]
    start = track[min(track, key=lambda s: abs(s - t0))]
    end = track[min(track, key=lambda s: abs(s - t1))]
    error = np.linalg.norm((end - start) - truth)
    print(f"leg odometry over the walk: {np.linalg.norm(end - start):.2f} m (truth {np.linalg.norm(truth):.2f} m, "
          f"off by {error:.2f} m)")
    assert error < 0.15 * np.linalg.norm(truth)


def test_twist_ctl_and_the_keyboard_drive_the_simulated_robot(graph, spec):
    """start -> HOLD, go -> POLICY, `cmd 0.5 0 0 --duration 4` walks forward, the keyboard's a-key turns it left,
    damp -> DAMPING; a refused request (go while damped) exits 1 with the bridge's reason."""
    runner, odom = graph
    deadline = time.monotonic() + STARTUP_S
    while ctl("--timeout", "5", "status").returncode != 0:
        assert time.monotonic() < deadline and not runner.exited(), f"no bridge: {runner.exited()} {runner.logs}"
    start = ctl("start")
    assert start.returncode == 0 and start.stdout.startswith("mujoco_bridge start: "), start
    _wait_status("HOLD")
    go = ctl("go")
    assert go.returncode == 0, go
    assert "mode POLICY" in _wait_status("POLICY")

    before = len(odom.samples)
    odom.spin_while(seconds=1.0)
    walk = subprocess.Popen([str(CTL), "cmd", "0.5", "0", "0", "--duration", "4"], stdout=subprocess.PIPE, text=True)
    odom.spin_while(walk)
    assert walk.returncode == 0 and "Twist published on /cmd_vel" in walk.stdout.read()
    odom.spin_while(seconds=2.0)
    walked = odom.samples[before:]
    t0, x0, y0, yaw0 = walked[0]
    t1, x1, y1, yaw1 = walked[-1]
    forward = (x1 - x0) * math.cos(yaw0) + (y1 - y0) * math.sin(yaw0)
    print(f"\ntwist-ctl cmd 0.5 0 0 for 4 s: {forward:.2f} m forward in {t1 - t0:.1f} s of simulated time, "
          f"heading change {yaw1 - yaw0:+.2f} rad")
    assert forward > 0.8 and abs(yaw1 - yaw0) < 0.5
    _check_leg_odometry(spec, odom.states, t0, t1, np.array([x1 - x0, y1 - y0]))

    before = len(odom.samples)
    terminal = Terminal([KEYBOARD])
    odom.spin_while(seconds=3.0, terminal=terminal)  # its node up and matched
    terminal.type(b"aaaaa")  # yaw rate 0.5 rad/s
    odom.spin_while(seconds=5.0, terminal=terminal)
    terminal.type(b"x")
    odom.spin_while(terminal.process, terminal=terminal)
    terminal.close()
    assert terminal.process.returncode == 0 and b"yaw rate +0.50 rad/s" in terminal.output
    turned = odom.samples[before:]
    yaws = [yaw for *_, yaw in turned]
    turn = sum(math.remainder(b - a, math.tau) for a, b in zip(yaws, yaws[1:]))
    print(f"teleop-keyboard a x5: turned {turn:+.2f} rad in {turned[-1][0] - turned[0][0]:.1f} s of simulated time")
    assert turn > 0.5

    damp = ctl("damp")
    assert damp.returncode == 0, damp
    assert "fault OPERATOR" in _wait_status("DAMPING")
    refused = ctl("go")
    assert refused.returncode == 1 and "mujoco_bridge go: " in refused.stdout, refused
    assert not runner.exited(), runner.exited()
