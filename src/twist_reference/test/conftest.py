"""DDS stays on loopback in a private domain; the robot spec for the tests."""

import os

import pytest

from twist_core.robot import load_robot_spec

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", "79")


@pytest.fixture(scope="session")
def spec():
    """The workspace's robot spec."""
    return load_robot_spec()
