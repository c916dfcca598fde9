"""twist-ctl: the bridge's services, its status and /cmd_vel from a shell, without the ROS 2 command-line tools.

    twist-ctl start            ramp to the default pose (ZERO_TORQUE or DAMPING -> RAMP -> HOLD)
    twist-ctl go               hand the robot to the policy (HOLD -> POLICY)
    twist-ctl damp             damping, from any mode
    twist-ctl status [--watch] the bridge's mode, fault, pelvis height, ... (bridge_status)
    twist-ctl cmd VX VY WZ     walk: geometry_msgs/Twist on cmd_vel (m/s, m/s, rad/s) at --rate until Ctrl-C or
                               --duration, then a zero command; --once sends one message (cmg_reference holds it
                               for its cmd_timeout)

The bridge is the one found in the graph (mujoco_bridge or unitree_bridge; --bridge chooses). Unless
ROS_DOMAIN_ID and ROS_AUTOMATIC_DISCOVERY_RANGE are set, twist-ctl looks where the simulation runs (domain 42,
localhost): for the robot, export the domain of its graph (and --namespace when it was launched in one).
Exit codes: 0 done, 1 refused or nothing answered within --timeout, 2 bad usage.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from typing import Any, Sequence

from twist_core.safety import Fault, Mode

BRIDGES = ("mujoco_bridge", "unitree_bridge")
TRIGGERS = ("start", "go", "damp")


def finite_float(text: str) -> float:
    """A finite float (argparse type): NaN and Inf are refused."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not finite: {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite float > 0 (argparse type)."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def namespaced(namespace: str, name: str) -> str:
    """``/namespace/name`` (``/name`` without a namespace)."""
    return "/" + "/".join(filter(None, (namespace.strip("/"), name.strip("/"))))


def find_bridges(service_names: Sequence[str], namespace: str = "") -> list[str]:
    """The bridges (node names of :data:`BRIDGES`) whose ``~/start`` service is among ``service_names``."""
    pattern = re.compile(re.escape(namespaced(namespace, "")).rstrip("/") + r"/(" + "|".join(BRIDGES) + r")/start$")
    return sorted({m.group(1) for m in map(pattern.match, service_names) if m})


