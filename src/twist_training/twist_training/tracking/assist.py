"""A virtual gantry for the first part of teacher training: assistance that fades as the policy learns to balance.

With the G1's PD gains the standing robot is an unstable inverted pendulum (gravity's toppling stiffness about
the ankles, m g h ~ 250 Nm/rad, is three times the ankles' PD stiffness), so it tips over within about 1.3 s
unless the policy balances it, and a policy that starts from noise sees little else than falls. The gantry holds
the pelvis up (an upward spring-damper towards the reference height) and upright (a roll/pitch spring-damper),
scaled by one ``level`` in [0, 1]: the policy can first learn to track the motion, then learns balance while the
help fades. The level follows the fall rate: below ``fall_rate_low`` falls per environment-second it drops by
``rate``, above ``fall_rate_high`` it rises again (never above ``initial``). The wrench is a generalized force on
the floating base, evaluated every physics step (once per 20 ms control step it rings on the light pelvis).
``initial = 0`` (the default) turns it off; evaluation,
students and deployment never use it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import torch

from twist_training.tracking import torch_math as tm


@dataclasses.dataclass
class AssistConfig:
    """Gains at level 1 and the curriculum that fades the level."""

    initial: float = 0.0             # starting level; 0 turns the gantry off
    tilt_stiffness: float = 300.0    # Nm/rad towards upright (about m g h of the G1)
    tilt_damping: float = 5.0        # Nm s/rad (applied to the light pelvis: more rings)
    height_stiffness: float = 3000.0  # N/m towards the reference pelvis height, pushing up only
    height_damping: float = 300.0    # N s/m
    fall_rate_low: float = 0.1       # falls per environment-second below which the level drops
    fall_rate_high: float = 0.25     # ... above which it rises
    rate: float = 0.02               # level change per update
    update_steps: int = 24           # control steps between updates

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        if not (0.0 <= self.initial <= 1.0 and self.update_steps >= 1 and self.rate >= 0.0):
            raise ValueError("initial must be in [0, 1], update_steps >= 1, rate >= 0")


class Assist:
    """The gantry's level, its wrench and its curriculum for a batch of environments."""

    def __init__(self, config: AssistConfig, num_envs: int, dt: float) -> None:
        """Start at ``config.initial``; ``dt`` is the control period."""
        self.cfg, self.num_envs, self.dt = config, num_envs, dt
        self.level = float(config.initial)
        self._frozen = False
        self._falls = 0
        self._steps = 0

    @property
    def active(self) -> bool:
        """Whether the gantry pushes at all."""
        return self.level > 0.0

    def wrench(self, quat: torch.Tensor, ang_vel_body: torch.Tensor, height: torch.Tensor,
               vertical_velocity: torch.Tensor, target_height: torch.Tensor) -> torch.Tensor:
        """Floating-base generalized force (N, 6): world force (x, y, z), then torque in the pelvis frame.

        ``quat`` (N, 4) w, x, y, z of the pelvis, ``ang_vel_body`` (N, 3) in the pelvis frame, heights and the
        vertical velocity (N,).
        """
        cfg = self.cfg
        world_up = torch.tensor([0.0, 0.0, 1.0], dtype=quat.dtype, device=quat.device)
        up = tm.rotate_inverse(quat, world_up.expand(quat.shape[0], 3))  # world up in the pelvis frame
        out = torch.zeros(quat.shape[0], 6, dtype=quat.dtype, device=quat.device)
        # torque along e_z x up turns the pelvis' z axis towards up (|e_z x up| = sin(tilt))
        out[:, 3] = cfg.tilt_stiffness * -up[:, 1] - cfg.tilt_damping * ang_vel_body[:, 0]
        out[:, 4] = cfg.tilt_stiffness * up[:, 0] - cfg.tilt_damping * ang_vel_body[:, 1]
        lift = cfg.height_stiffness * (target_height - height) - cfg.height_damping * vertical_velocity
        out[:, 2] = torch.clamp(lift, min=0.0)
        return self.level * out

    def record(self, terminated: torch.Tensor) -> None:
        """Count this step's falls; every ``update_steps`` steps move the level by the fall rate."""
        if self._frozen or self.cfg.initial <= 0.0:
            return
        self._falls += int(terminated.sum())
        self._steps += 1
        if self._steps < self.cfg.update_steps:
            return
        rate = self._falls / (self.num_envs * self._steps * self.dt)
        if rate < self.cfg.fall_rate_low:
            self.level = max(0.0, self.level - self.cfg.rate)
        elif rate > self.cfg.fall_rate_high:
            self.level = min(self.cfg.initial, self.level + self.cfg.rate)
        self._falls = self._steps = 0

    @contextlib.contextmanager
    def fixed(self, level: float = 0.0) -> Iterator[None]:
        """The gantry held at ``level`` (default: none) without curriculum updates inside the block (probes)."""
        saved, frozen = self.level, self._frozen
        self.level, self._frozen = float(level), True
        try:
            yield
        finally:
            self.level, self._frozen = saved, frozen
