"""A controlled stop when the reference is lost: the CMG walks on from the last reference and comes to a stand.

Holding a walking frame, or ramping from it to the standing pose, drops a robot walking at 0.4 m/s or faster: its
feet stop stepping while its body still moves. :class:`ControlledStop` instead continues the gait with the
Conditional Motion Generator (``twist_core.cmg_runtime.CmgFreeRun``, the runtime every CMG consumer uses): from the
last reference's joint frame (positions and velocities) under the last reference's velocity (root vx, vy, yaw rate),
the command decelerating to zero at ``linear_decel`` [m/s^2] and ``yaw_decel`` [rad/s^2], after which the free
run's standing hold settles the joints into the model's standing frame and holds it. The root follows the command:
level, the last heading turned by the yaw rate, the pelvis height putting the lower foot on the floor. One model
step per ``1 / fps`` since the last reference (catching up the steps of the timeout at the start), so the gait
keeps its timing. No ROS here.
"""

from __future__ import annotations

import numpy as np

from twist_core import rotations
from twist_core.cmg_runtime import CmgFreeRun, CmgRuntime, FreeRunState, limit_command_change
from twist_core.model import PelvisHeight
from twist_policy_node.reference_keeper import Reference


class ControlledStop:
    """The CMG walking to a stop from the last reference; see the module docstring."""

    def __init__(self, runtime: CmgRuntime, linear_decel: float = 1.0, yaw_decel: float = 2.0) -> None:
        """Free-run ``runtime`` (checked against the robot spec) with these decelerations (> 0, else ValueError)."""
        if not (linear_decel > 0 and yaw_decel > 0):
            raise ValueError(f"stop decelerations must be > 0, got {linear_decel} m/s^2 and {yaw_decel} rad/s^2")
        self.free_run = CmgFreeRun(runtime)
        self.spec = runtime.spec
        self.height = PelvisHeight(self.spec)
        self.linear_decel, self.yaw_decel = float(linear_decel), float(yaw_decel)
        self.dt = self.free_run.dt
        self.active = False
        self._state: FreeRunState | None = None
        self._command = np.zeros(3)
        self._heading = 0.0
        self._started = 0.0
        self._steps = 0

    def start(self, reference: Reference, at: float) -> None:
        """Begin the stop from ``reference``, the last one tracked, received at time ``at`` [s]."""
        motion = self.free_run.clamp(np.concatenate([reference.joint_pos, reference.joint_vel]))
        self._state = FreeRunState(motion, np.zeros(()), motion.copy())
        self._command = self.free_run.command(np.array([*reference.root_lin_vel[:2], reference.yaw_rate]))
        self._heading = float(rotations.yaw(reference.root_quat_wxyz))
        self._started, self._steps = float(at), 0
        self.active = True

    def cancel(self) -> None:
        """Forget the stop (a live reference came back)."""
        self.active = False

    @property
    def settled(self) -> bool:
        """Whether the robot is asked to stand still: zero command and the standing frame held."""
        return bool(self.active and not np.any(self._command)
                    and np.array_equal(self._state.motion, self.free_run.standing))

    def current(self, now: float) -> Reference:
        """The reference at ``now``: the free run advanced one step per ``1 / fps`` since the start.

        Raises FloatingPointError when the model returns NaN/Inf (the caller falls back to standing).
        """
        if not self.active:
            raise RuntimeError("ControlledStop.current() before start()")
        due = int(np.floor((now - self._started) / self.dt + 1e-9))
        while self._steps < due:
            self._command = limit_command_change(self._command, np.zeros(3), self.linear_decel, self.yaw_decel,
                                                 self.dt)
            state, _ = self.free_run.step(self._state, self._command)
            if not np.all(np.isfinite(state.motion)):
                self.active = False
                raise FloatingPointError("the CMG returned non-finite values during the controlled stop")
            self._heading += self._command[2] * self.dt
            self._state, self._steps = state, self._steps + 1
        n = self.spec.num_joints
        joints = self._state.motion
        return Reference(root_height=self.height(joints[:n]),
                         root_quat_wxyz=rotations.from_yaw(self._heading),
                         root_lin_vel=np.array([self._command[0], self._command[1], 0.0]),
                         yaw_rate=float(self._command[2]), joint_pos=joints[:n].copy(), joint_vel=joints[n:].copy())
