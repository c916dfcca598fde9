"""The simulation's node graph, parameter file and rviz config, checked without ros2 launch (the launch files:
twist_bringup's tests)."""

from pathlib import Path

import pytest
import yaml

from twist_bringup.graph_runner import node_command
from g1_bridge.mujoco_bridge import PARAMETERS
from g1_bridge.unitree_bridge import PARAMETERS as UNITREE_PARAMETERS
from twist_bringup.launch_graph import (LOCKSTEP_COMMAND_WAIT, LOCKSTEP_REFERENCE_WAIT, REALTIME_REFERENCE_WAIT,
                                        config_dir, override_parameters, real_graph, sim_graph)
from twist_policy_node.policy_node import PARAMETERS as POLICY_PARAMETERS

CONFIG = config_dir()  # the installed configuration (twist_bringup's share directory)


@pytest.mark.parametrize("node,parameters", [("mujoco_bridge", PARAMETERS), ("unitree_bridge", UNITREE_PARAMETERS),
                                             ("twist_policy", POLICY_PARAMETERS)])
def test_params_file_sets_every_parameter_with_its_default(node, parameters):
    """config/<node>.yaml names exactly the node's parameters, with the code's defaults."""
    params = yaml.safe_load((CONFIG / f"{node}.yaml").read_text())[node]["ros__parameters"]
    assert params == {name: default for name, (default, _) in parameters.items()}


def test_sim_graph():
    """Bridge with params file and overrides, robot and ghost state publishers, rviz with its config."""
    nodes = {(n.namespace, n.name): n for n in sim_graph("<robot/>", CONFIG, clock_mode="lockstep", auto_start=True)}
    bridge = nodes[("", "mujoco_bridge")]
    assert bridge.parameters[0] == str(CONFIG / "mujoco_bridge.yaml")
    assert bridge.parameters[1] == {"clock_mode": "lockstep", "auto_start": True}
    robot = nodes[("", "robot_state_publisher")].parameters[0]
    ghost = nodes[("reference", "robot_state_publisher")].parameters[0]
    assert robot["robot_description"] == ghost["robot_description"] == "<robot/>"
    assert ghost["frame_prefix"] == "reference/" and robot.get("frame_prefix") is None
    assert robot["use_sim_time"] is True  # lockstep publishes /clock
    rviz = nodes[("", "rviz2")]
    assert rviz.arguments == ("-d", str(CONFIG / "g1.rviz"))
    assert all(Path(p).is_file() for n in nodes.values() for p in n.parameters if isinstance(p, str))


def test_sim_graph_options():
    """rviz can be left out; an unknown clock mode is refused."""
    assert "rviz2" not in [n.name for n in sim_graph("<robot/>", CONFIG, rviz=False)]
    with pytest.raises(ValueError, match="clock_mode"):
        sim_graph("<robot/>", CONFIG, clock_mode="fast")


