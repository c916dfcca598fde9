"""Leg odometry on the G1 model: height over the lowest foot sphere, the contact staying put, bad input refused.

How well it follows a walking robot is measured end to end: twist_bringup's test of the real graph on the
simulated G1 compares the real bridge's /odom with the simulator's ground truth.
"""

import numpy as np
import pytest

from twist_core import rotations
from twist_core.model import standing_height
from twist_core.odometry import HeadingVelocity, LegOdometry, OdometryEstimate


def _bend(spec, knee: str, angle: float) -> np.ndarray:
    """The default pose with one knee bent further (that foot lifts) and the hip and ankle keeping it level."""
    q = spec.default_pose.copy()
    side = knee.split("_")[0]
    q[spec.joint_index(f"{side}_knee_joint")] += angle
    q[spec.joint_index(f"{side}_hip_pitch_joint")] -= angle / 2
    q[spec.joint_index(f"{side}_ankle_pitch_joint")] -= angle / 2
    return q


def test_standing_height_position_and_orientation(spec):
    """The default pose upright: the pelvis at the standing height over the start, still; the IMU's yaw kept."""
    odometry = LegOdometry(spec)
    odometry.reset((1.0, -2.0))
    yawed = rotations.from_yaw(np.array(0.7))
    for k in range(10):
        estimate = odometry.update(0.02 * k, spec.default_pose, yawed)
    assert estimate.position[2] == pytest.approx(standing_height(spec, spec.default_pose))
    np.testing.assert_allclose(estimate.position[:2], [1.0, -2.0], atol=1e-9)
    np.testing.assert_allclose(estimate.linear_velocity, 0.0, atol=1e-12)
    np.testing.assert_allclose(estimate.orientation_wxyz, yawed)


def test_a_step_moves_the_pelvis_over_the_new_contact_without_a_jump(spec):
    """Lift the left foot (stance right), put it down and lift the right: the contact moves to the left foot at the
    switch, where the estimate is continuous; a pelvis that moves relative to a planted foot is seen moving."""
    odometry = LegOdometry(spec)
    left_up, right_up = _bend(spec, "left_knee", 0.4), _bend(spec, "right_knee", 0.4)
    first = odometry.update(0.0, left_up, [1.0, 0.0, 0.0, 0.0])
    assert spec.model.feet[first.stance_foot].startswith("right")
    both = odometry.update(0.02, spec.default_pose, [1.0, 0.0, 0.0, 0.0])  # both down: the contact stays
    assert both.stance_foot == first.stance_foot
    switched = odometry.update(0.04, right_up, [1.0, 0.0, 0.0, 0.0])
    assert spec.model.feet[switched.stance_foot].startswith("left")
    # the left foot was put down where the default pose has it: the pelvis is where the default pose puts it
    np.testing.assert_allclose(switched.position[:2], both.position[:2], atol=0.02)
    # pitched forward 0.02 rad over the planted foot (too little to move the contact to its toe): the pelvis moves
    leaning = odometry.update(0.06, right_up, rotations.normalize(np.array([1.0, 0.0, 0.01, 0.0])))
    assert leaning.stance_foot == switched.stance_foot
    assert leaning.position[0] - switched.position[0] == pytest.approx(0.02 * leaning.position[2], rel=0.2)
    assert np.all(np.isfinite(leaning.linear_velocity)) and np.any(leaning.linear_velocity != 0.0)


@pytest.mark.parametrize("q,quat,message", [
    (None, [1.0, 0.0, 0.0], "shapes"),
    ("short", [1.0, 0.0, 0.0, 0.0], "shapes"),
    ("nan", [1.0, 0.0, 0.0, 0.0], "not finite"),
    (None, [0.0, 0.0, 0.0, 0.0], "unit norm"),
    (None, [0.5, 0.0, 0.0, 0.0], "unit norm"),
])
def test_bad_input_is_refused_and_the_estimate_kept(spec, q, quat, message):
    """Wrong shapes, NaN joints and a quaternion far from unit norm: ValueError; the next good update continues."""
    odometry = LegOdometry(spec)
    good = odometry.update(0.0, spec.default_pose, [1.0, 0.0, 0.0, 0.0])
    joints = {None: spec.default_pose, "short": spec.default_pose[:-1],
              "nan": np.where(np.arange(spec.num_joints) == 3, np.nan, spec.default_pose)}[q]
    with pytest.raises(ValueError, match=message):
        odometry.update(0.02, joints, quat)
    again = odometry.update(0.04, spec.default_pose, [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(again.position, good.position)
    with pytest.raises(ValueError):
        LegOdometry(spec, velocity_time_constant=0.0)


def _estimate(time: float, xy, yaw: float, tilt: float = 0.0) -> OdometryEstimate:
    """An estimate at ``xy`` facing ``yaw``, pitched by ``tilt``."""
    orientation = rotations.multiply(rotations.from_yaw(np.array(yaw)), [np.cos(tilt / 2), 0.0, np.sin(tilt / 2), 0.0])
    return OdometryEstimate(time, np.array([*xy, 0.79]), orientation, np.zeros(3), 0)


def test_heading_velocity_turns_each_displacement_into_the_heading_of_its_moment():
    """A pelvis walking 1 m/s along a circle at 0.8 rad/s reads (1, 0) in its heading frame at every step (a world
    velocity turned at the end of the step would read sideways); sideways along +y facing +y reads (0, ...) as
    forward; the first estimate, one whose time does not advance and a tilted pelvis read None."""
    speed, rate, dt = 1.0, 0.8, 0.02
    velocity = HeadingVelocity()
    assert velocity.update(_estimate(0.0, (0.0, 0.0), 0.0)) is None
    readings = []
    for k in range(1, 200):  # the circle of radius speed / rate, starting at the origin facing +x
        yaw = rate * k * dt
        xy = (speed / rate * np.sin(yaw), speed / rate * (1.0 - np.cos(yaw)))
        readings.append(velocity.update(_estimate(k * dt, xy, yaw)))
    np.testing.assert_allclose(readings, np.tile([1.0, 0.0], (len(readings), 1)), atol=1e-4)
    velocity = HeadingVelocity()
    velocity.update(_estimate(0.0, (0.0, 0.0), np.pi / 2))
    np.testing.assert_allclose(velocity.update(_estimate(0.1, (-0.03, 0.05), np.pi / 2)), [0.5, 0.3], atol=1e-9)
    assert velocity.update(_estimate(0.1, (-0.03, 0.06), np.pi / 2)) is None  # the same time again
    assert velocity.update(_estimate(0.2, (-0.03, 0.10), np.pi / 2, tilt=0.7)) is None
    with pytest.raises(ValueError, match="max_tilt"):
        HeadingVelocity(max_tilt=0.0)
