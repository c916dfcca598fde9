"""Leg odometry: the pelvis pose and velocity from the IMU orientation and the legs' kinematics (no ROS).

The real G1 has no position sensor; what it measures is its joints and the pelvis IMU's orientation. With the
pelvis oriented by the IMU and the joints from the encoders, forward kinematics of the MuJoCo model (the same
model as the simulation's) places the feet's collision spheres relative to the pelvis. The lowest sphere is the
contact point, taken to stay where it is on a flat floor:

* height: the pelvis above the lowest foot sphere (as ``twist_core.model.PelvisHeight``);
* horizontal position: the point of the foot that touched the floor when its sphere became the contact (the
  sphere's lowest point then, fixed to the foot) stays where it was, and the pelvis is placed relative to it (a
  foot that pivots on its toe or heel pivots about that point); the contact moves to another sphere (the other
  foot's heel at touch-down, the toe as the heel lifts) once that one is lower by ``switch_margin`` (1 mm: with
  5 mm, a lifting foot already swinging forward carried the estimate back by about a centimetre a step, 5 % of the
  distance walked at 1 m/s); the update of a switch places the pelvis by the old contact, then anchors the new one
  there, so switching between two feet that both stand changes nothing;
* orientation: the IMU's (its yaw drifts as the IMU's does);
* velocity: the position's change per update, low-pass filtered with time constant ``velocity_time_constant``.

Foot slip and uneven ground make the estimate drift; it is what rviz2 needs to draw the robot where it walks and
what a velocity readout needs, not a localization.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from twist_core import rotations
from twist_core.model import _kinematics_data, foot_spheres
from twist_core.robot import RobotSpec


@dataclasses.dataclass(frozen=True)
class OdometryEstimate:
    """One estimate: position [m] and linear velocity [m/s] in the odometry frame, orientation (w, x, y, z)."""

    time: float
    position: np.ndarray
    orientation_wxyz: np.ndarray
    linear_velocity: np.ndarray
    stance_foot: int  # index into spec.model.feet

    @property
    def linear_velocity_body(self) -> np.ndarray:
        """The linear velocity in the pelvis frame (as nav_msgs/Odometry's twist)."""
        return rotations.rotate_inverse(self.orientation_wxyz, self.linear_velocity)


class LegOdometry:
    """See the module docstring. Holds its own MuJoCo data: one per thread."""

    def __init__(self, spec: RobotSpec, switch_margin: float = 0.001, velocity_time_constant: float = 0.1) -> None:
        """Load the robot model and find the feet; ``switch_margin`` [m], ``velocity_time_constant`` [s] > 0."""
        if not switch_margin >= 0 or not velocity_time_constant > 0:
            raise ValueError(f"switch_margin must be >= 0 and velocity_time_constant > 0, not {switch_margin}, "
                             f"{velocity_time_constant}")
        self.model, self.data, self.qadr = _kinematics_data(spec)
        per_foot = foot_spheres(spec, self.model)
        self.spheres = np.concatenate(per_foot)
        self.sphere_foot = np.concatenate([np.full(len(s), i) for i, s in enumerate(per_foot)])
        self.num_joints = spec.num_joints
        self.switch_margin = switch_margin
        self.velocity_time_constant = velocity_time_constant
        self.reset()

    def reset(self, position_xy: tuple[float, float] = (0.0, 0.0)) -> None:
        """Start again at ``position_xy`` (the next update's stance foot is anchored there)."""
        self._start_xy = np.asarray(position_xy, dtype=np.float64)
        self._stance: int | None = None
        self._point = np.zeros(3)
        self._anchor = np.zeros(2)
        self._last: OdometryEstimate | None = None

    def update(self, time: float, joint_pos: np.ndarray, imu_quat_wxyz: np.ndarray) -> OdometryEstimate:
        """The estimate for joints ``joint_pos`` (motor order) and IMU orientation ``imu_quat_wxyz`` at ``time`` [s].

        Raises ValueError for a non-finite input, a wrong number of joints or a quaternion far from unit norm
        (the estimate is left as it was).
        """
        import mujoco

        q = np.asarray(joint_pos, dtype=np.float64)
        quat = np.asarray(imu_quat_wxyz, dtype=np.float64)
        if q.shape != (self.num_joints,) or quat.shape != (4,):
            raise ValueError(f"odometry needs {self.num_joints} joints and a (w, x, y, z) quaternion, not shapes "
                             f"{q.shape} and {quat.shape}")
        norm = float(np.linalg.norm(quat))
        if not (np.all(np.isfinite(q)) and np.all(np.isfinite(quat)) and np.isfinite(time) and 0.9 < norm < 1.1):
            raise ValueError("odometry input is not finite or the quaternion is not of unit norm")
        quat = quat / norm
        self.data.qpos[:3] = 0.0
        self.data.qpos[3:7] = quat
        self.data.qpos[self.qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        radii = self.model.geom_size[self.spheres, 0]
        centres = self.data.geom_xpos[self.spheres]  # relative to the pelvis, world-aligned
        frames = self.data.geom_xmat[self.spheres].reshape(-1, 3, 3)
        lows = centres[:, 2] - radii
        lowest = int(np.argmin(lows))

        def contact(i: int) -> np.ndarray:  # the point of sphere i's foot that touches the floor now, in its frame
            return frames[i].T @ np.array([0.0, 0.0, -radii[i]])

        def where(i: int, point: np.ndarray) -> np.ndarray:  # that point of the foot now, (x, y) from the pelvis
            return (centres[i] + frames[i] @ point)[:2]

        if self._stance is None:
            self._stance, self._point = lowest, contact(lowest)
            self._anchor = self._start_xy + where(lowest, self._point)
        elif lows[lowest] < lows[self._stance] - self.switch_margin:  # placed by the old contact, then re-anchored
            xy = self._anchor - where(self._stance, self._point)
            self._stance, self._point = lowest, contact(lowest)
            self._anchor = xy + where(lowest, self._point)
        position = np.array([*(self._anchor - where(self._stance, self._point)), -float(lows[lowest])])
        velocity = np.zeros(3)
        if self._last is not None and time > self._last.time:
            dt = time - self._last.time
            alpha = dt / (self.velocity_time_constant + dt)
            velocity = self._last.linear_velocity + alpha * ((position - self._last.position) / dt
                                                             - self._last.linear_velocity)
        elif self._last is not None:
            velocity = self._last.linear_velocity
        self._last = OdometryEstimate(time, position, quat, velocity, int(self.sphere_foot[self._stance]))
        return self._last


class HeadingVelocity:
    """The pelvis' planar velocity in its heading frame from successive :class:`OdometryEstimate` s.

    Each displacement is turned into the heading at its midpoint before it is divided by its time (a velocity
    filtered in the world frame lags the heading while the robot turns: at 1 m/s and 0.8 rad/s, 0.1 s of lag reads
    0.08 m/s sideways). No velocity (None) for the first estimate, one whose time does not advance, or a pelvis
    tilted more than ``max_tilt`` [rad] (a fallen or lifted robot: its heading means little).
    """

    def __init__(self, max_tilt: float = 0.5) -> None:
        """Tilt limit ``max_tilt`` > 0 [rad]."""
        if not max_tilt > 0:
            raise ValueError(f"max_tilt must be > 0, not {max_tilt}")
        self.max_tilt = max_tilt
        self.reset()

    def reset(self) -> None:
        """Forget the previous estimate."""
        self._last: OdometryEstimate | None = None

    def update(self, estimate: OdometryEstimate) -> np.ndarray | None:
        """(vx, vy) [m/s] in the heading frame since the previous estimate, or None (see the class docstring)."""
        last, self._last = self._last, estimate
        roll, pitch, _ = rotations.roll_pitch_yaw(estimate.orientation_wxyz)
        if last is None or not estimate.time > last.time or max(abs(roll), abs(pitch)) > self.max_tilt:
            return None
        heading = rotations.yaw(last.orientation_wxyz) + 0.5 * rotations.wrap(
            rotations.yaw(estimate.orientation_wxyz) - rotations.yaw(last.orientation_wxyz))
        displacement = np.array([*(estimate.position[:2] - last.position[:2]), 0.0])
        moved = rotations.rotate_inverse(rotations.from_yaw(heading), displacement)
        return moved[:2] / (estimate.time - last.time)
