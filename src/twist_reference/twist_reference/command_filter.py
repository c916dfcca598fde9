"""The velocity command fed to the CMG, and the root it moves: plain logic, no ROS.

:class:`CommandFilter` turns the latest ``cmd_vel`` into the command of each tick:

- a non-finite command is rejected (the previous one is kept);
- a command outside the model's training range is clamped to it (one warning per excursion);
- a command older than ``timeout`` (or none received yet) means a zero target;
- the filtered command moves toward the target at most ``max_linear_accel`` (m/s^2, on the (vx, vy) vector) and
  ``max_yaw_accel`` (rad/s^2) per second.

:class:`HeadingHold` closes the loop on the robot's heading while it walks or turns: the commanded yaw rate moves a
target heading, and the yaw rate sent to the CMG is the command plus ``gain`` x (target - robot heading), so a
tracker that drifts in yaw still walks where it is sent, and one that turns too slowly is asked for more.

:class:`VelocityHold` does the same for the planar velocity: once a command has held for ``settle`` seconds, the
difference between the commanded and the measured (vx, vy) (the robot's, in its heading frame, from leg odometry)
is integrated into a correction added to the command, so a tracker that walks slower than its reference, or drifts
sideways, is asked for what it lacks; a command in another direction lets the correction fade and learns it again.

:class:`RootIntegrator` synthesizes the root from the filtered command: roll and pitch zero, heading integrated
from the yaw rate and position from (vx, vy) rotated by the heading (midpoint rule).
"""

from __future__ import annotations

import copy
import dataclasses
import enum

import numpy as np

from twist_core import rotations
from twist_core.cmg_runtime import limit_command_change

COMMAND_LABELS = ("vx", "vy", "yaw_rate")


class Verdict(enum.Enum):
    """What happened to a received command."""

    ACCEPTED = "accepted"
    CLAMPED = "clamped"
    REJECTED = "rejected"


@dataclasses.dataclass
class Received:
    """The outcome of :meth:`CommandFilter.receive`; ``warning`` is a message to log, or None."""

    verdict: Verdict
    command: np.ndarray | None
    warning: str | None = None


def format_range(command_min: np.ndarray, command_max: np.ndarray) -> str:
    """'vx [a, b] m/s, vy [c, d] m/s, yaw_rate [e, f] rad/s'."""
    units = ("m/s", "m/s", "rad/s")
    return ", ".join(f"{name} [{lo:g}, {hi:g}] {unit}"
                     for name, lo, hi, unit in zip(COMMAND_LABELS, command_min, command_max, units))


