"""Quaternion helpers, vectorized over leading dimensions. Convention everywhere: (w, x, y, z), unit norm."""

from __future__ import annotations

import numpy as np


def normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (raises on zero norm)."""
    q = np.asarray(q, dtype=np.float64)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(norm < 1e-12):
        raise ValueError("zero-norm quaternion")
    return q / norm


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def conjugate(q: np.ndarray) -> np.ndarray:
    """Inverse of a unit quaternion."""
    return np.asarray(q, dtype=np.float64) * np.array([1.0, -1.0, -1.0, -1.0])


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v`` (..., 3) by quaternions ``q`` (..., 4)."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + q[..., :1] * t + np.cross(u, t)


def rotate_inverse(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors by the inverse of ``q`` (world -> body frame)."""
    return rotate(conjugate(q), v)


def from_yaw(yaw: np.ndarray) -> np.ndarray:
    """Quaternions of rotations about z by ``yaw``."""
    yaw = np.asarray(yaw, dtype=np.float64)
    zeros = np.zeros_like(yaw)
    return np.stack([np.cos(yaw / 2), zeros, zeros, np.sin(yaw / 2)], axis=-1)


def yaw(q: np.ndarray) -> np.ndarray:
    """Heading angle (ZYX Euler yaw) of quaternions."""
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0)
    return np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def wrap(angle: float) -> float:
    """``angle`` [rad] wrapped into [-pi, pi]."""
    return float(np.arctan2(np.sin(angle), np.cos(angle)))


def roll_pitch_yaw(q: np.ndarray) -> np.ndarray:
    """ZYX Euler angles (roll, pitch, yaw) of quaternions, stacked on the last axis."""
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0)
    roll = np.arctan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2.0 * (w * y - z * x), -1.0, 1.0))
    return np.stack([roll, pitch, yaw(q)], axis=-1)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation from ``a`` to ``b`` at fractions ``t`` (shortest path)."""
    a = normalize(a)
    b = normalize(b)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    small = theta < 1e-6
    sin_theta = np.where(small, 1.0, np.sin(theta))
    wa = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / sin_theta)
    wb = np.where(small, t, np.sin(t * theta) / sin_theta)
    return normalize(wa * a + wb * b)


def angular_velocity(q: np.ndarray, dt: float) -> np.ndarray:
    """World-frame angular velocity of a quaternion trajectory (T, 4) by central differences (T, 3)."""
    q = normalize(q)
    if len(q) < 2:
        return np.zeros((len(q), 3))
    # consecutive relative rotations in the world frame: q[k+1] = d[k] * q[k]
    d = multiply(q[1:], conjugate(q[:-1]))
    d = np.where(d[..., :1] < 0, -d, d)
    angle = 2.0 * np.arctan2(np.linalg.norm(d[..., 1:], axis=-1), d[..., 0])
    axis_norm = np.linalg.norm(d[..., 1:], axis=-1, keepdims=True)
    axis = np.where(axis_norm > 1e-12, d[..., 1:] / np.maximum(axis_norm, 1e-12), 0.0)
    forward = axis * (angle / dt)[..., None]  # velocity between k and k+1
    omega = np.empty((len(q), 3))
    omega[0], omega[-1] = forward[0], forward[-1]
    omega[1:-1] = 0.5 * (forward[:-1] + forward[1:])
    return omega
