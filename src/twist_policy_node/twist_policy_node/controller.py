"""One control tick of the policy node without ROS: checked robot input -> what to command.

:class:`PolicyController` owns the policy (``twist_core.policy_runtime.PolicyRuntime``), the observation history
(``twist_core.policy_io.History``), the last action and the :class:`~twist_policy_node.reference_keeper.
ReferenceKeeper`. Per state tick (:meth:`PolicyController.step`):

- bridge mode other than POLICY: the policy is inactive; the answer is a *hold* command (the default pose), which
  the bridge does not apply in ZERO_TORQUE/RAMP/HOLD/DAMPING but needs in HOLD (``go`` requires a recent valid
  command) and, in lockstep, to advance;
- bridge mode POLICY: on the first such tick (activation, also after any other mode) the last action is zero and
  the history starts filled with copies of the first frame, as in training; the frame is built by
  ``PolicyIO.frame`` from the reference the keeper says to track (fresh, held, ramping to standing...), the
  observation by ``History``, the action by the policy, the joint targets by ``PolicyIO.targets``;
- a non-finite action: a *damp* request (the policy is broken; the bridge damps at once).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from twist_core.policy_io import History
from twist_core.policy_runtime import PolicyRuntime
from twist_core.safety import Mode
from twist_policy_node.inputs import RobotInput
from twist_policy_node.reference_keeper import ReferenceKeeper


@dataclasses.dataclass
class Decision:
    """What to publish for one state: ``kind`` is ``policy``, ``hold`` or ``damp``."""

    kind: str
    targets: np.ndarray  # (29,) motor order
    reference_state: str = ""
    inference_s: float | None = None
    reason: str = ""


class PolicyController:
    """Observation, policy and targets for each state tick; see the module docstring."""

    def __init__(self, runtime: PolicyRuntime, keeper: ReferenceKeeper) -> None:
        """Use ``runtime`` (checked against the spec) and ``keeper`` (the reference to track)."""
        self.runtime = runtime
        self.io = runtime.io
        self.spec = runtime.spec
        self.keeper = keeper
        self.active = False
        self.activations = 0
        self.history: History | None = None
        self.last_action = np.zeros(self.io.num_actions)

    def step(self, robot: RobotInput, now: float) -> Decision:
        """The decision for ``robot`` (a checked RobotState) at time ``now`` (the keeper's clock)."""
        if robot.mode != Mode.POLICY:
            self.active = False
            _, state = self.keeper.current(now)
            return Decision("hold", np.array(self.spec.default_pose), state, reason=f"bridge in {_mode(robot.mode)}")
        if not self.active:
            self.active = True
            self.activations += 1
            self.history = None
            self.last_action = np.zeros(self.io.num_actions)
        reference, state = self.keeper.current(now)
        frame = self.io.frame(np.asarray(reference.root_height), reference.root_quat_wxyz, reference.root_lin_vel,
                              np.asarray(reference.yaw_rate), reference.joint_pos, robot.gyro, robot.imu_quat_wxyz,
                              robot.q, robot.dq, self.last_action)[None, :]
        if self.history is None:
            self.history = History(frame)
        observation = self.history.observation(frame)[0]
        start = time.perf_counter()
        action = self.runtime.act(observation)
        inference = time.perf_counter() - start
        if not np.all(np.isfinite(action)):
            self.active = False
            return Decision("damp", np.array(self.spec.default_pose), state, inference,
                            reason="the policy returned non-finite actions")
        self.last_action = action
        return Decision("policy", self.io.targets(action), state, inference)


def _mode(mode: int) -> str:
    try:
        return Mode(mode).name
    except ValueError:
        return f"unknown mode {mode}"
