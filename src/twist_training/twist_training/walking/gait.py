"""Footsteps, the ZMP reference and swing-foot trajectories from a velocity-command timeline.

The command (vx, vy in the heading frame, yaw rate), sampled at the output rate, acceleration-limited and held
at zero until the first step, is integrated into a virtual body path. Steps alternate feet; each step is a
double-support phase (the ZMP moves from the old to the new stance foot) followed by a single-support phase
(the other foot swings). A swing foot lands where the virtual body will be in the middle of the single support
it then carries, its sole centre offset sideways by the hip half-width, so the feet (and with them the ZMP and
the CoM) advance at the commanded velocity. A command near zero stops stepping after a final step that brings
the feet side by side; a new command starts stepping again.
"""

from __future__ import annotations

import dataclasses

import numpy as np

LEFT, RIGHT = 0, 1


@dataclasses.dataclass(frozen=True)
class GaitConfig:
    """Timing and geometry of the gait (lengths in m, times in s)."""

    step_time_slow: float = 0.55     # step duration at rest speed
    step_time_fast: float = 0.26     # step duration at fast_speed and above
    fast_speed: float = 1.5          # m/s
    double_support: float = 0.1      # fraction of a step in double support
    swing_apex: float = 0.07         # swing-foot clearance at rest speed ...
    swing_apex_fast: float = 0.04    # ... and at fast_speed (a lower, shorter swing at high cadence)
    foot_half_width: float = 0.1185  # lateral ankle offset from the body centre line (G1 default pose)
    zmp_foot_offset: float = 0.035   # foot centre ahead of the ankle (the foot collision spheres span -5..12 cm)
    standing_threshold: float = 0.03  # |command| below which the robot stands
    settle_time: float = 1.0         # standing before the first step
    max_acceleration: float = 1.0    # m/s^2: the virtual body speeds up and slows down no faster than this
    max_yaw_acceleration: float = 2.0  # rad/s^2

    lateral_cadence: float = 3.0     # sideways speed counts this much more for the cadence (ankle roll is short)
    com_height: float = 0.67         # m, for the centripetal offset of the footsteps (the generator measures it)

    def speed_fraction(self, command: np.ndarray) -> float:
        """How fast a command is for the gait: 0 at rest, 1 at ``fast_speed`` (sideways counts more)."""
        return min(float(np.hypot(command[0], self.lateral_cadence * command[1])) / self.fast_speed, 1.0)

    def step_time(self, command: np.ndarray) -> float:
        """Step duration for a command: faster cadence at higher speed, especially sideways."""
        return self.step_time_slow + (self.step_time_fast - self.step_time_slow) * self.speed_fraction(command)

    def is_standing(self, command: np.ndarray) -> bool:
        """Whether the gait stands for this command (every axis within ``standing_threshold``)."""
        return float(np.abs(command).max()) <= self.standing_threshold

    @property
    def acceleration_limits(self) -> np.ndarray:
        """Largest change per second of (vx, vy, yaw rate) the virtual body follows."""
        return np.array([self.max_acceleration, self.max_acceleration, self.max_yaw_acceleration])

    def apex(self, command: np.ndarray) -> float:
        """Swing-foot clearance for a command: lower at higher speed."""
        return self.swing_apex + (self.swing_apex_fast - self.swing_apex) * self.speed_fraction(command)


@dataclasses.dataclass
class Step:
    """One step: the swing foot leaves at ``lift`` and lands at ``land`` (single support in between)."""

    foot: int
    start: float         # beginning of the step (double support before lift)
    lift: float
    land: float
    from_pose: np.ndarray  # (x, y, yaw) of the ankle before
    to_pose: np.ndarray    # (x, y, yaw) of the ankle after
    apex: float          # swing-foot clearance


@dataclasses.dataclass
class GaitPlan:
    """Everything the whole-body IK needs, sampled at ``fps``."""

    fps: float
    command: np.ndarray        # (T, 3)
    body: np.ndarray           # (T, 3) virtual body x, y, yaw
    feet: np.ndarray           # (T, 2, 4) ankle x, y, z-lift, yaw per foot
    stance: np.ndarray         # (T, 2) bool: foot on the ground
    zmp: np.ndarray            # (T, 2) ZMP reference
    steps: list[Step]

    def cropped(self, frames: int) -> GaitPlan:
        """The plan's first ``frames`` frames (steps that start later are dropped)."""
        end = (frames - 1) / self.fps
        return GaitPlan(self.fps, self.command[:frames], self.body[:frames], self.feet[:frames],
                        self.stance[:frames], self.zmp[:frames], [s for s in self.steps if s.start <= end])


