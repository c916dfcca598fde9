"""Every twist_msgs type goes from this process to another over real DDS and back, field for field."""

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

sys.path.insert(0, str(Path(__file__).parent))
from echo_peer import MESSAGE_TYPES  # noqa: E402
from msg_fill import random_message, random_value  # noqa: E402
from twist_msgs.msg import MotionFrame  # noqa: E402
from twist_msgs.srv import Reset  # noqa: E402

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
DISCOVERY_TIMEOUT_S = 30.0


def spin_until(node: Node, condition, timeout: float) -> bool:
    """Spin ``node`` until ``condition()`` holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        rclpy.spin_once(node, timeout_sec=0.05)
    return condition()


@pytest.fixture(scope="module")
def peer_node():
    """A node in this process and the echo peer in another process."""
    peer = subprocess.Popen([sys.executable, str(Path(__file__).parent / "echo_peer.py"),
                             "--seconds", "120"])
    rclpy.init()
    node = rclpy.create_node("twist_msgs_roundtrip_test")
    yield node
    node.destroy_node()
    rclpy.shutdown()
    peer.terminate()
    peer.wait(timeout=10)


@pytest.mark.parametrize("msg_type", MESSAGE_TYPES, ids=lambda t: t.__name__)
def test_message_roundtrip(peer_node, msg_type):
    """A randomly filled message comes back from the other process equal in every field."""
    topic = f"roundtrip/{msg_type.__name__}"
    received = []
    pub = peer_node.create_publisher(msg_type, topic, QOS)
    sub = peer_node.create_subscription(msg_type, topic + "/echo", received.append, QOS)
    try:
        assert spin_until(peer_node, lambda: pub.get_subscription_count() > 0
                          and sub.get_publisher_count() > 0, DISCOVERY_TIMEOUT_S), \
            f"echo peer not discovered on {topic} within {DISCOVERY_TIMEOUT_S} s"
        rng = random.Random(hash(msg_type.__name__) & 0xFFFF)
        sent = [random_message(rng, msg_type) for _ in range(3)]
        # Discovery is asymmetric: the peer's echo writer may match our reader a moment after we
        # see it, so a message sent right away can be echoed into the void. Resend what has not
        # come back yet until every message has been echoed once.
        deadline = time.monotonic() + 10.0
        while not all(msg in received for msg in sent) and time.monotonic() < deadline:
            for msg in sent:
                if msg not in received:
                    pub.publish(msg)
            spin_until(peer_node, lambda: all(msg in received for msg in sent), 0.5)
        for original in sent:
            if original in received:
                continue
            assert received, f"no {msg_type.__name__} echo arrived"
            for field in msg_type.get_fields_and_field_types():
                assert getattr(received[0], field) == getattr(original, field), field
            pytest.fail(f"{msg_type.__name__} was not echoed unchanged")
    finally:
        peer_node.destroy_publisher(pub)
        peer_node.destroy_subscription(sub)


def test_reset_service_roundtrip(peer_node):
    """The Reset service request, with a full MotionFrame inside, crosses processes intact."""
    client = peer_node.create_client(Reset, "roundtrip/reset")
    assert spin_until(peer_node, client.service_is_ready, DISCOVERY_TIMEOUT_S), "Reset service not found"
    rng = random.Random(5)
    request = Reset.Request(use_frame=True, joint_names=random_value(rng, "sequence<string>"),
                            frame=random_message(rng, MotionFrame))
    future = client.call_async(request)
    assert spin_until(peer_node, future.done, 10.0), "no Reset response"
    response = future.result()
    frame = request.frame
    assert response.success
    assert response.message == (f"joints={len(request.joint_names)} z={frame.root_pose.position.z:.3f} "
                                f"q0={frame.joint_positions[0]:.3f}")
