"""The keyboard teleop in a pseudo-terminal: keys become Twist messages; no terminal is a clear error."""

import subprocess
import time

import pytest
import rclpy
from geometry_msgs.msg import Twist

from twist_core.testing.terminal import Terminal
from twist_node_common.workspace import executable_path

TELEOP = executable_path("twist_teleop", "teleop-keyboard")


def _run(*args, timeout=60):
    return subprocess.run([str(TELEOP), *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture()
def ros():
    """rclpy for this test."""
    rclpy.init()
    yield
    rclpy.shutdown()


def test_keys_become_twist_and_x_quits_with_a_zero_command(ros):
    """w/a in a terminal change the published command (step 0.1); x stops (a zero command) and quits with 0."""
    assert "teleop_twist_keyboard" in _run("--help").stdout
    no_tty = _run()
    assert no_tty.returncode == 2 and "needs a terminal" in no_tty.stderr
    node = rclpy.create_node("teleop_test")
    received = []
    node.create_subscription(Twist, "/teleop_test", received.append, 10)
    terminal = Terminal([TELEOP, "--topic", "/teleop_test", "--rate", "20"])

    def spin_until(condition, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not condition():
            rclpy.spin_once(node, timeout_sec=0.05)
            terminal.drain()
        return condition()

    try:
        assert spin_until(lambda: received), "no Twist from teleop-keyboard"
        terminal.type(b"wwwa")
        assert spin_until(lambda: received[-1].linear.x == pytest.approx(0.3)
                          and received[-1].angular.z == pytest.approx(0.1))
        assert b"vx +0.30 m/s" in terminal.output
        terminal.type(b"x")
        assert terminal.process.wait(timeout=10) == 0
        assert spin_until(lambda: received[-1].linear.x == 0.0 and received[-1].angular.z == 0.0, 5.0)
    finally:
        terminal.close()
        node.destroy_node()