class CommandFilter:
    """See the module docstring. Times are seconds on any one clock (the node's)."""

    def __init__(self, command_min, command_max, timeout: float = 0.5, max_linear_accel: float = 1.0,
                 max_yaw_accel: float = 2.0) -> None:
        """Set the range and limits; all limits must be > 0 (raises ValueError)."""
        self.command_min = np.asarray(command_min, dtype=np.float64)
        self.command_max = np.asarray(command_max, dtype=np.float64)
        if self.command_min.shape != (3,) or self.command_max.shape != (3,) or np.any(
                self.command_min > self.command_max):
            raise ValueError(f"bad command range {command_min} .. {command_max}")
        for name, value in (("timeout", timeout), ("max_linear_accel", max_linear_accel),
                            ("max_yaw_accel", max_yaw_accel)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        self.timeout, self.max_linear_accel, self.max_yaw_accel = timeout, max_linear_accel, max_yaw_accel
        self.value = np.zeros(3)
        self._command: np.ndarray | None = None
        self._received_at = -np.inf
        self._clamping = False

    def receive(self, command, now: float) -> Received:
        """Take a new command (vx, vy, yaw_rate) received at ``now``."""
        command = np.asarray(command, dtype=np.float64)
        if command.shape != (3,) or not np.all(np.isfinite(command)):
            return Received(Verdict.REJECTED, None,
                            f"cmd_vel rejected (not finite: {command.tolist()}); keeping the previous command")
        clamped = np.clip(command, self.command_min, self.command_max)
        self._command, self._received_at = clamped, now
        if np.array_equal(clamped, command):
            self._clamping = False
            return Received(Verdict.ACCEPTED, clamped)
        warning = None
        if not self._clamping:
            limits = format_range(self.command_min, self.command_max)
            warning = f"cmd_vel {_fmt(command)} is outside the model's range ({limits}): clamped to {_fmt(clamped)}"
        self._clamping = True
        return Received(Verdict.CLAMPED, clamped, warning)

    def target(self, now: float) -> np.ndarray:
        """The command to move toward at ``now``: the latest one, or zero when it is stale or none came."""
        if self._command is None or now - self._received_at > self.timeout:
            return np.zeros(3)
        return self._command.copy()

    def stale(self, now: float) -> bool:
        """Whether no fresh command is in force at ``now``."""
        return self._command is None or now - self._received_at > self.timeout

    def update(self, now: float, dt: float) -> np.ndarray:
        """Advance the filtered command by ``dt`` seconds toward the target at ``now``; return it (a copy)."""
        self.value = limit_command_change(self.value, self.target(now), self.max_linear_accel, self.max_yaw_accel, dt)
        return self.value.copy()

    def stop(self) -> None:
        """Set the filtered command to zero at once (pause, generator reset); the received command stays."""
        self.value = np.zeros(3)

    def reset(self) -> None:
        """Zero the filtered command and forget the received one (restart)."""
        self.stop()
        self._command, self._received_at, self._clamping = None, -np.inf, False


def _fmt(command: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:g}" for v in command) + ")"


@dataclasses.dataclass
class HeadingHold:
    """Heading feedback while walking or turning (see the module docstring); ``gain`` 0 turns it off.

    It acts while the commanded planar speed exceeds ``walk_speed`` or the commanded yaw rate exceeds
    ``turn_rate`` (standing is left to the command: the standing hold must see a zero command); the target starts
    at the robot's heading and stays within ``max_error`` of it (no wind-up when the robot cannot turn as fast as
    commanded; a robot that a push spins further than that keeps its new heading: turning it back at full
    correction while it recovers its balance made it fall); the correction is at most ``max_correction``. The CMG
    clamps the sum to its command range.
    """

    gain: float = 2.0             # [1/s]
    max_correction: float = 0.5   # [rad/s]
    max_error: float = 0.5        # [rad]
    walk_speed: float = 0.05      # [m/s]
    turn_rate: float = 0.05       # [rad/s]
    target: float | None = None

    def __post_init__(self) -> None:
        """Check the settings."""
        if not (self.gain >= 0 and self.max_correction >= 0 and self.max_error > 0 and self.walk_speed >= 0
                and self.turn_rate >= 0):
            raise ValueError(f"heading hold: gain, max_correction, walk_speed, turn_rate must be >= 0 and max_error "
                             f"> 0, got {self.gain}, {self.max_correction}, {self.walk_speed}, {self.turn_rate}, "
                             f"{self.max_error}")

    def reset(self) -> None:
        """Forget the target (the next walk starts at the robot's heading)."""
        self.target = None

    def update(self, command: np.ndarray, heading: float | None, dt: float) -> np.ndarray:
        """The command (vx, vy, yaw rate) with the heading correction added to its yaw rate, ``dt`` seconds on.

        ``heading``: the robot's heading [rad], None when unknown (then, like when off or not walking, the
        command is returned unchanged and the target forgotten).
        """
        command = np.asarray(command, dtype=np.float64)
        moving = np.hypot(command[0], command[1]) > self.walk_speed or abs(command[2]) > self.turn_rate
        if self.gain == 0 or heading is None or not moving:
            self.target = None
            return command.copy()
        if self.target is None:
            self.target = heading
        error = np.clip(rotations.wrap(self.target + command[2] * dt - heading), -self.max_error, self.max_error)
        self.target = heading + float(error)
        out = command.copy()
        out[2] += float(np.clip(self.gain * error, -self.max_correction, self.max_correction))
        return out


