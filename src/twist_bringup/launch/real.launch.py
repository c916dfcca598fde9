"""The real G1: unitree_bridge, reference publisher, student policy, robot_state_publisher, rviz2.

    ros2 launch twist_bringup real.launch.py network_interface:=eth0 [policy_file:=models/student/policy.onnx]
        [reference:=cmg|mocap|teleop|none] [cmg_model:=models/cmg/cmg.onnx] [motion_file:=FILE [motion_fps:=60]]
        [rviz:=true] [dds_domain:=0] [release_motion_service:=true] [namespace:=g1] [ros_domain_id:=23]
        [remote_steering:=true]

namespace puts every node (and so its topics and services) under /<namespace>; ros_domain_id is the ROS 2 domain
of the graph (default: $ROS_DOMAIN_ID, else 0), not the robot's Unitree DDS domain (dds_domain). To keep the graph
off other networks, restrict DDS discovery to the robot's interface (README.md, "The real robot": Network).

The same graph as sim.launch.py with the real-robot bridge (g1_bridge's unitree_bridge, parameters from
config/unitree_bridge.yaml) in place of the MuJoCo bridge, on wall-clock time: twist_bringup.launch_graph.real_graph.
Start, go and damp with the wireless remote (START, A, B/SELECT) or the bridge's services; the runbook is in
README.md ("The real robot"). Rehearse against the simulated G1 first (unitree_sim; dds_domain:=1
network_interface:=lo release_motion_service:=false).
"""

from pathlib import Path
from typing import Callable

from twist_bringup.launch_graph import config_dir, launch_nodes, real_graph
from twist_bringup.urdf import build_urdf
from twist_core.robot import load_robot_spec


def _absolute(path: str) -> str:
    """A path relative to the directory ros2 launch runs in, made absolute (the nodes may run elsewhere)."""
    return str(Path(path).expanduser().resolve()) if path else ""


def graph(arg: Callable[[str], str]):
    """The nodes for the launch arguments' values (``arg(name)``, text), from the installed configuration."""
    return real_graph(build_urdf(load_robot_spec()), config_dir(), policy_file=_absolute(arg("policy_file")),
                      reference=arg("reference"), cmg_model=_absolute(arg("cmg_model")),
                      motion_file=_absolute(arg("motion_file")),
                      motion_fps=float(arg("motion_fps") or 0.0), rviz=arg("rviz").lower() == "true",
                      bridge_parameters={"network_interface": arg("network_interface"),
                                         "dds_domain": int(arg("dds_domain")),
                                         "release_motion_service": arg("release_motion_service").lower() == "true"},
                      namespace=arg("namespace"), remote_steering=arg("remote_steering").lower() == "true")


def _nodes(context):
    from launch.substitutions import LaunchConfiguration

    return launch_nodes(graph(lambda name: LaunchConfiguration(name).perform(context)))


def generate_launch_description():
    """Declare the arguments and build the graph when they are known."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
    from launch.substitutions import EnvironmentVariable, LaunchConfiguration

    return LaunchDescription([
        DeclareLaunchArgument("network_interface", default_value="eth0",
                              description="network interface wired to the G1 (192.168.123.x)"),
        DeclareLaunchArgument("dds_domain", default_value="0", description="Unitree DDS domain (unitree_sim: 1)"),
        DeclareLaunchArgument("release_motion_service", default_value="true",
                              description="release the onboard motion service first (unitree_sim: false)"),
        DeclareLaunchArgument("policy_file", default_value="models/student/policy.onnx",
                              description="exported student policy"),
        DeclareLaunchArgument("reference", default_value="cmg", choices=["none", "cmg", "mocap", "teleop"],
                              description="reference publisher: cmg (cmd_vel -> CMG), mocap (a motion file) or "
                                          "teleop (a live stream on teleop/joint_states, teleop/root_pose)"),
        DeclareLaunchArgument("cmg_model", default_value="models/cmg/cmg.onnx",
                              description="exported CMG for reference:=cmg (and teleop's upper_body mode)"),
        DeclareLaunchArgument("motion_file", default_value="",
                              description="motion file for reference:=mocap (played when the robot is handed to the "
                                          "policy, or on /mocap_reference/play)"),
        DeclareLaunchArgument("motion_fps", default_value="0",
                              description="frame rate of a motion_file without one (G1 CSV: e.g. 60), else 0"),
        DeclareLaunchArgument("rviz", default_value="true", description="start rviz2 with config/g1.rviz"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of every node (e.g. g1)"),
        DeclareLaunchArgument("remote_steering", default_value="true",
                              description="the wireless remote's sticks steer cmd_vel while L1 is held (joy_teleop)"),
        DeclareLaunchArgument("ros_domain_id", default_value=EnvironmentVariable("ROS_DOMAIN_ID", default_value="0"),
                              description="ROS 2 domain of the graph (not the Unitree dds_domain)"),
        SetEnvironmentVariable("ROS_DOMAIN_ID", LaunchConfiguration("ros_domain_id")),
        OpaqueFunction(function=_nodes),
    ])