def test_sim_graph_reference_publishers():
    """No reference publisher by default; cmg runs cmg_reference on cmg_model, mocap plays motion_file, teleop
    follows a stream (with cmg_model for its upper-body mode)."""
    assert {n.package for n in sim_graph("<robot/>", CONFIG)}.isdisjoint({"twist_reference"})
    cmg = [n for n in sim_graph("<robot/>", CONFIG, clock_mode="lockstep", reference="cmg",
                                cmg_model="/models/cmg.onnx") if n.package == "twist_reference"]
    assert [(n.executable, n.name, n.namespace) for n in cmg] == [("cmg_reference", "cmg_reference", "")]
    assert cmg[0].parameters == ({"model_file": "/models/cmg.onnx", "use_sim_time": True, "tick_on_state": False},)
    mocap = [n for n in sim_graph("<robot/>", CONFIG, reference="mocap", motion_file="walk.npz")
             if n.package == "twist_reference"]
    assert [n.executable for n in mocap] == ["mocap_reference"]
    assert mocap[0].parameters == ({"motion_file": "walk.npz", "use_sim_time": False, "tick_on_state": True},)
    csv = [n for n in sim_graph("<robot/>", CONFIG, reference="mocap", motion_file="clip.csv", motion_fps=60)
           if n.package == "twist_reference"]
    assert csv[0].parameters == ({"motion_file": "clip.csv", "use_sim_time": False, "tick_on_state": True,
                                  "fps": 60.0},)
    with pytest.raises(ValueError, match="cmg_model"):
        sim_graph("<robot/>", CONFIG, reference="cmg")
    with pytest.raises(ValueError, match="motion_file"):
        sim_graph("<robot/>", CONFIG, reference="mocap")
    teleop = [n for n in sim_graph("<robot/>", CONFIG, reference="teleop", cmg_model="/models/cmg.onnx")
              if n.package == "twist_reference"]
    assert [(n.executable, n.name) for n in teleop] == [("teleop_reference", "teleop_reference")]
    assert teleop[0].parameters == ({"use_sim_time": False, "tick_on_state": True, "model_file": "/models/cmg.onnx"},)
    teleop = [n for n in sim_graph("<robot/>", CONFIG, reference="teleop") if n.package == "twist_reference"]
    assert teleop[0].parameters == ({"use_sim_time": False, "tick_on_state": True},)  # whole-body only without a CMG
    with pytest.raises(ValueError, match="reference must be one of none, cmg, mocap, teleop"):
        sim_graph("<robot/>", CONFIG, reference="puppet")


def test_rviz_config_shows_robot_and_ghost():
    """The rviz config has the robot, the reference ghost (TF prefix 'reference') and the odom frame."""
    rviz = yaml.safe_load((CONFIG / "g1.rviz").read_text())["Visualization Manager"]
    models = {d["Name"]: d for d in rviz["Displays"] if d["Class"] == "rviz_default_plugins/RobotModel"}
    assert models["G1"]["Description Topic"]["Value"] == "/robot_description"
    assert models["Reference ghost"]["Description Topic"]["Value"] == "/reference/robot_description"
    assert models["Reference ghost"]["TF Prefix"] == "reference"
    assert rviz["Global Options"]["Fixed Frame"] == "odom"


def test_sim_graph_closes_the_loop_with_the_policy():
    """policy_file adds twist_policy (params file, file, lockstep sim time, stop_model); bridge overrides apply."""
    assert "twist_policy" not in [n.name for n in sim_graph("<robot/>", CONFIG)]
    graph = sim_graph("<robot/>", CONFIG, clock_mode="lockstep", reference="cmg", cmg_model="/m/cmg.onnx",
                      policy_file="/m/policy.onnx", rviz=False, bridge_parameters={"release_gantry_on_go": False})
    assert [n.name for n in graph] == ["mujoco_bridge", "robot_state_publisher", "robot_state_publisher",
                                       "cmg_reference", "twist_policy"]
    policy = graph[-1]
    assert (policy.package, policy.executable, policy.namespace) == ("twist_policy_node", "twist_policy", "")
    assert policy.parameters == (str(CONFIG / "twist_policy.yaml"),
                                 {"policy_file": "/m/policy.onnx", "use_sim_time": True, "stop_model": "/m/cmg.onnx",
                                  "reference_wait": LOCKSTEP_REFERENCE_WAIT})
    realtime = sim_graph("<robot/>", CONFIG, policy_file="/m/policy.onnx")[-2]
    assert realtime.parameters[1] == {"policy_file": "/m/policy.onnx", "use_sim_time": False,
                                      "reference_wait": REALTIME_REFERENCE_WAIT}
    assert graph[0].parameters[1] == {"clock_mode": "lockstep", "auto_start": False, "release_gantry_on_go": False,
                                      "lockstep_timeout": LOCKSTEP_COMMAND_WAIT}
    assert LOCKSTEP_REFERENCE_WAIT < LOCKSTEP_COMMAND_WAIT  # the policy answers before the bridge gives up
    bridge_only = sim_graph("<robot/>", CONFIG, clock_mode="lockstep", rviz=False)[0]
    assert "lockstep_timeout" not in bridge_only.parameters[1]  # nothing answers: the yaml's short timeout
    params = yaml.safe_load((CONFIG / "twist_policy.yaml").read_text())["twist_policy"]["ros__parameters"]
    assert params["policy_file"] == "" and params["reference_timeout"] == 0.1


