"""The closed-loop monitor's geometry without ROS traffic: the heading frame of the key-body error."""

import numpy as np

from g1_bridge.closed_loop import heading_frame
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
