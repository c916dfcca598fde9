"""The message contract: stamps, sequences, joint names and distinct constants."""

import pytest
from twist_msgs.msg import BridgeStatus, JointCommand, MotionReference, RobotState

TOPIC_TYPES = (MotionReference, JointCommand, RobotState, BridgeStatus)


@pytest.mark.parametrize("msg_type", TOPIC_TYPES, ids=lambda t: t.__name__)
def test_every_topic_message_is_stamped_and_sequenced(msg_type):
    """Each message published on a topic carries a header and a uint64 sequence."""
    fields = msg_type.get_fields_and_field_types()
    assert fields["header"] == "std_msgs/Header"
    assert fields["sequence"] == "uint64"


@pytest.mark.parametrize("msg_type", (MotionReference, JointCommand, RobotState), ids=lambda t: t.__name__)
def test_joint_messages_name_their_joints(msg_type):
    """Joint arrays travel with their names so a receiver can detect a wrong order."""
    assert msg_type.get_fields_and_field_types()["joint_names"] == "sequence<string>"


@pytest.mark.parametrize("prefix", ["MODE_", "FAULT_", "CLOCK_MODE_"])
def test_bridge_status_constants_are_distinct(prefix):
    """No two modes (or faults, or clock modes) share a value."""
    values = {k: getattr(BridgeStatus, k) for k in dir(BridgeStatus) if k.startswith(prefix)}
    assert len(values) >= 2
    assert len(set(values.values())) == len(values)


def test_robot_state_mode_uses_bridge_modes():
    """RobotState.mode carries BridgeStatus.MODE_* values, all of which fit its uint8."""
    assert RobotState.get_fields_and_field_types()["mode"] == "uint8"
    modes = [getattr(BridgeStatus, k) for k in dir(BridgeStatus) if k.startswith("MODE_")]
    assert sorted(modes) == list(range(len(modes)))


def test_sources_and_command_modes():
    """Reference sources and command modes are the documented, distinct values."""
    assert (MotionReference.SOURCE_HOLD, MotionReference.SOURCE_CMG, MotionReference.SOURCE_MOCAP,
            MotionReference.SOURCE_TELEOP) == (0, 1, 2, 3)
    assert (JointCommand.MODE_POLICY, JointCommand.MODE_HOLD, JointCommand.MODE_DAMP) == (0, 1, 2)
