"""Shared fixtures: the robot spec and its MuJoCo model."""

import pytest

from twist_core.model import load_model
from twist_core.robot import default_config_path, load_robot_spec


@pytest.fixture(scope="session")
def spec():
    """The workspace's robot spec, cross-checked against the model."""
    return load_robot_spec()


@pytest.fixture(scope="session")
def mj_model(spec):
    """The robot alone (no floor), compiled once."""
    return load_model(spec, entry=spec.model.robot_entry)


@pytest.fixture()
def config_text():
    """The text of config/g1.yaml, for tests that corrupt it."""
    return default_config_path().read_text()