def integrate_body(command: np.ndarray, fps: float, start: np.ndarray | None = None) -> np.ndarray:
    """Virtual body path (x, y, yaw) integrating the command (velocities in the heading frame)."""
    dt = 1.0 / fps
    body = np.zeros((len(command), 3))
    body[0] = np.zeros(3) if start is None else start
    for k in range(1, len(command)):
        x, y, yaw = body[k - 1]
        vx, vy, wz = command[k - 1]
        body[k] = [x + dt * (np.cos(yaw) * vx - np.sin(yaw) * vy), y + dt * (np.sin(yaw) * vx + np.cos(yaw) * vy),
                   yaw + dt * wz]
    return body


def rate_limited(command: np.ndarray, fps: float, config: GaitConfig) -> np.ndarray:
    """The command with bounded acceleration: starts and stops become gradual."""
    limits = config.acceleration_limits / fps
    out = np.empty_like(command)
    out[0] = command[0]
    for k in range(1, len(command)):
        out[k] = out[k - 1] + np.clip(command[k] - out[k - 1], -limits, limits)
    return out


def _foot_pose(body: np.ndarray, foot: int, config: GaitConfig) -> np.ndarray:
    """Ankle pose (x, y, yaw) that puts the foot's sole centre beside the body point."""
    side = config.foot_half_width if foot == LEFT else -config.foot_half_width
    back = -config.zmp_foot_offset
    x, y, yaw = body
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([x + c * back - s * side, y + s * back + c * side, yaw])


def _body_at(body: np.ndarray, fps: float, t: float) -> np.ndarray:
    k = min(max(int(round(t * fps)), 0), len(body) - 1)
    return body[k]


def plan_steps(command: np.ndarray, fps: float, config: GaitConfig) -> tuple[np.ndarray, list[Step]]:
    """The virtual body path and the list of steps for a command timeline."""
    settled = np.array(command, dtype=np.float64)
    settled[: int(round(config.settle_time * fps))] = 0.0  # the body waits for the first step
    limited = rate_limited(settled, fps, config)
    body = integrate_body(limited, fps)
    # For the CoM to follow a curved body path, the pendulum needs its ZMP outside the curve by (z_c / g) times the
    # centripetal acceleration (omega x v): shift the footsteps, which carry the ZMP, by that much. (Speed changes
    # are left to the preview controller: shifting for them too makes the first steps of a start too long.)
    velocity = np.gradient(body[:, :2], 1.0 / fps, axis=0)
    yaw_rate = np.gradient(body[:, 2], 1.0 / fps)
    centripetal = yaw_rate[:, None] * np.column_stack([-velocity[:, 1], velocity[:, 0]])
    zmp_shift = -config.com_height / 9.81 * centripetal
    duration = (len(command) - 1) / fps
    feet = [_foot_pose(body[0], LEFT, config), _foot_pose(body[0], RIGHT, config)]
    steps: list[Step] = []
    t = config.settle_time
    next_foot = None
    while True:
        k = min(int(round(t * fps)), len(command) - 1)
        cmd = command[k]
        moving = not config.is_standing(cmd)
        # cadence and clearance for the faster of the command and the body (which lags it): a stop from a
        # fast walk keeps the short fast steps until the body has slowed down
        pace = np.maximum(np.abs(cmd), np.abs(limited[k]))
        step_time = config.step_time(pace)
        if t + step_time > duration:
            break
        # after a stop, feet must be side by side under the body: needs one more step
        square = [np.allclose(feet[f], _foot_pose(_body_at(body, fps, t), f, config), atol=1e-3)
                  for f in (LEFT, RIGHT)]
        if not moving and all(square):
            next_foot = None
            t += 1.0 / fps
            continue
        if next_foot is None:  # first step: the foot on the side of the lateral/turning motion
            next_foot = LEFT if (cmd[1] > 0 or (cmd[1] == 0 and cmd[2] >= 0)) else RIGHT
        lift = t + config.double_support * step_time
        land = t + step_time
        # the foot carries the ZMP during the next step's single support: centre it on the body at that time
        target_time = land + ((1.0 + config.double_support) / 2.0 * step_time if moving else 0.0)
        target = _foot_pose(_body_at(body, fps, target_time), next_foot, config)
        target[:2] += _body_at(zmp_shift, fps, target_time) if moving else 0.0
        steps.append(Step(next_foot, t, lift, land, feet[next_foot].copy(), target, config.apex(pace)))
        feet[next_foot] = target
        next_foot = 1 - next_foot
        t = land
    return body, steps


