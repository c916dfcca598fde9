"""The node graphs as plain data, for the launch files and for starting them without `ros2 launch`.

The launch files of ``twist_bringup`` (``sim.launch.py``, ``real.launch.py``) build their nodes from here; so does
`twist_bringup.graph_runner`, which starts them as plain processes (`make sim`, `make demo`, the end-to-end tests).

Each :class:`NodeSpec` maps one-to-one onto a ``launch_ros.actions.Node``. The simulation (:func:`sim_graph`):

* ``mujoco_bridge`` (this package), parameters from ``config/mujoco_bridge.yaml`` plus overrides;
* ``robot_state_publisher`` with the URDF generated from the same MJCF (``twist_bringup.urdf``), turning
  ``/joint_states`` into TF;
* a second ``robot_state_publisher`` in namespace ``reference`` with frame prefix ``reference/`` for the
  reference "ghost" (fed by ``/reference/joint_states`` from the reference publishers);
* optionally a reference publisher (``reference``): ``cmg_reference`` (cmd_vel -> reference with the CMG
  ``cmg_model``), ``mocap_reference`` (plays ``motion_file``) or ``teleop_reference`` (a live stream on
  ``teleop/joint_states`` and ``teleop/root_pose``; with a ``cmg_model`` its upper-body mode walks with the CMG),
  all from ``twist_reference``;
* optionally the student policy ``twist_policy`` (``twist_policy_node``, ``policy_file``), parameters from
  ``config/twist_policy.yaml`` plus the file, closing the loop reference -> policy -> bridge; with a ``cmg_model``
  the policy also gets it as ``stop_model``, so a lost reference ends in a controlled stop;
* ``rviz2`` with ``config/g1.rviz`` (optional).

In lockstep every node but the bridge runs on simulated time (``use_sim_time``; the bridge publishes /clock) and the
policy waits up to ``LOCKSTEP_REFERENCE_WAIT`` for the reference of each tick (``reference_wait``), so the reference
publisher cannot fall behind a simulation running faster than real time (in real time the reference node ticks on each
robot_state, ``tick_on_state``, and the policy waits up to ``REALTIME_REFERENCE_WAIT`` for it); with a policy, the
bridge waits up to ``LOCKSTEP_COMMAND_WAIT`` for each tick's command (``lockstep_timeout``). Both are generous:
lockstep is for determinism, and a node starved of CPU for a moment (a loaded machine) must not change what is
simulated; they cost time only when a node is missing (a dead policy still gets damped, ``command_deadline`` simulated
seconds later).
The real robot (:func:`real_graph`) is the same graph with ``unitree_bridge`` (parameters from
``config/unitree_bridge.yaml`` plus overrides) in place of ``mujoco_bridge``, on wall-clock time, optionally in a
namespace.

Configuration (:func:`config_dir`): the nodes' parameter files and the rviz config are those installed to the
share directory of the bringup package ``twist_bringup`` (with its launch files), found through the ament index.

DDS isolation: a simulation or demo must never reach another machine's graph (a laptop's ``make demo`` publishing
``/cmd_vel`` into a robot's): :func:`twist_node_common.workspace.sim_environment` gives its processes discovery on
localhost only and a domain of their own (``SIM_DOMAIN_ID``, 42) unless the environment already chooses them.
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


REFERENCE_SOURCES = ("none", "cmg", "mocap", "teleop")
LOCKSTEP_REFERENCE_WAIT = 0.4  # s (wall) the policy waits for each tick's reference in lockstep
REALTIME_REFERENCE_WAIT = 0.008  # s the policy waits in real time for the reference its state triggered
LOCKSTEP_COMMAND_WAIT = 0.5  # s (wall) the bridge waits for each tick's command in lockstep, with a policy
BRINGUP_PACKAGE = "twist_bringup"  # launch files and configuration, in its share directory


def config_dir() -> Path:
    """The graph's configuration: ``config/`` in the share directory of ``twist_bringup`` (the ament index).

    ``twist_bringup`` depends on this package (its launch files use these graphs), so the dependency is not declared
    back; a workspace without it built raises FileNotFoundError saying so.
    """
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        share = Path(get_package_share_directory(BRINGUP_PACKAGE))
    except (PackageNotFoundError, ValueError):
        raise FileNotFoundError(f"package {BRINGUP_PACKAGE} (launch files and configuration) is not installed: "
                                "build the workspace (make build) and source install/setup.bash") from None
    return share / "config"


def _check_reference(reference: str, cmg_model: str, motion_file: str) -> None:
    if reference not in REFERENCE_SOURCES:
        raise ValueError(f"reference must be one of {', '.join(REFERENCE_SOURCES)}, not {reference!r}")
    if reference == "cmg" and not cmg_model:
        raise ValueError("reference cmg needs cmg_model (an exported CMG, e.g. models/cmg/cmg.onnx)")
    if reference == "mocap" and not motion_file:
        raise ValueError("reference mocap needs motion_file")


def _loop_nodes(robot_description: str, config_dir: Path, use_sim_time: bool, rviz: bool, reference: str,
                cmg_model: str, motion_file: str, policy_file: str, namespace: str = "",
                motion_fps: float = 0.0) -> list[NodeSpec]:
    """Everything but the bridge: robot and ghost state publishers, reference, policy, rviz2."""
    nodes = [
        NodeSpec("robot_state_publisher", "robot_state_publisher", "robot_state_publisher",
                 parameters=({"robot_description": robot_description, "use_sim_time": use_sim_time},)),
        NodeSpec("robot_state_publisher", "robot_state_publisher", "robot_state_publisher",
                 namespace="/".join(filter(None, (namespace, "reference"))),
                 parameters=({"robot_description": robot_description, "frame_prefix": "reference/",
                              "use_sim_time": use_sim_time},)),
    ]
    # real time: the reference ticks on each robot_state (the policy waits for that reference, below)
    timing = {"use_sim_time": use_sim_time, "tick_on_state": not use_sim_time}
    if reference == "cmg":
        nodes.append(NodeSpec("twist_reference", "cmg_reference", "cmg_reference",
                              parameters=({"model_file": str(cmg_model), **timing},)))
    elif reference == "mocap":
        mocap = {"motion_file": str(motion_file), **timing}
        if motion_fps > 0:  # a file without a frame rate (G1 CSV)
            mocap["fps"] = float(motion_fps)
        nodes.append(NodeSpec("twist_reference", "mocap_reference", "mocap_reference", parameters=(mocap,)))
    elif reference == "teleop":
        teleop = dict(timing)
        if cmg_model:  # upper_body and cmg_only modes
            teleop["model_file"] = str(cmg_model)
        nodes.append(NodeSpec("twist_reference", "teleop_reference", "teleop_reference", parameters=(teleop,)))
    if policy_file:
        policy = {"policy_file": str(policy_file), "use_sim_time": use_sim_time}
        if cmg_model:  # the controlled stop when the reference is lost
            policy["stop_model"] = str(cmg_model)
        # lockstep: wait for the reference of each tick (the reference joins the lockstep); real time: for the
        # reference the state made the reference node compute (its tick_on_state), a few milliseconds at most
        policy["reference_wait"] = LOCKSTEP_REFERENCE_WAIT if use_sim_time else REALTIME_REFERENCE_WAIT
        nodes.append(NodeSpec("twist_policy_node", "twist_policy", "twist_policy",
                              parameters=(str(config_dir / "twist_policy.yaml"), policy)))
    if rviz:
        nodes.append(NodeSpec("rviz2", "rviz2", "rviz2", arguments=("-d", str(config_dir / "g1.rviz")),
                              parameters=({"use_sim_time": use_sim_time},)))
    return [n if n.namespace else dataclasses.replace(n, namespace=namespace) for n in nodes]


def sim_graph(robot_description: str, config_dir: Path, clock_mode: str = "realtime", auto_start: bool = False,
              rviz: bool = True, reference: str = "none", cmg_model: str = "", motion_file: str = "",
              policy_file: str = "", bridge_parameters: dict[str, Any] | None = None,
              motion_fps: float = 0.0) -> list[NodeSpec]:
    """The nodes of the MuJoCo simulation with rviz2 and, optionally, a reference publisher and the policy.

    ``reference`` is one of :data:`REFERENCE_SOURCES`: ``cmg`` needs ``cmg_model`` (an exported CMG .onnx),
    ``mocap`` needs ``motion_file`` (and ``motion_fps`` for a file without a frame rate, a G1 CSV); the clip starts
    when the bridge hands the robot to the policy; ``teleop`` follows a live stream (``teleop-replay`` makes one).
    A ``policy_file`` adds the policy node. ``bridge_parameters`` are further overrides of the bridge's parameters
    (e.g. ``release_gantry_on_go``).
    """
    if clock_mode not in ("realtime", "lockstep"):
        raise ValueError(f"clock_mode must be realtime or lockstep, not {clock_mode!r}")
    _check_reference(reference, cmg_model, motion_file)
    use_sim_time = clock_mode == "lockstep"  # lockstep publishes /clock
    overrides: dict[str, Any] = {"clock_mode": clock_mode, "auto_start": auto_start}
    if use_sim_time and policy_file:
        overrides["lockstep_timeout"] = LOCKSTEP_COMMAND_WAIT
    bridge = NodeSpec("g1_bridge", "mujoco_bridge", "mujoco_bridge",
                      parameters=(str(config_dir / "mujoco_bridge.yaml"), {**overrides, **(bridge_parameters or {})}))
    return [bridge] + _loop_nodes(robot_description, config_dir, use_sim_time, rviz, reference, cmg_model,
                                  motion_file, policy_file, motion_fps=motion_fps)


def real_graph(robot_description: str, config_dir: Path, policy_file: str, reference: str = "cmg",
               cmg_model: str = "", motion_file: str = "", rviz: bool = True,
               bridge_parameters: dict[str, Any] | None = None, namespace: str = "",
               motion_fps: float = 0.0, remote_steering: bool = True) -> list[NodeSpec]:
    """The nodes on the real G1: ``unitree_bridge``, reference publisher, policy, state publishers, rviz2.

    Wall-clock time everywhere. The bridge reads ``config/unitree_bridge.yaml``; ``bridge_parameters`` override
    it (at least ``network_interface`` on most machines; ``dds_domain`` 1 and ``release_motion_service`` false
    against ``unitree_sim``). ``namespace``: every node in it (the ghost's state publisher in
    ``<namespace>/reference``), so that the robot's topics and services are ``/<namespace>/...``.
    ``remote_steering``: ``joy_teleop`` (twist_teleop) turns the wireless remote's sticks, which the bridge
    publishes as ``wireless_remote``, into ``cmd_vel`` while L1 is held.
    """
    if not policy_file:
        raise ValueError("the real robot needs policy_file (an exported student policy)")
    _check_reference(reference, cmg_model, motion_file)
    namespace = namespace.strip("/")
    bridge = NodeSpec("g1_bridge", "unitree_bridge", "unitree_bridge", namespace=namespace,
                      parameters=(str(config_dir / "unitree_bridge.yaml"), dict(bridge_parameters or {})))
    steering = [NodeSpec("twist_teleop", "joy_teleop", "joy_teleop", namespace=namespace,
                         parameters=({"joy_topic": "wireless_remote"},))] if remote_steering else []
    return [bridge] + _loop_nodes(robot_description, config_dir, False, rviz, reference, cmg_model, motion_file,
                                  policy_file, namespace, motion_fps=motion_fps) + steering


def override_parameters(graph: list[NodeSpec], overrides: dict[str, dict[str, Any]]) -> list[NodeSpec]:
    """``graph`` with ``overrides[node name]`` applied last to that node's parameters (node names of the graph only).

    Raises ``ValueError`` naming an override's node that the graph does not have.
    """
    names = {n.name for n in graph}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"no node {', '.join(unknown)} in the graph (nodes: {', '.join(sorted(names))})")
    return [dataclasses.replace(n, parameters=n.parameters + (dict(overrides[n.name]),)) if n.name in overrides
            else n for n in graph]


def parse_override(text: str) -> tuple[str, str, Any]:
    """'node:name=value' -> (node, name, value), the value read as YAML (0.0 a float, true a bool)."""
    import yaml

    node, sep, rest = text.partition(":")
    name, eq, value = rest.partition("=")
    if not (sep and eq and node and name):
        raise ValueError(f"a parameter override is node:name=value, not {text!r}")
    return node, name, yaml.safe_load(value)


def collect_overrides(texts: list[str]) -> dict[str, dict[str, Any]]:
    """'node:name=value' texts -> {node: {name: value}} for :func:`override_parameters`."""
    overrides: dict[str, dict[str, Any]] = {}
    for node, name, value in map(parse_override, texts):
        overrides.setdefault(node, {})[name] = value
    return overrides


def launch_nodes(graph: list[NodeSpec]) -> list[Any]:
    """``launch_ros.actions.Node`` actions for ``graph`` (needs a ROS 2 install with launch_ros)."""
    from launch_ros.actions import Node

    return [Node(package=n.package, executable=n.executable, name=n.name, namespace=n.namespace or None,
                 parameters=list(n.parameters), arguments=list(n.arguments), output="screen") for n in graph]
