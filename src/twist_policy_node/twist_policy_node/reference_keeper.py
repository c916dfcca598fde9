"""What the policy tracks when its reference goes stale: a controlled stop, or hold and ramp to standing (no ROS).

:class:`ReferenceKeeper` is told every valid reference it receives (with the receive time) and answers, for any
time, the reference the policy must track and a state name:

============  ======================================================================================================
``none``      no valid reference yet: the standing reference (default pose at the standing height, at rest)
``fresh``     the latest reference is at most ``timeout`` old: it is tracked as is
``stopping``  with a :class:`~twist_policy_node.controlled_stop.ControlledStop` (a CMG), once stale: the CMG walks
              on from the last reference, decelerating to zero, and settles into its standing frame
``stopped``   then: the CMG's standing frame, held, until a fresh reference comes back
``held``      without a controlled stop, stale for less than ``hold_time``: the last valid reference, unchanged
``ramping``   then, over ``ramp_time``: linearly from the last reference to standing (joints, root height and
              velocities; roll and pitch go to zero, the heading is kept)
``default``   after the ramp (or when the CMG fails during a stop): the standing reference, until a fresh
              reference comes back
``blending``  a fresh reference came (back) while something else than it was tracked (``none``, ``stopping``,
              ``stopped``, ``ramping``, ``default``): linearly from what was tracked at that moment to the live
              reference over ``ramp_time`` (no jump into a walking pose); a dropout during a blend continues from
              the blended pose
============  ======================================================================================================

The hold-then-ramp fallback is safe only when slow: holding a walking frame drops a robot walking at 0.4 m/s
(issue #23); the node uses the controlled stop whenever it has a CMG (``stop_model``). Times are seconds on one
clock (the node's monotonic clock, or the simulated time of the message stamps when ``use_sim_time`` is set).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from twist_core import rotations

if TYPE_CHECKING:
    from twist_policy_node.controlled_stop import ControlledStop

STATES = ("none", "fresh", "stopping", "stopped", "held", "ramping", "default", "blending")
STANDING_STATES = ("none", "stopping", "stopped", "ramping", "default")  # a returning reference is blended in


@dataclasses.dataclass(frozen=True)
class Reference:
    """The parts of a MotionReference frame the student observes (joints in motor order)."""

    root_height: float
    root_quat_wxyz: np.ndarray  # (4,)
    root_lin_vel: np.ndarray    # (3,) root frame
    yaw_rate: float
    joint_pos: np.ndarray       # (29,)
    joint_vel: np.ndarray       # (29,)

    def blend(self, other: "Reference", alpha: float) -> "Reference":
        """Linear interpolation from ``self`` (alpha 0) to ``other`` (alpha 1); quaternions by slerp."""
        a = float(np.clip(alpha, 0.0, 1.0))
        return Reference(root_height=(1 - a) * self.root_height + a * other.root_height,
                         root_quat_wxyz=rotations.slerp(self.root_quat_wxyz, other.root_quat_wxyz, a),
                         root_lin_vel=(1 - a) * self.root_lin_vel + a * other.root_lin_vel,
                         yaw_rate=(1 - a) * self.yaw_rate + a * other.yaw_rate,
                         joint_pos=(1 - a) * self.joint_pos + a * other.joint_pos,
                         joint_vel=(1 - a) * self.joint_vel + a * other.joint_vel)

    def standing(self, default_pose: np.ndarray, height: float) -> "Reference":
        """The standing reference with this reference's heading: default pose, level, at rest."""
        heading = float(rotations.yaw(self.root_quat_wxyz))
        return Reference(root_height=height, root_quat_wxyz=rotations.from_yaw(heading),
                         root_lin_vel=np.zeros(3), yaw_rate=0.0, joint_pos=np.array(default_pose, dtype=np.float64),
                         joint_vel=np.zeros(len(default_pose)))


def standing_reference(default_pose: np.ndarray, height: float) -> Reference:
    """The standing reference at heading zero (before any reference arrived)."""
    return Reference(root_height=height, root_quat_wxyz=np.array([1.0, 0.0, 0.0, 0.0]), root_lin_vel=np.zeros(3),
                     yaw_rate=0.0, joint_pos=np.array(default_pose, dtype=np.float64),
                     joint_vel=np.zeros(len(default_pose)))


