"""Conversions between bridge data and ROS messages (shared by the MuJoCo and the real-robot bridge)."""

from __future__ import annotations

from typing import Sequence

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, Quaternion, TransformStamped, Twist, Vector3
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Imu, JointState
from twist_msgs.msg import JointCommand, RobotState

from twist_core.robot import RobotSpec
from twist_core.safety import CommandError, JointTargets, validate_command

try:  # tf2_msgs is part of every ROS 2 install but not of the PyPI wheels
    from tf2_msgs.msg import TFMessage
except ImportError:  # pragma: no cover - depends on the installation
    TFMessage = None


def stamp_from_seconds(seconds: float) -> Time:
    """A builtin_interfaces/Time for ``seconds`` since the clock's epoch."""
    nanoseconds = int(round(seconds * 1e9))
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def quaternion_wxyz(q: Sequence[float]) -> Quaternion:
    """A geometry_msgs/Quaternion from a (w, x, y, z) array."""
    return Quaternion(w=float(q[0]), x=float(q[1]), y=float(q[2]), z=float(q[3]))


def vector3(v: Sequence[float]) -> Vector3:
    """A geometry_msgs/Vector3 from a 3-array."""
    return Vector3(x=float(v[0]), y=float(v[1]), z=float(v[2]))


def command_error_or_targets(spec: RobotSpec, msg: JointCommand) -> tuple[JointTargets | None, CommandError | None]:
    """Validate a JointCommand: (targets, None) when valid, (None, error) otherwise."""
    try:
        return validate_command(spec, msg.joint_names, msg.position, msg.velocity, msg.kp, msg.kd,
                                msg.effort), None
    except CommandError as exc:
        return None, exc


def robot_state_message(spec: RobotSpec, stamp: Time, sequence: int, mode: int, imu_frame: str, state,
                        privileged: bool) -> RobotState:
    """A RobotState from a bridge snapshot (``state`` has the fields of twist_core.sim.SimState)."""
    msg = RobotState()
    msg.header.stamp = stamp
    msg.header.frame_id = imu_frame
    msg.sequence = sequence
    msg.mode = int(mode)
    msg.joint_names = list(spec.joint_names)
    msg.position = state.q.tolist()
    msg.velocity = state.dq.tolist()
    msg.effort = state.tau.tolist()
    msg.imu_orientation = quaternion_wxyz(state.imu_quat_wxyz)
    msg.imu_angular_velocity = vector3(state.gyro)
    msg.imu_linear_acceleration = vector3(state.accel)
    msg.privileged_valid = privileged
    if privileged:
        msg.base_pose.position.x, msg.base_pose.position.y, msg.base_pose.position.z = map(float, state.base_pos)
        msg.base_pose.orientation = quaternion_wxyz(state.base_quat_wxyz)
        msg.base_twist.linear = vector3(state.base_lin_vel_body)
        msg.base_twist.angular = vector3(state.base_ang_vel_body)
    return msg


def joint_state_message(state_msg: RobotState) -> JointState:
    """sensor_msgs/JointState with the same stamp, names, positions, velocities and efforts."""
    return JointState(header=state_msg.header, name=state_msg.joint_names, position=state_msg.position,
                      velocity=state_msg.velocity, effort=state_msg.effort)


def imu_message(state_msg: RobotState) -> Imu:
    """sensor_msgs/Imu from the RobotState's IMU fields (covariances unknown: left at zero)."""
    return Imu(header=state_msg.header, orientation=state_msg.imu_orientation,
               angular_velocity=state_msg.imu_angular_velocity,
               linear_acceleration=state_msg.imu_linear_acceleration)


def odometry_message(stamp: Time, pose: Pose, twist: Twist, odom_frame: str, base_frame: str) -> Odometry:
    """nav_msgs/Odometry of the pelvis: ``pose`` in ``odom_frame``, ``twist`` in the pelvis frame ``base_frame``."""
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id = odom_frame
    msg.child_frame_id = base_frame
    msg.pose.pose = pose
    msg.twist.twist = twist
    return msg


def base_transform(stamp: Time, pose: Pose, odom_frame: str, base_frame: str) -> TransformStamped:
    """The floating-base transform odom -> pelvis for /tf."""
    tf = TransformStamped()
    tf.header.stamp = stamp
    tf.header.frame_id = odom_frame
    tf.child_frame_id = base_frame
    tf.transform.translation = Vector3(x=pose.position.x, y=pose.position.y, z=pose.position.z)
    tf.transform.rotation = pose.orientation
    return tf


def estimate_pose_twist(estimate, gyro: Sequence[float]) -> tuple[Pose, Twist]:
    """The pose and twist of a ``twist_core.odometry.OdometryEstimate``; the angular velocity is the gyro's."""
    pose = Pose(position=Point(**dict(zip("xyz", map(float, estimate.position)))),
                orientation=quaternion_wxyz(estimate.orientation_wxyz))
    return pose, Twist(linear=vector3(estimate.linear_velocity_body), angular=vector3(gyro))
