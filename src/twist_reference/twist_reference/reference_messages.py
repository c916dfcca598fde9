"""ROS messages of reference frames, shared by the reference publishers (mocap now, CMG later)."""

from __future__ import annotations

from typing import Sequence

from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, Quaternion, TransformStamped, Vector3
from sensor_msgs.msg import JointState
from twist_msgs.msg import MotionFrame, MotionReference

from twist_core.playback import ReferenceFrame
from twist_core.robot import RobotSpec


def duration(seconds: float) -> Duration:
    """builtin_interfaces/Duration of ``seconds`` >= 0."""
    nanoseconds = int(round(seconds * 1e9))
    return Duration(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def motion_frame(frame: ReferenceFrame, time_from_stamp: float = 0.0) -> MotionFrame:
    """A twist_msgs/MotionFrame from a playback frame."""
    msg = MotionFrame()
    msg.time_from_stamp = duration(time_from_stamp)
    msg.root_pose.position = Point(x=float(frame.root_pos[0]), y=float(frame.root_pos[1]),
                                   z=float(frame.root_pos[2]))
    w, x, y, z = (float(v) for v in frame.root_quat)
    msg.root_pose.orientation = Quaternion(w=w, x=x, y=y, z=z)
    msg.root_linear_velocity = Vector3(x=float(frame.root_lin_vel_local[0]), y=float(frame.root_lin_vel_local[1]),
                                       z=float(frame.root_lin_vel_local[2]))
    msg.root_angular_velocity = Vector3(x=float(frame.root_ang_vel_local[0]),
                                        y=float(frame.root_ang_vel_local[1]),
                                        z=float(frame.root_ang_vel_local[2]))
    msg.joint_positions = frame.joint_pos.tolist()
    msg.joint_velocities = frame.joint_vel.tolist()
    msg.key_body_positions = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in frame.key_body_pos_local]
    return msg


def reference_message(spec: RobotSpec, stamp: Time, sequence: int, source: int, valid: bool, frame_id: str,
                      current: ReferenceFrame, future: Sequence[tuple[float, ReferenceFrame]] = ()) -> MotionReference:
    """A twist_msgs/MotionReference: the current frame plus (offset seconds, frame) future frames."""
    msg = MotionReference()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.sequence = sequence
    msg.source = source
    msg.valid = valid
    msg.joint_names = list(spec.joint_names)
    msg.key_body_names = list(spec.key_body_names)
    msg.current = motion_frame(current)
    msg.future = [motion_frame(frame, offset) for offset, frame in future]
    return msg


def reference_joint_state(msg: MotionReference) -> JointState:
    """sensor_msgs/JointState of the reference, for the ghost robot in rviz2."""
    state = JointState()
    state.header = msg.header
    state.name = msg.joint_names
    state.position = msg.current.joint_positions
    state.velocity = msg.current.joint_velocities
    return state


def reference_transform(msg: MotionReference, child_frame: str) -> TransformStamped:
    """The reference root pose as a transform header.frame_id -> child_frame (e.g. reference/pelvis)."""
    tf = TransformStamped()
    tf.header = msg.header
    tf.child_frame_id = child_frame
    p = msg.current.root_pose.position
    tf.transform.translation = Vector3(x=p.x, y=p.y, z=p.z)
    tf.transform.rotation = msg.current.root_pose.orientation
    return tf
