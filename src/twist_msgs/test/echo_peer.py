"""A second process for the DDS round-trip test: echoes every twist_msgs topic and serves Reset.

For each message type T it subscribes to ``roundtrip/<T>`` and republishes what it receives,
unchanged, on ``roundtrip/<T>/echo``. It serves ``roundtrip/reset`` (twist_msgs/srv/Reset) and
answers with a message describing the request. It exits after ``--seconds`` or on SIGTERM.
"""

import argparse
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from twist_msgs.msg import BridgeStatus, JointCommand, MotionReference, RobotState
from twist_msgs.srv import Reset

MESSAGE_TYPES = (MotionReference, JointCommand, RobotState, BridgeStatus)
QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


class EchoPeer(Node):
    """Echo every message type back and answer Reset requests."""

    def __init__(self) -> None:
        super().__init__("twist_msgs_echo_peer")
        self._keep = []
        for msg_type in MESSAGE_TYPES:
            topic = f"roundtrip/{msg_type.__name__}"
            pub = self.create_publisher(msg_type, topic + "/echo", QOS)
            self._keep.append(self.create_subscription(msg_type, topic, pub.publish, QOS))
        self.create_service(Reset, "roundtrip/reset", self._on_reset)

    def _on_reset(self, request: Reset.Request, response: Reset.Response) -> Reset.Response:
        frame = request.frame
        response.success = request.use_frame
        response.message = (f"joints={len(request.joint_names)} "
                            f"z={frame.root_pose.position.z:.3f} "
                            f"q0={frame.joint_positions[0] if frame.joint_positions else 0.0:.3f}")
        return response


def main() -> None:
    """Run the peer until the deadline."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="exit after this long")
    args = parser.parse_args()
    rclpy.init()
    node = EchoPeer()
    deadline = time.monotonic() + args.seconds
    try:
        while rclpy.ok() and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
