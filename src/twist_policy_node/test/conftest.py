"""DDS stays on loopback in a private domain; the robot spec and a toy policy for the tests."""

import os

import pytest

from twist_core.robot import load_robot_spec

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", "81")


@pytest.fixture(scope="session")
def spec():
    """The workspace's robot spec."""
    return load_robot_spec()


@pytest.fixture(scope="session")
def toy_policy(spec, tmp_path_factory):
    """The toy ONNX policy (joint targets = reference joints) in a temporary file."""
    from twist_core.toy_models import write_toy_policy

    return write_toy_policy(tmp_path_factory.mktemp("policy") / "toy_policy.onnx", spec)
