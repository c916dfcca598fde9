"""Keyboard teleop: geometry_msgs/Twist on /cmd_vel for the CMG reference, in any terminal, without ROS 2 tools.

    teleop-keyboard [--step 0.1] [--rate 10] [--topic /cmd_vel]

Keys (the command stays until changed; it is republished at --rate, well within cmg_reference's cmd_timeout, so
the robot stops within that time when this program dies):

    w / s   forward / backward speed (linear.x) +- step
    q / e   sideways speed left / right (linear.y) +- step
    a / d   turn left / right (angular.z) +- step
    space   stop (all zero)            x or Ctrl-C   stop and quit

Unless ROS_DOMAIN_ID and ROS_AUTOMATIC_DISCOVERY_RANGE are set it publishes where the simulation runs (domain
42, localhost); for the robot, export the domain of its graph. With a full ROS 2 install the standard tools do
the same:
    ros2 topic pub /cmd_vel geometry_msgs/msg/Twist "{linear: {x: 0.5}}"
    ros2 run teleop_twist_keyboard teleop_twist_keyboard
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import time

KEYS = {"w": (0, 1.0), "s": (0, -1.0), "q": (1, 1.0), "e": (1, -1.0), "a": (2, 1.0), "d": (2, -1.0)}


def apply_key(command: list[float], key: str, step: float, limits: tuple[float, float, float]
              ) -> tuple[list[float], bool]:
    """The command after ``key`` (vx, vy, yaw rate, each clamped to +-limit) and whether to quit."""
    command = list(command)
    if key in ("x", "\x03"):
        return [0.0, 0.0, 0.0], True
    if key == " ":
        return [0.0, 0.0, 0.0], False
    if key.lower() in KEYS:
        axis, sign = KEYS[key.lower()]
        value = round(command[axis] + sign * step, 6)
        command[axis] = max(-limits[axis], min(limits[axis], value))
    return command, False


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="teleop-keyboard", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--topic", default="/cmd_vel", help="topic (default /cmd_vel)")
    parser.add_argument("--step", type=float, default=0.1, help="change per key press (m/s or rad/s)")
    parser.add_argument("--rate", type=float, default=10.0, help="publications per second")
    parser.add_argument("--max-linear", type=float, default=1.0, help="limit of |linear.x| and |linear.y| [m/s]")
    parser.add_argument("--max-angular", type=float, default=1.0, help="limit of |angular.z| [rad/s]")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Read keys, publish Twist; see the module docstring."""
    args = parse_args(argv)
    if not sys.stdin.isatty():
        print("teleop-keyboard: needs a terminal (stdin is not a tty); use ros2 topic pub for scripts",
              file=sys.stderr)
        return 2
    import termios
    import tty

    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.duration import Duration

    from twist_teleop import join_graph_environment

    join_graph_environment()
    rclpy.init(args=[])
    node = rclpy.create_node(f"teleop_keyboard_{os.getpid()}")
    publisher = node.create_publisher(Twist, args.topic, 10)
    limits = (args.max_linear, args.max_linear, args.max_angular)
    command = [0.0, 0.0, 0.0]
    saved = termios.tcgetattr(sys.stdin)
    print(__doc__.split("\n\n")[2].rstrip(), flush=True)

    def publish() -> None:
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.angular.z = command
        publisher.publish(msg)

    try:
        tty.setcbreak(sys.stdin.fileno())
        next_publish = time.monotonic()
        while True:
            ready, _, _ = select.select([sys.stdin], [], [], max(0.0, next_publish - time.monotonic()))
            quit_now = False
            if ready:  # os.read, not sys.stdin.read: a buffered read would hide keys from select
                for key in os.read(sys.stdin.fileno(), 32).decode(errors="ignore"):
                    command, quit_now = apply_key(command, key, args.step, limits)
                    if quit_now:
                        break
                print(f"\rvx {command[0]:+.2f} m/s  vy {command[1]:+.2f} m/s  yaw rate {command[2]:+.2f} rad/s   ",
                      end="", flush=True)
                if quit_now:
                    break
            if time.monotonic() >= next_publish:
                publish()
                next_publish += 1.0 / args.rate
    except KeyboardInterrupt:
        pass
    finally:
        command = [0.0, 0.0, 0.0]
        publish()  # leave the robot with a zero command, delivered before the node goes away
        publisher.wait_for_all_acked(Duration(seconds=1.0))
        termios.tcsetattr(sys.stdin, termios.TCSADRAIN, saved)
        print()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
