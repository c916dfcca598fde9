"""Quaternion helpers (wxyz)."""

import numpy as np
import pytest

from twist_core import rotations


def test_roll_pitch_yaw_of_known_rotations():
    """Rotations about x, y and z give the expected Euler angles."""
    half = np.deg2rad(30) / 2
    assert rotations.roll_pitch_yaw([np.cos(half), np.sin(half), 0, 0]) == pytest.approx([np.deg2rad(30), 0, 0])
    assert rotations.roll_pitch_yaw([np.cos(half), 0, np.sin(half), 0]) == pytest.approx([0, np.deg2rad(30), 0])
    assert rotations.yaw(rotations.from_yaw(1.2)) == pytest.approx(1.2)


def test_rotate_and_inverse():
    """rotate_inverse undoes rotate; a quarter turn about z maps x to y."""
    q = rotations.from_yaw(np.pi / 2)
    np.testing.assert_allclose(rotations.rotate(q, [1.0, 0.0, 0.0]), [0.0, 1.0, 0.0], atol=1e-12)
    v = np.array([0.3, -1.2, 0.7])
    q = rotations.normalize([0.9, 0.1, -0.3, 0.2])
    np.testing.assert_allclose(rotations.rotate_inverse(q, rotations.rotate(q, v)), v, atol=1e-12)
