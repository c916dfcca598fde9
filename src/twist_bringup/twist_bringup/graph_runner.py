r"""Start a node graph of `twist_bringup.launch_graph` without `ros2 launch`: each node its own process.

Each :class:`~twist_bringup.launch_graph.NodeSpec` becomes the command ``ros2 launch`` would run: the package's
executable from the ament index (``<prefix>/lib/<package>/<executable>``, where colcon installs console scripts),
its ``arguments``, then ``--ros-args -r __node:=NAME [-r __ns:=/NS]`` and one ``--params-file`` per parameter
entry (dicts are written to YAML files, as launch_ros does). Nodes whose package is not installed (rviz2 and
robot_state_publisher are not in the PyPI wheels) are skipped with a message, or refused with ``required``.

Processes start in their own session, so a Ctrl-C in the terminal reaches only the runner, which can damp the
robot first and then stop the nodes in reverse order (SIGINT, then SIGTERM, then SIGKILL). The command line runs
the simulation isolated (``twist_node_common.workspace.sim_environment``: localhost discovery, domain 42 unless set).

Command line (the simulation graph, like ``ros2 launch twist_bringup sim.launch.py``)::

    python -m twist_bringup.graph_runner --clock-mode lockstep --reference cmg --cmg-model models/cmg/cmg.onnx \\
        --policy-file models/student/policy.onnx [--no-rviz] [--auto-start] [--viewer | --record FILE.mp4]
        [--log-dir DIR] [--dry-run]

``make sim`` runs it in real time with the shipped models: the MuJoCo viewer when a display exists, else an mp4.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Sequence

import yaml

from twist_bringup.launch_graph import REFERENCE_SOURCES, NodeSpec, config_dir, sim_graph
from twist_node_common.workspace import executable_path, sim_environment


def node_label(node: NodeSpec) -> str:
    """``/namespace/name`` of a node."""
    return f"/{node.namespace}/{node.name}" if node.namespace else f"/{node.name}"


def node_command(node: NodeSpec, executable: Path | str, params_dir: Path) -> list[str]:
    """The command line of ``node``; dict parameters are written as YAML files into ``params_dir``."""
    args = [str(executable), *node.arguments, "--ros-args", "-r", f"__node:={node.name}"]
    if node.namespace:
        args += ["-r", f"__ns:=/{node.namespace}"]
    for index, entry in enumerate(node.parameters):
        if isinstance(entry, dict):
            path = params_dir / f"{node_label(node).strip('/').replace('/', '__')}_{index}.yaml"
            path.write_text(yaml.safe_dump({"/**": {"ros__parameters": dict(entry)}}, sort_keys=False))
            entry = str(path)
        args += ["--params-file", str(entry)]
    return args


class GraphRunner:
    """Starts, watches and stops the processes of a node graph; see the module docstring."""

    def __init__(self, nodes: Sequence[NodeSpec], log_dir: Path | str | None = None,
                 required: Sequence[str] = (), env: dict[str, str] | None = None) -> None:
        """Prepare ``nodes``; ``log_dir`` receives one log per node (else output goes to this terminal).

        ``required`` names packages that must be installed (missing ones raise FileNotFoundError at start).
        """
        self.nodes = list(nodes)
        self.log_dir = Path(log_dir) if log_dir else None
        self.required = set(required)
        self.env = env
        self.processes: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, list[str]] = {}
        self.skipped: dict[str, str] = {}
        self.logs: dict[str, Path] = {}
        self._files: list[IO] = []
        self._params = tempfile.TemporaryDirectory(prefix="twist_graph_")

    def plan(self) -> None:
        """Resolve every executable and write the parameter files (no process is started)."""
        for node in self.nodes:
            label = node_label(node)
            path = executable_path(node.package, node.executable)
            if path is None:
                reason = f"{node.package}/{node.executable} is not installed"
                if node.package in self.required:
                    raise FileNotFoundError(f"{label}: {reason} (build the workspace: make build)")
                self.skipped[label] = reason
                continue
            self.commands[label] = node_command(node, path, Path(self._params.name))

    def start(self) -> None:
        """Start every installed node in its own process and session."""
        if not self.commands and not self.skipped:
            self.plan()
        for label, command in self.commands.items():
            output = None
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                self.logs[label] = self.log_dir / f"{label.strip('/').replace('/', '__')}.log"
                output = open(self.logs[label], "w")  # noqa: SIM115 - closed in stop()
                self._files.append(output)
            self.processes[label] = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT if output
                                                     else None, start_new_session=True, env=self.env)

    def exited(self) -> dict[str, int]:
        """Nodes whose process has ended, with their exit codes."""
        return {label: p.returncode for label, p in self.processes.items() if p.poll() is not None}

    def kill(self, label: str) -> None:
        """SIGKILL one node (tests: a crashing process)."""
        self.processes[label].kill()
        self.processes[label].wait()

    def stop(self, timeout: float = 10.0) -> dict[str, int]:
        """Stop every node, last started first: SIGINT, then SIGTERM, then SIGKILL; returns the exit codes."""
        for label in reversed(list(self.processes)):
            process = self.processes[label]
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
                if process.poll() is not None:
                    break
                process.send_signal(sig)
                try:
                    process.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    continue
        for handle in self._files:
            handle.close()
        self._files.clear()
        self._params.cleanup()
        return {label: p.returncode for label, p in self.processes.items()}

    def describe(self) -> str:
        """One line per node: its command, or why it is skipped."""
        lines = [f"{label}: {' '.join(cmd)}" for label, cmd in self.commands.items()]
        lines += [f"{label}: skipped ({reason})" for label, reason in self.skipped.items()]
        return "\n".join(lines)

    def __enter__(self) -> "GraphRunner":
        """Start the graph."""
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        """Stop the graph."""
        self.stop()


def cli_parser() -> argparse.ArgumentParser:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m twist_bringup.graph_runner", description=__doc__.split("\n")[0])
    parser.add_argument("--clock-mode", default="realtime", choices=["realtime", "lockstep"])
    parser.add_argument("--auto-start", action="store_true", help="ramp to the default pose at once")
    parser.add_argument("--no-rviz", action="store_true", help="leave out rviz2")
    parser.add_argument("--reference", default="none", choices=REFERENCE_SOURCES)
    parser.add_argument("--cmg-model", default="",
                        help="exported CMG for --reference cmg (and teleop's upper-body mode)")
    parser.add_argument("--motion-file", default="", help="motion file for --reference mocap")
    parser.add_argument("--motion-fps", type=float, default=0.0,
                        help="frame rate of a motion file without one (G1 CSV: e.g. 60)")
    parser.add_argument("--policy-file", default="", help="exported student policy (adds the policy node)")
    parser.add_argument("--viewer", action="store_true", help="open the MuJoCo viewer window (needs a display)")
    parser.add_argument("--record", default="", metavar="FILE.mp4",
                        help="record the simulation to an mp4 (offscreen rendering; no display needed)")
    parser.add_argument("--log-dir", default="", help="one log file per node here (default: this terminal)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands and exit")
    return parser


def cli_graph(args: argparse.Namespace) -> list[NodeSpec]:
    """The simulation graph the command line asks for (paths made absolute); ValueError for a bad combination."""
    absolute = lambda p: str(Path(p).expanduser().resolve()) if p else ""  # noqa: E731
    description = ""
    if executable_path("robot_state_publisher", "robot_state_publisher") is not None:
        from twist_bringup.urdf import build_urdf
        from twist_core.robot import load_robot_spec

        description = build_urdf(load_robot_spec())
    return sim_graph(description, config_dir(), clock_mode=args.clock_mode, auto_start=args.auto_start,
                     rviz=not args.no_rviz, reference=args.reference, cmg_model=absolute(args.cmg_model),
                     motion_file=absolute(args.motion_file), policy_file=absolute(args.policy_file),
                     motion_fps=args.motion_fps,
                     bridge_parameters={"viewer": args.viewer, "record_video": absolute(args.record)})


def main(argv: list[str] | None = None) -> int:
    """Run the simulation graph until Ctrl-C (see the module docstring)."""
    parser = cli_parser()
    args = parser.parse_args(argv)
    try:
        graph = cli_graph(args)
    except ValueError as exc:
        parser.error(str(exc))
    except FileNotFoundError as exc:
        print(f"graph_runner: {exc}", file=sys.stderr)
        return 1
    runner = GraphRunner(graph, log_dir=args.log_dir or None, required=("g1_bridge",),
                         env=sim_environment(os.environ))
    runner.plan()
    print(runner.describe(), flush=True)
    if args.dry_run:
        return 0
    runner.start()
    try:
        while not runner.exited():
            time.sleep(0.2)
        print(f"graph_runner: node exited: {runner.exited()}; stopping the others", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    codes = runner.stop()
    print(f"graph_runner: stopped: {codes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