@dataclasses.dataclass(eq=False)
class VelocityHold:
    """Planar velocity feedback while walking or turning (see the module docstring); ``gain`` 0 turns it off.

    It acts while the commanded planar speed exceeds ``walk_speed`` or the commanded yaw rate exceeds ``turn_rate``
    (as :class:`HeadingHold`; standing forgets the correction). It learns (integrates ``gain`` x (commanded -
    measured velocity)) once the command has stayed within ``tolerance`` (m/s, rad/s) of where it settled for
    ``settle`` seconds (while it ramps the robot lags by design: integrating that lag would overshoot; joystick
    jitter stays within the tolerance) and a velocity is measured. While the command stays in the direction it was
    learnt in, the correction scales with its speed (its yaw rate, turning on the spot), tick by tick; in another
    direction (more than 30 degrees, walking <-> turning on the spot, the other way round) it fades at ``fade_rate``
    until the new command settles, as it does without a measurement: one learnt for another command could point the
    wrong way (forward while asked to turn on the spot). Each axis's correction stays within ``max_correction`` x
    the command's share of ``full_speed`` (or of ``full_rate`` turning on the spot), so it goes to zero with the
    command; an axis whose corrected command is at the edge of ``command_min`` .. ``command_max`` (the range the CMG
    clamps to) is not integrated further (no wind-up).
    """

    gain: float = 0.5             # [1/s]
    max_correction: float = 0.3   # [m/s]
    settle: float = 1.0           # [s]
    tolerance: float = 0.1        # [m/s] on vx and vy, [rad/s] on the yaw rate
    fade_rate: float = 1.0        # [m/s^2]
    full_speed: float = 0.5       # [m/s]
    full_rate: float = 0.5        # [rad/s]
    walk_speed: float = 0.05      # [m/s]
    turn_rate: float = 0.05       # [rad/s]
    command_min: tuple[float, float] = (-np.inf, -np.inf)
    command_max: tuple[float, float] = (np.inf, np.inf)
    correction: np.ndarray = dataclasses.field(init=False)
    _settled: np.ndarray | None = dataclasses.field(init=False, repr=False)
    _held: float = dataclasses.field(init=False, repr=False)
    _fading: bool = dataclasses.field(init=False, repr=False)
    _learnt_at: np.ndarray | None = dataclasses.field(init=False, repr=False)
    _previous: np.ndarray | None = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Check the settings."""
        if not (self.gain >= 0 and self.max_correction >= 0 and self.settle >= 0 and self.tolerance >= 0
                and self.fade_rate > 0 and self.full_speed > 0 and self.full_rate > 0 and self.walk_speed >= 0
                and self.turn_rate >= 0 and len(self.command_min) == 2 and len(self.command_max) == 2):
            raise ValueError(f"velocity hold: gain, max_correction, settle, tolerance, walk_speed, turn_rate must be "
                             f">= 0, fade_rate, full_speed, full_rate > 0 and the range (vx, vy) pairs, got "
                             f"{self.gain}, {self.max_correction}, {self.settle}, {self.tolerance}, "
                             f"{self.walk_speed}, {self.turn_rate}, {self.fade_rate}, {self.full_speed}, "
                             f"{self.full_rate}, {self.command_min}, {self.command_max}")
        self.reset()

    def reset(self) -> None:
        """Forget the correction at once (the next walk starts without one)."""
        self.correction = np.zeros(2)
        self._settled, self._held, self._fading, self._learnt_at, self._previous = None, 0.0, False, None, None

    def update(self, command: np.ndarray, velocity: np.ndarray | None, dt: float) -> np.ndarray:
        """The command (vx, vy, yaw rate) with the correction added to its (vx, vy), ``dt`` seconds on.

        ``velocity``: the robot's measured (vx, vy) in its heading frame [m/s], None when unknown.
        """
        command = np.asarray(command, dtype=np.float64)
        speed = float(np.hypot(command[0], command[1]))
        if self.gain == 0 or not (speed > self.walk_speed or abs(command[2]) > self.turn_rate):
            self.reset()
            return command.copy()
        if self._previous is not None and not self._fading:
            if self._learnt_at is not None and not self._same_direction(self._learnt_at, command):
                self._fading = True
            else:
                self.correction = self.correction * self._ratio(self._previous, command)
        self._previous = command.copy()
        if self._settled is None or np.any(np.abs(command - self._settled) > self.tolerance):
            self._settled, self._held = command.copy(), 0.0
        else:
            self._held += dt
        if self._held >= self.settle and velocity is not None:
            self._fading, self._learnt_at = False, command.copy()
            sent = command[:2] + self.correction
            step = self.gain * (command[:2] - np.asarray(velocity, dtype=np.float64)[:2]) * dt
            saturated = ((sent >= self.command_max) & (step > 0)) | ((sent <= self.command_min) & (step < 0))
            self.correction = self.correction + np.where(saturated, 0.0, step)
        elif self._fading or velocity is None:
            fade = self.fade_rate * dt
            self.correction = self.correction - np.clip(self.correction, -fade, fade)
        limit = self.max_correction * min(1.0, max(speed / self.full_speed, abs(command[2]) / self.full_rate))
        self.correction = np.clip(self.correction, -limit, limit)
        out = command.copy()
        out[:2] += self.correction
        return out

    def _walking(self, command: np.ndarray) -> bool:
        return bool(np.hypot(command[0], command[1]) > self.walk_speed)

    def _same_direction(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Both walking within 30 degrees of each other, or both turning on the spot the same way."""
        if self._walking(a) and self._walking(b):
            return bool(np.dot(a[:2], b[:2]) >= np.cos(np.radians(30.0)) * np.hypot(*a[:2]) * np.hypot(*b[:2]))
        return not self._walking(a) and not self._walking(b) and a[2] * b[2] > 0

    def _ratio(self, a: np.ndarray, b: np.ndarray) -> float:
        """How much more ``b`` asks than ``a``: the ratio of their speeds (of their yaw rates on the spot)."""
        if self._walking(a) and self._walking(b):
            return float(np.hypot(*b[:2]) / np.hypot(*a[:2]))
        if not self._walking(a) and not self._walking(b) and a[2] * b[2] > 0:
            return float(b[2] / a[2])
        return 1.0


