"""Sticks to cmd_vel: the mapping (deadband, enable button, bad input) and the joy_teleop node over DDS."""

import subprocess
import time

import numpy as np
import pytest
import rclpy
from geometry_msgs.msg import Twist
from sensor_msgs.msg import Joy

from twist_node_common.workspace import executable_path
from twist_teleop.sticks import StickMapping

NODE = executable_path("twist_teleop", "joy_teleop")


def _pad(lx=0.0, ly=0.0, rx=0.0, enable=True, size=(8, 11)):
    """Joy axes and buttons of an Xbox-style pad as joy_node reports it (left positive, up positive)."""
    axes, buttons = [0.0] * size[0], [0] * size[1]
    axes[0], axes[1], axes[3] = lx, ly, rx
    buttons[4] = int(enable)
    return axes, buttons


def test_mapping_deadband_scales_and_enable():
    """Held: full deflection gives the scales, the deadband is cut and the rest rescaled; released: None."""
    mapping = StickMapping()
    np.testing.assert_allclose(mapping.command(*_pad(lx=1.0, ly=1.0, rx=-1.0)), [0.5, 0.3, -0.5])
    np.testing.assert_allclose(mapping.command(*_pad(ly=0.55)), [0.25, 0.0, 0.0])  # (0.55 - 0.1) / 0.9 * 0.5
    np.testing.assert_array_equal(mapping.command(*_pad(lx=0.09, ly=-0.1, rx=0.05)), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(mapping.command(*_pad(ly=3.0)), [0.5, 0.0, 0.0])  # beyond full deflection: clamped
    assert mapping.command(*_pad(ly=1.0, enable=False)) is None


@pytest.mark.parametrize("axes,buttons,message", [
    ([0.0] * 3, [1] * 11, "3 axes"),
    ([0.0] * 8, [1] * 2, "2 buttons"),
    ([0.0, float("nan"), 0.0, 0.0], [1] * 5, "non-finite"),
])
def test_mapping_rejects_short_or_non_finite_messages(axes, buttons, message):
    """A Joy without the mapped axes or button, or with NaN: ValueError naming it."""
    with pytest.raises(ValueError, match=message):
        StickMapping().command(axes, buttons)


@pytest.mark.parametrize("kwargs", [{"deadband": 1.0}, {"axes": (1, -1, 3)}, {"scales": (0.5, float("inf"), 0.5)},
                                    {"enable_button": -1}])
def test_bad_mapping_is_refused(kwargs):
    """A deadband outside [0, 1), a negative index or an infinite scale is a clear error."""
    with pytest.raises(ValueError):
        StickMapping(**kwargs)


class Pad:
    """The test side: publishes Joy on /pad_joy, records cmd_vel with receive times."""

    def __init__(self):
        """Create the node."""
        self.node = rclpy.create_node("joy_teleop_test")
        self.joy = self.node.create_publisher(Joy, "/pad_joy", 10)
        self.received: list[tuple[float, Twist]] = []
        self.node.create_subscription(Twist, "/cmd_vel", lambda m: self.received.append((time.monotonic(), m)), 50)

    def send_for(self, seconds, **pad):
        """Publish the pad's state at 20 Hz for ``seconds`` (an empty ``pad``: publish nothing)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if pad:
                axes, buttons = _pad(**pad)
                self.joy.publish(Joy(axes=axes, buttons=buttons))
            rclpy.spin_once(self.node, timeout_sec=0.05)

    def last(self):
        """(vx, vy, wz) of the latest cmd_vel."""
        msg = self.received[-1][1]
        return [msg.linear.x, msg.linear.y, msg.angular.z]


def test_joy_teleop_steers_only_while_enabled_and_stops_on_release_or_silence():
    """The node in its own process: held + sticks -> cmd_vel at 10 Hz; released -> one zero, then nothing; Joy
    stopping while held -> one zero after joy_timeout; a NaN stick counts as released."""
    assert "enable_button" in subprocess.run([str(NODE), "--help"], capture_output=True, text=True).stdout
    bad = subprocess.run([str(NODE), "--ros-args", "-p", "deadband:=1.5"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "deadband" in bad.stderr
    rclpy.init()
    pad = Pad()
    node = subprocess.Popen([str(NODE), "--ros-args", "-p", "joy_topic:=/pad_joy"])
    try:
        deadline = time.monotonic() + 30.0
        while pad.joy.get_subscription_count() == 0 or not pad.node.count_publishers("/cmd_vel"):
            assert time.monotonic() < deadline, "joy_teleop did not come up"
            rclpy.spin_once(pad.node, timeout_sec=0.1)
        pad.send_for(1.0, ly=0.2, enable=False)  # not held: nothing at all
        assert not pad.received
        pad.send_for(1.5, ly=1.0, rx=0.55)
        assert pad.last() == pytest.approx([0.5, 0.0, 0.25])
        steering = [t for t, _ in pad.received]
        assert len(steering) >= 8 and np.median(np.diff(steering)) == pytest.approx(0.1, abs=0.03)
        count = len(pad.received)
        pad.send_for(1.0, ly=1.0, enable=False)  # released: one zero command, then nothing
        assert len(pad.received) == count + 1 and pad.last() == [0.0, 0.0, 0.0]
        pad.send_for(0.5, ly=-1.0)
        assert pad.last() == pytest.approx([-0.5, 0.0, 0.0])
        count = len(pad.received)
        pad.send_for(1.5)  # the pad goes silent while held
        silent = pad.received[count:]
        assert silent and [m.linear.x for _, m in silent][-1] == 0.0 and len(silent) <= 7  # 0.5 s timeout at 10 Hz
        pad.send_for(0.5, ly=-1.0)
        assert pad.last() == pytest.approx([-0.5, 0.0, 0.0])
        pad.send_for(0.5, ly=float("nan"))  # a broken pad: released, one zero command
        assert pad.last() == [0.0, 0.0, 0.0] and all(np.isfinite(m.linear.x) for _, m in pad.received)
    finally:
        node.terminate()
        node.wait(timeout=10)
        pad.node.destroy_node()
        rclpy.shutdown()