def _smooth(s: np.ndarray) -> np.ndarray:
    """Smoothstep with zero velocity and acceleration at both ends (quintic)."""
    s = np.clip(s, 0.0, 1.0)
    return s ** 3 * (10 - 15 * s + 6 * s * s)


def plan_gait(command: np.ndarray, fps: float, config: GaitConfig | None = None) -> GaitPlan:
    """Feet, stance flags and the ZMP reference at every frame."""
    config = config or GaitConfig()
    command = np.asarray(command, dtype=np.float64)
    body, steps = plan_steps(command, fps, config)
    n = len(command)
    t = np.arange(n) / fps
    feet = np.zeros((n, 2, 4))
    stance = np.ones((n, 2), dtype=bool)
    for foot in (LEFT, RIGHT):
        feet[:, foot, [0, 1, 3]] = _foot_pose(body[0], foot, config)
    for step in steps:
        f = step.foot
        after = t >= step.land
        feet[after, f, 0:2] = step.to_pose[:2]
        feet[after, f, 3] = step.to_pose[2]
        swing = (t >= step.lift) & (t < step.land)
        s = (t[swing] - step.lift) / (step.land - step.lift)
        blend = _smooth(s)[:, None]
        yaw_delta = np.angle(np.exp(1j * (step.to_pose[2] - step.from_pose[2])))
        feet[swing, f, 0:2] = (1 - blend) * step.from_pose[:2] + blend * step.to_pose[:2]
        feet[swing, f, 3] = step.from_pose[2] + blend[:, 0] * yaw_delta
        feet[swing, f, 2] = step.apex * np.sin(np.pi * s) ** 2  # zero vertical speed at lift and touch
        stance[swing, f] = False
    zmp = _zmp_reference(t, feet, steps, config)
    return GaitPlan(fps, command, body, feet, stance, zmp, steps)


def foot_centre(pose: np.ndarray, config: GaitConfig) -> np.ndarray:
    """Centre of the foot sole (x, y) for an ankle pose (x, y, yaw)."""
    return pose[:2] + config.zmp_foot_offset * np.array([np.cos(pose[2]), np.sin(pose[2])])


def _zmp_reference(t: np.ndarray, feet: np.ndarray, steps: list[Step], config: GaitConfig) -> np.ndarray:
    """Between the feet while standing; on the stance foot in single support; a ramp in double support."""
    def centre(k: int, foot: int) -> np.ndarray:
        return foot_centre(feet[k, foot, [0, 1, 3]], config)

    zmp = np.array([(centre(k, 0) + centre(k, 1)) / 2 for k in range(len(t))])
    for step in steps:
        stance_foot = 1 - step.foot
        ds = (t >= step.start) & (t < step.lift)
        ss = (t >= step.lift) & (t < step.land)
        for k in np.flatnonzero(ss):
            zmp[k] = centre(k, stance_foot)
        ds_idx = np.flatnonzero(ds)
        if len(ds_idx):
            before = zmp[ds_idx[0] - 1] if ds_idx[0] > 0 else zmp[ds_idx[0]]
            target = centre(ds_idx[-1], stance_foot)
            s = _smooth((t[ds_idx] - step.start) / (step.lift - step.start))[:, None]
            zmp[ds_idx] = (1 - s) * before + s * target
    # after the last step of a walk, return to between the feet
    for step in steps:
        end = np.flatnonzero(t >= step.land)
        if len(end) and not any(s.start == step.land for s in steps):
            idx = end[: int(round(0.2 * (1 / (t[1] - t[0]))))]
            if len(idx):
                mid = np.array([(centre(k, 0) + centre(k, 1)) / 2 for k in idx])
                s = _smooth(np.linspace(0, 1, len(idx)))[:, None]
                zmp[idx] = (1 - s) * centre(idx[0], 1 - step.foot) + s * mid
    return zmp
