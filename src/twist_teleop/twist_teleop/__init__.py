"""Drive the G1 without the ROS 2 command-line tools: twist-ctl, the keyboard teleop and the gamepad/remote teleop."""

from __future__ import annotations

import os

from twist_node_common.workspace import sim_environment


def join_graph_environment() -> dict[str, str]:
    """Discover where the simulation does unless the environment chooses: localhost, domain 42 (``os.environ``).

    A command typed on a laptop then reaches ``make sim`` and never a robot's graph by accident; for the robot, set
    ``ROS_DOMAIN_ID`` (and ``ROS_AUTOMATIC_DISCOVERY_RANGE``) as for its launch. Returns the variables in force.
    """
    os.environ.update(sim_environment(os.environ))
    return {name: os.environ[name] for name in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")}
