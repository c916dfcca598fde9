"""Footsteps, the ZMP reference and swing-foot trajectories from a velocity-command timeline.

The command (vx, vy in the heading frame, yaw rate), sampled at the output rate, acceleration-limited and held
at zero until the first step, is integrated into a virtual body path. Steps alternate feet; each step is a
double-support phase (the ZMP moves from the old to the new stance foot) followed by a single-support phase
(the other foot swings). A swing foot lands where the virtual body will be in the middle of the single support
it then carries, its sole centre offset sideways by the hip half-width, so the feet (and with them the ZMP and
the CoM) advance at the commanded velocity. A command near zero stops stepping after a final step that brings
the feet side by side; a new command starts stepping again.

Long steps roll the feet: a foot touches down on its heel (toe up) and rolls flat about its heel edge in the first
part of the next double support, while the ZMP is still over the rear foot; the rear foot's heel rises (it rotates
about its toe edge) in the rest of the double support, once the ZMP has moved towards the front foot, and goes on
pitching toe-down after lift-off, then swings to toe-up for the next heel-strike. The feet stretch the legs' reach
where they are furthest apart; the support polygon of the double support always spans the toe edge of one foot and
the whole sole or heel edge of the other. Short steps keep the feet flat.
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

    toe_x: float = 0.12              # toe edge (front collision spheres' centres) ahead of the ankle
    heel_x: float = -0.05            # heel edge behind the ankle
    sole_depth: float = 0.03         # the edges' sphere centres below the ankle (the foot rolls about them)
    toe_off: float = 0.5             # rad of sole pitch (heel up) at its peak after lift-off for a full roll ...
    heel_strike: float = 0.2         # ... and (toe up) at touch-down
    roll_start: float = 0.55         # m of forward foot travel in a step below which the feet stay flat ...
    roll_full: float = 0.75          # ... and from which on they roll fully (linear in between)
    # roll_split: fraction of the double support in which the front foot rolls flat (the rear heel rises in the rest)
    roll_split: float = 0.5
    toe_off_peak: float = 0.3        # the swing foot pitches toe-down until this fraction of the swing

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

    def roll(self, travel: float) -> float:
        """How much a step rolls its feet (0: flat, 1: full toe-off and heel-strike) for its forward foot travel."""
        return float(np.clip((travel - self.roll_start) / (self.roll_full - self.roll_start), 0.0, 1.0))

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
    roll: float = 0.0    # toe-off and heel-strike of this step, as a fraction of the full angles
    heel_off: float = 0.0  # the swing foot's heel rises (only when roll > 0)
    flat: float = 0.0    # the landed foot is flat again after its heel-strike (only when roll > 0)


@dataclasses.dataclass
class GaitPlan:
    """Everything the whole-body IK needs, sampled at ``fps``."""

    fps: float
    command: np.ndarray        # (T, 3)
    body: np.ndarray           # (T, 3) virtual body x, y, yaw
    feet: np.ndarray           # (T, 2, 5) ankle x, y, z-lift, yaw, sole pitch (toe down > 0) per foot
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
        heading = np.array([np.cos(target[2]), np.sin(target[2])])
        roll = config.roll(float((target[:2] - feet[next_foot][:2]) @ heading))
        steps.append(Step(next_foot, t, lift, land, feet[next_foot].copy(), target, config.apex(pace), roll))
        feet[next_foot] = target
        next_foot = 1 - next_foot
        t = land
    return body, steps


def _smooth(s: np.ndarray) -> np.ndarray:
    """Smoothstep with zero velocity and acceleration at both ends (quintic)."""
    s = np.clip(s, 0.0, 1.0)
    return s ** 3 * (10 - 15 * s + 6 * s * s)


def _roll_timing(steps: list[Step], config: GaitConfig) -> None:
    """Set each step's heel-off time and the time its landed foot is flat again.

    Within a double support, the front foot rolls flat in the first ``roll_split`` and the rear heel rises in the
    rest; the landed foot rolls flat in the first part of the next step's double support (its own when none follows).
    """
    for j, step in enumerate(steps):
        nxt = steps[j + 1] if j + 1 < len(steps) and steps[j + 1].start == step.land else None
        roll_time = config.roll_split * ((nxt.lift - nxt.start) if nxt else (step.lift - step.start))
        step.heel_off = step.start + config.roll_split * (step.lift - step.start)
        step.flat = step.land + roll_time


def _foot_roll(t: np.ndarray, steps: list[Step], config: GaitConfig) -> tuple[np.ndarray, np.ndarray]:
    """Sole pitch (T, 2) and the pivot's position along the foot (T, 2; x ahead of the ankle) at every frame."""
    pitch = np.zeros((len(t), 2))
    pivot = np.zeros((len(t), 2))
    for step in steps:
        if step.roll <= 0.0:
            continue
        f, toe_off, heel_strike = step.foot, step.roll * config.toe_off, -step.roll * config.heel_strike
        peak = step.lift + config.toe_off_peak * (step.land - step.lift)
        rise = (t >= step.heel_off) & (t < peak)
        pitch[rise, f] = toe_off * _smooth((t[rise] - step.heel_off) / (peak - step.heel_off))
        pivot[rise, f] = config.toe_x
        swing = (t >= peak) & (t < step.land)
        s = _smooth((t[swing] - peak) / (step.land - peak))
        pitch[swing, f] = toe_off + (heel_strike - toe_off) * s
        pivot[swing, f] = config.toe_x + (config.heel_x - config.toe_x) * s
        down = (t >= step.land) & (t < step.flat)
        pitch[down, f] = heel_strike * (1.0 - _smooth((t[down] - step.land) / (step.flat - step.land)))
        pivot[down, f] = config.heel_x
    return pitch, pivot


