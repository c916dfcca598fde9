"""The closed-loop monitor's geometry without ROS traffic: the heading frame of the key-body error."""

import numpy as np

from twist_bringup.closed_loop import heading_frame
from twist_core import rotations


def test_heading_frame_undoes_roll_and_pitch_but_not_yaw():
    """A point ahead of a pitched, yawed pelvis is ahead and below in its heading frame; yaw alone changes nothing."""
    pitch = 0.3
    pitched = rotations.multiply(rotations.from_yaw(np.array(1.2)),
                                 np.array([np.cos(pitch / 2), 0.0, np.sin(pitch / 2), 0.0]))
    point = np.array([1.0, 0.0, 0.0])
    np.testing.assert_allclose(heading_frame(pitched, point), [np.cos(pitch), 0.0, -np.sin(pitch)], atol=1e-12)
    np.testing.assert_allclose(heading_frame(rotations.from_yaw(np.array(0.7)), point), point, atol=1e-12)
    points = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert heading_frame(pitched, points).shape == (2, 3)


def test_body_velocity_on_a_circle_is_the_walking_speed_not_the_chord():
    """Walking 0.5 m/s while turning 0.3 rad/s for 10 s: 0.5 m/s forward, 0 sideways, 0.3 rad/s (the chord of the
    arc would give 0.5 * sin(1.5) / 1.5 = 0.33 m/s)."""
    from twist_bringup.closed_loop import body_velocity

    t = np.arange(0.0, 10.0 + 1e-9, 0.02)
    heading = 0.2 + 0.3 * t
    radius = 0.5 / 0.3
    x, y = radius * np.sin(heading), -radius * np.cos(heading)
    odom = np.column_stack([t, x, y, np.angle(np.exp(1j * heading))])  # wrapped, as /odom gives it
    np.testing.assert_allclose(body_velocity(odom, window=10.0), [0.5, 0.0, 0.3], atol=2e-4)
    backwards = np.column_stack([t, -0.4 * t * np.cos(0.7), -0.4 * t * np.sin(0.7), np.full_like(t, 0.7)])
    np.testing.assert_allclose(body_velocity(backwards, window=10.0), [-0.4, 0.0, 0.0], atol=1e-9)
    assert np.isnan(body_velocity(odom[:10], window=10.0)).all() and np.isnan(body_velocity(odom[:1])).all()


def test_missed_ticks_count_the_control_periods_without_a_command():
    """Commands every 20 ms with one 60 ms gap (two ticks missed) and one 35 ms gap (one missed): 3, longest 60."""
    from twist_bringup.closed_loop import missed_ticks

    missed = missed_ticks(np.array([0.0, 0.02, 0.04, 0.10, 0.135, 0.155, 0.175]), 0.02)
    assert missed.count == 3 and abs(missed.longest_gap - 0.06) < 1e-9
    np.testing.assert_allclose(missed.late, [(0.10, 0.06), (0.135, 0.035)])  # each late command, its gap
    jitter = missed_ticks(np.arange(0.0, 1.0, 0.02) + 0.004 * np.sin(np.arange(50)), 0.02)
    assert jitter.count == 0 and jitter.late == ()
    assert missed_ticks(np.array([0.0]), 0.02).count == 0
