"""ROS 2 node `joy_teleop`: a gamepad or the G1's wireless remote (sensor_msgs/Joy) steers ``cmd_vel``.

Subscribes ``joy_topic`` (sensor_msgs/Joy: ``joy`` from joy_node; ``wireless_remote`` from the real bridge).
While ``enable_button`` is held (L1 on the remote, LB on an Xbox-style pad) it publishes ``cmd_vel``
(geometry_msgs/Twist) at ``rate``: the sticks through :class:`twist_teleop.sticks.StickMapping` (deadband, then
``max_vx``, ``max_vy``, ``max_wz`` at full deflection). When the button is released, or no Joy arrives for
``joy_timeout`` seconds while it is held, it publishes one zero command and then nothing, so other sources of
``cmd_vel`` (twist-ctl, teleop-keyboard) are not overridden. A Joy that lacks the mapped axes or button, or has a
non-finite axis, counts as released (a throttled warning says why).

    ros2 run twist_teleop joy_teleop [--ros-args -p joy_topic:=wireless_remote -p NAME:=VALUE ...]
"""

from __future__ import annotations

import sys
import time

import numpy as np
import rclpy
from geometry_msgs.msg import Twist
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Joy

from twist_teleop.sticks import StickMapping

PARAMETERS = {
    "joy_topic": ("joy", "sensor_msgs/Joy to read (the real bridge publishes the remote as wireless_remote)"),
    "axis_vx": (1, "Joy axis of the forward speed (up positive)"),
    "axis_vy": (0, "Joy axis of the sideways speed (left positive)"),
    "axis_wz": (3, "Joy axis of the yaw rate (left positive)"),
    "max_vx": (0.5, "forward speed at full deflection [m/s]"),
    "max_vy": (0.3, "sideways speed at full deflection [m/s]"),
    "max_wz": (0.5, "yaw rate at full deflection [rad/s]"),
    "deadband": (0.1, "stick travel around centre that counts as zero (fraction of full deflection)"),
    "enable_button": (4, "Joy button that must be held to steer (4: L1 on the remote, LB on a gamepad)"),
    "rate": (10.0, "cmd_vel publications per second while steering"),
    "joy_timeout": (0.5, "seconds without Joy while steering before a zero command is sent"),
}
CMD_VEL_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


class JoyTeleop(Node):
    """See the module docstring."""

    def __init__(self, **overrides) -> None:
        """Declare the parameters, check the mapping (ValueError), subscribe and start the timer."""
        super().__init__("joy_teleop", parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
        p = {name: self.declare_parameter(name, default).value for name, (default, _) in PARAMETERS.items()}
        if not p["rate"] > 0 or not p["joy_timeout"] > 0:
            raise ValueError(f"rate and joy_timeout must be > 0, not {p['rate']} and {p['joy_timeout']}")
        self.mapping = StickMapping((p["axis_vx"], p["axis_vy"], p["axis_wz"]),
                                    (p["max_vx"], p["max_vy"], p["max_wz"]), p["deadband"], p["enable_button"])
        self.joy_timeout = p["joy_timeout"]
        self.command: np.ndarray | None = None
        self.received = -float("inf")
        self.steering = False
        self.publisher = self.create_publisher(Twist, "cmd_vel", CMD_VEL_QOS)
        self.create_subscription(Joy, p["joy_topic"], self._on_joy, 10)
        self.create_timer(1.0 / p["rate"], self._tick, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(f"steering cmd_vel from {self.resolve_topic_name(p['joy_topic'])} while button "
                               f"{p['enable_button']} is held: axes {self.mapping.axes}, at most "
                               f"{self.mapping.scales}, deadband {p['deadband']}")

    def _on_joy(self, msg: Joy) -> None:
        try:
            self.command = self.mapping.command(msg.axes, msg.buttons)
        except ValueError as exc:
            self.command = None
            self.get_logger().warning(f"Joy ignored: {exc}", throttle_duration_sec=1.0)
        self.received = time.monotonic()

    def _tick(self) -> None:
        fresh = time.monotonic() - self.received <= self.joy_timeout
        if self.command is not None and fresh:
            msg = Twist()
            msg.linear.x, msg.linear.y, msg.angular.z = map(float, self.command)
            self.publisher.publish(msg)
            self.steering = True
        elif self.steering:
            self.publisher.publish(Twist())
            self.steering = False
            if not fresh:
                self.get_logger().warning(f"no Joy for {self.joy_timeout} s while steering: zero command sent")


def usage() -> str:
    """The --help text."""
    lines = [__doc__, "Usage: ros2 run twist_teleop joy_teleop [--ros-args -p NAME:=VALUE ...]", "", "Parameters:"]
    lines += [f"  {name:<16} {default!r:<8} {text}" for name, (default, text) in PARAMETERS.items()]
    return "\n".join(lines)


def main(args: list[str] | None = None) -> None:
    """Entry point; a bad parameter exits with code 2 and the reason."""
    if "--help" in (sys.argv if args is None else args) or "-h" in (sys.argv if args is None else args):
        print(usage())
        return
    rclpy.init(args=args)
    node = None
    try:
        node = JoyTeleop()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ValueError as exc:
        print(f"joy_teleop: cannot start: {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