def format_status(msg: Any, bridge: str) -> str:
    """One line of a twist_msgs/BridgeStatus: mode, fault, pelvis height, gantry, real-time factor, warning."""
    parts = [f"{bridge}: mode {Mode(msg.mode).name}"]
    if msg.fault != Fault.NONE:
        parts.append(f"fault {Fault(msg.fault).name} ({msg.fault_message})")
    if math.isfinite(msg.pelvis_height):
        parts.append(f"pelvis {msg.pelvis_height:.2f} m")
    if msg.backend == "mujoco":
        parts.append(f"gantry {'engaged' if msg.gantry_engaged else 'released'}")
        parts.append(f"real-time factor {msg.real_time_factor:.2f}")
    parts.append(f"policy commands {msg.commands_received}"
                 + (f" (last {msg.command_age:.2f} s ago)" if msg.command_age >= 0 else ""))
    if msg.warning:
        parts.append(f"WARNING {msg.warning}")
    return ", ".join(parts)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; see the module docstring."""
    parser = argparse.ArgumentParser(prog="twist-ctl", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--bridge", choices=BRIDGES, help="the bridge's node name (default: the one found)")
    parser.add_argument("--namespace", default="", help="namespace the graph was launched in (e.g. g1)")
    parser.add_argument("--timeout", type=positive_float, default=10.0,
                        help="seconds to wait for the bridge or a subscriber (default 10)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in TRIGGERS:
        sub.add_parser(name, help=f"call the bridge's ~/{name} service")
    status = sub.add_parser("status", help="print the bridge's status")
    status.add_argument("--watch", action="store_true", help="a line per second until Ctrl-C")
    cmd = sub.add_parser("cmd", help="publish a velocity command on cmd_vel")
    cmd.add_argument("vx", type=finite_float, help="forward speed [m/s]")
    cmd.add_argument("vy", type=finite_float, help="sideways speed, left positive [m/s]")
    cmd.add_argument("wz", type=finite_float, help="yaw rate, counter-clockwise positive [rad/s]")
    cmd.add_argument("--rate", type=positive_float, default=10.0, help="publications per second (default 10)")
    cmd.add_argument("--duration", type=positive_float, help="seconds to publish, then zero (default: until Ctrl-C)")
    cmd.add_argument("--once", action="store_true", help="publish one message and exit (no zero afterwards)")
    return parser.parse_args(argv)


class Controller:
    """An rclpy node that finds the bridge, calls its services, reads its status and publishes cmd_vel."""

    def __init__(self, namespace: str, timeout: float) -> None:
        """Create the node (rclpy must be initialised)."""
        import rclpy

        self.rclpy = rclpy
        self.node = rclpy.create_node(f"twist_ctl_{os.getpid()}")
        self.namespace = namespace
        self.timeout = timeout

    def spin_until(self, condition, timeout: float) -> bool:
        """Spin the node until ``condition()`` holds or ``timeout`` seconds pass; whether it holds."""
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            self.rclpy.spin_once(self.node, timeout_sec=0.05)
        return bool(condition())

    def bridge(self, name: str | None) -> str:
        """The bridge to talk to: ``name``, or the only one found in the graph (RuntimeError otherwise)."""
        found: list[str] = []

        def look() -> bool:
            found[:] = find_bridges([n for n, _ in self.node.get_service_names_and_types()], self.namespace)
            return (name in found) if name else bool(found)

        if not self.spin_until(look, self.timeout):
            where = (f"ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID')}, "
                     f"ROS_AUTOMATIC_DISCOVERY_RANGE={os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE')}")
            wanted = name or " or ".join(BRIDGES)
            raise RuntimeError(f"no {wanted} answered within {self.timeout:g} s ({where}"
                               + (f", namespace {self.namespace}" if self.namespace else "")
                               + "): is the graph running (make sim)? For the robot, export its ROS_DOMAIN_ID")
        if not name and len(found) > 1:
            raise RuntimeError(f"several bridges in the graph ({', '.join(found)}): choose one with --bridge")
        return name or found[0]

    def trigger(self, bridge: str, what: str) -> tuple[bool, str]:
        """Call ``/<ns>/<bridge>/<what>`` (std_srvs/Trigger); its success and message."""
        from std_srvs.srv import Trigger

        client = self.node.create_client(Trigger, namespaced(self.namespace, f"{bridge}/{what}"))
        if not client.wait_for_service(timeout_sec=self.timeout):
            raise RuntimeError(f"{client.srv_name} is not available")
        future = client.call_async(Trigger.Request())
        if not self.spin_until(future.done, self.timeout):
            raise RuntimeError(f"{client.srv_name} did not answer within {self.timeout:g} s")
        response = future.result()
        return bool(response.success), str(response.message)

    def statuses(self, bridge: str, watch: bool):
        """Yield the bridge's status lines: the latest one, then (``watch``) one per second until Ctrl-C."""
        from twist_node_common.qos import STATUS_QOS
        from twist_msgs.msg import BridgeStatus

        latest: list[BridgeStatus] = []
        self.node.create_subscription(BridgeStatus, namespaced(self.namespace, "bridge_status"),
                                      lambda msg: latest.append(msg), STATUS_QOS)
        if not self.spin_until(lambda: latest, self.timeout):
            raise RuntimeError(f"no {namespaced(self.namespace, 'bridge_status')} within {self.timeout:g} s")
        yield format_status(latest[-1], bridge)
        while watch:
            latest.clear()
            self.spin_until(lambda: False, 1.0)
            yield format_status(latest[-1], bridge) if latest else f"{bridge}: no status for 1 s"

    def command(self, velocity: tuple[float, float, float], rate: float, duration: float | None,
                once: bool) -> int:
        """Publish ``velocity`` on cmd_vel (see the module docstring); the number of messages published."""
        from geometry_msgs.msg import Twist
        from rclpy.duration import Duration
        from twist_node_common.qos import CMD_VEL_QOS

        topic = namespaced(self.namespace, "cmd_vel")
        publisher = self.node.create_publisher(Twist, topic, CMD_VEL_QOS)
        if not self.spin_until(lambda: publisher.get_subscription_count() > 0, self.timeout):
            raise RuntimeError(f"nothing subscribes to {topic} within {self.timeout:g} s: is a reference publisher "
                               "running (make sim, reference:=cmg)?")
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.angular.z = velocity
        sent = 0
        end = math.inf if duration is None else time.monotonic() + duration
        try:
            next_publish = time.monotonic()
            while True:
                publisher.publish(msg)
                sent += 1
                if once:
                    break
                next_publish += 1.0 / rate
                if next_publish >= end:
                    self.spin_until(lambda: False, max(0.0, end - time.monotonic()))
                    break
                self.spin_until(lambda: False, max(0.0, next_publish - time.monotonic()))
        except KeyboardInterrupt:
            pass
        finally:
            if not once:
                publisher.publish(Twist())  # leave the robot with a zero command
                sent += 1
            publisher.wait_for_all_acked(Duration(seconds=1.0))
        return sent

    def close(self) -> None:
        """Destroy the node."""
        self.node.destroy_node()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from twist_teleop import join_graph_environment

    join_graph_environment()
    import rclpy

    rclpy.init(args=[])
    controller = Controller(args.namespace, args.timeout)
    try:
        if args.command == "cmd":
            sent = controller.command((args.vx, args.vy, args.wz), args.rate, args.duration, args.once)
            print(f"twist-ctl: {sent} Twist published on {namespaced(args.namespace, 'cmd_vel')}")
            return 0
        bridge = controller.bridge(args.bridge)
        if args.command == "status":
            for line in controller.statuses(bridge, args.watch):
                print(line, flush=True)
            return 0
        ok, message = controller.trigger(bridge, args.command)
        print(f"{bridge} {args.command}: {message}")
        return 0 if ok else 1
    except RuntimeError as exc:
        print(f"twist-ctl: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        controller.close()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