class ReferenceKeeper:
    """Fresh, held, ramping or standing reference by age; see the module docstring."""

    def __init__(self, default_pose: np.ndarray, standing_height: float, timeout: float, hold_time: float,
                 ramp_time: float, stop: ControlledStop | None = None) -> None:
        """Set the standing pose/height and the timings [s]; raises ValueError on negative times.

        ``stop``: the controlled stop to run when the reference goes stale (None: hold, then ramp to standing).
        """
        if timeout <= 0 or hold_time < 0 or ramp_time < 0:
            raise ValueError(f"need reference_timeout > 0, hold_time >= 0, ramp_time >= 0 (got {timeout}, "
                             f"{hold_time}, {ramp_time})")
        self.default_pose = np.array(default_pose, dtype=np.float64)
        self.standing_height = float(standing_height)
        self.timeout, self.hold_time, self.ramp_time = float(timeout), float(hold_time), float(ramp_time)
        self.latest: Reference | None = None
        self.received_at = -np.inf
        self._blend_from: Reference | None = None
        self._blend_started = 0.0
        self.stop = stop
        self.stop_error = ""  # why the last controlled stop that failed was abandoned for standing
        self._stop_failed = False  # this stale spell's stop failed: standing until a fresh reference

    def age(self, now: float) -> float:
        """Seconds since the latest valid reference (inf if none)."""
        return now - self.received_at

    def receive(self, reference: Reference, now: float) -> None:
        """A valid reference received at ``now``; starts a blend back if the ramp to standing had begun."""
        previous, state = self.current(now)
        if state in STANDING_STATES or (state == "held" and self._blend_from is not None):
            self._blend_from, self._blend_started = previous, now  # from what is tracked now to the live one
        self.latest, self.received_at = reference, now

    def _ramp_fraction(self, age: float) -> float:
        stale_for = age - self.timeout - self.hold_time
        if stale_for <= 0:
            return 0.0
        return 1.0 if self.ramp_time <= 0 else min(1.0, stale_for / self.ramp_time)

    def current(self, now: float) -> tuple[Reference, str]:
        """The reference to track at ``now`` and its state (one of :data:`STATES`)."""
        if self.latest is None:
            return standing_reference(self.default_pose, self.standing_height), "none"
        age = self.age(now)
        if age <= self.timeout:
            if self.stop is not None:
                self.stop.cancel()
                self._stop_failed = False
            if self._blend_from is not None:
                beta = 1.0 if self.ramp_time <= 0 else (now - self._blend_started) / self.ramp_time
                if beta < 1.0:
                    return self._blend_from.blend(self.latest, beta), "blending"
                self._blend_from = None
            return self.latest, "fresh"
        start = self.latest
        if self._blend_from is not None:  # stale again in the middle of a blend: continue from the blended pose
            beta = 1.0 if self.ramp_time <= 0 else (self.received_at - self._blend_started) / self.ramp_time
            if beta < 1.0:
                start = self._blend_from.blend(self.latest, beta)
            else:
                self._blend_from = None
        if self.stop is not None:
            return self._stopping(start, now)
        alpha = self._ramp_fraction(age)
        if alpha <= 0.0:
            return start, "held"
        standing = start.standing(self.default_pose, self.standing_height)
        if alpha >= 1.0:
            return standing, "default"
        return start.blend(standing, alpha), "ramping"

    def _stopping(self, start: Reference, now: float) -> tuple[Reference, str]:
        """The controlled stop from ``start`` (begun at the first stale call); standing if the CMG fails."""
        if not self._stop_failed:
            if not self.stop.active:
                self.stop.start(start, self.received_at)
            try:
                reference = self.stop.current(now)
            except FloatingPointError as exc:
                self.stop_error, self._stop_failed = str(exc), True
        if self._stop_failed:
            return start.standing(self.default_pose, self.standing_height), "default"
        return reference, "stopped" if self.stop.settled else "stopping"
