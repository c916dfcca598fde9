"""twist_core: what every package of the workspace must agree on, without rclpy or torch.

The robot spec (joint order, default pose, gains, limits, key bodies, index maps) lives in
:mod:`twist_core.robot`; the MuJoCo model and its cross-check in :mod:`twist_core.model`.
No rclpy and no torch are imported here, so the same code runs in training, in the ROS 2 nodes
and on the robot's onboard computer.
"""

from twist_core.robot import JointSpec, KeyBody, RobotSpec, RobotSpecError, load_robot_spec

__all__ = ["JointSpec", "KeyBody", "RobotSpec", "RobotSpecError", "load_robot_spec"]
