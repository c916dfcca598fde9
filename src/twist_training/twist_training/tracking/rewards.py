"""The tracking task's reward terms: one small function each, registered by name, weighted by the configuration.

Every control step the task builds one :class:`StepState` (the robot against its reference frame, the feet, the
errors terminations read); each term maps it to a per-environment value, and the task sums ``weight x control
period x value`` over the terms whose weight (``RewardWeights``, from ``task.rewards`` of the run configuration) is
not zero: a term weighted 0 is not computed. TWIST's terms and weights, plus five of ours (see ``RewardWeights``).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import torch

#: name -> term function; filled by :func:`term`.
TERMS: dict[str, Callable[["StepState"], torch.Tensor]] = {}


@dataclasses.dataclass
class StepState:
    """What the reward terms read at one control step (N environments)."""

    dt: float
    dof_err: torch.Tensor           # (N, 23) policy joints: robot - reference [rad]
    dof_vel_err: torch.Tensor       # (N, 23) [rad/s]
    dof_weights: torch.Tensor       # (23,) TWIST's per-joint weights of the joint terms
    leg_idx: torch.Tensor           # policy-joint indices of the hips, knees, ankles
    upper_idx: torch.Tensor         # policy-joint indices of the waist and arms
    ankle_idx: torch.Tensor         # policy-joint indices of the ankles
    height_err: torch.Tensor        # (N,) pelvis height [m]
    tilt_err: torch.Tensor          # (N, 2) pelvis roll, pitch [rad]
    vel_err: torch.Tensor           # (N, 3) pelvis linear velocity, pelvis frame [m/s]
    ang_vel_err: torch.Tensor       # (N, 3) pelvis angular velocity, pelvis frame [rad/s]
    key_err: torch.Tensor           # (N, K) key-body distances, yaw frame [m]
    feet_height_err: torch.Tensor   # (N, 2) ankle heights above the floor [m]
    foot_force: torch.Tensor        # (N, 2) [N]
    contact: torch.Tensor           # (N, 2) bool
    foot_vel: torch.Tensor          # (N, 2, 3) world [m/s]
    q: torch.Tensor                 # (N, 29) joint positions
    dq_policy: torch.Tensor         # (N, 23) joint velocities of the policy joints
    joint_acc: torch.Tensor         # (N, 23) of the policy joints [rad/s^2]
    torque: torch.Tensor            # (N, 29) applied joint torques
    effort: torch.Tensor            # (29,) effort limits
    soft_lower: torch.Tensor        # (29,) soft joint limits
    soft_upper: torch.Tensor
    actions: torch.Tensor           # (N, 23) this step's and the last step's actions
    last_actions: torch.Tensor
    air_term: torch.Tensor          # (N,) TWIST's feet-air-time value (the task keeps the air times)
    ang_vel_local: torch.Tensor     # (N, 3) pelvis angular velocity, pelvis frame
    sigmas: dict[str, float]        # kernel widths of our terms: lin_vel, yaw_rate, feet_height, leg_dof, upper_dof


def term(name: str) -> Callable[[Callable[[StepState], torch.Tensor]], Callable[[StepState], torch.Tensor]]:
    """Register a reward term under ``name`` (the ``RewardWeights`` field that weights it)."""
    def register(function: Callable[[StepState], torch.Tensor]) -> Callable[[StepState], torch.Tensor]:
        TERMS[name] = function
        return function
    return register


@term("tracking_joint_dof")
def tracking_joint_dof(s: StepState) -> torch.Tensor:
    """TWIST's joint positions: exp(-0.15 x weighted sum of squared errors)."""
    return torch.exp(-0.15 * torch.sum(s.dof_weights * s.dof_err ** 2, dim=1))


@term("tracking_joint_vel")
def tracking_joint_vel(s: StepState) -> torch.Tensor:
    """TWIST's joint velocities: exp(-0.01 x weighted sum of squared errors)."""
    return torch.exp(-0.01 * torch.sum(s.dof_weights * s.dof_vel_err ** 2, dim=1))


@term("tracking_root_pose")
def tracking_root_pose(s: StepState) -> torch.Tensor:
    """Pelvis height and tilt: exp(-5 (height error^2 + 0.1 x tilt error^2))."""
    return torch.exp(-5.0 * (s.height_err ** 2 + 0.1 * torch.sum(s.tilt_err ** 2, dim=1)))


@term("tracking_root_vel")
def tracking_root_vel(s: StepState) -> torch.Tensor:
    """TWIST's pelvis velocities: exp(-(linear error^2 + 0.5 x angular error^2))."""
    return torch.exp(-(torch.sum(s.vel_err ** 2, dim=1) + 0.5 * torch.sum(s.ang_vel_err ** 2, dim=1)))


@term("tracking_keybody_pos")
def tracking_keybody_pos(s: StepState) -> torch.Tensor:
    """Key bodies relative to the pelvis (yaw frame): exp(-10 x sum of squared distances)."""
    return torch.exp(-10.0 * torch.sum(s.key_err ** 2, dim=1))


