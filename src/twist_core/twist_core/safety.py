"""The bridge safety state machine, shared by the MuJoCo and the real-robot bridge.

    ZERO_TORQUE --start--> RAMP (measured pose -> default pose over ramp_time) --> HOLD --go--> POLICY
    any mode --damp, or any fault--> DAMPING --start--> RAMP

The machine is pure: it is told the time, the measured state and the commands, and it answers with the
per-joint PD targets (:class:`JointTargets`) the backend must apply. Faults never produce zero torque: they
produce DAMPING (kp = 0, kd = ``damping_kd``). Mode and fault values equal ``twist_msgs/BridgeStatus``.

Bounded commands (``config/g1.yaml``): :func:`validate_command` clamps gains to ``kp_max``/``kd_max``, velocity
targets to the joint velocity limits and feed-forward torques to the effort limits, and says what it clamped
(:attr:`JointTargets.clamped`); NaN/Inf still makes a command invalid (NON_FINITE, damping). Before targets reach
the motors, :func:`limit_torque` clamps position targets to the joint limits and moves them so that the PD torque
predicted from the measured state stays within the effort limits (both bridges).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Sequence

import numpy as np

from twist_core.robot import RobotSpec


class Mode(enum.IntEnum):
    """Bridge modes (values of twist_msgs/BridgeStatus.MODE_*)."""

    ZERO_TORQUE = 0
    RAMP = 1
    HOLD = 2
    POLICY = 3
    DAMPING = 4


class Fault(enum.IntEnum):
    """Reasons for DAMPING (values of twist_msgs/BridgeStatus.FAULT_*)."""

    NONE = 0
    COMMAND_STALE = 1
    NON_FINITE = 2
    JOINT_MISMATCH = 3
    TILT = 4
    HEIGHT = 5
    JOINT_LIMIT = 6
    TORQUE_SATURATION = 7
    STATE_STALE = 8
    OPERATOR = 9
    SENSOR = 10


class CommandError(ValueError):
    """A joint command that must not be applied; ``fault`` says why."""

    def __init__(self, fault: Fault, message: str) -> None:
        """Keep the fault code with the message."""
        super().__init__(message)
        self.fault = fault


@dataclasses.dataclass
class JointTargets:
    """Per-joint PD targets in motor order: tau = effort + kp (position - q) + kd (velocity - dq)."""

    position: np.ndarray
    velocity: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    effort: np.ndarray
    clamped: tuple[str, ...] = ()  # what validate_command clamped to the bounds, e.g. "kp of ['left_knee_joint']"


@dataclasses.dataclass(frozen=True)
class SafetyConfig:
    """Bounds and timings of the state machine (ROS parameters of the bridges)."""

    ramp_time: float = 2.0             # s, RAMP duration
    command_deadline: float = 0.1      # s, max JointCommand age in POLICY
    max_tilt: float = 1.0              # rad, max pelvis roll or pitch (any mode but DAMPING)
    min_height: float | None = 0.35    # m, min pelvis height (None: not measurable, real robot)
    joint_limit_margin: float = 0.1    # rad beyond a position limit that faults in POLICY
    saturation_time: float = 0.5       # s of continuous torque saturation that faults in POLICY
    damping_kd: float = 8.0            # N*m*s/rad in DAMPING
    hold_kp_scale: float = 4.0         # HOLD/RAMP gains = config gains times these
    hold_kd_scale: float = 4.0


def validate_command(spec: RobotSpec, names: Sequence[str], position: Sequence[float],
                     velocity: Sequence[float], kp: Sequence[float], kd: Sequence[float],
                     effort: Sequence[float]) -> JointTargets:
    """Turn a named joint command into full targets; joints not named hold the default pose.

    Gains above ``kp_max``/``kd_max``, velocity targets beyond the joint velocity limits and feed-forward torques
    beyond the effort limits are clamped to them, and listed in the targets' ``clamped``. Raises
    :class:`CommandError` (JOINT_MISMATCH or NON_FINITE) for unknown or duplicated names, arrays whose sizes
    disagree, negative gains, or NaN/Inf anywhere.
    """
    names = list(names)
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in
              (("position", position), ("velocity", velocity), ("kp", kp), ("kd", kd), ("effort", effort))}
    if not names:
        raise CommandError(Fault.JOINT_MISMATCH, "command names no joint")
    bad_sizes = {k: v.shape for k, v in arrays.items() if v.shape != (len(names),)}
    if bad_sizes:
        raise CommandError(Fault.JOINT_MISMATCH, f"{len(names)} joint names but array shapes {bad_sizes}")
    try:
        idx = spec.indices_of(names)
    except ValueError as exc:
        raise CommandError(Fault.JOINT_MISMATCH, str(exc)) from None
    for key, value in arrays.items():
        if not np.all(np.isfinite(value)):
            bad = [names[i] for i in np.flatnonzero(~np.isfinite(value))]
            raise CommandError(Fault.NON_FINITE, f"non-finite {key} for {bad}")
    if np.any(arrays["kp"] < 0) or np.any(arrays["kd"] < 0):
        raise CommandError(Fault.JOINT_MISMATCH, "negative gains in command")
    bounds = {"kp": spec.kp_max, "kd": spec.kd_max, "velocity": spec.velocity_limits, "effort": spec.effort_limits}
    clamped = []
    for key, bound in bounds.items():
        limit = bound[idx]
        outside = np.abs(arrays[key]) > limit
        if np.any(outside):
            clamped.append(f"{key} of {[names[i] for i in np.flatnonzero(outside)]}")
            arrays[key] = np.clip(arrays[key], -limit, limit)
    targets = hold_targets(spec, spec.default_pose, 1.0, 1.0)
    for key, value in arrays.items():
        getattr(targets, key)[idx] = value
    targets.clamped = tuple(clamped)
    return targets


def limit_torque(spec: RobotSpec, targets: JointTargets, q: np.ndarray, dq: np.ndarray) -> tuple[JointTargets, bool]:
    """Targets safe to send to the motors, and whether a torque clamp was active.

    Positions are clamped to the joint limits, feed-forward torques to the effort limits, and the PD torque
    predicted from the measured ``q``, ``dq`` (``effort + kp (position - q) + kd (velocity - dq)``) to the effort
    limits by moving the position target (joints with kp > 0).
    """
    limit = spec.effort_limits
    position = np.clip(targets.position, spec.lower_limits, spec.upper_limits)
    effort = np.clip(targets.effort, -limit, limit)
    q_m, dq_m = np.nan_to_num(q), np.nan_to_num(dq)
    predicted = effort + targets.kp * (position - q_m) + targets.kd * (targets.velocity - dq_m)
    excess = predicted - np.clip(predicted, -limit, limit)
    movable = targets.kp > 0
    saturated = bool(np.any(excess[movable] != 0.0))
    shift = np.divide(excess, targets.kp, out=np.zeros_like(excess), where=movable)
    position = np.clip(position - shift, spec.lower_limits, spec.upper_limits)
    return JointTargets(position=position, velocity=np.array(targets.velocity, dtype=np.float64),
                        kp=np.array(targets.kp, dtype=np.float64), kd=np.array(targets.kd, dtype=np.float64),
                        effort=effort, clamped=targets.clamped), saturated


def hold_targets(spec: RobotSpec, position: np.ndarray, kp_scale: float, kd_scale: float) -> JointTargets:
    """PD targets holding ``position`` with the config gains scaled."""
    n = spec.num_joints
    return JointTargets(position=np.array(position, dtype=np.float64), velocity=np.zeros(n),
                        kp=spec.kp * kp_scale, kd=spec.kd * kd_scale, effort=np.zeros(n))


def damping_targets(spec: RobotSpec, kd: float) -> JointTargets:
    """Pure damping: kp = 0, kd on every joint."""
    n = spec.num_joints
    return JointTargets(position=np.zeros(n), velocity=np.zeros(n), kp=np.zeros(n),
                        kd=np.full(n, kd), effort=np.zeros(n))


def zero_torque_targets(spec: RobotSpec) -> JointTargets:
    """No torque at all (only before start, while the gantry or rack holds the robot)."""
    n = spec.num_joints
    return JointTargets(*(np.zeros(n) for _ in range(5)))


class SafetyStateMachine:
    """Modes, transitions and fault checks; see the module docstring."""

    def __init__(self, spec: RobotSpec, config: SafetyConfig | None = None) -> None:
        """Start in ZERO_TORQUE with no fault."""
        self.spec = spec
        self.config = config or SafetyConfig()
        self.mode = Mode.ZERO_TORQUE
        self.fault = Fault.NONE
        self.fault_message = ""
        self._ramp_from = np.array(spec.default_pose)
        self._ramp_started = 0.0
        self._command: JointTargets | None = None
        self._command_time = -np.inf
        self._saturated_since: float | None = None

    # -- operator requests ----------------------------------------------------------------------
    def start(self, now: float, q: np.ndarray) -> tuple[bool, str]:
        """ZERO_TORQUE or DAMPING -> RAMP from the measured pose ``q``."""
        if self.mode not in (Mode.ZERO_TORQUE, Mode.DAMPING):
            return False, f"start is only possible from ZERO_TORQUE or DAMPING, not {self.mode.name}"
        if not np.all(np.isfinite(q)):
            return False, "start refused: the measured joint positions are not finite"
        self._ramp_from = np.array(q, dtype=np.float64)
        self._ramp_started = now
        self.fault, self.fault_message = Fault.NONE, ""
        self._enter(Mode.RAMP)
        return True, f"ramping to the default pose over {self.config.ramp_time:.1f} s"

    def go(self, now: float) -> tuple[bool, str]:
        """HOLD -> POLICY, only with a valid command younger than the deadline."""
        if self.mode != Mode.HOLD:
            return False, f"go is only possible from HOLD, not {self.mode.name}"
        if self._command is None or now - self._command_time > self.config.command_deadline:
            return False, "go refused: no valid JointCommand within the command deadline"
        self._enter(Mode.POLICY)
        return True, "policy control"

    def damp(self, reason: str = "damping requested") -> tuple[bool, str]:
        """Any mode -> DAMPING (an operator request, not a fault of the robot)."""
        self._trip(Fault.OPERATOR, reason)
        return True, reason

    def reset(self) -> None:
        """Back to ZERO_TORQUE with no fault and no command (simulation reset)."""
        self.__init__(self.spec, self.config)

    # -- inputs -----------------------------------------------------------------------------------
    def on_command(self, now: float, targets: JointTargets | None, error: CommandError | None = None,
                   damp_requested: bool = False) -> None:
        """Record a command: valid ``targets``, or the ``error`` that made it invalid."""
        if damp_requested:
            self._trip(Fault.OPERATOR, "the policy node requested damping")
            return
        if error is not None:
            self._command = None
            if self.mode == Mode.POLICY:
                self._trip(error.fault, f"invalid JointCommand: {error}")
            return
        self._command = targets
        self._command_time = now

    def command_age(self, now: float) -> float:
        """Seconds since the last valid command (inf if none)."""
        return now - self._command_time

    def update(self, now: float, q: np.ndarray, dq: np.ndarray, roll: float, pitch: float,
               height: float | None, saturated: bool = False) -> None:
        """Advance timers and check every fault for the measured state."""
        cfg = self.config
        if self.mode == Mode.DAMPING:
            return
        values = [q, dq, [roll, pitch]] + ([[height]] if height is not None else [])
        if not all(np.all(np.isfinite(v)) for v in values):
            self._trip(Fault.NON_FINITE, "non-finite measured state")
            return
        if max(abs(roll), abs(pitch)) > cfg.max_tilt:
            self._trip(Fault.TILT, f"pelvis tilt roll={roll:.2f} pitch={pitch:.2f} rad beyond {cfg.max_tilt} rad")
            return
        if cfg.min_height is not None and height is not None and height < cfg.min_height:
            self._trip(Fault.HEIGHT, f"pelvis height {height:.3f} m below {cfg.min_height} m")
            return
        if self.mode == Mode.RAMP and now - self._ramp_started >= cfg.ramp_time:
            self._enter(Mode.HOLD)
        if self.mode != Mode.POLICY:
            return
        if self.command_age(now) > cfg.command_deadline:
            self._trip(Fault.COMMAND_STALE,
                       f"no valid JointCommand for {self.command_age(now) * 1e3:.0f} ms "
                       f"(deadline {cfg.command_deadline * 1e3:.0f} ms)")
            return
        margin = cfg.joint_limit_margin
        outside = (q < self.spec.lower_limits - margin) | (q > self.spec.upper_limits + margin)
        if np.any(outside):
            names = [self.spec.joint_names[i] for i in np.flatnonzero(outside)]
            self._trip(Fault.JOINT_LIMIT, f"joints beyond their limits by more than {margin} rad: {names}")
            return
        if saturated:
            self._saturated_since = now if self._saturated_since is None else self._saturated_since
            if now - self._saturated_since >= cfg.saturation_time:
                self._trip(Fault.TORQUE_SATURATION, f"torque saturated for {cfg.saturation_time} s")
        else:
            self._saturated_since = None

    def trip(self, fault: Fault, message: str) -> None:
        """Force DAMPING for a fault detected by the backend (e.g. stale hardware state)."""
        self._trip(fault, message)

    # -- output -----------------------------------------------------------------------------------
    def targets(self, now: float) -> JointTargets:
        """The PD targets for the current mode."""
        cfg = self.config
        if self.mode == Mode.ZERO_TORQUE:
            return zero_torque_targets(self.spec)
        if self.mode == Mode.DAMPING:
            return damping_targets(self.spec, cfg.damping_kd)
        if self.mode == Mode.RAMP:
            alpha = min(1.0, (now - self._ramp_started) / cfg.ramp_time) if cfg.ramp_time > 0 else 1.0
            pose = (1.0 - alpha) * self._ramp_from + alpha * self.spec.default_pose
            return hold_targets(self.spec, pose, cfg.hold_kp_scale, cfg.hold_kd_scale)
        if self.mode == Mode.HOLD:
            return hold_targets(self.spec, self.spec.default_pose, cfg.hold_kp_scale, cfg.hold_kd_scale)
        assert self._command is not None  # POLICY is entered only with a valid command
        return self._command

    # -- internals --------------------------------------------------------------------------------
    def _enter(self, mode: Mode) -> None:
        self.mode = mode
        self._saturated_since = None

    def _trip(self, fault: Fault, message: str) -> None:
        if self.mode == Mode.DAMPING and self.fault != Fault.NONE:
            return  # keep the first fault
        self.fault, self.fault_message = fault, message
        self._enter(Mode.DAMPING)
