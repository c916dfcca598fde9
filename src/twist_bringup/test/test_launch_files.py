"""The installed launch files, loaded as `ros2 launch twist_bringup <file>` loads them, build the tested graph.

`ros2 launch` finds ``<file>`` in the package's share directory (``share/twist_bringup/launch``) and loads it as a
module from its path (``importlib``'s SourceFileLoader), then calls ``generate_launch_description()``. The launch
packages are not on PyPI, so here the test loads the installed file the same way and calls its ``graph`` (what its
OpaqueFunction turns into launch_ros Nodes) with argument values: the nodes must be the ones that
``twist_bringup.launch_graph`` gives with the installed configuration (the graph the end-to-end tests run), and every
argument the graph reads must be declared. With a ROS 2 install (``launch`` importable) the declared arguments are
also read from ``generate_launch_description()`` itself.
"""

from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

import pytest
from ament_index_python.packages import get_package_share_directory

from twist_bringup.launch_graph import config_dir, real_graph, sim_graph
from twist_bringup.urdf import build_urdf
from twist_core.robot import load_robot_spec

SHARE = Path(get_package_share_directory("twist_bringup"))
SIM = {"clock_mode": "lockstep", "auto_start": "true", "rviz": "false", "reference": "cmg",
       "cmg_model": "models/cmg/cmg.onnx", "motion_file": "", "motion_fps": "0",
       "policy_file": "models/student/policy.onnx"}
REAL = {"network_interface": "lo", "dds_domain": "1", "release_motion_service": "false",
        "policy_file": "models/student/policy.onnx", "reference": "cmg", "cmg_model": "models/cmg/cmg.onnx",
        "motion_file": "", "motion_fps": "0", "rviz": "true", "namespace": "g1", "remote_steering": "true"}


def load_launch_file(name: str):
    """The installed launch file ``name`` as a module, loaded as launch loads it."""
    path = SHARE / "launch" / name
    loader = SourceFileLoader("python_launch_file", str(path))
    module = module_from_spec(spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    assert callable(module.generate_launch_description)
    return module


def _graph(module, values):
    """The module's graph for ``values``, and the names of the arguments it read."""
    read = []

    def arg(name):
        read.append(name)
        return values[name]

    return module.graph(arg), read


def test_configuration_is_installed_to_the_share_directory():
    """config_dir() is the package's share directory: parameter files and the rviz config, as in the source."""
    assert config_dir() == SHARE / "config"
    installed = {p.name for p in config_dir().iterdir()}
    assert {"mujoco_bridge.yaml", "unitree_bridge.yaml", "twist_policy.yaml", "g1.rviz"} <= installed
    assert {p.name for p in (SHARE / "launch").iterdir()} >= {"sim.launch.py", "real.launch.py"}


@pytest.mark.parametrize("name,values,expected", [
    ("sim.launch.py", SIM, lambda urdf, absolute: sim_graph(
        urdf, config_dir(), clock_mode="lockstep", auto_start=True, rviz=False, reference="cmg",
        cmg_model=absolute("models/cmg/cmg.onnx"), policy_file=absolute("models/student/policy.onnx"))),
    ("real.launch.py", REAL, lambda urdf, absolute: real_graph(
        urdf, config_dir(), policy_file=absolute("models/student/policy.onnx"), reference="cmg",
        cmg_model=absolute("models/cmg/cmg.onnx"), rviz=True, namespace="g1",
        bridge_parameters={"network_interface": "lo", "dds_domain": 1, "release_motion_service": False})),
], ids=["sim", "real"])
def test_launch_file_builds_the_tested_graph(name, values, expected):
    """The launch file's nodes are twist_bringup.launch_graph's with the installed configuration; all paths exist."""
    module = load_launch_file(name)
    graph, read = _graph(module, values)
    absolute = lambda p: str(Path(p).resolve())  # noqa: E731 - relative to where ros2 launch runs
    assert graph == expected(build_urdf(load_robot_spec()), absolute)
    files = [Path(p) for n in graph for p in n.parameters if isinstance(p, str)]
    files += [Path(a) for n in graph for a in n.arguments if a.endswith(".rviz")]
    assert files and all(f.is_file() and f.parent == SHARE / "config" for f in files), files
    source = (SHARE / "launch" / name).read_text()
    undeclared = [a for a in set(read) if f'DeclareLaunchArgument("{a}"' not in source]
    assert not undeclared, f"{name} reads undeclared arguments {undeclared}"


@pytest.mark.parametrize("name,values", [("sim.launch.py", SIM), ("real.launch.py", REAL)], ids=["sim", "real"])
def test_generate_launch_description_declares_what_the_graph_reads(name, values):
    """With the launch packages (a ROS 2 install): the description declares every argument the graph reads."""
    pytest.importorskip("launch_ros", reason="launch and launch_ros come with a ROS 2 install, not from PyPI")
    from launch.actions import DeclareLaunchArgument

    module = load_launch_file(name)
    declared = {e.name for e in module.generate_launch_description().entities
                if isinstance(e, DeclareLaunchArgument)}
    assert set(_graph(module, values)[1]) <= declared
