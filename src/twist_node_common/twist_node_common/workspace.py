"""Where the workspace's processes are found and where they meet: installed executables and DDS isolation.

:func:`executable_path`: where ``ros2 run`` finds a package's executable (the ament index), for the graph runner of
``twist_bringup`` and the tests that start nodes and commands as a user does.

DDS isolation: a simulation or demo must never reach another machine's graph (a laptop's ``make demo`` publishing
``/cmd_vel`` into a robot's). :func:`sim_environment` gives its processes discovery on localhost only and a domain
of their own (:data:`SIM_DOMAIN_ID`) unless the environment already chooses them; the commands that join a graph
(``twist-ctl``, the teleops) use the same defaults, so that they reach ``make sim`` and never a robot by accident.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

SIM_DOMAIN_ID = 42  # the simulation's own ROS 2 domain, unless ROS_DOMAIN_ID is set


def executable_path(package: str, executable: str) -> Path | None:
    """Where ``ros2 run package executable`` would find the executable, or None when it is not installed."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        prefix = Path(get_package_prefix(package))
    except (PackageNotFoundError, ValueError):
        return None
    path = prefix / "lib" / package / executable
    return path if path.is_file() and os.access(path, os.X_OK) else None


def sim_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the simulation's DDS isolation: localhost discovery and domain SIM_DOMAIN_ID, unless set."""
    isolated = dict(env)
    isolated.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    isolated.setdefault("ROS_DOMAIN_ID", str(SIM_DOMAIN_ID))
    return isolated
