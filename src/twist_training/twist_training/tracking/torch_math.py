"""The quaternion operations the batched task needs, on torch tensors ((w, x, y, z), like twist_core.rotations)."""

from __future__ import annotations

import torch


def rotate_inverse(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``v`` (..., 3) by the inverse of unit quaternions ``q`` (..., 4): world -> body."""
    u = -q[..., 1:]
    t = 2.0 * torch.cross(u.expand_as(v), v, dim=-1)
    return v + q[..., :1] * t + torch.cross(u.expand_as(v), t, dim=-1)


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