def test_override_parameters_apply_last_to_the_named_node():
    """Overrides come after the node's own parameters (they win); an unknown node is a clear error."""
    graph = sim_graph("<robot/>", CONFIG, clock_mode="lockstep", reference="cmg", cmg_model="/m/cmg.onnx",
                      policy_file="/m/policy.onnx", rviz=False)
    changed = override_parameters(graph, {"cmg_reference": {"heading_hold_gain": 0.0}})
    cmg = [n for n in changed if n.name == "cmg_reference"][0]
    assert cmg.parameters[-1] == {"heading_hold_gain": 0.0} and cmg.parameters[:-1] == graph[3].parameters
    assert [n for n in changed if n.name != "cmg_reference"] == [n for n in graph if n.name != "cmg_reference"]
    with pytest.raises(ValueError, match="no node cmg_refrence in the graph"):
        override_parameters(graph, {"cmg_refrence": {"heading_hold_gain": 0.0}})


def test_real_graph():
    """The real robot: unitree_bridge with its parameters instead of mujoco_bridge, the same loop, wall time."""
    graph = real_graph("<robot/>", CONFIG, policy_file="/m/policy.onnx", cmg_model="/m/cmg.onnx",
                       bridge_parameters={"network_interface": "enp3s0"})
    nodes = {(n.namespace, n.name): n for n in graph}
    assert set(nodes) == {("", "unitree_bridge"), ("", "robot_state_publisher"),
                          ("reference", "robot_state_publisher"), ("", "cmg_reference"), ("", "twist_policy"),
                          ("", "rviz2"), ("", "joy_teleop")}
    steering = nodes[("", "joy_teleop")]  # the remote's sticks, as the bridge publishes them, to cmd_vel
    assert steering.package == "twist_teleop" and steering.parameters == ({"joy_topic": "wireless_remote"},)
    assert "joy_teleop" not in [n.name for n in real_graph("<robot/>", CONFIG, "p.onnx", cmg_model="c.onnx",
                                                           remote_steering=False)]
    bridge = nodes[("", "unitree_bridge")]
    assert (bridge.package, bridge.executable) == ("g1_bridge", "unitree_bridge")
    assert bridge.parameters == (str(CONFIG / "unitree_bridge.yaml"), {"network_interface": "enp3s0"})
    assert all(p.get("use_sim_time") is False for n in graph for p in n.parameters if isinstance(p, dict)
               and "use_sim_time" in p)
    assert nodes[("", "twist_policy")].parameters[1]["policy_file"] == "/m/policy.onnx"
    assert nodes[("", "twist_policy")].parameters[1]["stop_model"] == "/m/cmg.onnx"
    assert nodes[("reference", "robot_state_publisher")].parameters[0]["frame_prefix"] == "reference/"
    with pytest.raises(ValueError, match="policy_file"):
        real_graph("<robot/>", CONFIG, policy_file="")
    with pytest.raises(ValueError, match="cmg_model"):
        real_graph("<robot/>", CONFIG, policy_file="p.onnx")
    assert "cmg_reference" not in [n.name for n in real_graph("<robot/>", CONFIG, "p.onnx", reference="none")]


def test_real_graph_in_a_namespace():
    """namespace puts every node of the real graph under it (the ghost's state publisher in <ns>/reference)."""
    graph = real_graph("<robot/>", CONFIG, policy_file="/m/policy.onnx", cmg_model="/m/cmg.onnx", namespace="/g1")
    assert sorted((n.namespace, n.name) for n in graph) == [
        ("g1", "cmg_reference"), ("g1", "joy_teleop"), ("g1", "robot_state_publisher"), ("g1", "rviz2"),
        ("g1", "twist_policy"), ("g1", "unitree_bridge"), ("g1/reference", "robot_state_publisher")]
    assert "-r __ns:=/g1/reference" in " ".join(node_command(graph[2], "rsp", Path("/tmp")))
