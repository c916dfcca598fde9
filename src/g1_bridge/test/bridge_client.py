"""A test-side "policy": starts the bridge in another process and talks to it over DDS."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile
from std_srvs.srv import Trigger
from twist_msgs.msg import BridgeStatus, JointCommand, RobotState
from twist_msgs.srv import Reset

from bringup_config import CONFIG
from twist_node_common.qos import CONTROL_QOS, STATUS_QOS


PARAMS_FILE = CONFIG / "mujoco_bridge.yaml"


def start_bridge(**params) -> subprocess.Popen:
    """Run `python -m g1_bridge.mujoco_bridge` with the workspace's params file and overrides, as a user would."""
    args = [sys.executable, "-m", "g1_bridge.mujoco_bridge", "--ros-args", "--params-file", str(PARAMS_FILE)]
    for key, value in params.items():
        args += ["-p", f"{key}:={str(value).lower() if isinstance(value, bool) else value}"]
    return subprocess.Popen(args)


def stop_bridge(process: subprocess.Popen) -> None:
    """Ctrl-C the bridge and wait for it."""
    process.send_signal(subprocess.signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


class BridgeClient(Node):
    """Answers every RobotState with a JointCommand while ``answering``; records what it sees."""

    def __init__(self, spec, gain_scale: float = 4.0, bridge_name: str = "mujoco_bridge",
                 state_depth: int = 1) -> None:
        """Publishers, subscriptions and service clients for one bridge (``bridge_name``: its node name).

        ``state_depth``: the RobotState reader's history (the controllers' KEEP_LAST 1 by default); a test that
        must see every state of a free-running bridge keeps more, so a starved test process does not drop any.
        """
        super().__init__("bridge_test_client")
        self.spec = spec
        self.gain_scale = gain_scale
        self.answering = True
        self.poison: float | None = None  # a value to put in the next command's position
        self.wiggle = False  # arm motions that depend only on the state sequence
        self.extreme: tuple[str, float, float, float] | None = None  # (joint, kp, kd, velocity target) for one joint
        self.hold_back: int | None = None  # leave the state with this sequence unanswered (see answer())
        self.states: list[RobotState] = []
        self.last_command_time: float | None = None  # time.monotonic() of the latest JointCommand published
        self.status: BridgeStatus | None = None
        self.command_pub = self.create_publisher(JointCommand, "joint_command", CONTROL_QOS)
        state_qos = QoSProfile(depth=state_depth, reliability=CONTROL_QOS.reliability)
        self.create_subscription(RobotState, "robot_state", self._on_state, state_qos)
        self.create_subscription(BridgeStatus, "bridge_status", self._on_status, STATUS_QOS)
        self.triggers = {name: self.create_client(Trigger, f"/{bridge_name}/{name}")
                         for name in ("start", "go", "damp")}
        self.reset_client = self.create_client(Reset, f"/{bridge_name}/reset")
        self.sequence = 0

    def _on_status(self, msg: BridgeStatus) -> None:
        self.status = msg

    def _on_state(self, msg: RobotState) -> None:
        self.states.append(msg)
        if self.answering and msg.sequence != self.hold_back:
            self.answer(msg)

    def answer(self, msg: RobotState) -> None:
        """Publish the JointCommand for state ``msg``."""
        cmd = JointCommand()
        cmd.header.stamp = msg.header.stamp
        cmd.sequence = self.sequence
        cmd.state_sequence = msg.sequence
        cmd.joint_names = list(self.spec.policy_joint_names)
        position = self.spec.to_policy(self.spec.default_pose).copy()
        if self.poison is not None:
            position[0] = self.poison
        if self.wiggle:
            position[15:] += 0.3 * np.sin(0.2 * msg.sequence + np.arange(8))  # the 8 arm joints
        velocity = np.zeros(23)
        kp = self.gain_scale * self.spec.to_policy(self.spec.kp)
        kd = self.gain_scale * self.spec.to_policy(self.spec.kd)
        if self.extreme is not None:
            joint = cmd.joint_names.index(self.extreme[0])
            kp[joint], kd[joint], velocity[joint] = self.extreme[1:]
        cmd.position = position.tolist()
        cmd.velocity = velocity.tolist()
        cmd.kp = kp.tolist()
        cmd.kd = kd.tolist()
        cmd.effort = [0.0] * 23
        self.command_pub.publish(cmd)
        self.last_command_time = time.monotonic()
        self.sequence += 1

    def spin_until(self, condition, timeout: float) -> bool:
        """Spin until ``condition()`` or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            rclpy.spin_once(self, timeout_sec=0.01)
        return condition()

    def call(self, name: str, timeout: float = 20.0, request=None):
        """Call one of the bridge's services (Trigger ones by name, or "reset" with a Reset request)."""
        client = self.reset_client if name == "reset" else self.triggers[name]
        assert self.spin_until(client.service_is_ready, timeout), f"service {name} not available"
        future = client.call_async(request if request is not None else Trigger.Request())
        assert self.spin_until(future.done, timeout), f"no answer from {name}"
        return future.result()

    def mode(self) -> int | None:
        """Mode of the latest RobotState."""
        return self.states[-1].mode if self.states else None


def stamp_seconds(msg) -> float:
    """Header stamp in seconds."""
    return msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec


def sequences(states) -> np.ndarray:
    """Sequence numbers of RobotStates."""
    return np.array([s.sequence for s in states])