def rolled_ankle(flat: np.ndarray, pitch: np.ndarray, pivot: np.ndarray, config: GaitConfig) -> np.ndarray:
    """Ankle positions (..., 3) of feet pitched by ``pitch`` about the edge at ``pivot`` (x along the foot).

    ``flat`` (..., 4: x, y, z, yaw) is the ankle of the flat foot whose edge stays where it is.
    """
    c, s = np.cos(pitch), np.sin(pitch)
    depth = -config.sole_depth
    forward = pivot - (pivot * c + depth * s)   # the edge's offset from the ankle, before minus after the pitch
    up = depth - (-pivot * s + depth * c)
    yaw = flat[..., 3]
    return np.stack([flat[..., 0] + np.cos(yaw) * forward, flat[..., 1] + np.sin(yaw) * forward,
                     flat[..., 2] + up], axis=-1)


def plan_gait(command: np.ndarray, fps: float, config: GaitConfig | None = None) -> GaitPlan:
    """Feet, stance flags and the ZMP reference at every frame."""
    config = config or GaitConfig()
    command = np.asarray(command, dtype=np.float64)
    body, steps = plan_steps(command, fps, config)
    _roll_timing(steps, config)
    n = len(command)
    t = np.arange(n) / fps
    flat = np.zeros((n, 2, 4))
    stance = np.ones((n, 2), dtype=bool)
    for foot in (LEFT, RIGHT):
        flat[:, foot, [0, 1, 3]] = _foot_pose(body[0], foot, config)
    for step in steps:
        f = step.foot
        after = t >= step.land
        flat[after, f, 0:2] = step.to_pose[:2]
        flat[after, f, 3] = step.to_pose[2]
        swing = (t >= step.lift) & (t < step.land)
        s = (t[swing] - step.lift) / (step.land - step.lift)
        blend = _smooth(s)[:, None]
        yaw_delta = np.angle(np.exp(1j * (step.to_pose[2] - step.from_pose[2])))
        flat[swing, f, 0:2] = (1 - blend) * step.from_pose[:2] + blend * step.to_pose[:2]
        flat[swing, f, 3] = step.from_pose[2] + blend[:, 0] * yaw_delta
        flat[swing, f, 2] = step.apex * np.sin(np.pi * s) ** 2  # zero vertical speed at lift and touch
        stance[swing, f] = False
    pitch, pivot = _foot_roll(t, steps, config)
    feet = np.concatenate([rolled_ankle(flat, pitch, pivot, config), flat[..., 3:4], pitch[..., None]], axis=-1)
    zmp = _zmp_reference(t, flat, steps, config)
    return GaitPlan(fps, command, body, feet, stance, zmp, steps)


def foot_centre(pose: np.ndarray, config: GaitConfig) -> np.ndarray:
    """Centre of the foot sole (x, y) for an ankle pose (x, y, yaw)."""
    return pose[:2] + config.zmp_foot_offset * np.array([np.cos(pose[2]), np.sin(pose[2])])


def _zmp_reference(t: np.ndarray, feet: np.ndarray, steps: list[Step], config: GaitConfig) -> np.ndarray:
    """Between the feet while standing; on the stance foot in single support; a ramp in double support.

    ``feet`` are the flat feet (x, y, z-lift, yaw): a rolling foot keeps its edge where the flat foot has it.
    """
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
