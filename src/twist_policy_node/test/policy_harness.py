"""Test side of the policy node: start it in its own process; play bridge, reference publisher and /clock."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from twist_msgs.msg import JointCommand, MotionReference, RobotState

from twist_core.safety import Mode
from twist_node_common.qos import CONTROL_QOS

SIM_START = 100.0  # s, simulated time of tick 0
TICK = 0.02


def start_policy_node(policy_file, namespace: str = "", **params) -> subprocess.Popen:
    """Run ``python -m twist_policy_node.policy_node`` with simulated time and ``params`` (in ``namespace``)."""
    args = [sys.executable, "-m", "twist_policy_node.policy_node", "--ros-args", "-p", f"policy_file:={policy_file}",
            "-p", "use_sim_time:=true"] + (["-r", f"__ns:=/{namespace}"] if namespace else [])
    for key, value in params.items():
        args += ["-p", f"{key}:={str(value).lower() if isinstance(value, bool) else value}"]
    return subprocess.Popen(args, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C the process and wait for it."""
    if process.poll() is None:
        process.send_signal(subprocess.signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stamp(seconds: float):
    """builtin_interfaces/Time."""
    from builtin_interfaces.msg import Time

    ns = int(round(seconds * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


class FakeLoop(Node):
    """Publishes /clock, robot_state and motion_reference tick by tick; records joint commands and diagnostics."""

    def __init__(self, spec, namespace: str = "") -> None:
        """Publishers and subscriptions of a bridge and a reference publisher (relative names in ``namespace``)."""
        super().__init__("policy_test_loop", namespace=f"/{namespace}" if namespace else "")
        self.spec = spec
        self.tick = 0
        self.reference_offset = 0.2
        self.commands: list[JointCommand] = []
        self.diagnostics: list[dict[str, str]] = []
        self.levels: list[int] = []
        self.clock_pub = self.create_publisher(Clock, "/clock", 10)
        self.state_pub = self.create_publisher(RobotState, "robot_state", CONTROL_QOS)
        self.reference_pub = self.create_publisher(MotionReference, "motion_reference", CONTROL_QOS)
        deep = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.create_subscription(JointCommand, "joint_command", self.commands.append, deep)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith("twist_policy"):
                self.diagnostics.append({kv.key: kv.value for kv in status.values} | {"message": status.message})
                self.levels.append(int.from_bytes(status.level, "little") if isinstance(status.level, bytes)
                                   else int(status.level))

    def now(self) -> float:
        """Simulated time of the current tick."""
        return SIM_START + TICK * self.tick

    def state(self, mode=Mode.POLICY, age: float = 0.0, q=None) -> RobotState:
        """The RobotState of the current tick (default pose, level), stamped ``age`` before the tick's time."""
        msg = RobotState(sequence=self.tick, mode=int(mode), joint_names=list(self.spec.joint_names))
        msg.header.stamp = stamp(self.now() - age)
        msg.position = list(self.spec.default_pose if q is None else q)
        msg.velocity = [0.0] * 29
        msg.effort = [0.0] * 29
        msg.imu_orientation.w = 1.0
        return msg

    def reference(self) -> MotionReference:
        """A reference with every joint ``reference_offset`` away from the default pose."""
        msg = MotionReference(sequence=self.tick, valid=True, source=MotionReference.SOURCE_MOCAP,
                              joint_names=list(self.spec.joint_names))
        msg.header.stamp = stamp(self.now())
        msg.current.joint_positions = list(np.array(self.spec.default_pose) + self.reference_offset)
        msg.current.joint_velocities = [0.0] * 29
        msg.current.root_pose.position.z = 0.75
        msg.current.root_pose.orientation.w = 1.0
        return msg

    def step(self, mode=Mode.POLICY, reference: bool | MotionReference = True, state: RobotState | None = None,
             timeout: float = 0.5) -> JointCommand | None:
        """One tick: /clock, the reference (unless False), the state; the command answering it, or None."""
        self.clock_pub.publish(Clock(clock=stamp(self.now())))
        if reference is not False:
            self.reference_pub.publish(self.reference() if reference is True else reference)
        msg = state if state is not None else self.state(mode)
        self.state_pub.publish(msg)
        command = self.wait_for(lambda: self._answer(msg.sequence), timeout)
        self.tick += 1
        return command

    def _answer(self, sequence: int) -> JointCommand | None:
        return next((c for c in reversed(self.commands) if c.state_sequence == sequence), None)

    def wait_for(self, condition, timeout: float):
        """Spin until ``condition()`` is truthy (returned) or ``timeout`` wall seconds pass (None)."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value or time.monotonic() > deadline:
                return value or None
            rclpy.spin_once(self, timeout_sec=0.005)

    def latest_diagnostics(self, timeout: float = 3.0, since: int = 0) -> dict[str, str]:
        """The newest diagnostics after the first ``since`` ones arrived."""
        assert self.wait_for(lambda: len(self.diagnostics) > since, timeout), "no /diagnostics"
        return self.diagnostics[-1]


def positions(command: JointCommand) -> np.ndarray:
    """Target positions of a command."""
    return np.asarray(command.position)
