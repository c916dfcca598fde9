"""One process driving simulated graphs from outside: what `make demo` and the benchmark scripts share.

- :func:`missing_models` (each missing model file with the commands that make it) and :func:`write_toy_models`
  (the toy policy and toy CMG of the tests);
- :func:`headless_graph`: the graph of ``twist_bringup/launch/sim.launch.py`` without rviz2 and
  robot_state_publisher (nothing to show the TF to);
- :func:`monitor_session`: the process's ROS side. rclpy's own signal handlers would shut its context down on
  Ctrl-C/SIGTERM before the robot is damped: SIGTERM raises KeyboardInterrupt instead, as Ctrl-C does, so the
  cleanup damps the bridge, then stops the nodes. DDS discovery stays on localhost in a domain of its own unless
  set (:func:`twist_node_common.workspace.sim_environment`). Yields the :class:`~twist_bringup.closed_loop.LoopMonitor`;
- each graph then runs in :func:`twist_bringup.closed_loop.graph_session` (start the nodes of :func:`graph_runner`,
  start, go; afterwards damp and stop them).
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from twist_bringup.graph_runner import GraphRunner
from twist_bringup.launch_graph import NodeSpec, config_dir, sim_graph
from twist_node_common.workspace import sim_environment

DEFAULT_POLICY = "models/student/policy.onnx"
DEFAULT_CMG = "models/cmg/cmg.onnx"
#: The packages whose nodes every closed-loop graph needs installed.
REQUIRED_PACKAGES = ("g1_bridge", "twist_reference", "twist_policy_node")

HOW_TO_GET = {
    "policy": ("the student policy is exported by tracker training (`export-policy`, the ONNX contract of "
               "twist_core.policy_runtime); see src/twist_training/README.md. Until one exists: make demo TOY=1"),
    "cmg": ("train and export a CMG (src/twist_training/README.md): walk-dataset --out data/walk --clips 200; "
            "cmg-prepare --motions data/walk --out data/cmg_data.npz; cmg-train --data data/cmg_data.npz "
            "--out runs/cmg; cmg-export --checkpoint runs/cmg/best.pt --out models/cmg/cmg.onnx"),
}

M = TypeVar("M")


def missing_models(policy: Path, cmg: Path) -> list[str]:
    """One message per model file that does not exist, with how to make it."""
    return [f"missing {what} file {path}: {HOW_TO_GET[what]}" for what, path in (("policy", policy), ("cmg", cmg))
            if not path.is_file()]


def write_toy_models(directory: Path, spec) -> tuple[Path, Path]:
    """The toy policy (targets = reference joints) and the toy CMG of the tests, written to ``directory``."""
    from twist_core.toy_models import write_toy_cmg, write_toy_policy

    return (write_toy_policy(directory / "toy_policy.onnx", spec), write_toy_cmg(directory / "toy_cmg.onnx", spec))


def headless_graph(**kwargs: Any) -> list[NodeSpec]:
    """:func:`~twist_bringup.launch_graph.sim_graph` (``kwargs``) without rviz2 and robot_state_publisher."""
    return [node for node in sim_graph("", config_dir(), rviz=False, **kwargs)
            if node.package != "robot_state_publisher"]


def graph_runner(graph: list[NodeSpec], log_dir: Path) -> GraphRunner:
    """The GraphRunner of a closed-loop ``graph`` (every node its own process), the node logs in ``log_dir``."""
    return GraphRunner(graph, log_dir=log_dir, required=REQUIRED_PACKAGES)


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def monitor_session(monitor_factory: Callable[[], M]) -> Iterator[M]:
    """SIGTERM as Ctrl-C, isolated DDS, rclpy without its signal handlers and the monitor; see the module docstring.

    The monitor (``monitor_factory()``, a LoopMonitor) is destroyed and rclpy shut down at the end.
    """
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    signal.signal(signal.SIGTERM, _interrupt)
    os.environ.update(sim_environment(os.environ))  # localhost discovery and a domain of its own, unless set
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    monitor = None
    try:
        monitor = monitor_factory()
        yield monitor
    finally:
        if monitor is not None:
            monitor.destroy_node()
        rclpy.try_shutdown()
