"""The simulation's node graph as plain data: what `launch/sim.launch.py` starts, testable without `ros2 launch`.

Each :class:`NodeSpec` maps one-to-one onto a ``launch_ros.actions.Node``. The graph:

* ``mujoco_bridge`` (this package), parameters from ``config/mujoco_bridge.yaml`` plus launch overrides;
* ``robot_state_publisher`` with the URDF generated from the same MJCF (``g1_bridge.urdf``), turning
  ``/joint_states`` into TF;
* a second ``robot_state_publisher`` in namespace ``reference`` with frame prefix ``reference/`` for the
  reference "ghost" (fed by ``/reference/joint_states`` from the reference publishers);
* ``rviz2`` with ``config/g1.rviz`` (optional).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    """One node to launch."""

    package: str
    executable: str
    name: str
    namespace: str = ""
    parameters: tuple[Any, ...] = ()  # YAML file paths (str) and dicts, applied in order
    arguments: tuple[str, ...] = ()


def sim_graph(robot_description: str, config_dir: Path, clock_mode: str = "realtime", auto_start: bool = False,
              rviz: bool = True) -> list[NodeSpec]:
    """The nodes of the MuJoCo simulation with rviz2."""
    if clock_mode not in ("realtime", "lockstep"):
        raise ValueError(f"clock_mode must be realtime or lockstep, not {clock_mode!r}")
    use_sim_time = clock_mode == "lockstep"  # lockstep publishes /clock
    nodes = [
        NodeSpec("g1_bridge", "mujoco_bridge", "mujoco_bridge",
                 parameters=(str(config_dir / "mujoco_bridge.yaml"),
                             {"clock_mode": clock_mode, "auto_start": auto_start})),
        NodeSpec("robot_state_publisher", "robot_state_publisher", "robot_state_publisher",
                 parameters=({"robot_description": robot_description, "use_sim_time": use_sim_time},)),
        NodeSpec("robot_state_publisher", "robot_state_publisher", "robot_state_publisher", namespace="reference",
                 parameters=({"robot_description": robot_description, "frame_prefix": "reference/",
                              "use_sim_time": use_sim_time},)),
    ]
    if rviz:
        nodes.append(NodeSpec("rviz2", "rviz2", "rviz2", arguments=("-d", str(config_dir / "g1.rviz")),
                              parameters=({"use_sim_time": use_sim_time},)))
    return nodes
