"""The simulation's node graph, parameter file and rviz config, checked without ros2 launch."""

from pathlib import Path

import pytest
import yaml

from g1_bridge.launch_graph import sim_graph
from g1_bridge.mujoco_bridge import PARAMETERS

CONFIG = Path(__file__).resolve().parents[3] / "config"
LAUNCH = Path(__file__).resolve().parents[3] / "launch" / "sim.launch.py"


def test_params_file_sets_every_parameter_with_its_default():
    """config/mujoco_bridge.yaml names exactly the node's parameters, with the code's defaults."""
    params = yaml.safe_load((CONFIG / "mujoco_bridge.yaml").read_text())["mujoco_bridge"]["ros__parameters"]
    assert params == {name: default for name, (default, _) in PARAMETERS.items()}


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
    """No reference publisher by default; reference cmg runs cmg_reference on cmg_model, mocap plays motion_file."""
    assert {n.package for n in sim_graph("<robot/>", CONFIG)}.isdisjoint({"cmg_node"})
    cmg = [n for n in sim_graph("<robot/>", CONFIG, clock_mode="lockstep", reference="cmg",
                                cmg_model="/models/cmg.onnx") if n.package == "cmg_node"]
    assert [(n.executable, n.name, n.namespace) for n in cmg] == [("cmg_reference", "cmg_reference", "")]
    assert cmg[0].parameters == ({"model_file": "/models/cmg.onnx", "use_sim_time": True},)
    mocap = [n for n in sim_graph("<robot/>", CONFIG, reference="mocap", motion_file="walk.npz")
             if n.package == "cmg_node"]
    assert [n.executable for n in mocap] == ["mocap_reference"]
    assert mocap[0].parameters == ({"motion_file": "walk.npz", "use_sim_time": False},)
    with pytest.raises(ValueError, match="cmg_model"):
        sim_graph("<robot/>", CONFIG, reference="cmg")
    with pytest.raises(ValueError, match="motion_file"):
        sim_graph("<robot/>", CONFIG, reference="mocap")
    with pytest.raises(ValueError, match="reference must be one of none, cmg, mocap"):
        sim_graph("<robot/>", CONFIG, reference="teleop")


def test_rviz_config_shows_robot_and_ghost():
    """The rviz config has the robot, the reference ghost (TF prefix 'reference') and the odom frame."""
    rviz = yaml.safe_load((CONFIG / "g1.rviz").read_text())["Visualization Manager"]
    models = {d["Name"]: d for d in rviz["Displays"] if d["Class"] == "rviz_default_plugins/RobotModel"}
    assert models["G1"]["Description Topic"]["Value"] == "/robot_description"
    assert models["Reference ghost"]["Description Topic"]["Value"] == "/reference/robot_description"
    assert models["Reference ghost"]["TF Prefix"] == "reference"
    assert rviz["Global Options"]["Fixed Frame"] == "odom"


def test_launch_file_uses_the_graph():
    """The launch file builds its nodes from sim_graph and the generated URDF (it cannot run here)."""
    text = LAUNCH.read_text()
    assert "sim_graph(build_urdf(load_robot_spec())" in text
    for argument in ("reference", "cmg_model", "motion_file"):  # every sim_graph option is a launch argument
        assert f'DeclareLaunchArgument("{argument}"' in text and f'arg("{argument}")' in text
    compile(text, str(LAUNCH), "exec")
