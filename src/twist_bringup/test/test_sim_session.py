"""What make demo and the benchmark scripts share: the model check, the toy models, the headless graph, and the
process's ROS session (SIGTERM as Ctrl-C, isolated DDS), the last in a real process."""

import os
import subprocess
import sys

import onnxruntime

from twist_bringup.sim_session import headless_graph, missing_models, write_toy_models

SESSION_SCRIPT = """
import os
import signal
import time

import rclpy

from twist_bringup.sim_session import monitor_session

with monitor_session(lambda: rclpy.create_node("session_test")) as node:
    print("inside:", rclpy.ok(), node.get_name(), os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"],
          os.environ["ROS_DOMAIN_ID"], flush=True)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5.0)
        print("SIGTERM ignored", flush=True)
    except KeyboardInterrupt:
        print("SIGTERM raised KeyboardInterrupt; context alive:", rclpy.ok(), flush=True)
print("after:", rclpy.ok(), flush=True)
"""


def test_missing_models_says_how_to_make_each(tmp_path):
    """A missing policy or CMG is named with the commands that make it; existing files pass."""
    policy, cmg = tmp_path / "policy.onnx", tmp_path / "cmg.onnx"
    problems = missing_models(policy, cmg)
    assert len(problems) == 2
    assert problems[0].startswith(f"missing policy file {policy}: ") and "TOY=1" in problems[0]
    assert problems[1].startswith(f"missing cmg file {cmg}: ") and "cmg-export" in problems[1]
    policy.write_bytes(b"")
    cmg.write_bytes(b"")
    assert missing_models(policy, cmg) == []


def test_toy_models_load_in_onnx_runtime(tmp_path, spec):
    """The toy policy and toy CMG are written where asked and are ONNX models ONNX Runtime loads."""
    policy, cmg = write_toy_models(tmp_path, spec)
    assert policy.parent == tmp_path and cmg.parent == tmp_path
    for path in (policy, cmg):
        assert onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()


def test_headless_graph_has_no_rviz_nor_robot_state_publisher(tmp_path):
    """The closed loop's nodes, without the ones that only show the robot."""
    graph = headless_graph(clock_mode="lockstep", reference="cmg", cmg_model=str(tmp_path / "cmg.onnx"),
                           policy_file=str(tmp_path / "policy.onnx"))
    packages = {node.package for node in graph}
    assert packages == {"g1_bridge", "twist_reference", "twist_policy_node"}, packages


def test_monitor_session_isolates_dds_and_turns_sigterm_into_keyboard_interrupt():
    """In a real process: rclpy runs inside the session with localhost discovery (set when unset) in the domain
    given, SIGTERM raises KeyboardInterrupt with the context still alive (the cleanup can damp the bridge), and the
    context is shut down afterwards."""
    env = {k: v for k, v in os.environ.items() if k != "ROS_AUTOMATIC_DISCOVERY_RANGE"}
    env["ROS_DOMAIN_ID"] = os.environ["ROS_DOMAIN_ID"]
    out = subprocess.run([sys.executable, "-c", SESSION_SCRIPT], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"inside: True session_test LOCALHOST {env['ROS_DOMAIN_ID']}", lines
    assert lines[1:] == ["SIGTERM raised KeyboardInterrupt; context alive: True", "after: False"], lines
