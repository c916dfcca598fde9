"""The policy node on wall time when the system clock steps back 60 s (its process and the states' stamps, not the
machine's clock): a reference that stopped at the step goes stale within reference_timeout, not 60 s later."""

import os
import subprocess
import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from twist_msgs.msg import JointCommand, MotionReference, RobotState

from policy_harness import stamp
from twist_core.safety import Mode
from twist_core.testing.clock_step import ClockStep
from twist_node_common.qos import CONTROL_QOS

STARTUP_S = 40.0
NAMESPACE = f"clock_step_{os.getpid()}"  # no other node in the domain shares these topics


class WallLoop(Node):
    """A bridge and a reference publisher on wall time, stamping with the stepped system clock."""

    def __init__(self, spec, clock: ClockStep) -> None:
        super().__init__("clock_step_loop", namespace=f"/{NAMESPACE}")
        self.spec, self.clock, self.offset, self.sequence = spec, clock, 0.0, 0
        self.commands: list[tuple[float, int]] = []  # (monotonic receive time, JointCommand mode)
        self.state_pub = self.create_publisher(RobotState, "robot_state", CONTROL_QOS)
        self.reference_pub = self.create_publisher(MotionReference, "motion_reference", CONTROL_QOS)
        self.create_subscription(JointCommand, "joint_command", lambda m: self.commands.append(
            (time.monotonic(), m.mode)), QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))

    def step_clock(self, seconds: float) -> None:
        self.offset = seconds
        self.clock.set(seconds)

    def tick(self, reference: bool) -> None:
        now = stamp(time.time() + self.offset)
        if reference:
            msg = MotionReference(sequence=self.sequence, valid=True, source=MotionReference.SOURCE_MOCAP,
                                  joint_names=list(self.spec.joint_names))
            msg.header.stamp = now
            msg.current.joint_positions = list(self.spec.default_pose)
            msg.current.joint_velocities = [0.0] * 29
            msg.current.root_pose.position.z = 0.75
            msg.current.root_pose.orientation.w = 1.0
            self.reference_pub.publish(msg)
        state = RobotState(sequence=self.sequence, mode=int(Mode.POLICY), joint_names=list(self.spec.joint_names))
        state.header.stamp = now
        state.position = list(self.spec.default_pose)
        state.velocity = [0.0] * 29
        state.effort = [0.0] * 29
        state.imu_orientation.w = 1.0
        self.state_pub.publish(state)
        self.sequence += 1

    def run_until(self, done, timeout: float, reference: bool) -> bool:
        deadline, next_tick = time.monotonic() + timeout, time.monotonic()
        while not done() and time.monotonic() < deadline:
            if time.monotonic() >= next_tick:
                self.tick(reference)
                next_tick += 0.02
            rclpy.spin_once(self, timeout_sec=0.005)
        return done()


def test_a_clock_step_back_does_not_keep_a_dead_reference_live(spec, toy_policy, tmp_path):
    """Fresh reference (MODE_POLICY commands), then it stops as the clock steps back 60 s: MODE_HOLD commands (the
    reference is stale) follow within reference_timeout and scheduling slack, not after 60 s."""
    clock = ClockStep(tmp_path / "clock")
    node = subprocess.Popen([sys.executable, "-m", "twist_policy_node.policy_node", "--ros-args", "-p",
                             f"policy_file:={toy_policy}", "-r", f"__ns:=/{NAMESPACE}"], env=clock.env(),
                            stderr=subprocess.PIPE, text=True)
    rclpy.init()
    loop = WallLoop(spec, clock)
    try:
        live = lambda: len([m for _, m in loop.commands[-25:] if m == JointCommand.MODE_POLICY]) == 25  # noqa: E731
        assert loop.run_until(live, STARTUP_S, reference=True), (node.poll(), loop.commands[-3:])
        loop.step_clock(-60.0)
        stepped = time.monotonic()
        held = lambda: any(t > stepped and m == JointCommand.MODE_HOLD for t, m in loop.commands)  # noqa: E731
        assert loop.run_until(held, 5.0, reference=False), "the dead reference still counts as live"
        delay = next(t for t, m in loop.commands if t > stepped and m == JointCommand.MODE_HOLD) - stepped
        print(f"\nclock stepped back 60 s: the stopped reference is stale after {delay * 1e3:.0f} ms")
        assert delay < 1.0
    finally:
        loop.destroy_node()
        rclpy.shutdown()
        node.send_signal(subprocess.signal.SIGINT)
        node.communicate(timeout=30)  # a loaded machine (CI: 2 cores, other tests) can take its time
