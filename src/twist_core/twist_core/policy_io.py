"""What the deployable (student) policy sees and what its output means: one implementation for training and robot.

The functions take numpy arrays (the policy node) or torch tensors (batched training) with any leading batch
dimensions and return the same kind, so the observation a policy is trained on and the one it gets on the robot
are computed by the same lines. Joints are in motor order (29) on input; the policy works on the 23 policy joints.

**Frame** (``FRAME_LAYOUT``, 104 numbers): the current reference, then proprioception:

====================  ====  ============================================================================
ref_root_height        1    reference pelvis height [m]
ref_roll_pitch         2    reference pelvis roll, pitch [rad] (yaw is not observed: the robot's own yaw
                            is unknown on the real robot, so an absolute reference yaw would be meaningless)
ref_lin_vel            3    reference pelvis linear velocity in the reference root frame [m/s]
ref_yaw_rate           1    reference yaw rate [rad/s]
ref_joint_pos         23    reference joint positions [rad], absolute
gyro                   3    pelvis angular velocity (IMU) x ``GYRO_SCALE``
roll_pitch             2    pelvis roll, pitch from the IMU quaternion (wxyz) [rad]
joint_pos             23    q - default pose [rad]
joint_vel             23    dq x ``JOINT_VEL_SCALE``; ankle pitch/roll entries are zero (unreliable encoders)
last_action           23    the previous raw policy output (before clipping and scaling)
====================  ====  ============================================================================

**Observation**: the frame followed by the ``HISTORY`` previous frames, oldest first (104 x 11 = 1144).
:class:`History` starts filled with copies of the first frame, in training and on the robot alike (the original
started from zeros on the robot and from copies in training).

**Action**: 23 numbers, clipped to +-``ACTION_CLIP``; joint targets = default pose + ``ACTION_SCALE`` x action;
joints outside the policy hold the default pose.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Sequence

import numpy as np

from twist_core.robot import RobotSpec

HISTORY = 10
GYRO_SCALE = 0.25
JOINT_VEL_SCALE = 0.05
ACTION_SCALE = 0.5
ACTION_CLIP = 10.0
MASKED_VELOCITY_JOINTS = ("left_ankle_pitch_joint", "left_ankle_roll_joint", "right_ankle_pitch_joint",
                          "right_ankle_roll_joint")
FRAME_LAYOUT: tuple[tuple[str, int], ...] = (
    ("ref_root_height", 1), ("ref_roll_pitch", 2), ("ref_lin_vel", 3), ("ref_yaw_rate", 1), ("ref_joint_pos", 23),
    ("gyro", 3), ("roll_pitch", 2), ("joint_pos", 23), ("joint_vel", 23), ("last_action", 23),
)
FRAME_SIZE = sum(n for _, n in FRAME_LAYOUT)
OBSERVATION_SIZE = FRAME_SIZE * (HISTORY + 1)


class _Ops:
    """The few array operations the builders need, for numpy arrays or torch tensors."""

    def __init__(self, like: Any) -> None:
        self.torch = type(like).__module__.startswith("torch")
        if self.torch:
            import torch

            self.lib = torch

    def cat(self, parts: Sequence[Any]) -> Any:
        return self.lib.cat(list(parts), dim=-1) if self.torch else np.concatenate(parts, axis=-1)

    def stack(self, parts: Sequence[Any], axis: int) -> Any:
        return self.lib.stack(list(parts), dim=axis) if self.torch else np.stack(parts, axis=axis)

    def clip(self, x: Any, low: float, high: float) -> Any:
        return self.lib.clamp(x, low, high) if self.torch else np.clip(x, low, high)

    def atan2(self, y: Any, x: Any) -> Any:
        return self.lib.atan2(y, x) if self.torch else np.arctan2(y, x)

    def asin(self, x: Any) -> Any:
        return self.lib.asin(x) if self.torch else np.arcsin(x)

    def index(self, indices: np.ndarray, like: Any) -> Any:
        if self.torch:
            return self.lib.as_tensor(np.array(indices), dtype=self.lib.long, device=like.device)
        return indices

    def constant(self, values: np.ndarray, like: Any) -> Any:
        if self.torch:
            return self.lib.as_tensor(np.array(values), dtype=like.dtype, device=like.device)
        return np.asarray(values, dtype=like.dtype)


def roll_pitch(quat_wxyz: Any) -> Any:
    """Roll and pitch (..., 2) [rad] of (w, x, y, z) quaternions (numpy or torch)."""
    ops = _Ops(quat_wxyz)
    w, x, y, z = (quat_wxyz[..., i] for i in range(4))
    roll = ops.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = ops.asin(ops.clip(2.0 * (w * y - z * x), -1.0, 1.0))
    return ops.stack([roll, pitch], axis=-1)


class PolicyIO:
    """Observation frames and action decoding for one robot spec (see the module docstring)."""

    def __init__(self, spec: RobotSpec) -> None:
        """Precompute index maps and constants from the spec."""
        self.spec = spec
        self.policy_indices = np.asarray(spec.policy_indices)
        self.default_policy = np.asarray(spec.to_policy(spec.default_pose), dtype=np.float64)
        names = [spec.joint_names[i] for i in self.policy_indices]
        self.velocity_mask = np.array([0.0 if n in MASKED_VELOCITY_JOINTS else 1.0 for n in names])
        self.num_actions = len(self.policy_indices)

    def frame(self, ref_root_height: Any, ref_quat_wxyz: Any, ref_lin_vel: Any, ref_yaw_rate: Any,
              ref_joint_pos: Any, gyro: Any, imu_quat_wxyz: Any, joint_pos: Any, joint_vel: Any,
              last_action: Any) -> Any:
        """Build one observation frame, shape (..., 104); joint arrays in motor order (..., 29)."""
        ops = _Ops(joint_pos)
        idx = ops.index(self.policy_indices, joint_pos)
        default = ops.constant(self.default_policy, joint_pos)
        mask = ops.constant(self.velocity_mask, joint_pos)
        parts = [
            ref_root_height[..., None], roll_pitch(ref_quat_wxyz), ref_lin_vel, ref_yaw_rate[..., None],
            ref_joint_pos[..., idx],
            gyro * GYRO_SCALE, roll_pitch(imu_quat_wxyz), joint_pos[..., idx] - default,
            joint_vel[..., idx] * JOINT_VEL_SCALE * mask, last_action,
        ]
        return ops.cat(parts)

    def targets(self, action: Any) -> Any:
        """Joint position targets in motor order, shape (..., 29), from raw actions of shape (..., 23)."""
        ops = _Ops(action)
        full_default = ops.constant(self.spec.default_pose, action)
        scaled = ops.constant(self.default_policy, action) + ACTION_SCALE * ops.clip(action, -ACTION_CLIP,
                                                                                     ACTION_CLIP)
        if ops.torch:
            out = full_default.expand(*action.shape[:-1], self.spec.num_joints).clone()
        else:
            out = np.broadcast_to(full_default, action.shape[:-1] + (self.spec.num_joints,)).copy()
        out[..., ops.index(self.policy_indices, action)] = scaled
        return out

    def actions(self, policy_targets: Any) -> Any:
        """Invert :meth:`targets` on the policy joints: raw actions, shape (..., 23), for ``policy_targets``.

        Clipped to the action range: targets beyond it come back as the nearest reachable ones.
        """
        ops = _Ops(policy_targets)
        return ops.clip((policy_targets - ops.constant(self.default_policy, policy_targets)) / ACTION_SCALE,
                        -ACTION_CLIP, ACTION_CLIP)

    def layout(self) -> dict[str, Any]:
        """Everything a consumer must agree on, as JSON-able data (exported with every policy)."""
        return {
            "frame": [list(item) for item in FRAME_LAYOUT], "history": HISTORY, "frame_size": FRAME_SIZE,
            "observation_size": OBSERVATION_SIZE, "gyro_scale": GYRO_SCALE, "joint_vel_scale": JOINT_VEL_SCALE,
            "masked_velocity_joints": list(MASKED_VELOCITY_JOINTS), "action_scale": ACTION_SCALE,
            "action_clip": ACTION_CLIP, "policy_joints": [self.spec.joint_names[i] for i in self.policy_indices],
            "history_init": "copies of the first frame",
        }

    def layout_hash(self) -> str:
        """SHA-256 of :meth:`layout` (the policy node refuses a policy whose hash differs)."""
        return hashlib.sha256(json.dumps(self.layout(), sort_keys=True).encode()).hexdigest()


class History:
    """The last ``HISTORY`` frames of each environment (numpy or torch; leading batch dimension)."""

    def __init__(self, first_frame: Any, length: int = HISTORY) -> None:
        """Start filled with copies of ``first_frame`` (B, F)."""
        self.ops = _Ops(first_frame)
        self.length = length
        if self.ops.torch:
            self.frames = first_frame[:, None, :].repeat(1, length, 1).clone()
        else:
            self.frames = np.repeat(np.asarray(first_frame)[:, None, :], length, axis=1)

    def reset(self, ids: Any, frame: Any) -> None:
        """Refill the history of environments ``ids`` with copies of their ``frame`` (len(ids), F)."""
        self.frames[ids] = frame[:, None, :]

    def observation(self, frame: Any) -> Any:
        """[frame, previous frames oldest first] (B, F * (1 + length)); then ``frame`` joins the history."""
        flat = self.frames.reshape(self.frames.shape[0], -1)
        obs = self.ops.cat([frame, flat])
        if self.ops.torch:
            self.frames = self.ops.lib.cat([self.frames[:, 1:], frame[:, None, :]], dim=1)
        else:
            self.frames = np.concatenate([self.frames[:, 1:], frame[:, None, :]], axis=1)
        return obs
