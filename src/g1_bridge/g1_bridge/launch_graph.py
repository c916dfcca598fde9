"""The simulation's node graph as plain data: what `launch/sim.launch.py` starts, testable without `ros2 launch`.

Each :class:`NodeSpec` maps one-to-one onto a ``launch_ros.actions.Node``. The graph:

* ``mujoco_bridge`` (this package), parameters from ``config/mujoco_bridge.yaml`` plus launch overrides;
* ``robot_state_publisher`` with the URDF generated from the same MJCF (``g1_bridge.urdf``), turning
  ``/joint_states`` into TF;
* a second ``robot_state_publisher`` in namespace ``reference`` with frame prefix ``reference/`` for the
  reference "ghost" (fed by ``/reference/joint_states`` from the reference publishers);
* optionally a reference publisher (``reference``): ``cmg_reference`` (cmd_vel -> reference with the CMG
  ``cmg_model``) or ``mocap_reference`` (plays ``motion_file``), both from ``cmg_node``;
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


REFERENCE_SOURCES = ("none", "cmg", "mocap")


def sim_graph(robot_description: str, config_dir: Path, clock_mode: str = "realtime", auto_start: bool = False,
              rviz: bool = True, reference: str = "none", cmg_model: str = "", motion_file: str = "") -> list[NodeSpec]:
    """The nodes of the MuJoCo simulation with rviz2 and, optionally, a reference publisher.

    ``reference`` is one of :data:`REFERENCE_SOURCES`: ``cmg`` needs ``cmg_model`` (an exported CMG .onnx),
    ``mocap`` needs ``motion_file``.
    """
    if clock_mode not in ("realtime", "lockstep"):
        raise ValueError(f"clock_mode must be realtime or lockstep, not {clock_mode!r}")
    if reference not in REFERENCE_SOURCES:
        raise ValueError(f"reference must be one of {', '.join(REFERENCE_SOURCES)}, not {reference!r}")
    if reference == "cmg" and not cmg_model:
        raise ValueError("reference cmg needs cmg_model (an exported CMG, e.g. models/cmg/cmg.onnx)")
    if reference == "mocap" and not motion_file:
        raise ValueError("reference mocap needs motion_file")
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
    if reference == "cmg":
        nodes.append(NodeSpec("cmg_node", "cmg_reference", "cmg_reference",
                              parameters=({"model_file": str(cmg_model), "use_sim_time": use_sim_time},)))
    elif reference == "mocap":
        nodes.append(NodeSpec("cmg_node", "mocap_reference", "mocap_reference",
                              parameters=({"motion_file": str(motion_file), "use_sim_time": use_sim_time},)))
    if rviz:
        nodes.append(NodeSpec("rviz2", "rviz2", "rviz2", arguments=("-d", str(config_dir / "g1.rviz")),
                              parameters=({"use_sim_time": use_sim_time},)))
    return nodes
