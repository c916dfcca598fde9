"""Synthetic motions for the tests: analytic joint and root trajectories."""

import numpy as np

from twist_core import rotations
from twist_core.motion import build_motion


def sine_motion(spec, fps=50.0, seconds=2.0, amplitude=0.2, frequency=0.7, walk_speed=0.5, turn_rate=0.3):
    """Every joint swings sinusoidally around the default pose while the root walks and turns."""
    t = np.arange(int(round(seconds * fps)) + 1) / fps
    phase = np.arange(spec.num_joints) * 0.3
    joint_pos = spec.default_pose + amplitude * np.sin(2 * np.pi * frequency * t[:, None] + phase)
    yaw = turn_rate * t
    root_pos = np.column_stack([walk_speed * np.sin(yaw) / max(turn_rate, 1e-9) if turn_rate else walk_speed * t,
                                walk_speed * (1 - np.cos(yaw)) / max(turn_rate, 1e-9) if turn_rate else 0 * t,
                                0.76 + 0.01 * np.sin(2 * np.pi * 2 * frequency * t)])
    root_quat = rotations.multiply(rotations.from_yaw(yaw),
                                   np.column_stack([np.cos(0.05 * np.sin(t) / 2), np.zeros_like(t),
                                                    np.sin(0.05 * np.sin(t) / 2), np.zeros_like(t)]))
    command = np.column_stack([np.full_like(t, walk_speed), np.zeros_like(t), np.full_like(t, turn_rate)])
    return build_motion(spec, fps, root_pos, root_quat, joint_pos, command=command, metadata={"source": "sine"})
