"""Synthetic motion clips for tests: legs swinging under a command label, root from the command; a crafted pickle."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from twist_core.motion import Motion, build_motion, root_from_command
from twist_core.robot import RobotSpec


def walking_clip(spec: RobotSpec, seconds: float, vx: float, yaw_rate: float = 0.0, fps: float = 50.0,
                 frequency: float = 1.0) -> Motion:
    """A synthetic clip: standing 1 s, then legs swinging at ``frequency`` Hz with the command label (vx, 0, yaw)."""
    n = int(round(seconds * fps)) + 1
    t = np.arange(n) / fps
    moving = t >= 1.0
    phase = np.where(moving, np.sin(2 * np.pi * frequency * (t - 1.0)), 0.0)
    joint_pos = np.tile(spec.default_pose, (n, 1))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        joint_pos[:, spec.joint_index(f"{side}_hip_pitch_joint")] += 0.3 * vx * sign * phase
        joint_pos[:, spec.joint_index(f"{side}_hip_roll_joint")] += 0.05 * sign * phase
    command = np.where(moving[:, None], [vx, 0.0, yaw_rate], 0.0)
    root_pos, root_quat = root_from_command(command, fps, 0.75)
    return build_motion(spec, fps, root_pos, root_quat, joint_pos, command=command)


class OpenOnLoad:
    """A crafted pickle payload: unpickling this object calls ``open(marker, 'w')`` (``marker`` appears)."""

    def __init__(self, marker: Path) -> None:
        """The file the payload creates."""
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def malicious_pickle(path: Path, marker: Path, motion: Motion, spec: RobotSpec) -> Path:
    """A TWIST ``.pkl`` of ``motion`` whose ``root_pos`` creates the file ``marker`` if ``pickle.load`` reads it."""
    path = Path(path)
    path.write_bytes(pickle.dumps({"fps": motion.fps, "root_pos": OpenOnLoad(marker),
                                   "root_rot": motion.root_quat[:, [1, 2, 3, 0]],
                                   "dof_pos": spec.to_policy(motion.joint_pos)}))
    return path
