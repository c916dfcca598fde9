"""The quaternion operations the batched task needs, on torch tensors ((w, x, y, z), like twist_core.rotations)."""

from __future__ import annotations

import torch


def rotate_inverse(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``v`` (..., 3) by the inverse of unit quaternions ``q`` (..., 4): world -> body."""
    u = -q[..., 1:]
    t = 2.0 * torch.cross(u.expand_as(v), v, dim=-1)
    return v + q[..., :1] * t + torch.cross(u.expand_as(v), t, dim=-1)


def rotate(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``v`` (..., 3) by unit quaternions ``q`` (..., 4): body -> world."""
    return rotate_inverse(q * q.new_tensor([1.0, -1.0, -1.0, -1.0]), v)


def multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton products ``a * b`` of quaternions (..., 4)."""
    w1, x1, y1, z1 = a.unbind(-1)
    w2, x2, y2, z2 = b.unbind(-1)
    return torch.stack([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2], dim=-1)


def from_roll_pitch(roll_pitch: torch.Tensor) -> torch.Tensor:
    """Quaternions (..., 4) of small rotations about x then y from (roll, pitch) angles (..., 2)."""
    half = roll_pitch / 2
    cr, sr, cp, sp = torch.cos(half[..., 0]), torch.sin(half[..., 0]), torch.cos(half[..., 1]), torch.sin(half[..., 1])
    return torch.stack([cr * cp, sr * cp, cr * sp, -sr * sp], dim=-1)


def yaw(q: torch.Tensor) -> torch.Tensor:
    """Heading angle (ZYX yaw) of quaternions (...)."""
    w, x, y, z = q.unbind(-1)
    return torch.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def from_yaw(angle: torch.Tensor) -> torch.Tensor:
    """Quaternions (..., 4) of rotations about z."""
    zeros = torch.zeros_like(angle)
    return torch.stack([torch.cos(angle / 2), zeros, zeros, torch.sin(angle / 2)], dim=-1)


def wrap(angle: torch.Tensor) -> torch.Tensor:
    """Angles wrapped to (-pi, pi]."""
    return torch.atan2(torch.sin(angle), torch.cos(angle))