@term("tracking_lin_vel")
def tracking_lin_vel(s: StepState) -> torch.Tensor:
    """Planar pelvis velocity: exp(-|error|^2 / lin_vel_sigma^2)."""
    return torch.exp(-torch.sum(s.vel_err[:, :2] ** 2, dim=1) / s.sigmas["lin_vel"] ** 2)


@term("tracking_yaw_rate")
def tracking_yaw_rate(s: StepState) -> torch.Tensor:
    """Pelvis yaw rate: exp(-error^2 / yaw_rate_sigma^2)."""
    return torch.exp(-s.ang_vel_err[:, 2] ** 2 / s.sigmas["yaw_rate"] ** 2)


@term("tracking_feet_height")
def tracking_feet_height(s: StepState) -> torch.Tensor:
    """Ankle heights above the floor: exp(-sum of squared errors / feet_height_sigma^2)."""
    return torch.exp(-torch.sum(s.feet_height_err ** 2, dim=1) / s.sigmas["feet_height"] ** 2)


def _joint_group_kernel(s: StepState, joints: torch.Tensor, sigma: float) -> torch.Tensor:
    """exp(-sum of the squared position errors of the policy joints ``joints`` / sigma^2)."""
    return torch.exp(-torch.sum(s.dof_err[:, joints] ** 2, dim=1) / sigma ** 2)


@term("tracking_leg_dof")
def tracking_leg_dof(s: StepState) -> torch.Tensor:
    """Hip, knee and ankle positions: exp(-sum of squared errors / leg_dof_sigma^2)."""
    return _joint_group_kernel(s, s.leg_idx, s.sigmas["leg_dof"])


@term("tracking_upper_dof")
def tracking_upper_dof(s: StepState) -> torch.Tensor:
    """Waist and arm positions: exp(-sum of squared errors / upper_dof_sigma^2)."""
    return _joint_group_kernel(s, s.upper_idx, s.sigmas["upper_dof"])


@term("feet_slip")
def feet_slip(s: StepState) -> torch.Tensor:
    """Square root of each foot's horizontal speed while it touches the floor, summed."""
    return torch.sum(torch.sqrt(torch.linalg.norm(s.foot_vel[..., :2], dim=-1) + 1e-8) * s.contact, dim=1)


@term("feet_contact_forces")
def feet_contact_forces(s: StepState) -> torch.Tensor:
    """Foot contact force above 100 N, summed."""
    return torch.sum(torch.clamp(s.foot_force - 100.0, min=0.0), dim=1)


@term("dof_pos_limits")
def dof_pos_limits(s: StepState) -> torch.Tensor:
    """How far joints are outside their soft limits, summed [rad]."""
    return torch.sum(torch.clamp(s.soft_lower - s.q, min=0) + torch.clamp(s.q - s.soft_upper, min=0), dim=1)


@term("dof_torque_limits")
def dof_torque_limits(s: StepState) -> torch.Tensor:
    """Torque beyond 95 % of the effort limit, as a fraction of it, summed."""
    return torch.sum(torch.clamp(s.torque.abs() / s.effort - 0.95, min=0.0), dim=1)


@term("dof_vel")
def dof_vel(s: StepState) -> torch.Tensor:
    """Squared joint velocities, summed."""
    return torch.sum(s.dq_policy ** 2, dim=1)


@term("dof_acc")
def dof_acc(s: StepState) -> torch.Tensor:
    """Squared joint accelerations, summed."""
    return torch.sum(s.joint_acc ** 2, dim=1)


@term("action_rate")
def action_rate(s: StepState) -> torch.Tensor:
    """Norm of the change of action since the last step."""
    return torch.linalg.norm(s.actions - s.last_actions, dim=1)


@term("feet_air_time")
def feet_air_time(s: StepState) -> torch.Tensor:
    """TWIST's air time: at touch-down, the air time short of the target (<= 0), while the reference moves."""
    return s.air_term


@term("ang_vel_xy")
def ang_vel_xy(s: StepState) -> torch.Tensor:
    """Squared pelvis roll and pitch rates, summed."""
    return torch.sum(s.ang_vel_local[:, :2] ** 2, dim=1)


@term("ankle_dof_acc")
def ankle_dof_acc(s: StepState) -> torch.Tensor:
    """Squared ankle accelerations, summed."""
    return torch.sum(s.joint_acc[:, s.ankle_idx] ** 2, dim=1)


@term("ankle_dof_vel")
def ankle_dof_vel(s: StepState) -> torch.Tensor:
    """Squared ankle velocities, summed."""
    return torch.sum(s.dq_policy[:, s.ankle_idx] ** 2, dim=1)


def weighted_terms(state: StepState, weights: dict[str, float]) -> dict[str, torch.Tensor]:
    """``weight x dt x term`` of every term with a non-zero weight (unknown names are an error)."""
    unknown = set(weights) - set(TERMS)
    if unknown:
        raise KeyError(f"no reward term {sorted(unknown)} (terms: {sorted(TERMS)})")
    return {name: function(state) * weights[name] * state.dt for name, function in TERMS.items()
            if weights.get(name, 0.0) != 0.0}
