"""Gamepad sticks to a velocity command, with a deadband and a button that must be held (no ROS).

:class:`StickMapping` reads sensor_msgs/Joy-style ``axes`` and ``buttons``: while ``enable_button`` is held, the
axes ``axes`` (vx, vy, yaw rate) give the command; each axis within ``deadband`` of centre counts as zero and the
rest of its travel is rescaled to [0, 1], times the axis's ``scales`` (the command at full deflection). Released,
there is no command (None). The defaults fit joy_node's layout of an Xbox-style gamepad (left stick: axes 0 and 1,
right stick x: axis 3, LB: button 4) and the G1's wireless remote as the real bridge publishes it (the same
layout; L1 is button 4).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class StickMapping:
    """See the module docstring."""

    axes: tuple[int, int, int] = (1, 0, 3)
    scales: tuple[float, float, float] = (0.5, 0.3, 0.5)
    deadband: float = 0.1
    enable_button: int = 4

    def __post_init__(self) -> None:
        """Check the mapping (ValueError)."""
        if len(self.axes) != 3 or any(int(a) != a or a < 0 for a in self.axes):
            raise ValueError(f"axes must be three indices >= 0 (vx, vy, yaw rate), not {self.axes}")
        if len(self.scales) != 3 or not all(math.isfinite(s) for s in self.scales):
            raise ValueError(f"scales must be three finite numbers, not {self.scales}")
        if not 0.0 <= self.deadband < 1.0:
            raise ValueError(f"deadband must be in [0, 1), not {self.deadband}")
        if int(self.enable_button) != self.enable_button or self.enable_button < 0:
            raise ValueError(f"enable_button must be an index >= 0, not {self.enable_button}")

    def command(self, axes: Sequence[float], buttons: Sequence[int]) -> np.ndarray | None:
        """(vx, vy, yaw rate) while the enable button is held, else None.

        Raises ValueError when the message lacks a mapped axis or the button, or a mapped axis is not finite.
        """
        if len(buttons) <= self.enable_button or len(axes) <= max(self.axes):
            raise ValueError(f"the Joy message has {len(axes)} axes and {len(buttons)} buttons; the mapping needs "
                             f"axis {max(self.axes)} and button {self.enable_button}")
        if not buttons[self.enable_button]:
            return None
        values = np.array([axes[a] for a in self.axes], dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"non-finite stick values {values.tolist()}")
        values = np.clip(values, -1.0, 1.0)
        live = np.maximum(np.abs(values) - self.deadband, 0.0) / (1.0 - self.deadband)
        return np.sign(values) * live * np.asarray(self.scales)
