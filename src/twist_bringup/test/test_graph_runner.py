"""The graph runner: the commands it builds from the launch graph, skipping what is not installed, its CLI."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from twist_bringup.graph_runner import GraphRunner, cli_graph, cli_parser, node_command
from twist_bringup.launch_graph import NodeSpec, config_dir, sim_graph
from twist_node_common.workspace import executable_path

CONFIG = config_dir()


def test_node_command_is_what_ros2_launch_runs(tmp_path):
    """Executable, arguments, node name and namespace remaps, one --params-file per entry (dicts as YAML)."""
    node = NodeSpec("pkg", "exe", "ghost", namespace="reference", parameters=("/a.yaml", {"x": 1, "s": "<r/>"}),
                    arguments=("-d", "cfg"))
    command = node_command(node, "/bin/exe", tmp_path)
    assert command[:8] == ["/bin/exe", "-d", "cfg", "--ros-args", "-r", "__node:=ghost", "-r", "__ns:=/reference"]
    assert command[8:11] == ["--params-file", "/a.yaml", "--params-file"]
    written = yaml.safe_load(Path(command[11]).read_text())
    assert written == {"/**": {"ros__parameters": {"x": 1, "s": "<r/>"}}}


def test_plan_resolves_installed_nodes_and_skips_the_others(tmp_path):
    """The workspace's nodes resolve through the ament index; a package that is not installed is skipped,
    or refused when required.
    """
    assert executable_path("g1_bridge", "mujoco_bridge") is not None
    assert executable_path("g1_bridge", "no_such_node") is None
    graph = sim_graph("<robot/>", CONFIG, clock_mode="lockstep", reference="cmg", cmg_model="/m/cmg.onnx",
                      policy_file="/m/policy.onnx") + [NodeSpec("not_a_package", "x", "x")]
    runner = GraphRunner(graph, log_dir=tmp_path)
    runner.plan()
    assert {"/mujoco_bridge", "/cmg_reference", "/twist_policy"} <= set(runner.commands)
    assert runner.skipped["/x"] == "not_a_package/x is not installed"
    policy = runner.commands["/twist_policy"]
    assert policy[0].endswith("lib/twist_policy_node/twist_policy") and str(CONFIG / "twist_policy.yaml") in policy
    with pytest.raises(FileNotFoundError, match="not_a_package/x is not installed"):
        GraphRunner(graph, required=("not_a_package",)).plan()
    runner.stop()  # nothing started: only cleans up


def test_cli_dry_run():
    """python -m twist_bringup.graph_runner --dry-run prints one line per node and exits 0."""
    out = subprocess.run([sys.executable, "-m", "twist_bringup.graph_runner", "--dry-run", "--clock-mode", "lockstep",
                          "--reference", "cmg", "--cmg-model", "cmg.onnx", "--policy-file", "p.onnx"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("/mujoco_bridge: ") and "clock_mode" not in line for line in lines)
    assert any(line.startswith("/twist_policy: ") for line in lines)
    assert len([line for line in lines if line.startswith("/")]) == 6  # bridge, 2 state publishers, cmg, policy, rviz
    bad = subprocess.run([sys.executable, "-m", "twist_bringup.graph_runner", "--reference", "cmg", "--dry-run"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "cmg_model" in bad.stderr
    teleop = subprocess.run([sys.executable, "-m", "twist_bringup.graph_runner", "--dry-run", "--reference", "teleop",
                             "--cmg-model", "cmg.onnx", "--no-rviz"], capture_output=True, text=True, timeout=120)
    assert teleop.returncode == 0, teleop.stderr
    assert any(line.startswith("/teleop_reference: ") and "teleop_reference" in line
               for line in teleop.stdout.splitlines())


def test_cli_viewer_and_recording_reach_the_bridge(tmp_path):
    """--viewer opens the bridge's MuJoCo viewer, --record FILE its mp4 (made absolute); neither by default."""
    plain = cli_graph(cli_parser().parse_args(["--no-rviz"]))[0]
    assert plain.parameters[1]["viewer"] is False and plain.parameters[1]["record_video"] == ""
    args = cli_parser().parse_args(["--no-rviz", "--viewer", "--record", "out/sim.mp4"])
    bridge = cli_graph(args)[0]
    assert bridge.name == "mujoco_bridge" and bridge.parameters[1]["viewer"] is True
    assert bridge.parameters[1]["record_video"] == str(Path("out/sim.mp4").resolve())
