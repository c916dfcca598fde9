"""The keyboard teleop in a pseudo-terminal: keys become Twist messages; no terminal is a clear error."""

import os
import pty
import subprocess
import time

import pytest
import rclpy
from geometry_msgs.msg import Twist

from g1_bridge.graph_runner import executable_path

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


class Terminal:
    """teleop-keyboard in a pseudo-terminal, its output drained so that it never blocks writing."""

    def __init__(self, *args: str) -> None:
        """Start it with ``args``."""
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen([str(TELEOP), *args], stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        os.set_blocking(self.master, False)
        self.output = b""

    def drain(self) -> None:
        """Read what it wrote so far."""
        try:
            self.output += os.read(self.master, 4096)
        except OSError:  # nothing to read (non-blocking), or it exited
            pass

    def type(self, keys: bytes) -> None:
        """Type ``keys``."""
        os.write(self.master, keys)

    def close(self) -> None:
        """Kill it if it still runs, close the terminal."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


def test_keys_become_twist_and_x_quits_with_a_zero_command(ros):
    """w/a in a terminal change the published command (step 0.1); x stops (a zero command) and quits with 0."""
    assert "teleop_twist_keyboard" in _run("--help").stdout
    no_tty = _run()
    assert no_tty.returncode == 2 and "needs a terminal" in no_tty.stderr
    node = rclpy.create_node("teleop_test")
    received = []
    node.create_subscription(Twist, "/teleop_test", received.append, 10)
    terminal = Terminal("--topic", "/teleop_test", "--rate", "20")

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