class RootIntegrator:
    """The synthesized root: position (x, y) and heading integrated from a (vx, vy, yaw_rate) command."""

    def __init__(self, height: float) -> None:
        """Start at the origin facing +x, with the pelvis at ``height``."""
        self.height = float(height)
        self.align(np.zeros(2), 0.0)

    def align(self, position_xy, heading: float) -> None:
        """Put the root at ``position_xy`` with ``heading`` (the robot's pose)."""
        self.xy = np.asarray(position_xy, dtype=np.float64)[:2].copy()
        self.heading = float(heading)

    def step(self, command, dt: float) -> None:
        """Move by ``dt`` seconds of ``command`` (velocities in the heading frame)."""
        vx, vy, yaw_rate = (float(v) for v in command)
        mid = self.heading + 0.5 * yaw_rate * dt
        c, s = np.cos(mid), np.sin(mid)
        self.xy = self.xy + dt * np.array([c * vx - s * vy, s * vx + c * vy])
        self.heading = rotations.wrap(self.heading + yaw_rate * dt)

    @property
    def position(self) -> np.ndarray:
        """The root's world position [x, y, height]."""
        return np.array([self.xy[0], self.xy[1], self.height])

    @property
    def quaternion(self) -> np.ndarray:
        """World orientation (w, x, y, z): the heading, roll and pitch zero."""
        return rotations.from_yaw(self.heading)

    def copy(self) -> "RootIntegrator":
        """An independent duplicate (to roll ahead for future frames)."""
        return copy.deepcopy(self)
