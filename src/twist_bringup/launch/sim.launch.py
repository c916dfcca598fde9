"""MuJoCo simulation of the G1: bridge, reference publisher, student policy, robot_state_publisher, rviz2.

    ros2 launch twist_bringup sim.launch.py [clock_mode:=realtime|lockstep] [auto_start:=false] [rviz:=true]
        [reference:=none|cmg|mocap|teleop] [cmg_model:=models/cmg/cmg.onnx] [motion_file:=FILE [motion_fps:=60]]
        [policy_file:=models/student/policy.onnx]

The closed loop: reference:=cmg policy_file:=models/student/policy.onnx, then
    ros2 service call /mujoco_bridge/start std_srvs/srv/Trigger   (ramp to the default pose, HOLD)
    ros2 service call /mujoco_bridge/go std_srvs/srv/Trigger      (POLICY: the policy drives the robot)
    ros2 topic pub /cmd_vel geometry_msgs/msg/Twist "{linear: {x: 0.5}}"
The node graph is twist_bringup.launch_graph.sim_graph (tested without ros2 launch; `make demo` and
`python -m twist_bringup.graph_runner` start the same graph without it). Unless the environment chooses them, the
simulation discovers on localhost only, in domain 42 (twist_node_common.workspace.SIM_DOMAIN_ID): call its services
with ROS_DOMAIN_ID=42 ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, or export your own before launching.
"""

from pathlib import Path
from typing import Callable

from twist_bringup.launch_graph import config_dir, launch_nodes, sim_graph
from twist_bringup.urdf import build_urdf
from twist_core.robot import load_robot_spec
from twist_node_common.workspace import SIM_DOMAIN_ID


def _absolute(path: str) -> str:
    """A path relative to the directory ros2 launch runs in, made absolute (the nodes may run elsewhere)."""
    return str(Path(path).expanduser().resolve()) if path else ""


def graph(arg: Callable[[str], str]):
    """The nodes for the launch arguments' values (``arg(name)``, text), from the installed configuration."""
    return sim_graph(build_urdf(load_robot_spec()), config_dir(), clock_mode=arg("clock_mode"),
                     auto_start=arg("auto_start").lower() == "true", rviz=arg("rviz").lower() == "true",
                     reference=arg("reference"), cmg_model=_absolute(arg("cmg_model")),
                     motion_file=_absolute(arg("motion_file")),
                     motion_fps=float(arg("motion_fps") or 0.0), policy_file=_absolute(arg("policy_file")))


def _nodes(context):
    from launch.substitutions import LaunchConfiguration

    return launch_nodes(graph(lambda name: LaunchConfiguration(name).perform(context)))


def generate_launch_description():
    """Declare the arguments and build the graph when they are known."""
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
    from launch.substitutions import EnvironmentVariable

    return LaunchDescription([
        DeclareLaunchArgument("clock_mode", default_value="realtime", description="realtime or lockstep"),
        DeclareLaunchArgument("auto_start", default_value="false", description="ramp to the default pose at once"),
        DeclareLaunchArgument("rviz", default_value="true", description="start rviz2 with config/g1.rviz"),
        DeclareLaunchArgument("reference", default_value="none", choices=["none", "cmg", "mocap", "teleop"],
                              description="reference publisher: cmg (cmd_vel -> CMG), mocap (a motion file) or "
                                          "teleop (a live stream on teleop/joint_states, teleop/root_pose)"),
        DeclareLaunchArgument("cmg_model", default_value="models/cmg/cmg.onnx",
                              description="exported CMG for reference:=cmg (and teleop's upper_body mode)"),
        DeclareLaunchArgument("motion_file", default_value="",
                              description="motion file for reference:=mocap (played when the robot is handed to the "
                                          "policy, or on /mocap_reference/play)"),
        DeclareLaunchArgument("motion_fps", default_value="0",
                              description="frame rate of a motion_file without one (G1 CSV: e.g. 60), else 0"),
        DeclareLaunchArgument("policy_file", default_value="",
                              description="exported student policy (e.g. models/student/policy.onnx); "
                                          "empty: no policy node"),
        # DDS isolation (twist_node_common.workspace.sim_environment): localhost discovery, a domain of its own
        SetEnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE",
                               EnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE", default_value="LOCALHOST")),
        SetEnvironmentVariable("ROS_DOMAIN_ID", EnvironmentVariable("ROS_DOMAIN_ID", default_value=str(SIM_DOMAIN_ID))),
        OpaqueFunction(function=_nodes),
    ])
