"""Checked conversion of the policy node's input messages to arrays (RobotState, MotionReference).

Every check a message must pass before any number of it reaches the policy: the joint names equal the robot
spec's 29 names in motor order, every array used has 29 entries, every number used is finite, quaternions have
a usable norm. A failed check raises :class:`InputError` naming the problem; the node then publishes nothing for
that state (or ignores that reference, which then ages like a missing one).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from twist_core.robot import RobotSpec
from twist_core.safety import Mode
from twist_policy_node.reference_keeper import Reference


class InputError(ValueError):
    """A message that must not be used; the message says why."""


@dataclasses.dataclass(frozen=True)
class RobotInput:
    """What the observation needs from a RobotState (motor order)."""

    sequence: int
    mode: int
    stamp: float  # header stamp [s]
    q: np.ndarray
    dq: np.ndarray
    gyro: np.ndarray
    imu_quat_wxyz: np.ndarray


def stamp_seconds(stamp) -> float:
    """A builtin_interfaces/Time in seconds."""
    return stamp.sec + 1e-9 * stamp.nanosec


def _names(spec: RobotSpec, names: Sequence[str], what: str) -> None:
    names = list(names)
    if names == list(spec.joint_names):
        return
    if len(names) != spec.num_joints:
        raise InputError(f"{what}: {len(names)} joint names, expected the {spec.num_joints} of config/g1.yaml")
    wrong = [f"{i}: {n!r} (expected {e!r})" for i, (n, e) in enumerate(zip(names, spec.joint_names)) if n != e]
    raise InputError(f"{what}: joint names differ from config/g1.yaml (motor order) at {', '.join(wrong[:3])}")


def _array(values, size: int, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (size,):
        raise InputError(f"{what}: {array.size} values, expected {size}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{what}: non-finite values at indices {np.flatnonzero(~np.isfinite(array))[:5].tolist()}")
    return array


def _quaternion(q, what: str) -> np.ndarray:
    array = _array([q.w, q.x, q.y, q.z], 4, what)
    norm = float(np.linalg.norm(array))
    if not 0.9 < norm < 1.1:
        raise InputError(f"{what}: quaternion norm {norm:.3g} (expected a unit quaternion)")
    return array / norm


def _vector(v, what: str) -> np.ndarray:
    return _array([v.x, v.y, v.z], 3, what)


def robot_input(spec: RobotSpec, msg) -> RobotInput:
    """Check a twist_msgs/RobotState and return its arrays; raises :class:`InputError`."""
    what = f"RobotState {msg.sequence}"
    _names(spec, msg.joint_names, what)
    if msg.mode not in {int(m) for m in Mode}:
        raise InputError(f"{what}: unknown bridge mode {msg.mode}")
    n = spec.num_joints
    return RobotInput(sequence=int(msg.sequence), mode=int(msg.mode), stamp=stamp_seconds(msg.header.stamp),
                      q=_array(msg.position, n, f"{what} position"), dq=_array(msg.velocity, n, f"{what} velocity"),
                      gyro=_vector(msg.imu_angular_velocity, f"{what} imu_angular_velocity"),
                      imu_quat_wxyz=_quaternion(msg.imu_orientation, f"{what} imu_orientation"))


def reference_input(spec: RobotSpec, msg) -> Reference:
    """Check a twist_msgs/MotionReference and return its current frame; raises :class:`InputError`."""
    what = f"MotionReference {msg.sequence}"
    _names(spec, msg.joint_names, what)
    frame = msg.current
    height = _array([frame.root_pose.position.z], 1, f"{what} root height")[0]
    lin_vel = _vector(frame.root_linear_velocity, f"{what} root_linear_velocity")
    yaw_rate = _vector(frame.root_angular_velocity, f"{what} root_angular_velocity")[2]
    return Reference(root_height=float(height), root_quat_wxyz=_quaternion(frame.root_pose.orientation,
                                                                           f"{what} root orientation"),
                     root_lin_vel=lin_vel, yaw_rate=float(yaw_rate),
                     joint_pos=_array(frame.joint_positions, spec.num_joints, f"{what} joint_positions"),
                     joint_vel=_array(frame.joint_velocities, spec.num_joints, f"{what} joint_velocities"))
